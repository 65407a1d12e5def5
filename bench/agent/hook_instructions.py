"""The hot path in instructions: what the hook adds to a task, counted, not timed.

On a shared machine the time a task takes varies by tens of percent from one run to the
next; the number of instructions it executes does not. This benchmark runs each workload
under valgrind's callgrind (Debian's ``valgrind``, installed with apt-get as root when
missing) in fresh processes, with and without the agent's hook, and prints the
instructions per task and their ratio. It is the figure to watch when changing
`python/taskscope/hooks.py`: a change of a few percent shows here, run after run, where
the timed benchmarks cannot tell it from noise. It counts instructions, not cache misses
or memory traffic, so it is a guide, not a goal.

Workloads (each round makes, awaits and lets go of N trivial tasks; the count of a
process with 1 round is taken from one with 3 rounds, and divided by 2N, so that start-up
cancels out):

- ``create_task``: ``asyncio.create_task`` from the program's coroutine (the common route);
- ``gather``: ``asyncio.gather`` of coroutines (``_ensure_future`` inside ``gather``);
- ``library``: ``loop.create_task`` from a callback of library code run by the loop, as
  aiohttp's request handler does (the program's code is not on the stack).

Variants: ``plain`` (no agent) and ``hook`` (`hooks.install`, with what the sampler would
have taught it: the program's code and the library's). The sampler and transport are not
running: their cost is in ``spawn.py``, ``sampling.py`` and ``server.py``.

Run alone: ``python3 bench/agent/hook_instructions.py`` (about a minute).
"""

import asyncio
import os
import re
import shutil
import subprocess
import sys
import types

import harness

WORKLOADS = {"create_task": 4000, "gather": 2000, "library": 2000}
VARIANTS = ("plain", "hook")
TIMEOUT = 600


# --- the child ---------------------------------------------------------------------------


async def _noop():
    pass


async def _create_task(n):
    tasks = [asyncio.create_task(_noop()) for _ in range(n)]
    for task in tasks:
        await task


async def _gather(n):
    await asyncio.gather(*[_noop() for _ in range(n)])


def _library_make(loop, out):
    out.append(loop.create_task(_noop()))


async def _library(n):
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(n):
        loop.call_soon(_library_make, loop, out)
    while len(out) < n:
        await asyncio.sleep(0)
    for task in out:
        await task


def _teach(registry):
    """What the sampler knows from the start (the loop's dispatch, where walks stop) and
    learns in its first samples (which code is the program's)."""
    from taskscope.frames import FrameResolver

    FrameResolver(registry.user_codes)  # seeds the stops, as the sampler's does
    for fn in (_create_task, _gather, _library):
        registry.user_codes[id(fn.__code__)] = True
        for const in fn.__code__.co_consts:
            if isinstance(const, types.CodeType):
                registry.user_codes[id(const)] = True
    for fn in (asyncio.tasks.gather, asyncio.BaseEventLoop.create_task, _library_make):
        registry.user_codes[id(fn.__code__)] = False  # library code (this file plays aiohttp)


def child(workload, n, variant, rounds):
    n, rounds = int(n), int(rounds)
    registry = None
    if variant == "hook":
        sys.path.insert(0, harness.PYTHON_DIR)
        from taskscope import hooks
        from taskscope.registry import Registry

        registry = Registry()
        hooks.install(registry)
        _teach(registry)
    work = {"create_task": _create_task, "gather": _gather, "library": _library}[workload]

    async def main():
        for _ in range(rounds):
            await work(n)
            if registry is not None:
                registry.take_new()  # as the sampler would

    asyncio.run(main())


# --- the parent --------------------------------------------------------------------------


def _valgrind():
    if shutil.which("valgrind"):
        return True
    if os.geteuid() != 0:
        print("Missing: Debian's valgrind. Install it as root: apt-get update && apt-get install -y valgrind")
        return False
    print("Installing Debian package: valgrind", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "valgrind"]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            return False
    return bool(shutil.which("valgrind"))


def _instructions(workload, n, variant, rounds):
    python = os.path.realpath(sys.executable)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           python, "hook_instructions.py", "--child", workload, str(n), variant, str(rounds)]
    env = dict(harness.child_env(), PYTHONHASHSEED="0")
    if shutil.which("setarch"):
        cmd = ["setarch", "-R", *cmd]  # the same addresses each run
    done = subprocess.run(cmd, cwd=harness.HERE, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or not found:
        raise RuntimeError("callgrind run failed (%d): %s" % (done.returncode, done.stderr[-1500:]))
    return int(found.group(1))


def measure():
    harness.print_environment("Agent: the hook in instructions (callgrind)")
    goals = harness.Goals("hook_instructions")
    if not _valgrind():
        goals.add("hot path in instructions", "valgrind missing", None)
        return goals
    print("Instructions per task: (count with 3 rounds - count with 1 round) / (2 N).\n")
    rows = []
    for workload, n in WORKLOADS.items():
        per_task = {}
        for variant in VARIANTS:
            one = _instructions(workload, n, variant, 1)
            three = _instructions(workload, n, variant, 3)
            per_task[variant] = (three - one) / (2 * n)
        added = per_task["hook"] - per_task["plain"]
        ratio = per_task["hook"] / per_task["plain"]
        rows.append([workload, n, "%.0f" % per_task["plain"], "%.0f" % per_task["hook"], "%+.0f" % added,
                     "%.3f" % ratio])
        goals.add("hook in instructions, %s: per task with / without" % workload,
                  "%.3f (+%.0f of %.0f)" % (ratio, added, per_task["plain"]), "info")
        print("  %-12s done" % workload, flush=True)
    print()
    harness.table(["workload", "N", "plain instr/task", "hook instr/task", "added", "ratio"], rows)
    return goals


if __name__ == "__main__":
    harness.main(sys.argv[1:], measure, child)
