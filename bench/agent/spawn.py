"""Spawn-heavy micro-benchmark: what the agent adds to making and awaiting tasks.

Two workloads, timed separately, each in several rounds:

- ``spawn``: ``create_task`` of 50,000 trivial coroutines, then ``await`` each task;
- ``gather``: ``asyncio.gather`` of 10,000 trivial coroutines.

Variants, each in a fresh child process, interleaved (a, b, b', c, d, a, b, b', ...):

- (a) ``plain``: no agent;
- (b) ``agent``: ``python -m taskscope run --connect`` to a listener (creation sites on,
  the sampler and transport doing their real work at the default interval);
- (b') ``agent-idle``: the agent installed, nobody listening (the hook only);
- (c) ``fullstack``: a task factory that keeps ``traceback.extract_stack()`` per task in a
  Task subclass, as aiomonitor's creation tracking does (implemented here);
- (d) ``debug``: asyncio debug mode (``asyncio.run(..., debug=True)``).

(c) and (d) are 10 to 40 times slower, so they run fewer processes and one round each;
the time of a round is the same work in every variant. Prints each variant's median
wall-clock time and its ratio over (a), and the ratio of CPU time (all of the process's
threads, so the agent's sampler and transport count too). Goal (issue 3): (b)/(a) at most 1.15 for
each workload, as the median of the pairs' ratios (each (b) process over the (a) process run just
before it: the machine's load drifts over the minutes a run takes, and the two processes of a
pair share more of it than the two variants' medians do; both are printed, and the figure says
"disturbed" when the plain processes are more than 15% apart).

Run alone: ``python3 bench/agent/spawn.py`` (about 1.5 minutes on 2 shared cores).
"""

import asyncio
import sys
import time
import traceback

import harness

SPAWN_TASKS = 50_000
GATHER_COROS = 10_000
WORKLOADS = ("spawn", "gather")
GOAL = 1.15

#: name, label, processes, warm-up rounds, timed rounds
VARIANTS = (
    ("plain", "(a) no agent", 5, 1, 2),
    ("agent", "(b) agent, connected", 5, 1, 2),
    ("agent-idle", "(b') agent, nobody listening", 3, 1, 2),
    ("fullstack", "(c) extract_stack per task", 3, 0, 1),
    ("debug", "(d) asyncio debug mode", 3, 0, 1),
)
CHILD_TIMEOUT = 90


# --- the child ---------------------------------------------------------------------------


async def _noop():
    pass


async def _spawn(n):
    tasks = [asyncio.create_task(_noop()) for _ in range(n)]
    for task in tasks:
        await task


async def _gather(n):
    await asyncio.gather(*[_noop() for _ in range(n)])


class FullStackTask(asyncio.Task):
    """What aiomonitor's opt-in tracking does: the whole creation stack, kept per task."""

    def __init__(self, coro, *, loop=None, **kwargs):
        super().__init__(coro, loop=loop, **kwargs)
        self.creation_stack = traceback.extract_stack()[:-1]


def _full_stack_factory(loop, coro, **kwargs):
    return FullStackTask(coro, loop=loop, **kwargs)


async def _child_main(variant, warmup, rounds):
    if variant == "fullstack":
        asyncio.get_running_loop().set_task_factory(_full_stack_factory)
    times = {w: [] for w in WORKLOADS}
    cpu = {w: [] for w in WORKLOADS}
    clock, cpu_clock = time.perf_counter, time.process_time
    for r in range(warmup + rounds):
        t0, c0 = clock(), cpu_clock()
        await _spawn(SPAWN_TASKS)
        t1, c1 = clock(), cpu_clock()
        await _gather(GATHER_COROS)
        t2, c2 = clock(), cpu_clock()
        if r >= warmup:
            times["spawn"].append(t1 - t0)
            times["gather"].append(t2 - t1)
            cpu["spawn"].append(c1 - c0)
            cpu["gather"].append(c2 - c1)
    return times, cpu


def child(variant, warmup, rounds):
    warmup, rounds = int(warmup), int(rounds)
    # The connected agent is timed from the start of its session; the idle one never has one.
    session = harness.wait_for_agent_session() if variant == "agent" else True
    times, cpu = asyncio.run(_child_main(variant, warmup, rounds), debug=(variant == "debug"))
    harness.report({"times": times, "cpu": cpu, "session": session, "agent": harness.agent_stats()})


# --- the parent --------------------------------------------------------------------------


def _command(variant, warmup, rounds, address):
    args = ["spawn.py", "--child", variant, str(warmup), str(rounds)]
    if variant == "agent":
        return harness.agent_command(sys.executable, address, args)
    if variant == "agent-idle":
        # An address where nobody listens: the agent retries in the background.
        return harness.agent_command(sys.executable, "unix:/nonexistent/taskscope-bench.sock", args)
    return [sys.executable, *args]


