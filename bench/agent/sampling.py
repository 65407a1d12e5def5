"""Sampling cost: the time of one sample of the agent's sampler, by number of tasks.

The agent's own objects, in-process: `hooks.install(Registry())` records the tasks as
they are made, and `Sampler.tick()` (one sample: adopt new records, read every live task,
build the snapshot or delta) is called directly and timed, with a sink that stands in for
the transport (a session is on; the message is kept, not sent). The cost of the
transport's part (checking and encoding the message to JSON, on its own thread in the
agent) is timed separately on the same message.

Scenarios, each in a fresh child process (three per scenario, median):

- ``idle N`` (1k, 10k, 100k): N tasks parked on one ``asyncio.Event``. The first sample
  (records adopted, full snapshot), then `SETTLE_SAMPLES` samples while the sampler backs
  off from the new tasks (each is looked at after 1, 2, 4, ... samples), then
  `STEADY_SAMPLES` steady-state samples (nothing changed for a while) are reported;
- ``churn R``: 1,000 idle tasks, and between two samples R new tasks that each await
  ``sleep(0)`` twice, so that every sample adopts R new tasks and retires about R;
- ``overdue``, ``deadline`` (3.11+): 10,000 idle tasks that are past the stuck threshold at
  every look (a threshold of a microsecond), parked on an event (five are reported, then
  the place is told) or each under ``asyncio.timeout(3600)`` (never reported: the sampler
  remembers that each waits under a deadline).

Times are the sampling thread's CPU time (``time.thread_time``): on a shared machine the
wall-clock time of a sample also counts the moments the process waited for a core.

Goal (issue 3): at most 2 ms per sample at 10k idle tasks (the mean of the steady-state
samples). The samples right after the tasks appeared cost more, and are shown apart.

Run alone: ``python3 bench/agent/sampling.py`` (under a minute on 2 shared cores).
"""

import asyncio
import functools
import sys
import time

import harness

IDLE_SIZES = (1_000, 10_000, 100_000)
CHURN_RATES = (100, 1_000)
CHURN_IDLE = 1_000
OVERDUE = 10_000  # idle tasks past the stuck threshold, on an event or under a timeout
SETTLE_SAMPLES = 20
STEADY_SAMPLES = 40
CHURN_SAMPLES = 20
PROCESSES = 3
GOAL_MS = 2.0
CHILD_TIMEOUT = 120


# --- the child ---------------------------------------------------------------------------


class Sink:
    """The transport's side as the sampler sees it: a session is on, nothing is sent."""

    def __init__(self):
        self.snapshot_wanted = True
        self.sent = []

    def session_active(self):
        return True

    def take_snapshot_request(self):
        wanted, self.snapshot_wanted = self.snapshot_wanted, False
        return wanted

    def send_snapshot(self, message, rest=()):
        self.sent.append(message)
        self.sent.extend(rest)
        return True

    def send_state(self, message):
        self.sent.append(message)
        return True

    def send_result(self, message):
        return True


def _timed_tick(sampler, sink, protocol):
    """(tick ms, encode ms, bytes, tasks in the messages, tick wall ms) for one sample
    (a snapshot comes as several messages: see `Sampler.build_snapshot`).

    Times are the thread's CPU time, which a busy machine does not inflate by
    preempting the process; the wall-clock time of the tick is kept for comparison.
    """
    sink.sent = []
    w0 = time.perf_counter()
    t0 = time.thread_time()
    sampler.tick()
    t1 = time.thread_time()
    w1 = time.perf_counter()
    messages = [m for m in sink.sent if m["type"] in ("snapshot", "delta")]
    if not messages:
        return (t1 - t0) * 1000, 0.0, 0, 0, (w1 - w0) * 1000
    size = tasks = 0
    for message in messages:
        size += len(_encode_as_transport(message, protocol))
        tasks += len(message.get("tasks", message.get("upsert", ())))
    t2 = time.thread_time()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, size, tasks, (w1 - w0) * 1000


