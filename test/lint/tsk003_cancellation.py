"""TSK003: cancellation caught in an async function and not re-raised."""

import asyncio
import contextlib
from asyncio import CancelledError
from contextlib import suppress


async def step():
    await asyncio.sleep(1)


async def swallowed():
    try:
        await step()
    except asyncio.CancelledError:  # expect: TSK003
        print("cancelled")


async def swallowed_by_name():
    try:
        await step()
    except CancelledError:  # expect: TSK003
        return None


async def swallowed_in_a_tuple():
    try:
        await step()
    except (ValueError, asyncio.CancelledError) as exc:  # expect: TSK003
        print(exc)


async def swallowed_by_base_exception():
    try:
        await step()
    except BaseException:  # expect: TSK003
        pass


async def swallowed_by_bare_except():
    try:
        await step()
    except:  # expect: TSK003
        pass


async def swallowed_by_suppress():
    with contextlib.suppress(asyncio.CancelledError):  # expect: TSK003
        await step()
    with suppress(CancelledError):  # expect: TSK003
        await step()


async def reraised():
    try:
        await step()
    except asyncio.CancelledError:  # ok
        print("cleaning up")
        raise


async def reraised_from_base_exception():
    try:
        await step()
    except BaseException as exc:  # ok
        print(exc)
        raise


async def ordinary_exceptions():
    try:
        await step()
    except Exception:  # ok: CancelledError is not an Exception
        pass
    with suppress(ValueError):  # ok
        await step()


def in_a_sync_function():
    try:
        asyncio.run(step())
    except asyncio.CancelledError:  # ok: not inside a task
        pass


async def waiting_for_a_task_it_cancelled():
    task = asyncio.create_task(step())
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:  # ok: the usual way to wait for a cancelled task
        pass


async def suppress_around_a_cancelled_task(worker):
    worker.cancel()
    with suppress(asyncio.CancelledError):  # ok
        await worker


async def nested_sync_handler():
    def callback():
        try:
            return 1
        except BaseException:  # ok: a plain function
            return 0

    return callback


async def comment_mentions_raise():
    try:
        await step()
    except asyncio.CancelledError:  # expect: TSK003
        # we should raise here one day
        print("raise is only in a comment")
