"""TSK001 must stay quiet: every way a task's reference is kept."""

import asyncio
import contextlib

import anyio
import trio

BACKGROUND = set()
REGISTRY = {}
current = asyncio.create_task(asyncio.sleep(1))  # ok: a module-level global keeps it
holder: asyncio.Task | None = None


async def work(n=0):
    await asyncio.sleep(n)


async def awaited():
    await asyncio.create_task(work())  # ok
    task = asyncio.create_task(work())  # ok
    await task


async def returned():
    return asyncio.create_task(work())  # ok


def returned_in_a_tuple():
    task = asyncio.ensure_future(work())  # ok
    return task, "label"


async def yielded():
    yield asyncio.create_task(work())  # ok


class Owner:
    def __init__(self):
        self.task = asyncio.create_task(work())  # ok
        self.tasks = {}
        self.pending = []

    def more(self, key):
        self.tasks[key] = asyncio.create_task(work())  # ok
        self.pending.append(asyncio.create_task(work()))  # ok


async def stored_in_a_global():
    global holder
    holder = asyncio.create_task(work())  # ok


async def stored_in_a_module_set():
    task = asyncio.create_task(work())  # ok
    BACKGROUND.add(task)
    task.add_done_callback(BACKGROUND.discard)


async def stored_in_a_module_dict(key):
    REGISTRY[key] = asyncio.create_task(work())  # ok


async def passed_to_gather():
    first = asyncio.create_task(work(1))  # ok
    second = asyncio.create_task(work(2))  # ok
    await asyncio.gather(first, second)


async def passed_to_wait():
    jobs = [asyncio.create_task(work(n)) for n in range(3)]  # ok
    done, pending = await asyncio.wait(jobs)
    return done


async def local_list_that_leaves():
    jobs = []
    for n in range(3):
        jobs.append(asyncio.create_task(work(n)))  # ok
    return jobs


async def local_list_awaited_one_by_one():
    jobs = [asyncio.create_task(work(n)) for n in range(3)]  # ok
    for job in jobs:
        await job


def handed_to_a_user_function(register):
    register(asyncio.create_task(work()))  # ok


def added_to_a_set_from_the_caller(tasks: set):
    tasks.add(asyncio.create_task(work()))  # ok


async def task_group():
    async with asyncio.TaskGroup() as tg:
        tg.create_task(work())  # ok


async def anyio_task_group():
    async with anyio.create_task_group() as tg:
        tg.start_soon(work)  # ok


async def trio_nursery():
    async with trio.open_nursery() as nursery:
        nursery.start_soon(work)  # ok


async def kept_through_an_alias():
    task = asyncio.create_task(work())  # ok
    keep = task
    return keep


async def kept_by_walrus():
    if (task := asyncio.create_task(work())) is not None:  # ok
        await task


async def awaited_in_finally(flag):
    t = None
    if flag:
        t = asyncio.create_task(work())  # ok
    try:
        await asyncio.sleep(1)
    finally:
        if t:
            await t


async def closure_keeps_it(loop):
    task = asyncio.create_task(work())  # ok
    loop.call_later(5, task.cancel)


async def shielded():
    await asyncio.shield(asyncio.create_task(work()))  # ok


async def timeout_wrapped():
    await asyncio.wait_for(asyncio.create_task(work()), 1)  # ok


def lambda_kept_by_its_caller(scheduler):
    scheduler.every(5, lambda: asyncio.create_task(work()))  # ok


async def stack_of_contexts():
    async with contextlib.AsyncExitStack() as stack:
        task = asyncio.create_task(work())  # ok
        stack.push_async_callback(lambda: task)


def factory(loop):
    return loop.create_task(work())  # ok


class Nested:
    task = asyncio.ensure_future(work())  # ok: a class attribute
