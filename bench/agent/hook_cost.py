"""Where the hot path's time goes: the cost of one task with each piece of recording added.

A breakdown for whoever works on `python/taskscope/hooks.py`, not a goal of its own. Each
variant runs in a fresh child process (three per variant, interleaved; the median of each
process's best round):

- ``plain``: no agent;
- ``wrapper``: a pass-through Python wrapper of ``BaseEventLoop.create_task`` (what the
  agent does on Python 3.14, before it records anything; for comparison);
- ``set-class``: asyncio's all-tasks set given a subclass whose ``add`` does what
  ``WeakSet.add`` does, as the agent's does before it records (the floor of the hook on
  3.10 to 3.13; the agent's own class always records: deactivated, the agent gives the
  set its class back);
- ``hook``: the agent's real hook (`hooks.install`), user code already known to it (the
  steady state once the sampler has taught it where the program's code is);
- ``hook-cold``: the same before the sampler has taught it (it walks up to `MAX_DEPTH`
  frames per task).

Two figures per variant, in CPU time per task: ``create`` (``loop.create_task`` alone,
garbage collector paused) and ``lifecycle`` (create 20,000 tasks, await each, let them be
collected, collector on: what the spawn benchmark's workload does per task). The hook's
queue is emptied after each round, as the sampler would.

Run alone: ``python3 bench/agent/hook_cost.py`` (under a minute).
"""

import asyncio
import functools
import gc
import sys
import time
import types

import harness

TASKS = 20_000
ROUNDS = 7
PROCESSES = 3
VARIANTS = ("plain", "wrapper", "set-class", "hook", "hook-cold")


# --- the child ---------------------------------------------------------------------------


async def _noop():
    pass


def _install(variant):
    """Puts `variant` in place; returns the registry if there is one."""
    if variant == "plain":
        return None
    if variant == "wrapper":
        base = asyncio.BaseEventLoop
        original = base.create_task

        @functools.wraps(original)
        def create_task(self, coro, *args, **kwargs):
            return original(self, coro, *args, **kwargs)

        base.create_task = create_task
        return None
    if variant == "set-class":
        _pass_through_set_class()
        return None
    sys.path.insert(0, harness.PYTHON_DIR)
    from taskscope import hooks
    from taskscope.registry import Registry

    registry = Registry()
    hooks.install(registry)
    if variant == "hook":
        # What the sampler learns at its first sample: this file's code is the program's.
        for fn in (_create_only, _lifecycle):
            registry.user_codes[id(fn.__code__)] = True
            for const in fn.__code__.co_consts:
                if isinstance(const, types.CodeType):
                    registry.user_codes[id(const)] = True
    return registry


def _pass_through_set_class():
    """Gives asyncio's all-tasks set a subclass whose ``add`` is ``WeakSet.add``'s lines
    (3.10 to 3.13; elsewhere the set has no Python ``add`` and nothing changes)."""
    import _weakrefset
    import weakref

    for name in ("_scheduled_tasks", "_all_tasks"):
        task_set = getattr(asyncio.tasks, name, None)
        if type(task_set) is _weakrefset.WeakSet and sys.version_info < (3, 14):
            break
    else:
        return
    make_ref = weakref.ref

    class PassThrough(_weakrefset.WeakSet):
        __slots__ = ()

        def add(self, item):
            if self._pending_removals:
                self._commit_removals()
            wr = make_ref(item, self._remove)
            self.data.add(wr)

    task_set.__class__ = PassThrough


def _drain(registry):
    if registry is not None:
        registry.take_new()
        registry.collected.clear()


async def _create_only(registry):
    loop = asyncio.get_running_loop()
    best = float("inf")
    for _ in range(ROUNDS):
        coros = [_noop() for _ in range(TASKS)]
        gc.collect()
        gc.disable()
        t0 = time.process_time()
        tasks = [loop.create_task(c) for c in coros]
        best = min(best, time.process_time() - t0)
        gc.enable()
        for task in tasks:
            task.cancel()
        await asyncio.sleep(0)
        del tasks, coros
        _drain(registry)
    return best / TASKS * 1e6


async def _lifecycle(registry):
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.process_time()
        tasks = [asyncio.create_task(_noop()) for _ in range(TASKS)]
        for task in tasks:
            await task
        del tasks, task
        best = min(best, time.process_time() - t0)
        _drain(registry)
    return best / TASKS * 1e6


async def _child_main(registry):
    return {"create": await _create_only(registry), "lifecycle": await _lifecycle(registry)}


def child(variant):
    # Installed before the loop runs, as `taskscope run` does: the main task is recorded too,
    # so that its children do not wait in the registry for a parent record (no sampler here).
    registry = _install(variant)
    harness.report(asyncio.run(_child_main(registry)))


# --- the parent --------------------------------------------------------------------------


def measure():
    harness.print_environment("Agent: cost of the task-creation hook, piece by piece")
    print("CPU time per task (us); median over %d processes of each one's best of %d rounds of %d tasks.\n"
          % (PROCESSES, ROUNDS, TASKS))
    results = {v: [] for v in VARIANTS}
    for _ in range(PROCESSES):
        for v in VARIANTS:
            results[v].append(harness.run_child([sys.executable, "hook_cost.py", "--child", v], 120))
    med = {v: {k: harness.median([r[k] for r in results[v]]) for k in ("create", "lifecycle")} for v in VARIANTS}
    rows = []
    for v in VARIANTS:
        rows.append([v, "%.2f" % med[v]["create"], "%+.2f" % (med[v]["create"] - med["plain"]["create"]),
                     "%.2f" % med[v]["lifecycle"], "%+.2f" % (med[v]["lifecycle"] - med["plain"]["lifecycle"]),
                     "%.2f" % (med[v]["lifecycle"] / med["plain"]["lifecycle"])])
    harness.table(["variant", "create us", "added", "lifecycle us", "added", "lifecycle /plain"], rows)
    goals = harness.Goals("hook_cost")
    for v in ("wrapper", "set-class", "hook", "hook-cold"):
        goals.add("hot path, %s: task lifecycle / plain" % v, "%.2f (+%.2f us)" % (
            med[v]["lifecycle"] / med["plain"]["lifecycle"], med[v]["lifecycle"] - med["plain"]["lifecycle"]), "info")
    return goals


if __name__ == "__main__":
    harness.main(sys.argv[1:], measure, child)
