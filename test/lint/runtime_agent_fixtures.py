"""Cases first seen at run time: the agent's fixture programs (test/fixtures/programs) report these
tasks as dropped while pending, or stay quiet about them. The linter must agree."""

import asyncio
import gc
import os
import weakref


async def job(n=0):
    await asyncio.sleep(n)


async def observed_only_through_weak_references():
    # The agent reports both tasks as fire-and-forget: a weak reference keeps nothing alive.
    finished = weakref.ref(asyncio.create_task(job(), name="fire-and-forget"))  # expect: TSK001
    stuck = weakref.ref(asyncio.create_task(job(), name="forgotten"))  # expect: TSK001
    return finished, stuck


async def only_its_type_is_looked_at():
    print(type(asyncio.create_task(job(3))).__name__)  # expect: TSK001


async def held_then_deleted(label):
    task = asyncio.create_task(job(), name=label)  # expect: TSK001
    for _ in range(10):
        await asyncio.sleep(0.01)
    print(label, "done:", task.done())
    del task
    gc.collect()


async def cancelled_by_a_timer_then_awaited():
    task = asyncio.create_task(job(10), name="sleeper")  # ok
    if not os.environ.get("RELEASE"):
        asyncio.get_running_loop().call_later(0.05, task.cancel, "timer")
    try:
        await task
    except asyncio.CancelledError:  # ok: waiting for the task it cancelled
        print("saw the cancellation")
