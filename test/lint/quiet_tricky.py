"""Code that looks like the rules' cases and must stay quiet."""

import asyncio
import time

MESSAGE = "asyncio.create_task(job()) would drop the task"  # ok
# asyncio.create_task(job())
DOC = """
    asyncio.create_task(job())
    time.sleep(1)
"""


async def job():
    await asyncio.sleep(1)


class Scheduler:
    def create_task(self, coro):
        return coro


async def other_create_tasks(pool, scheduler: Scheduler, tg):
    pool.create_task(job())  # ok: not an event loop
    scheduler.create_task(job())  # ok
    tg.create_task(job())  # ok: a TaskGroup
    asyncio.Task.current_task  # ok


def task_type_in_annotations(task: asyncio.Task) -> asyncio.Task:
    return task


async def sleep_is_awaited():
    await asyncio.sleep(0)  # ok


async def with_a_timeout():
    async with asyncio.timeout(1):  # ok
        await job()


def run_from_sync_code():
    asyncio.run(job())  # ok


async def many_names_for_one_task():
    first = asyncio.create_task(job())  # ok
    second = first
    third = second
    await third


async def keyword_argument_named_like_the_task(run):
    task = asyncio.create_task(job())  # ok
    run(task=task)


async def formatted_into_a_string():
    task = asyncio.create_task(job())  # ok
    print(f"{task!r}")
    return task


async def time_module_shadowed(time):
    time.sleep(1)  # ok: a parameter, not the time module


async def sleeping_in_a_nested_class():
    class Helper:
        def wait(self):
            time.sleep(1)  # ok: a plain method

    return Helper
