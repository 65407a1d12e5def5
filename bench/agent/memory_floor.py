"""The least a live task's record can cost, by layout: what the memory goal would take.

`memory.py` measures what the agent adds per live task (issue 3's goal: at most 300 B).
This one asks how low a record can go. In one process without the agent, it parks 100,000
real tasks on an ``asyncio.Event`` and, one layout at a time, builds for every task what
that layout keeps per task, counting the bytes still held (tracemalloc) and then freeing
them:

- ``the agent's``: the agent's own record, made by ``Registry.record`` as the sampler makes
  it (a `registry.TaskRef`: a weak reference to the task carrying the record's slots), in the
  registry's dict by address, with its number, and the weak reference to the future the
  task waits on in its ``waiter`` slot, as the sampler sets it;
- ``plain, N fields``: a plain object with N slots (one of them the number, one the weak
  reference to the future), holding the weak reference asyncio's all-tasks set already has
  for the task (3.10 to 3.13) instead of one of its own, in a dict keyed by that reference
  (no address key): the leanest layout that still finds a task's record and learns of its
  collection without a weak reference of its own (the hook already gives that reference its
  callback);
- each plain layout again without the future's weak reference: the only way a read-only
  agent has to tell a task still waiting on one future from a task that woke and now waits
  on a new future at the same address (freed memory is reused in the same order when a
  worker waits again; see docs/benchmarks.md, "Why the goals are missed").

The agent's other per-task bytes (its parent's list of children, its place in the timing
wheel, what the sampler keeps for a while after a burst) come on top: `memory.py`'s total
less this benchmark's first row.

Run alone: ``python3 bench/agent/memory_floor.py`` (about ten seconds).
"""

import asyncio
import gc
import sys
import time
import tracemalloc
import weakref

import harness

TASKS = 100_000
#: The field counts of the plain layouts: the agent's record has 18 (the task's address
#: among them, which a layout keyed by asyncio's reference no longer needs, and the
#: reference itself in its place).
PLAIN_FIELDS = (18, 12, 8)


def _asyncio_refs(tasks):
    """asyncio's all-tasks set's weak references to `tasks`, by the ``id()`` of their task, or
    None where that set does not hold them all (3.14 keeps its C tasks in per-thread lists)."""
    for name in ("_scheduled_tasks", "_all_tasks"):
        ws = getattr(asyncio.tasks, name, None)
        if isinstance(ws, weakref.WeakSet):
            refs = {id(wr()): wr for wr in list(ws.data) if wr() is not None}
            return refs if all(id(task) in refs for task in tasks) else None
    return None


def _plain_class(fields):
    return type("Plain%d" % fields, (), {"__slots__": tuple("f%d" % i for i in range(fields))})


def _build_agent(tasks, loop, now):
    sys.path.insert(0, harness.PYTHON_DIR)
    from taskscope.registry import Registry

    registry = Registry()
    for task in tasks:
        ref = registry.record(task, loop, None, None, now)
        ref.waiter = weakref.ref(task._fut_waiter)
    return registry


def _build_plain(cls, tasks, refs, first_number, with_future):
    index = {}
    for n, task in enumerate(tasks):
        rec = cls()
        wr = refs[id(task)]
        rec.f0 = wr
        rec.f1 = first_number + n  # a number above the small ints Python shares
        rec.f2 = weakref.ref(task._fut_waiter) if with_future else None
        index[wr] = rec
    return index


def _held(build):
    """Bytes per task that `build()` allocates and its result still holds."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del kept
    gc.collect()
    return held / TASKS


async def _layouts():
    event = asyncio.Event()
    tasks = [asyncio.create_task(event.wait()) for _ in range(TASKS)]
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    refs = _asyncio_refs(tasks)
    now = time.time()
    rows = [("the agent's (TaskRef, 18 slots)", _held(lambda: _build_agent(tasks, loop, now)), None)]
    if refs is not None:
        for fields in PLAIN_FIELDS:
            cls = _plain_class(fields)
            with_future = _held(lambda: _build_plain(cls, tasks, refs, 10**6, True))
            without = _held(lambda: _build_plain(cls, tasks, refs, 10**6, False))
            rows.append(("plain, %d fields, keyed by asyncio's reference" % fields, with_future, without))
    event.set()
    await asyncio.gather(*tasks)
    return rows, refs is not None


def measure():
    harness.print_environment("Agent: the least a live task's record can cost, by layout")
    print("%d tasks parked on an Event, no agent; per task, the bytes each layout holds (tracemalloc).\n" % TASKS)
    rows, has_refs = asyncio.run(_layouts())
    harness.table(["layout", "bytes per task", "without the future's weak reference"],
                  [(name, "%.0f" % with_future, "-" if without is None else "%.0f" % without)
                   for name, with_future, without in rows])
    if not has_refs:
        print("\nThis Python keeps no weak reference of asyncio's to each task: a record needs its own, and the"
              "\nagent's (a weak reference carrying the record's slots) is the leanest way to have one.")
    print("\nThe agent's other bytes per task come on top (memory.py's total less the first row).")
    goals = harness.Goals("memory_floor")
    agent_row = rows[0][1]
    goals.add("the agent's record, its index entry, number and future reference", "%.0f B" % agent_row, "info")
    for name, with_future, without in rows[1:]:
        goals.add(name, "%.0f B (%.0f B without the future's reference)" % (with_future, without), "info")
    return goals


if __name__ == "__main__":
    harness.main(sys.argv[1:], measure)
