"""TSK002: coroutines and awaitables that are never awaited."""

import asyncio
import asyncio as aio
from asyncio import sleep as nap
from contextlib import asynccontextmanager


async def refresh():
    await asyncio.sleep(0)


async def ready() -> bool:
    return True


def plain() -> int:
    return 1


class Client:
    async def connect(self):
        await refresh()

    def close(self):
        pass

    async def run(self):
        self.connect()  # expect: TSK002
        await self.connect()  # ok
        self.close()  # ok


async def statements():
    refresh()  # expect: TSK002
    asyncio.sleep(1)  # expect: TSK002
    aio.gather(refresh(), refresh())  # expect: TSK002
    nap(1)  # expect: TSK002
    asyncio.wait_for(refresh(), 1)  # expect: TSK002
    plain()  # ok


def in_a_sync_function():
    refresh()  # expect: TSK002


async def bound_to_underscore():
    _ = refresh()  # expect: TSK002


async def as_conditions():
    if ready():  # expect: TSK002
        pass
    while not ready():  # expect: TSK002
        break
    value = 1 if ready() else 2  # expect: TSK002
    assert ready()  # expect: TSK002
    return value


async def used_properly(loop):
    await refresh()  # ok
    if await ready():  # ok
        pass
    task = asyncio.create_task(refresh())  # ok
    await task
    coro = refresh()  # ok
    await coro
    loop.run_until_complete(refresh())  # ok
    results = await asyncio.gather(refresh(), refresh())  # ok
    return results


@asynccontextmanager
async def session():
    yield


async def context_manager_factory_is_not_a_coroutine():
    session()  # ok: decorated, may not return a coroutine


async def shadowed(refresh):
    refresh()  # ok: a parameter, not the async def
