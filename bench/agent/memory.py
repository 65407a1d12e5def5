"""Memory the agent adds per live task, with 100,000 idle tasks.

Each variant runs in a fresh child process that makes 100,000 tasks parked on one
``asyncio.Event`` and measures what the process holds once they all wait, less what it
held before making them:

- ``plain``: no agent (the cost of the tasks themselves, the baseline);
- ``agent``: ``python -m taskscope run --connect`` to a listener; measured once the
  sampler has adopted every task, the snapshot has been sent and a few more samples
  have passed (the steady state of a watched program);
- ``agent-idle``: the agent installed, nobody listening (the hook's records only).

Two measures: ``tracemalloc`` (started just before the tasks are made: every allocation
of the Python allocators still held at the end, exact) and the resident set size from
/proc (in children without tracemalloc; it also keeps what the allocator retained after
transient peaks, such as encoding the first snapshot). Bytes per task = (variant -
plain) / 100,000. A last child with 10,000 tasks lists the agent's allocations by source
line (tracemalloc snapshots of 100,000 tasks would take minutes).

Goal (issue 3): at most 300 bytes per live task (tracemalloc, connected agent).

Run alone: ``python3 bench/agent/memory.py`` (about a minute on 2 shared cores).
"""

import asyncio
import gc
import os
import sys
import time

import harness

TASKS = 100_000
GOAL_BYTES = 300
BREAKDOWN_TASKS = 10_000
BREAKDOWN_LINES = 12
VARIANTS = (
    ("plain", "no agent"),
    ("agent", "agent, connected"),
    ("agent-idle", "agent, nobody listening"),
)
MEASURES = ("tracemalloc", "rss")
CHILD_TIMEOUT = 120
#: Time to let pass once the agent has seen every task: after a big sample the next may come
#: up to 2 s later (sampler.MAX_GAP), and the batches of entries it keeps go after three.
SETTLE_SECONDS = 5.0
#: The least of READINGS readings READING_GAP apart is kept: what the agent holds for a
#: moment (a message being encoded; while nobody listens, its look at every parked entry,
#: which takes a few tenths of a second at 100,000 tasks) is not what it keeps.
READINGS = 8
READING_GAP = 0.25


# --- the child ---------------------------------------------------------------------------


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _parked(event):
    await event.wait()


def _total(snapshot):
    return sum(trace.size for trace in snapshot.traces)


def _agent():
    module = sys.modules.get("taskscope.agent")
    return module.current() if module is not None else None


async def _wait_until_seen(agent, n, timeout=60.0):
    """Waits until the connected agent's sampler holds every task and sent its messages."""
    deadline = time.monotonic() + timeout
    sampler, transport = agent.sampler, agent.transport
    while time.monotonic() < deadline:
        live = sampler.live_count() if hasattr(sampler, "live_count") else len(getattr(sampler, "_live", ()))
        queued = len(getattr(transport, "_queue", ()))
        if live >= n and not agent.registry.new and queued == 0 and transport._seq >= 1:
            return True
        await asyncio.sleep(0.05)
    return False


