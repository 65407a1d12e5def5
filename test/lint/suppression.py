"""Suppression comments."""

import asyncio
import time


async def job():
    await asyncio.sleep(1)


async def suppressed():
    asyncio.create_task(job())  # taskscope: ignore[TSK001]  # ok
    asyncio.create_task(job())  # noqa: RUF006  # ok
    asyncio.create_task(job())  # noqa: E501, RUF006  # ok
    asyncio.create_task(job())  # taskscope: ignore  # ok
    time.sleep(1)  # taskscope: ignore[TSK001, TSK004]  # ok


async def not_suppressed():
    asyncio.create_task(job())  # taskscope: ignore[TSK004]  # expect: TSK001
    asyncio.create_task(job())  # noqa: E501  # expect: TSK001
    time.sleep(1)  # noqa: RUF006  # expect: TSK004