def measure():
    from listener import Listener  # the parent only: children must not load the agent

    harness.print_environment("Agent: spawn-heavy micro-benchmark")
    print("spawn: create_task x %d, then await each; gather: gather of %d coroutines."
          % (SPAWN_TASKS, GATHER_COROS))
    print("Each variant in fresh processes, interleaved; a process's time is the median of its rounds.\n")
    per_process = {v[0]: {w: [] for w in WORKLOADS} for v in VARIANTS}
    cpu_per_process = {v[0]: {w: [] for w in WORKLOADS} for v in VARIANTS}
    checks = {}
    started = time.monotonic()
    with Listener() as listener:
        for i in range(max(v[2] for v in VARIANTS)):
            for name, label, processes, warmup, rounds in VARIANTS:
                if i >= processes:
                    continue
                result = harness.run_child(_command(name, warmup, rounds, listener.address), CHILD_TIMEOUT)
                for w in WORKLOADS:
                    per_process[name][w].append(harness.median(result["times"][w]))
                    cpu_per_process[name][w].append(harness.median(result["cpu"][w]))
                if name == "agent":
                    checks.setdefault("agent", []).append(result)
                print("  run %d %-30s spawn %6.3f s  gather %6.3f s" % (
                    i + 1, label, per_process[name]["spawn"][-1], per_process[name]["gather"][-1]), flush=True)
        received = listener.counts()
    elapsed = time.monotonic() - started

    print()
    base = {w: harness.median(per_process["plain"][w]) for w in WORKLOADS}
    cpu_base = {w: harness.median(cpu_per_process["plain"][w]) for w in WORKLOADS}
    rows = []
    for name, label, processes, _warmup, _rounds in VARIANTS:
        row = [label, processes]
        for w in WORKLOADS:
            m = harness.median(per_process[name][w])
            c = harness.median(cpu_per_process[name][w])
            row += ["%.3f" % m, harness.spread(per_process[name][w]), "%.2f" % (m / base[w]),
                    "%.2f" % (c / cpu_base[w])]
        rows.append(row)
    harness.table(["variant", "procs", "spawn s", "spawn range", "spawn /(a)", "spawn CPU /(a)",
                   "gather s", "gather range", "gather /(a)", "gather CPU /(a)"], rows)
    print("(s: wall-clock seconds, median over processes; CPU: the process's CPU time, all threads)")

    agent_runs = checks.get("agent", [])
    sessions = sum(1 for r in agent_runs if r["session"] and r["agent"] and r["agent"]["session"])
    sent = [r["agent"]["messages_sent"] for r in agent_runs if r["agent"]]
    dropped = [r["agent"]["dropped"] for r in agent_runs if r["agent"]]
    recorded = [r["agent"]["tasks_recorded"] for r in agent_runs if r["agent"]]
    print()
    print("(b) check: %d/%d processes had a live session; messages sent per process %s; dropped %s;"
          % (sessions, len(agent_runs), sent, dropped))
    print("           tasks recorded per process %s; the listener received %d bytes in %d lines."
          % (recorded, received[0], received[1]))
    cpu = [r["agent"]["thread_cpu"] for r in agent_runs if r["agent"]]
    if cpu:
        print("(b) CPU seconds by thread over a whole process (median): %s" % ", ".join(
            "%s %.2f" % (name, harness.median([c.get(name, 0.0) for c in cpu])) for name in sorted(cpu[0])))
    print("Took %.0f s; load average now %.2f." % (elapsed, harness.load_average()))

    pairs = {w: harness.pair_ratios(per_process["plain"][w], per_process["agent"][w]) for w in WORKLOADS}
    cpu_pairs = {w: harness.pair_ratios(cpu_per_process["plain"][w], cpu_per_process["agent"][w]) for w in WORKLOADS}
    for w in WORKLOADS:
        print("(b)/(a) by pair, %s: %s (median %.2f; CPU %.2f)" % (
            w, ", ".join("%.2f" % x for x in pairs[w]), harness.median(pairs[w]), harness.median(cpu_pairs[w])))

    goals = harness.Goals("spawn")
    for w in WORKLOADS:
        ratio = harness.median(pairs[w])
        cpu_ratio = harness.median(cpu_pairs[w])
        goals.add("spawn micro-benchmark, %s: (b)/(a) <= %.2f" % (w, GOAL),
                  "%.2f (CPU %.2f)%s" % (ratio, cpu_ratio, harness.disturbed(per_process["plain"][w])),
                  ratio <= GOAL and sessions == len(agent_runs))
        idle = harness.median(per_process["agent-idle"][w]) / base[w]
        goals.add("spawn micro-benchmark, %s: (b')/(a), nobody listening" % w, "%.2f" % idle, "info")
    for name, tag in (("fullstack", "(c)"), ("debug", "(d)")):
        ratios = ", ".join("%s %.1fx" % (w, harness.median(per_process[name][w]) / base[w]) for w in WORKLOADS)
        goals.add("comparator %s/(a)" % tag, ratios, "info")
    return goals


if __name__ == "__main__":
    harness.main(sys.argv[1:], measure, child)