async def _hold_tasks(variant, measure, n):
    agent = _agent()
    if variant == "agent" and not harness.wait_for_agent_session():
        raise RuntimeError("the agent did not connect to the listener")
    gc.collect()
    if measure == "rss":
        before = _rss_bytes()
    else:
        import tracemalloc

        # Traced from here on: what is still held at the end was allocated for the tasks.
        tracemalloc.start()
        if measure == "breakdown":
            before_snapshot = tracemalloc.take_snapshot()
    event = asyncio.Event()
    tasks = [asyncio.create_task(_parked(event)) for _ in range(n)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    seen = None
    if variant == "agent":
        seen = await _wait_until_seen(agent, n)
    await asyncio.sleep(SETTLE_SECONDS)  # a few samples in the steady state
    gc.collect()
    top = []
    # The least of a few readings (see READINGS): what is held for a moment is not kept.
    readings = []
    for _ in range(READINGS):
        readings.append(_rss_bytes() - before if measure == "rss" else tracemalloc.get_traced_memory()[0])
        await asyncio.sleep(READING_GAP)
    held = min(readings)
    if measure == "breakdown":
        after_snapshot = None
        for _ in range(READINGS):
            snap = tracemalloc.take_snapshot()
            if after_snapshot is None or _total(snap) < _total(after_snapshot):
                after_snapshot = snap
            snap = None
            await asyncio.sleep(READING_GAP)
        agent_dir = os.path.join(harness.PYTHON_DIR, "taskscope")
        filters = [tracemalloc.Filter(True, os.path.join(agent_dir, "*"))]
        diff = after_snapshot.filter_traces(filters).compare_to(before_snapshot.filter_traces(filters), "lineno")
        for stat in diff[:BREAKDOWN_LINES]:
            if stat.size_diff > 0:
                frame = stat.traceback[0]
                top.append([os.path.relpath(frame.filename, os.path.dirname(harness.PYTHON_DIR)), frame.lineno,
                            stat.size_diff / n, stat.count_diff / n])
        del after_snapshot, before_snapshot
    if measure != "rss":
        tracemalloc.stop()
    stats = harness.agent_stats() if agent is not None else None
    event.set()
    await asyncio.gather(*tasks)
    return {"bytes": held, "per_task": held / n, "seen": seen, "top": top, "agent": stats}


def child(variant, measure):
    n = BREAKDOWN_TASKS if measure == "breakdown" else TASKS
    harness.report(asyncio.run(_hold_tasks(variant, measure, n)))


# --- the parent --------------------------------------------------------------------------


def _command(variant, measure, address):
    args = ["memory.py", "--child", variant, measure]
    if variant == "agent":
        return harness.agent_command(sys.executable, address, args)
    if variant == "agent-idle":
        return harness.agent_command(sys.executable, "unix:/nonexistent/taskscope-bench.sock", args)
    return [sys.executable, *args]


def measure():
    from listener import Listener  # the parent only: children must not load the agent

    harness.print_environment("Agent: memory per live task")
    print("%d tasks parked on an Event; bytes still held once they all wait (and the agent has seen them)."
          % TASKS)
    print("One process per cell: both measures count allocations, not time, so they barely vary.\n")
    results = {}
    started = time.monotonic()
    with Listener() as listener:
        for m in MEASURES:
            for v, label in VARIANTS:
                r = results[(v, m)] = harness.run_child(_command(v, m, listener.address), CHILD_TIMEOUT)
                print("  %-24s %-11s %7.1f MiB%s" % (
                    label, m, r["bytes"] / 2**20,
                    "" if r["seen"] is None else ("  (agent saw every task)" if r["seen"]
                                                  else "  (agent did NOT see every task in time)")), flush=True)
        breakdown = harness.run_child(_command("agent", "breakdown", listener.address), CHILD_TIMEOUT)
    elapsed = time.monotonic() - started
    per = {k: r["per_task"] for k, r in results.items()}

    print()
    rows = []
    for v, label in VARIANTS:
        row = [label]
        for m in MEASURES:
            row += ["%.1f" % (results[(v, m)]["bytes"] / 2**20), "%.0f" % per[(v, m)]]
            row.append("-" if v == "plain" else "%.0f" % (per[(v, m)] - per[("plain", m)]))
        rows.append(row)
    harness.table(["variant", "traced MiB", "traced B/task", "added B/task (traced)",
                   "RSS MiB", "RSS B/task", "added B/task (RSS)"], rows)

    if breakdown["top"]:
        print("\nWhere the connected agent's bytes go (tracemalloc by source line, %d tasks):" % BREAKDOWN_TASKS)
        harness.table(["line", "bytes/task", "allocations/task"],
                      [["%s:%d" % (f, line), "%.0f" % size, "%.2f" % count]
                       for f, line, size, count in breakdown["top"]])
    seen = [results[("agent", m)]["seen"] for m in MEASURES] + [breakdown["seen"]]
    print("\nThe connected agent saw every task before the measure in %d/%d processes."
          % (sum(bool(s) for s in seen), len(seen)))
    print("Took %.0f s; load average now %.2f." % (elapsed, harness.load_average()))

    goals = harness.Goals("memory")
    added = per[("agent", "tracemalloc")] - per[("plain", "tracemalloc")]
    added_rss = per[("agent", "rss")] - per[("plain", "rss")]
    added_idle = per[("agent-idle", "tracemalloc")] - per[("plain", "tracemalloc")]
    goals.add("memory added per live task <= %d B (connected)" % GOAL_BYTES,
              "%.0f B (RSS: %.0f B)" % (added, added_rss), added <= GOAL_BYTES and all(seen))
    goals.add("memory added per live task, nobody listening", "%.0f B" % added_idle, "info")
    goals.add("a live idle task without agent", "%.0f B" % per[("plain", "tracemalloc")], "info")
    return goals


if __name__ == "__main__":
    harness.main(sys.argv[1:], measure, child)
