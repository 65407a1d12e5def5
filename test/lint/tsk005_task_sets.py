"""TSK005: a long-lived set of background tasks that nothing ever removes them from."""

import asyncio

LEAKY = set()
TIDY = set()


async def job():
    await asyncio.sleep(1)


async def leaks():
    task = asyncio.create_task(job())  # ok: kept, but see the next line
    LEAKY.add(task)  # expect: TSK005


async def leaks_inline():
    LEAKY.add(asyncio.create_task(job()))  # expect: TSK005


async def tidy():
    task = asyncio.create_task(job())  # ok
    TIDY.add(task)  # ok
    task.add_done_callback(TIDY.discard)


class Worker:
    def __init__(self):
        self._tasks = set()
        self._tidy = set()

    def spawn(self):
        self._tasks.add(asyncio.create_task(job()))  # expect: TSK005

    def spawn_tidy(self):
        task = asyncio.create_task(job())  # ok
        self._tidy.add(task)  # ok
        task.add_done_callback(self._tidy.discard)


async def leaks_even_when_awaited():
    task = asyncio.create_task(job())  # ok
    LEAKY.add(task)  # expect: TSK005
    await task


async def local_set_named_like_the_global():
    LEAKY = set()
    LEAKY.add(asyncio.create_task(job()))  # expect: TSK001
