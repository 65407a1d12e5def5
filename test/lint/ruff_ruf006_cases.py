"""The cases of Ruff's own RUF006 tests, retold. Where Ruff's tests accept code that still drops
its task, the line says so: those are the cases Ruff misses, and TaskScope flags them."""

import asyncio


def plain_create_task(client):
    asyncio.create_task(client.connect())  # expect: TSK001


def plain_ensure_future(client):
    asyncio.ensure_future(client.connect())  # expect: TSK001


def kept_in_a_set_with_discard(make):
    running = set()
    for n in range(10):
        task = asyncio.create_task(make(n))  # ok
        running.add(task)
        task.add_done_callback(running.discard)
    return running


def kept_in_a_set_with_discard_ensure_future(make):
    running = set()
    for n in range(10):
        task = asyncio.ensure_future(make(n))  # ok
        running.add(task)
        task.add_done_callback(running.discard)
    return running


def stored_on_an_attribute(ctx, request):
    ctx.task = asyncio.create_task(request())  # ok


def appended_to_an_outside_list(tasks, load):
    tasks.append(asyncio.create_task(load()))  # ok


async def given_to_wait(clients):
    await asyncio.wait([asyncio.create_task(c.close()) for c in clients])  # ok


def comprehension_bound_and_dropped(coros):
    # Ruff's tests accept this, yet the list dies with the function: Ruff misses it.
    started = [asyncio.create_task(c) for c in coros]  # expect: TSK001


def bound_and_never_used(client):
    task = asyncio.create_task(client.connect())  # expect: TSK001


def bound_with_annotation_from_the_running_loop(client):
    loop = asyncio.get_running_loop()
    task: asyncio.Task = loop.create_task(client.connect())  # expect: TSK001


def added_to_an_outside_set(client, background):
    task = asyncio.create_task(client.connect())  # ok
    background.add(task)


async def awaited_later(client):
    task = asyncio.create_task(client.connect())  # ok
    await task


def handed_to_a_function(client, keep_it):
    keep_it(asyncio.create_task(client.connect()))  # ok


def discarded_from_the_running_loop(client):
    loop = asyncio.get_running_loop()
    loop.create_task(client.connect())  # expect: TSK001


def discarded_from_a_loop_parameter(loop, client):
    # Ruff cannot tell that `loop` is an event loop and lets it pass: Ruff misses it.
    loop.create_task(client.connect())  # expect: TSK001


def other_method_of_the_loop(client):
    loop = asyncio.get_running_loop()
    loop.do_thing(client.connect())  # ok


async def chained_and_awaited(client):
    task = spare = asyncio.create_task(client.connect())  # ok
    await task


async def chained_and_dropped(client):
    # Ruff's tests accept this (a known false negative): Ruff misses it.
    task = spare = asyncio.create_task(client.connect())  # expect: TSK001


async def stored_by_subscript(slots, i, client):
    slots[i] = asyncio.create_task(client.connect())  # ok


async def either_branch_then_awaited(x, request):
    if x > 0:
        task = asyncio.create_task(request())  # ok
    else:
        task = asyncio.create_task(request())  # ok
    await task


async def maybe_created_then_awaited(flag):
    if flag:
        t = asyncio.create_task(asyncio.sleep(1))  # ok
    else:
        t = None
    try:
        await asyncio.sleep(1)
    finally:
        if t:
            await t


async def maybe_created_and_dropped(flag):
    if flag:
        t = asyncio.create_task(asyncio.sleep(1))  # expect: TSK001
    else:
        t = None


async def maybe_created_into_a_global(flag):
    global CURRENT
    if flag:
        CURRENT = asyncio.create_task(asyncio.sleep(1))  # ok
    else:
        CURRENT = None


def from_a_new_loop(main):
    loop = asyncio.new_event_loop()
    loop.create_task(main())  # expect: TSK001


def from_get_event_loop(main):
    loop = asyncio.get_event_loop()
    loop.create_task(main())  # expect: TSK001


def new_loop_into_a_global(main):
    global job
    loop = asyncio.new_event_loop()
    job = loop.create_task(main())  # ok


def event_loop_into_a_global(main):
    global job
    loop = asyncio.get_event_loop()
    job = loop.create_task(main())  # ok