def _encode_as_transport(message, protocol):
    """What `Transport._write` does with a message: check, encode, and halve a snapshot
    over the line limit until it fits (the tasks left out are not sent)."""
    message["seq"] = 1
    if message["type"] == "snapshot":
        message["dropped"] = 0
    while True:
        try:
            protocol.validate_agent_message(message, deep=False)
            return protocol.encode(message)
        except protocol.ProtocolError as e:
            if message["type"] != "snapshot" or "longer than" not in str(e) or len(message["tasks"]) <= 1:
                raise
            message["tasks"] = message["tasks"][: len(message["tasks"]) // 2]


async def _parked(event):
    await event.wait()


async def _parked_under_timeout(event):
    async with asyncio.timeout(3600):
        await event.wait()


async def _short():
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def _idle_scenario(n, sampler, sink, protocol, parked=_parked):
    event = asyncio.Event()
    tasks = [asyncio.create_task(parked(event)) for _ in range(n)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # every task has started and waits on the event
    first = _timed_tick(sampler, sink, protocol)
    settle = []
    for _ in range(SETTLE_SAMPLES):
        await asyncio.sleep(0)
        settle.append(_timed_tick(sampler, sink, protocol))
    steady = []
    for _ in range(STEADY_SAMPLES):
        await asyncio.sleep(0)
        steady.append(_timed_tick(sampler, sink, protocol))
    event.set()
    await asyncio.gather(*tasks)
    return {"first": first, "settle": settle, "steady": steady}


async def _churn_scenario(rate, sampler, sink, protocol):
    event = asyncio.Event()
    idle = [asyncio.create_task(_parked(event)) for _ in range(CHURN_IDLE)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    first = _timed_tick(sampler, sink, protocol)
    churn = []
    pending = []
    for _ in range(CHURN_SAMPLES):
        pending = [asyncio.create_task(_short()) for _ in range(rate)]
        await asyncio.sleep(0)  # the new tasks run their first step: half-way when sampled
        churn.append(_timed_tick(sampler, sink, protocol))
        await asyncio.gather(*pending)
        pending = None
    event.set()
    await asyncio.gather(*idle)
    return {"first": first, "steady": churn}


def child(kind, size):
    size = int(size)
    sys.path.insert(0, harness.PYTHON_DIR)
    from taskscope import hooks, protocol
    from taskscope.registry import Registry
    from taskscope.sampler import Sampler

    registry = Registry()
    sink = Sink()
    # "overdue" and "deadline": every task is past the stuck threshold at every look (the
    # samples here are microseconds apart), parked on an event or under asyncio.timeout().
    overdue = kind in ("overdue", "deadline")
    sampler = Sampler(registry, sink, stuck_after=1e-6) if overdue else Sampler(registry, sink)
    hooks.install(registry)
    if kind == "churn":
        scenario = _churn_scenario
    else:
        parked = _parked_under_timeout if kind == "deadline" else _parked
        scenario = functools.partial(_idle_scenario, parked=parked)
    result = asyncio.run(scenario(size, sampler, sink, protocol))
    hooks.uninstall()
    harness.report(result)


# --- the parent --------------------------------------------------------------------------


def _summary(runs):
    """Medians over the child processes of: first sample, steady median, mean, max."""
    first = [r["first"] for r in runs]
    steady_med = [harness.median([s[0] for s in r["steady"]]) for r in runs]
    steady_mean = [sum(s[0] for s in r["steady"]) / len(r["steady"]) for r in runs]
    steady_max = [max(s[0] for s in r["steady"]) for r in runs]
    encode = [harness.median([s[1] for s in r["steady"]]) for r in runs]
    size = [harness.median([s[2] for s in r["steady"]]) for r in runs]
    tasks = [harness.median([s[3] for s in r["steady"]]) for r in runs]
    wall = [harness.median([s[4] for s in r["steady"]]) for r in runs]
    settle = [sum(s[0] for s in r["settle"]) / len(r["settle"]) for r in runs if r.get("settle")]
    return {
        "settle_mean": harness.median(settle) if settle else None,
        "first_tick": harness.median([f[0] for f in first]),
        "first_encode": harness.median([f[1] for f in first]),
        "first_bytes": harness.median([f[2] for f in first]),
        "first_tasks": harness.median([f[3] for f in first]),
        "steady_median": harness.median(steady_med),
        "steady_mean": harness.median(steady_mean),
        "steady_mean_all": steady_mean,
        "steady_max": harness.median(steady_max),
        "steady_encode": harness.median(encode),
        "steady_bytes": harness.median(size),
        "steady_tasks": harness.median(tasks),
        "steady_wall_median": harness.median(wall),
    }


def measure():
    harness.print_environment("Agent: sampling cost")
    print("One sample = Sampler.tick() called directly (adopt, read every live task, build the message);")
    print("'encode' = the transport's check and JSON encoding of that message (its own thread in the agent).")
    print("%d child processes per scenario, interleaved; figures are medians over them.\n" % PROCESSES)
    scenarios = [("idle", n) for n in IDLE_SIZES] + [("churn", r) for r in CHURN_RATES] + [("overdue", OVERDUE)]
    if sys.version_info >= (3, 11):  # asyncio.timeout()
        scenarios.append(("deadline", OVERDUE))
    runs = {s: [] for s in scenarios}
    started = time.monotonic()
    for i in range(PROCESSES):
        for kind, size in scenarios:
            runs[(kind, size)].append(harness.run_child(
                [sys.executable, "sampling.py", "--child", kind, str(size)], CHILD_TIMEOUT))
            print("  run %d %s %d done" % (i + 1, kind, size), flush=True)
    elapsed = time.monotonic() - started
    print()
    rows = []
    summaries = {}
    for kind, size in scenarios:
        s = summaries[(kind, size)] = _summary(runs[(kind, size)])
        label = {"idle": "%d idle tasks" % size,
                 "churn": "churn: %d idle + %d new per sample" % (CHURN_IDLE, size),
                 "overdue": "%d idle tasks past the stuck threshold" % size,
                 "deadline": "%d idle past the threshold, under a timeout" % size}[kind]
        rows.append([label, "%.1f" % s["first_tick"], "%.1f" % s["first_encode"],
                     "%.0f" % (s["first_bytes"] / 1024), "%.0f" % s["first_tasks"],
                     "-" if s["settle_mean"] is None else "%.2f" % s["settle_mean"],
                     "%.2f" % s["steady_median"], "%.2f" % s["steady_mean"], "%.2f" % s["steady_max"],
                     "%.2f" % s["steady_encode"], "%.0f" % s["steady_tasks"],
                     "%.2f" % s["steady_wall_median"]])
    harness.table(["scenario", "first ms", "first encode ms", "first KiB", "tasks in first", "settling mean ms",
                   "steady median ms",
                   "steady mean ms", "steady max ms", "steady encode ms", "tasks/delta",
                   "steady median wall ms"], rows)
    print("\nTimes are CPU time of the sampling thread (time.thread_time); the last column is wall-clock.")
    print("settling: the %d samples after the first (idle scenarios); steady: the %d after those"
          % (SETTLE_SAMPLES, STEADY_SAMPLES))
    print("(churn: the %d after the first); 'tasks/delta' = task records in a steady message." % CHURN_SAMPLES)
    print("'tasks in first': task records in the first snapshot's messages as the transport would send")
    print("them (a message over the protocol's line limit would be halved until it fits).")
    print("Took %.0f s; load average now %.2f." % (elapsed, harness.load_average()))

    goals = harness.Goals("sampling")
    at10k = summaries[("idle", 10_000)]
    goals.add("sample at 10k idle tasks <= %.0f ms (steady mean)" % GOAL_MS,
              "%.2f ms (median sample %.2f ms)" % (at10k["steady_mean"], at10k["steady_median"]),
              at10k["steady_mean"] <= GOAL_MS)
    goals.add("samples at 10k idle tasks while settling (mean)", "%.2f ms" % at10k["settle_mean"], "info")
    for n in (1_000, 100_000):
        s = summaries[("idle", n)]
        goals.add("sample at %dk idle tasks (steady mean)" % (n // 1000), "%.2f ms" % s["steady_mean"], "info")
    goals.add("first (full) sample at 10k idle tasks", "%.1f ms + %.1f ms encode"
              % (at10k["first_tick"], at10k["first_encode"]), "info")
    at100k = summaries[("idle", 100_000)]
    goals.add("first (full) sample at 100k idle tasks", "%.0f ms + %.0f ms encode, %d of %d tasks sent"
              % (at100k["first_tick"], at100k["first_encode"], at100k["first_tasks"], 100_001), "info")
    for r in CHURN_RATES:
        s = summaries[("churn", r)]
        goals.add("sample under churn (%d new per sample)" % r, "%.2f ms" % s["steady_mean"], "info")
    for kind, label in (("overdue", "past the stuck threshold"), ("deadline", "under a timeout, past it")):
        if (kind, OVERDUE) in summaries:
            goals.add("sample at 10k idle tasks %s (steady mean)" % label,
                      "%.2f ms" % summaries[(kind, OVERDUE)]["steady_mean"], "info")
    return goals


if __name__ == "__main__":
    harness.main(sys.argv[1:], measure, child)
