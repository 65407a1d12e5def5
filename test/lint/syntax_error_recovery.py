"""A file that does not parse: the rest is still checked."""

import asyncio


async def job():
    await asyncio.sleep(1)


def broken(:
    pass


async def after_the_error():
    asyncio.create_task(job())  # expect: TSK001
