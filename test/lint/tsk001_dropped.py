"""TSK001: every way a task's only reference can be dropped."""

import asyncio
import signal
import weakref


async def fetch(n):
    await asyncio.sleep(n)


asyncio.create_task(fetch(0))  # expect: TSK001


async def discarded():
    asyncio.create_task(fetch(1))  # expect: TSK001
    asyncio.ensure_future(fetch(2))  # expect: TSK001
    asyncio.Task(fetch(3))  # expect: TSK001
    (asyncio.create_task(fetch(4)))  # expect: TSK001


async def through_aliases():
    import asyncio as aio
    from asyncio import create_task as spawn, ensure_future

    aio.create_task(fetch(1))  # expect: TSK001
    spawn(fetch(2))  # expect: TSK001
    ensure_future(fetch(3))  # expect: TSK001


async def bound_to_underscore():
    _ = asyncio.create_task(fetch(1))  # expect: TSK001


async def bound_and_never_read():
    task = asyncio.create_task(fetch(1))  # expect: TSK001


async def chained_assignment():
    first = second = asyncio.create_task(fetch(1))  # expect: TSK001


async def annotated_and_never_read():
    job: asyncio.Task[None] = asyncio.create_task(fetch(1))  # expect: TSK001


async def read_only_to_call_methods(callback):
    task = asyncio.create_task(fetch(1))  # expect: TSK001
    task.add_done_callback(callback)
    task.set_name("worker")
    if task.done():
        print("already done")


async def done_callback_on_the_call(callback):
    asyncio.create_task(fetch(1)).add_done_callback(callback)  # expect: TSK001


async def list_built_and_dropped():
    pending = [asyncio.create_task(fetch(n)) for n in range(3)]  # expect: TSK001


async def local_list_filled_and_dropped():
    jobs = []
    for n in range(3):
        jobs.append(asyncio.create_task(fetch(n)))  # expect: TSK001
    print(len(jobs))


async def local_set_filled_and_dropped():
    running = set()
    task = asyncio.create_task(fetch(1))  # expect: TSK001
    running.add(task)
    task.add_done_callback(running.discard)


async def local_dict_filled_and_dropped(names):
    by_name = {}
    for name in names:
        by_name[name] = asyncio.create_task(fetch(name))  # expect: TSK001


WATCHED = weakref.WeakSet()


async def kept_only_in_a_weakset():
    WATCHED.add(asyncio.create_task(fetch(1)))  # expect: TSK001


async def kept_only_in_a_local_weakset():
    seen = weakref.WeakSet()
    seen.add(asyncio.create_task(fetch(1)))  # expect: TSK001
    return seen


def from_the_loop():
    asyncio.get_event_loop().create_task(fetch(1))  # expect: TSK001
    loop = asyncio.new_event_loop()
    loop.create_task(fetch(2))  # expect: TSK001


async def from_the_running_loop():
    current = asyncio.get_running_loop()
    current.create_task(fetch(1))  # expect: TSK001


def from_an_annotated_loop(ev: asyncio.AbstractEventLoop):
    ev.create_task(fetch(1))  # expect: TSK001


class Service:
    def __init__(self, loop):
        self.loop = loop
        self._loop = loop

    def start(self):
        self.loop.create_task(fetch(1))  # expect: TSK001
        self._loop.create_task(fetch(2))  # expect: TSK001


def lambdas_given_to_registrars(loop):
    loop.call_soon(lambda: asyncio.create_task(fetch(1)))  # expect: TSK001
    loop.call_later(5, lambda: asyncio.ensure_future(fetch(2)))  # expect: TSK001
    loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.create_task(fetch(3)))  # expect: TSK001
    signal.signal(signal.SIGINT, lambda signum, frame: loop.create_task(fetch(4)))  # expect: TSK001


async def walrus_then_dropped():
    if (task := asyncio.create_task(fetch(1))):  # expect: TSK001
        print("started")


async def conditional_creation(flag):
    if flag:
        t = asyncio.create_task(fetch(1))  # expect: TSK001
    else:
        t = None


async def awaited_only_in_a_comment():
    task = asyncio.create_task(fetch(1))  # expect: TSK001
    # later on: await task
    print("started", "await task")


async def returned_only_in_a_docstring():
    """Starts the fetch.

    return task
    """
    task = asyncio.create_task(fetch(1))  # expect: TSK001


async def bound_then_put_in_a_weakset():
    task = asyncio.create_task(fetch(1))  # expect: TSK001
    WATCHED.add(task)


class Holder:
    def start(self, callback):
        # What is stored is add_done_callback's None, not the task.
        self.task = asyncio.create_task(fetch(1)).add_done_callback(callback)  # expect: TSK001
