"""The agent's parts in this process: frames, the creation hook, the sampler."""

import _weakrefset
import asyncio
import collections
import gc
import inspect
import subprocess
import sys
import threading
import time
import types
import unittest
import weakref

from test.agent import support
from taskscope import frames, hooks, protocol, sampler
from taskscope.entries import STRIDE, heads
from taskscope.findings import CallSites, loop_only_holds
from taskscope.registry import FORGOTTEN, Registry
from taskscope.sampler import Sampler


def _names(function, name):
    """True when a frame's `function` is the nested function `name`: its qualified name
    (``main.<locals>.name``), or on 3.10, whose code objects have none, its bare name."""
    if sys.version_info < (3, 11):
        return function == name
    return function.endswith("." + name)


def outer_function():
    return inner_function()


def inner_function():
    """The capture, and (code, f_lineno) of the callers, whose lines cannot move meanwhile."""
    frame = sys._getframe()
    captured = frames.capture_stack(frame, limit=4)
    callers = []
    caller = frame.f_back
    while caller is not None and len(callers) < 3:
        callers.append((caller.f_code, caller.f_lineno))
        caller = caller.f_back
    return captured, callers


class Frames(unittest.TestCase):
    def test_lines_from_lasti_equal_f_lineno(self):
        captured, callers = outer_function()
        resolver = frames.FrameResolver()
        self.assertEqual(resolver.frame(captured[0], captured[1])["function"], "inner_function")
        for i, (code, line) in enumerate(callers, 1):
            self.assertIs(captured[2 * i], code)
            self.assertEqual(resolver.line(code, captured[2 * i + 1]), line)

        def generator():
            yield 1
            value = 2
            yield value

        suspended = generator()
        for _ in range(2):
            next(suspended)
            frame = suspended.gi_frame
            self.assertEqual(resolver.line(frame.f_code, frame.f_lasti), frame.f_lineno)

    def test_offsets_of_suspended_coroutines_are_read_without_frame_objects(self):
        from taskscope import lasti

        if sys.version_info < (3, 11) or sys.implementation.name != "cpython":
            self.skipTest("before 3.11 every coroutine has a frame object anyway")
        self.assertTrue(lasti.available(), "the offset could not be found in a coroutine object")

        def frame_objects(coro):
            return [r for r in gc.get_referents(coro) if isinstance(r, types.FrameType)]

        async def steps(event, n):
            for i in range(n):
                await asyncio.sleep(0)
            total = 0
            while not event.is_set():
                total += 1
                await event.wait()
            return total

        async def main():
            event = asyncio.Event()
            tasks = [asyncio.create_task(steps(event, n)) for n in range(4)]
            twins = [asyncio.create_task(steps(event, n)) for n in range(4)]  # read the usual way
            self.assertEqual([lasti.lasti(t.get_coro()) for t in tasks], [None] * 4)  # not started
            seen = set()
            for _ in range(5):
                await asyncio.sleep(0)
                read = [lasti.lasti(t.get_coro()) for t in tasks]
                self.assertEqual(read, [t.get_coro().cr_frame.f_lasti for t in twins])
                self.assertEqual([frame_objects(t.get_coro()) for t in tasks], [[]] * 4)
                seen.update(read)
            self.assertEqual(len(seen), 2)  # at sleep(0), and at event.wait()
            event.set()
            await asyncio.gather(*tasks, *twins)
            self.assertIsNone(lasti.lasti(tasks[0].get_coro()))  # finished: nothing to read

        asyncio.run(main())
        self.assertIsNone(lasti.lasti(iter(())))  # not a coroutine

    def test_a_comprehension_is_named_after_the_function_it_is_in(self):
        if sys.version_info < (3, 11):
            self.skipTest("code objects have no qualified name before 3.11")

        def outer():
            return [sys._getframe() for _ in range(1)][0]

        frame = outer()
        resolver = frames.FrameResolver()
        self.assertEqual(resolver.frame(frame.f_code, frame.f_lasti)["function"], outer.__qualname__)

    def test_what_counts_as_the_programs_own_code(self):
        resolver = frames.FrameResolver()
        self.assertTrue(resolver.is_user_file(support.program("nested_tasks.py")))
        self.assertTrue(resolver.is_user_file("<string>"))
        self.assertFalse(resolver.is_user_file(asyncio.tasks.__file__))
        self.assertFalse(resolver.is_user_file(frames.__file__))
        self.assertFalse(resolver.is_user_file("<frozen runpy>"))
        self.assertFalse(resolver.is_user_file("/somewhere/site-packages/lib/mod.py"))
        self.assertFalse(resolver.is_user_file("/usr/lib/python3/dist-packages/mod.py"))

    def test_await_chain_and_identity_match(self):
        async def leaf(event):
            await event.wait()

        async def middle(event):
            await leaf(event)

        async def main():
            event = asyncio.Event()
            task = asyncio.create_task(middle(event))
            await asyncio.sleep(0)
            sig = frames.await_chain(task.get_coro())
            names = [code.co_name for code in sig[::2]]
            self.assertEqual(names[:3], ["middle", "leaf", "wait"])
            self.assertTrue(frames.chain_matches(task.get_coro(), sig))
            self.assertFalse(frames.chain_matches(task.get_coro(), sig[:-2]))
            self.assertFalse(frames.chain_matches(task.get_coro(), None))
            event.set()
            await task
            self.assertEqual(frames.await_chain(task.get_coro()), [])

        asyncio.run(main())


def library_make(made, coroutine_function):
    """Plays a library's callback that makes a task (as aiohttp's request handler does)."""
    made.append(asyncio.get_running_loop().create_task(coroutine_function()))


class CallerRecorder:
    """Stands in for asyncio in compiled snippets: ``create_task`` notes its caller's
    (code, f_lasti), as the hook captures them, and returns an awaitable."""

    def __init__(self):
        self.calls = []

    def create_task(self, *args):
        frame = sys._getframe(1)
        self.calls.append((frame.f_code, frame.f_lasti))
        return self

    def add(self, _item):
        pass

    def add_done_callback(self, _callback):
        pass

    def __await__(self):
        return iter(())


SNIPPETS = {
    "discarded": ("def f(asyncio, s, o):\n    asyncio.create_task(1)\n", ("discarded", None)),
    "discarded last statement in a loop": (
        "def f(asyncio, s, o):\n    for _ in range(1):\n        asyncio.create_task(1)\n", ("discarded", None)),
    "local": ("def f(asyncio, s, o):\n    t = asyncio.create_task(1)\n", ("local", "t")),
    "local then used": ("def f(asyncio, s, o):\n    job = asyncio.create_task(1)\n    job.add_done_callback(print)\n",
                        ("local", "job")),
    "attribute": ("def f(asyncio, s, o):\n    o.task = asyncio.create_task(1)\n", None),
    "into a set": ("def f(asyncio, s, o):\n    s.add(asyncio.create_task(1))\n", None),
    "returned": ("def f(asyncio, s, o):\n    return asyncio.create_task(1)\n", None),
    "global": ("def f(asyncio, s, o):\n    global G\n    G = asyncio.create_task(1)\n", None),
    "closure cell": ("def f(asyncio, s, o):\n    t = asyncio.create_task(1)\n    return lambda: t\n", None),
    "awaited": ("async def f(asyncio, s, o):\n    await asyncio.create_task(1)\n", None),
    "discarded in a coroutine": ("async def f(asyncio, s, o):\n    asyncio.create_task(1)\n    await asyncio\n",
                                 ("discarded", None)),
}


class CallSitesOnThisPython(unittest.TestCase):
    """The instruction after the call, read with dis on this interpreter's bytecode."""

    def test_statements(self):
        sites = CallSites(frames.FrameResolver())
        for label, (source, expected) in SNIPPETS.items():
            with self.subTest(label):
                namespace = {}
                exec(compile(source, "<snippet %s>" % label, "exec"), namespace)
                recorder = CallerRecorder()
                result = namespace["f"](recorder, recorder, types.SimpleNamespace())
                if inspect.iscoroutine(result):
                    try:
                        result.send(None)
                    except StopIteration:
                        pass
                (call,) = recorder.calls
                self.assertEqual(sites.after_call(*call), expected)

    def test_module_level_names_are_not_locals(self):
        sites = CallSites(frames.FrameResolver())
        recorder = CallerRecorder()
        exec(compile("task = asyncio.create_task(1)\n", "<module snippet>", "exec"), {"asyncio": recorder})
        self.assertIsNone(sites.after_call(*recorder.calls[0]))

    def test_only_through_asyncios_own_pass_through_functions(self):
        async def job():
            await asyncio.sleep(0)

        captured = []

        async def main():
            original = asyncio.BaseEventLoop.create_task

            def capture(loop, coro, **kwargs):
                captured.append(frames.capture_stack(sys._getframe(1), limit=3))
                return original(loop, coro, **kwargs)

            asyncio.BaseEventLoop.create_task = capture
            try:
                asyncio.create_task(job())  # through asyncio.create_task: discarded here
                asyncio.gather(job())  # through gather: gather keeps it
            finally:
                asyncio.BaseEventLoop.create_task = original
            await asyncio.sleep(0.01)

        asyncio.run(main())
        sites = CallSites(frames.FrameResolver())
        self.assertEqual(sites.binding(captured[0]), ("discarded", None))
        self.assertIsNone(sites.binding(captured[1]))


class LoopOnlyHolds(unittest.TestCase):
    def test_a_task_the_program_keeps_or_drops(self):
        def held_by_loop_only(ref):
            task = ref()
            try:
                return loop_only_holds(task)
            finally:
                task = None

        async def wait_on(future):
            await future

        async def main():
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            kept = [asyncio.create_task(wait_on(future))]
            dropped = weakref.ref(asyncio.create_task(wait_on(future)))
            await asyncio.sleep(0)
            kept_ref = weakref.ref(kept[0])
            self.assertFalse(held_by_loop_only(kept_ref))
            self.assertTrue(held_by_loop_only(dropped))
            kept.clear()
            self.assertTrue(held_by_loop_only(kept_ref))
            future.set_result(None)
            await asyncio.sleep(0)

        asyncio.run(main())


UVLOOP_FINDER = """
import asyncio, sys
from taskscope import hooks
from taskscope.registry import Registry
registry = Registry()
hooks.install(registry)
print("finder waiting:", any(type(f).__name__ == "_UvloopFinder" for f in sys.meta_path))
import uvloop
print("hooked:", hooks.is_hooked(uvloop.Loop))
print("finder gone:", not any(type(f).__name__ == "_UvloopFinder" for f in sys.meta_path))
print("loaders restored:", type(uvloop.__loader__).__name__, type(uvloop.__spec__.loader).__name__)

async def main():
    await asyncio.create_task(asyncio.sleep(0), name="on-uvloop")

with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
    runner.run(main())
# The main task's entry, then the one of the task it made (its stack: create_task, main).
from taskscope.entries import heads, entry_stack
items = list(registry.new)
second = heads(items)[1]
print("recorded:", [c.co_name for c in entry_stack(items, second)[::2]][:2])
hooks.uninstall()
print("unhooked:", not hooks.is_hooked(uvloop.Loop),
      not {"create_task", "run_forever", "call_exception_handler"} & set(uvloop.Loop.__dict__))
"""


@unittest.skipUnless(support.uvloop_available(), "uvloop is not installed for this Python")
class Uvloop(unittest.TestCase):
    def test_imported_after_the_agent(self):
        done = subprocess.run([sys.executable, "-c", UVLOOP_FINDER], capture_output=True, text=True,
                              env=support.clean_env(), timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.splitlines(), [
            "finder waiting: True", "hooked: True", "finder gone: True",
            "loaders restored: SourceFileLoader SourceFileLoader", "recorded: ['create_task', 'main']",
            "unhooked: True True"])

    def test_imported_before_the_agent(self):
        import uvloop

        registry = Registry()
        hooks.install(registry)
        self.addCleanup(hooks.uninstall)
        self.assertTrue(hooks.is_hooked(uvloop.Loop))
        self.assertFalse(any(type(f).__name__ == "_UvloopFinder" for f in sys.meta_path))


#: Where asyncio's all-tasks set is hooked (3.10 to 3.13), else None (create_task is wrapped).
TASK_SET = hooks._all_tasks_set()


class Uninstall(unittest.TestCase):
    def test_every_wrapped_method_is_put_back(self):
        names = [(asyncio.BaseEventLoop, "call_exception_handler")]
        if TASK_SET is None:
            names.append((asyncio.BaseEventLoop, "create_task"))
        if hasattr(asyncio, "TaskGroup"):
            names.append((asyncio.TaskGroup, "create_task"))
        before = {(cls, name): cls.__dict__[name] for cls, name in names}
        set_class = type(TASK_SET)
        hooks.install(Registry())
        for cls, name in names:
            self.assertTrue(getattr(cls.__dict__[name], "__taskscope__", False), (cls, name))
        if TASK_SET is not None:
            self.assertIsNot(type(TASK_SET), set_class)
            self.assertTrue(issubclass(type(TASK_SET), set_class))
            self.assertNotIn("create_task", asyncio.BaseEventLoop.__dict__["create_task"].__dict__)
        hooks.uninstall()
        self.assertEqual({(cls, name): cls.__dict__[name] for cls, name in names}, before)
        self.assertIs(type(TASK_SET), set_class)

    def test_deactivated_it_records_nothing_and_install_resumes(self):
        registry = Registry()
        hooks.install(registry)
        self.addCleanup(hooks.uninstall)
        recording = type(TASK_SET) if TASK_SET is not None else None

        async def made():
            await asyncio.create_task(asyncio.sleep(0))

        hooks.deactivate()
        if TASK_SET is not None:
            self.assertIs(type(TASK_SET), _weakrefset.WeakSet)  # asyncio's own add, no check
        asyncio.run(made())
        self.assertEqual(registry.new, [])
        hooks.install(registry)
        if TASK_SET is not None:
            self.assertIs(type(TASK_SET), recording)
        asyncio.run(made())
        self.assertTrue(registry.new)

    def test_the_collector_never_goes_through_the_hooks_queue(self):
        # A full collection went through every item queued (600,000 in a burst).
        registry = Registry()
        hooks.install(registry)
        self.addCleanup(hooks.uninstall)

        async def burst():
            await asyncio.gather(*[asyncio.sleep(0) for _ in range(500)])

        asyncio.run(burst())
        gc.collect()
        self.assertGreaterEqual(len(registry.new), 500 * STRIDE)
        self.assertFalse(gc.is_tracked(registry.new))
        self.assertFalse(any(o is registry.new for o in gc.get_objects()))
        # Still the list the hook extends, whole entries of codes and ints.
        before = len(registry.new)
        asyncio.run(burst())
        self.assertGreaterEqual(len(registry.new), before + 500 * STRIDE)
        self.assertFalse(gc.is_tracked(registry.new))
        # Taken without a copy: the very list the hook filled, swapped for a new one that
        # the collector does not track either, and that the hook fills next.
        queued = registry.new
        taken = registry.take_new()
        self.assertIs(taken, queued)
        self.assertFalse(gc.is_tracked(taken))
        self.assertEqual(registry.new, [])
        self.assertFalse(gc.is_tracked(registry.new))
        n = len(taken)
        asyncio.run(burst())
        self.assertGreaterEqual(len(registry.new), 500 * STRIDE)
        self.assertEqual(len(taken), n)  # the next burst went to the new list only

    def test_no_entry_is_lost_while_threads_make_tasks_as_the_queue_is_taken(self):
        # Four threads make tasks in their own loops while this one takes the queue again
        # and again: every task's entry is in exactly one of the lists taken.
        registry = Registry()
        hooks.install(registry)
        self.addCleanup(hooks.uninstall)
        per_thread = 3000
        made = []
        lock = threading.Lock()

        async def make():
            tasks = []
            for _ in range(per_thread):
                tasks.append(asyncio.ensure_future(asyncio.sleep(0)))
                if len(tasks) == 100:
                    await asyncio.gather(*tasks)
                    with lock:
                        made.extend(hash(t) for t in tasks)  # as the hook keys them
                    tasks = []

        threads = [threading.Thread(target=asyncio.run, args=(make(),)) for _ in range(4)]
        for thread in threads:
            thread.start()
        taken = []
        while any(thread.is_alive() for thread in threads):
            items = registry.take_new()
            taken.append((items, len(items)))
            time.sleep(0.001)
        for thread in threads:
            thread.join()
        items = registry.take_new()
        taken.append((items, len(items)))
        keys = []
        for items, n in taken:
            self.assertEqual(len(items), n)  # nothing added once taken
            self.assertEqual(len(items) % STRIDE, 0)  # whole entries only
            offsets = heads(items)
            keys.extend(items[offset] for offset in offsets)
        if TASK_SET is None:  # 3.14: weak references, hashed as their tasks
            keys = [hash(key) for key in keys]
        self.assertEqual(len(made), 4 * per_thread)
        missing = collections.Counter(made) - collections.Counter(keys)
        self.assertEqual(missing, collections.Counter())


@unittest.skipUnless(hasattr(asyncio, "TaskGroup"), "TaskGroup is Python 3.11+")
class TaskGroupMembers(unittest.TestCase):
    def test_a_taskgroups_tasks_are_listed_by_record_not_by_address(self):
        # TaskGroup keeps its tasks in a set: the view showed them in another order at
        # each run.
        import random
        from taskscope.waits import WaitClassifier

        async def main():
            made = []

            async def owner():
                async with asyncio.TaskGroup() as group:
                    for _ in range(40):
                        made.append(group.create_task(asyncio.sleep(10)))

            waiter = asyncio.create_task(owner())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            numbers = random.Random(7).sample(range(1, 41), 40)
            refs = {task: types.SimpleNamespace(num=n, id="t%d" % n) for task, n in zip(made, numbers)}
            target = WaitClassifier(refs.get).classify(waiter, waiter.get_coro())
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            return target

        target = asyncio.run(main())
        self.assertEqual(target["kind"], "taskgroup")
        self.assertEqual(target["tasks"], ["t%d" % n for n in range(1, 41)])


class FakeSink:
    def __init__(self):
        self.active = True
        self.wants_snapshot = True
        self.sent = []

    def session_active(self):
        return self.active

    def take_snapshot_request(self):
        wanted, self.wants_snapshot = self.wants_snapshot, False
        return wanted

    def send_state(self, message):
        self.sent.append(message)
        return True

    send_result = send_state

    def send_snapshot(self, message, rest=()):
        self.sent.append(message)
        self.sent.extend(rest)
        return True


class EntryLogLookups(unittest.TestCase):
    """The entry log finds entries by hash across its batches (see `entries`)."""

    @staticmethod
    def batch(*keys):
        from taskscope.entries import pack

        items = []
        for key in keys:
            items.extend(pack([key, None, 0]))  # key, parent: an entry without frames
        return items

    def test_slots_of_deep_stacks_and_the_index_of_reused_keys(self):
        from taskscope.entries import STRIDE, Batch, entry_end, entry_stack, heads, keys_at, pack

        deep = [object() if i % 2 == 0 else i for i in range(14)]  # 7 frames: code, lasti
        items = pack([11, None, 0, *deep]) + pack([12, 5, 0, "c", 1]) + pack([11, None, 0])
        self.assertEqual(len(items) % STRIDE, 0)
        offsets = heads(items)
        self.assertEqual(len(offsets), 3)  # three entries, the first in three slots
        self.assertEqual(keys_at(items, offsets), (11, 12, 11))
        self.assertEqual(entry_stack(items, offsets[0]), deep)
        self.assertEqual(entry_end(items, offsets[0]), offsets[1])
        self.assertEqual(entry_stack(items, offsets[1]), ["c", 1])
        self.assertEqual(items[offsets[1] + 1], 5)  # the parent
        self.assertEqual(entry_stack(items, offsets[2]), [])
        self.assertEqual(Batch(items, 0).ks(11), [0, 2])
        self.assertEqual(Batch(items, 0).ks(12), 1)
        self.assertIsNone(Batch(items, 0).ks(13))
        # The usual queue: every entry in one slot, found without a loop.
        plain = pack([1, None, 0, "c", 1]) + pack([2, None, 0, "c", 1, "d", 2, "e", 3])
        self.assertIsInstance(heads(plain), range)
        self.assertEqual(keys_at(plain, heads(plain)), (1, 2))
        self.assertEqual(keys_at(plain, heads(plain)[1:]), (2,))  # a range from the middle
        self.assertEqual(keys_at(items, offsets[1:2]), (12,))  # one offset: a tuple still
        self.assertEqual(keys_at(items, offsets[2:]), (11,))
        self.assertEqual(keys_at(items, ()), ())

    def test_the_latest_entry_of_a_key_in_a_list_or_a_tuple_of_slots(self):
        from taskscope.entries import latest_entry, pack

        deep = [object() if i % 2 == 0 else i for i in range(10)]  # 5 frames: two slots
        items = pack([7, None, 0, "c", 1]) + pack([8, None, 0]) + pack([7, 3, 0, *deep]) + pack([9, None, 0])
        for queue in (items, tuple(items)):  # the hook's list; a part the sampler keeps
            with self.subTest(type(queue).__name__):
                latest = latest_entry(queue, 7)
                self.assertEqual(latest, tuple(pack([7, 3, 0, *deep])))  # the later one, both slots
                self.assertEqual(latest_entry(queue, 8), tuple(pack([8, None, 0])))
                self.assertEqual(latest_entry(queue, 9), tuple(pack([9, None, 0])))
                self.assertIsNone(latest_entry(queue, 3))  # a parent is not a key
                self.assertIsNone(latest_entry(queue[:0], 7))

    def test_before_after_and_latest_across_batches_with_reused_keys(self):
        from taskscope.entries import KEEP, EntryLog

        log = EntryLog()
        log.add(self.batch(7, 8, 7))  # positions 0, 1, 2
        log.add(self.batch())  # an empty batch ages the others
        log.add(self.batch(9, 7))  # positions 3, 4

        def position(hit):
            return None if hit is None else hit[0].start + hit[1]

        self.assertEqual(position(log.before(7, 4)), 2)
        self.assertEqual(position(log.before(7, 2)), 0)
        self.assertIsNone(log.before(7, 0))
        self.assertEqual(position(log.after(7, 0)), 2)
        self.assertEqual(position(log.after(7, 2)), 4)
        self.assertIsNone(log.after(7, 4))
        self.assertEqual(position(log.latest(7)), 4)
        self.assertEqual(position(log.latest(8)), 1)
        self.assertIsNone(log.latest(10))
        # A batch that is dropped is forgotten.
        for _ in range(KEEP - 1):
            log.add(self.batch())
        self.assertEqual(position(log.latest(7)), 4)
        self.assertIsNone(log.latest(8))
        self.assertIsNone(log.before(7, 4))


class WithHooks(unittest.TestCase):
    def setUp(self):
        self.registry = Registry()
        hooks.install(self.registry)
        self.addCleanup(hooks.uninstall)
        self.sink = FakeSink()
        self.sampler = Sampler(self.registry, self.sink, interval=0.05)

    async def tick(self, times=1):
        """Samples from a loop callback (as from another thread: no task is running)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def run():
            for _ in range(times):
                self.sampler.tick()
            done.set_result(None)

        loop.call_soon(run)
        await done

    def sent(self):
        for message in self.sink.sent:
            protocol.validate_agent_message(dict(message, seq=1))
        sent, self.sink.sent = self.sink.sent, []
        return sent

    def task_at(self, address, make):
        """A task made by `make` at `address` (the allocator hands freed memory out again),
        and the tasks made before it, which the caller cancels."""
        keep = []
        for _ in range(1000):
            task = make()
            if id(task) == address:
                return task, keep
            keep.append(task)
        for task in keep:
            task.cancel()
        self.fail("no task took the address of the dead one")

    async def recorded_after_its_note(self, task):
        """The record of a TaskGroup's `task` not started yet, made once it starts, after
        the group's note was due."""
        self.sampler.tick()  # takes the entry and the note
        self.sampler.tick()  # the note is due; the task has not started: no record
        self.assertIsNone(self.registry.lookup(task))
        for _ in range(3):
            await asyncio.sleep(0.06)
            await self.tick()
        ref = self.registry.lookup(task)
        self.assertIsNotNone(ref)
        return ref

    @staticmethod
    def made_first():
        """A task made here, which dies so that `made_later`'s take its address."""
        return asyncio.create_task(asyncio.sleep(10))

    @staticmethod
    def made_later():
        return asyncio.create_task(asyncio.sleep(10))

    def codes_of_last_entry(self):
        """The code objects of the newest entry in the hook's queue, innermost first."""
        from taskscope.entries import entry_stack, heads

        items = self.registry.new
        return entry_stack(items, heads(items)[-1])[::2]

    def test_the_hook_keeps_the_signature_and_the_task_factory(self):
        if TASK_SET is None:
            wrapper = asyncio.BaseEventLoop.create_task
            self.assertIsNot(wrapper, wrapper.__taskscope_original__)
            self.assertEqual(inspect.signature(wrapper), inspect.signature(wrapper.__taskscope_original__))
            self.assertEqual(wrapper.__qualname__, "BaseEventLoop.create_task")
        else:
            self.assertNotIn("__taskscope__", asyncio.BaseEventLoop.create_task.__dict__)
            self.assertEqual(type(TASK_SET).__name__, "WeakSet")

        def factory(loop, coro, **kwargs):
            return asyncio.Task(coro, loop=loop, **kwargs)

        async def main():
            loop = asyncio.get_running_loop()
            self.assertIsNone(loop.get_task_factory())
            loop.set_task_factory(factory)
            self.assertIs(loop.get_task_factory(), factory)
            task = asyncio.create_task(asyncio.sleep(0.01), name="via-factory")
            self.assertIn(task, asyncio.all_tasks())
            await self.tick(2)
            await task
            loop.set_task_factory(None)
            self.assertIsNone(loop.get_task_factory())

        asyncio.run(main())
        names = [t["name"] for m in self.sent() for t in m["tasks"]]
        self.assertIn("via-factory", names)

    def test_snapshot_then_only_changes_then_removal(self):
        self.sampler.history_seconds = 3600
        self.sampler.quiet_max = 0  # look at every task at every sample

        async def main():
            task = asyncio.create_task(asyncio.sleep(0.05), name="sleepy")
            await self.tick(2)
            (snapshot,) = self.sent()  # and nothing for the second sample: nothing changed
            self.assertEqual(snapshot["type"], "snapshot")
            by_name = {t["name"]: t for t in snapshot["tasks"]}
            self.assertEqual(by_name["sleepy"]["state"], "pending")
            self.assertEqual(by_name["sleepy"]["parent"], by_name["Task-1"]["id"] if "Task-1" in by_name else
                             [t["id"] for t in snapshot["tasks"] if t["coro"].endswith("main")][0])
            self.assertEqual([t["state"] for t in snapshot["tasks"] if t["coro"].endswith("main")], ["pending"])
            await task
            await self.tick()
            (delta,) = self.sent()
            self.assertIn(("sleepy", "done"), [(t["name"], t["state"]) for t in delta["upsert"]])
            self.sampler.history_seconds = 0
            await self.tick()
            (removal,) = self.sent()
            self.assertEqual(removal["remove"], [by_name["sleepy"]["id"]])

        asyncio.run(main())

    def test_a_task_recorded_before_its_first_step_shows_where_it_waits_once_it_does(self):
        # A session's first snapshot records every task, started or not. One not started
        # is at its function's first line; once it waits, it must be seen where it waits
        # (on 3.10 its offset was -1 then, which also means "not read": it was never
        # compared again, and the task stayed at its first line for good).
        async def waits(future):
            await future  # a future, not a coroutine: the await chain is this coroutine alone

        async def main():
            event = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(waits(event))
            self.sampler.tick()  # the session's first snapshot: the task has not started
            ref = self.registry.lookup(task)
            self.assertIsNotNone(ref)
            first = self.sampler.task_record(ref)["awaiting"]
            self.assertEqual([f["line"] for f in first if f.get("user")], [waits.__code__.co_firstlineno])
            await asyncio.sleep(0)  # its first step
            for _ in range(8):
                await asyncio.sleep(0.01)
                await self.tick()
            lines = [f["line"] for f in self.sampler.task_record(ref)["awaiting"] if f.get("user")]
            self.assertEqual(lines, [waits.__code__.co_firstlineno + 1])
            event.set_result(None)
            await task

        asyncio.run(main())

    def test_looking_at_waiting_tasks_gives_their_coroutines_no_frame_objects(self):
        # A frame object, once asked for, lives as long as its coroutine (160 bytes a task).
        if sys.version_info < (3, 11) or sys.implementation.name != "cpython":
            self.skipTest("before 3.11 every coroutine has a frame object anyway")
        self.sampler.quiet_max = 0  # every task at every sample

        async def inner(event):
            await event.wait()

        async def waiter(event):
            await inner(event)

        async def main():
            event = asyncio.Event()
            tasks = [asyncio.create_task(waiter(event)) for _ in range(10)]
            await self.tick(4)
            ref = self.registry.lookup(tasks[0])
            self.assertIsNotNone(ref)
            lines = [f["line"] for f in self.sampler.task_record(ref)["awaiting"] if f.get("user")]
            self.assertEqual(lines, [waiter.__code__.co_firstlineno + 1, inner.__code__.co_firstlineno + 1])
            for task in tasks:
                coros = [task.get_coro(), task.get_coro().cr_await]
                self.assertEqual([r for c in coros for r in gc.get_referents(c) if isinstance(r, types.FrameType)],
                                 [])
            event.set()
            await asyncio.gather(*tasks)

        asyncio.run(main())

    def test_quiet_tasks_are_looked_at_less_often_but_within_the_bound(self):
        self.sampler.quiet_max = 3

        async def main():
            event = asyncio.Event()
            task = asyncio.create_task(event.wait(), name="quiet")
            await self.tick(8)  # unchanged: looked at after 1, 2, then 2 to 5 samples
            self.sent()
            self.assertEqual(self.registry.by_addr[id(task)].quiet, 3)
            event.set()
            await task  # still referenced: no collection to report it
            looks = 0
            while not [t for m in self.sent() for t in m.get("upsert", ()) if t["name"] == "quiet"]:
                looks += 1
                self.assertLessEqual(looks, 5, "a quiet task was not looked at within the bound")
                await self.tick()

        asyncio.run(main())
    def test_a_quiet_task_is_looked_at_again_after_a_time_without_a_session(self):
        # While nobody listens, samples go by without looks; a quiet task whose look fell
        # due meanwhile must be looked at in the next session, not left where it was.
        self.sampler.quiet_max = 3

        async def main():
            event, later = asyncio.Event(), asyncio.Event()

            async def job():
                await event.wait()
                await later.wait()

            task = asyncio.create_task(job(), name="quiet")
            await self.tick(8)  # adopted, then looked at after 1, 2, then 2 to 5 samples
            self.assertEqual(self.registry.by_addr[id(task)].quiet, 3)
            self.sent()
            self.sink.active = False  # the extension went away ...
            await self.tick(10)
            self.sink.active = self.sink.wants_snapshot = True  # ... and came back
            await self.tick()
            (record,) = [t for m in self.sent() for t in m.get("tasks", m.get("upsert", ())) if t["name"] == "quiet"]
            self.assertEqual(record["awaiting"][-1]["function"], "Event.wait")
            event.set()
            await asyncio.sleep(0)  # it moves on to the next wait
            looks = 0
            while True:
                moved = [t for m in self.sent() for t in m.get("upsert", ()) if t["name"] == "quiet"]
                if moved:
                    break
                looks += 1
                self.assertLessEqual(looks, 5, "the quiet task was never looked at again")
                await self.tick()
            self.assertEqual(moved[-1]["awaiting"][0]["line"], job.__code__.co_firstlineno + 2)
            later.set()
            await task

        asyncio.run(main())


    def test_a_task_that_changes_at_every_look_is_sent_at_most_every_half_second(self):
        # A server connection's task waits on a new request's task at each look: not
        # every change is sent (a whole record each), but each sent state is a new one,
        # and its latest state goes out within BUSY_PUBLISH_SECONDS once it calms down.
        async def request():
            await asyncio.sleep(0.005)

        async def connection(stop, calm):
            while not stop.is_set():
                await asyncio.create_task(request())
            await calm.wait()

        def upserts():
            return [t for m in self.sent() for t in m.get("upsert", ()) if t["name"] == "busy"]

        async def main():
            stop, calm = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(connection(stop, calm), name="busy")
            await asyncio.sleep(0.06)
            await self.tick(2)
            self.assertIsNotNone(self.registry.lookup(task))
            self.sent()
            started = time.monotonic()
            looks = 0
            sent = []
            while time.monotonic() - started < 1.5:
                await asyncio.sleep(0.05)
                await self.tick()
                looks += 1
                sent.extend(upserts())
            waited_on = {t["waitingOn"]["label"] for t in sent if "waitingOn" in t}
            self.assertGreaterEqual(looks, 12)
            self.assertGreaterEqual(len(sent), 2, "a busy task was not sent at all")
            self.assertLessEqual(len(sent), 1.5 / 0.5 + 2, sent)  # BUSY_PUBLISH_SECONDS: 0.5
            self.assertEqual(len(waited_on), len(sent))  # each sent state was a new one
            stop.set()
            await asyncio.sleep(0.02)
            deadline = time.monotonic() + sampler.BUSY_PUBLISH_SECONDS + 0.5
            last = None
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                await self.tick()
                last = (upserts() or [last])[-1]
                if last is not None and last.get("waitingOn", {}).get("kind") == "event":
                    break
            self.assertIsNotNone(last)
            self.assertEqual(last.get("waitingOn", {}).get("kind"), "event",
                             "its latest state (waiting on an event) was not sent")
            self.assertEqual(last["awaiting"][-1]["function"], "Event.wait")
            calm.set()
            await task

        asyncio.run(main())

    async def busy_connection(self, stop):
        """A task that changes at every look, as a server's connection task does (it waits
        on a new request's task each time) until `stop` is set; with its record."""
        async def request():
            await asyncio.sleep(0.005)

        async def connection():
            while not stop.is_set():
                await asyncio.create_task(request())

        task = asyncio.create_task(connection(), name="busy")
        await asyncio.sleep(0.06)
        await self.tick(2)
        return task, self.registry.lookup(task)

    def test_a_busy_task_is_looked_at_when_its_held_change_is_due_not_at_every_sample(self):
        async def main():
            stop = asyncio.Event()
            task, ref = await self.busy_connection(stop)
            looked = []
            observe = self.sampler._observe

            def counting(r, now, running):
                if r is ref:
                    looked.append(now)
                return observe(r, now, running)

            self.sampler._observe = counting
            self.sent()
            started = time.monotonic()
            samples = 0
            while time.monotonic() - started < 2.5:
                await asyncio.sleep(0.05)  # the sampler's interval here: 0.05 s
                await self.tick()
                samples += 1
            sent = [t for m in self.sent() for t in m.get("upsert", ()) if t["name"] == "busy"]
            self.assertGreaterEqual(samples, 20)
            self.assertGreaterEqual(len(sent), 3, "a busy task was not sent at all")
            # Sent at most every 0.5 s, and looked at as often: once per change sent (the
            # look that sends it), not at the next sample too (which would only find it
            # changed again), nor at each of the samples.
            self.assertLessEqual(len(looked), len(sent) + 2, (len(looked), samples, len(sent)))
            self.assertLess(len(looked), samples / 2, (len(looked), samples))
            stop.set()
            await task

        asyncio.run(main())

    def test_a_busy_task_that_settles_is_sent_where_it_waits_then_is_looked_at_as_a_quiet_one(self):
        async def main():
            stop, settled = asyncio.Event(), asyncio.Event()

            async def request():
                await asyncio.sleep(0.005)

            async def connection():
                while not stop.is_set():
                    await asyncio.create_task(request())
                await settled.wait()  # quiet from here on

            task = asyncio.create_task(connection(), name="busy")
            ref = None
            for _ in range(40):  # busy: its looks follow its sends
                await asyncio.sleep(0.05)
                await self.tick()
                ref = ref or self.registry.lookup(task)
                if ref is not None and ref.num in self.sampler._busy:
                    break
            self.assertIn(ref.num, self.sampler._busy, "the task was never taken for busy")
            await asyncio.sleep(0.3)
            self.sent()
            stop.set()
            stopped = time.monotonic()
            seen = None
            while seen is None and time.monotonic() - stopped < 2.0:
                await asyncio.sleep(0.05)
                await self.tick()
                for message in self.sent():
                    for record in message.get("upsert", ()):
                        if record["name"] == "busy" and record["awaiting"][-1]["function"] == "Event.wait":
                            seen = time.monotonic() - stopped
            self.assertIsNotNone(seen, "the settled task was not sent where it waits")
            # Within its publishing time (0.5 s) and a few samples of 0.05 s.
            self.assertLess(seen, sampler.BUSY_PUBLISH_SECONDS + 0.3)
            # Its next look, a publishing time later, finds it the same: back to the looks of
            # a quiet task (1, 2, 4, ... samples apart).
            for _ in range(15):
                await asyncio.sleep(0.05)
                await self.tick()
            self.assertNotIn(ref.num, self.sampler._busy, "a quiet task stayed busy")
            self.assertGreater(ref.quiet, 0)
            settled.set()
            await task

        asyncio.run(main())

    def test_a_busy_tasks_held_change_goes_out_before_a_finding_that_names_it(self):
        async def main():
            stop = asyncio.Event()
            task, ref = await self.busy_connection(stop)
            for _ in range(40):
                await asyncio.sleep(0.03)
                await self.tick()
                if ref.num in self.sampler._held:
                    break
            self.assertIn(ref.num, self.sampler._held, "no change of the busy task was held")
            self.sent()
            self.sampler._events.append(protocol.event(1, "stuck", "a finding", ref.id))
            self.sampler.tick()  # now, while its change is still held
            sent = self.sent()
            kinds = [(m["type"], [t["id"] for t in m.get("upsert", ())], m.get("task")) for m in sent]
            delta = next(i for i, (kind, ids, _) in enumerate(kinds) if kind == "delta" and ref.id in ids)
            event = next(i for i, (kind, _, named) in enumerate(kinds) if kind == "event" and named == ref.id)
            self.assertLess(delta, event, kinds)
            stop.set()
            await task

        asyncio.run(main())

    @unittest.skipUnless(hasattr(asyncio, "TaskGroup"), "TaskGroup is 3.11+")
    def test_a_taskgroup_task_recorded_after_its_groups_note_keeps_its_group(self):
        # The TaskGroup wrapper's note is due a sample after the task's entry; a task that
        # has not taken its first step by then has no record yet (it gets one when it does):
        # the note must wait for it.
        async def job(event):
            await event.wait()

        async def main():
            event = asyncio.Event()
            self.sampler.tick()  # the session's first snapshot (which adopts every task) is done
            async with asyncio.TaskGroup() as group:
                task = group.create_task(job(event), name="member")
                ref = await self.recorded_after_its_note(task)
                self.assertIsNotNone(ref.group, "the task lost its TaskGroup")
                (record,) = [t for m in self.sent() for t in m.get("tasks", m.get("upsert", ()))
                             if t["name"] == "member"][-1:]
                self.assertTrue(record["group"].startswith("g"), record)
                event.set()
            self.assertEqual(self.sampler._group_notes, {})

        asyncio.run(main())

    @unittest.skipUnless(hasattr(asyncio, "TaskGroup"), "TaskGroup is 3.11+")
    @unittest.skipIf(sys.version_info >= (3, 14), "3.14 does not give a new task the address of one just freed")
    def test_a_taskgroup_task_at_the_address_of_an_ended_task_keeps_its_group(self):
        # Addresses are reused at once: when the note is due, the record found at its
        # address may be an ended task's, and the group's task has no record yet. The note
        # must wait for that task's record. (Both coroutines are sleep's: a coroutine of
        # the task's size would take the freed address first.)
        async def main():
            async with asyncio.TaskGroup() as group:
                first = asyncio.create_task(asyncio.sleep(10), name="first")
                await asyncio.sleep(0)
                await self.tick(3)
                address = id(first)
                self.assertIsNotNone(self.registry.lookup(first))
                first.cancel()
                await asyncio.sleep(0)  # it ends
                del first
                task, keep = self.task_at(address, lambda: group.create_task(asyncio.sleep(10), name="member"))
                ended = self.registry.by_addr.get(address)
                self.assertIsNotNone(ended)
                self.assertIsNone(ended(), "the record at the address is the new task's")
                ref = await self.recorded_after_its_note(task)
                self.assertIsNotNone(ref.group, "the task lost its TaskGroup to the ended task's record")
                for other in keep + [task]:
                    other.cancel()

        asyncio.run(main())

    def test_a_task_orphaned_while_nobody_listens_is_reported_in_the_next_session(self):
        # Its creator ends (and is collected) between two sessions: once a session is
        # back, the child still pending is an orphan.
        self.sampler.orphan_grace = 0.1

        async def child(event):
            await event.wait()

        async def maker(go, stay, done, made):
            await go.wait()
            made.append(asyncio.create_task(child(done), name="left"))
            await stay.wait()

        async def main():
            go, stay, done, made = asyncio.Event(), asyncio.Event(), asyncio.Event(), []
            parent = asyncio.create_task(maker(go, stay, done, made), name="maker")
            await self.tick(2)
            go.set()
            await asyncio.sleep(0.01)
            await self.tick(2)  # the child is recorded, with its creator
            self.assertIs(self.registry.lookup(made[0]).parent, self.registry.lookup(parent))
            self.sink.active = False  # nobody listens while the creator ends
            stay.set()
            await parent
            parent = None  # collected: the sampler hears of it while nobody listens
            await self.tick()
            await asyncio.sleep(0.15)
            await self.tick()
            self.sink.active = self.sink.wants_snapshot = True
            self.sent()
            await self.tick()
            orphans = [m for m in self.sent() if m["type"] == "event" and m["kind"] == "orphan"]
            self.assertEqual([m["task"] for m in orphans], [self.registry.lookup(made[0]).id])
            done.set()
            await made[0]

        asyncio.run(main())

    @unittest.skipUnless(hasattr(asyncio, "TaskGroup"), "TaskGroup is 3.11+")
    def test_taskgroup_tasks_made_while_nobody_listens_have_their_group_in_the_next_session(self):
        # A program the extension attaches to later: the snapshot must say which tasks are
        # in a TaskGroup (a task whose creator ended is an orphan only outside one).
        async def job(event):
            await event.wait()

        self.sink.active = False

        async def main():
            event = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                members = [group.create_task(job(event), name="member-%d" % i) for i in range(3)]
                loose = asyncio.create_task(job(event), name="loose")
                await asyncio.sleep(0)
                for _ in range(self.sampler.rescan_every + 2):
                    await asyncio.sleep(0.01)
                    await self.tick()
                self.sink.active = True  # a session begins with a snapshot
                self.sink.wants_snapshot = True
                await self.tick()
                records = {t["name"]: t for m in self.sent() for t in m.get("tasks", ())}
                groups = {records[task.get_name()].get("group") for task in members}
                self.assertEqual(len(groups), 1, records)
                (group_id,) = groups
                self.assertRegex(group_id or "", r"^g\d+$")
                self.assertNotIn("group", records["loose"])
                event.set()
            await loose

        asyncio.run(main())

    def test_forgotten_tasks_are_collected_at_once(self):
        async def job():
            await asyncio.sleep(0)

        async def main():
            ref = weakref.ref(asyncio.create_task(job()))
            self.sampler.tick()
            self.sampler.tick()  # the sampler has adopted and read the task (while main runs)
            self.assertIsNotNone(self.registry.lookup(ref()))
            self.assertIsNotNone(ref())
            for _ in range(3):
                await asyncio.sleep(0)
            self.assertIsNone(ref(), "something still holds the finished task")
            self.sampler.tick()
            # Dead records stay findable by address for a moment (asyncio may still report
            # the task), then go.
            self.sampler._forget_stale(time.time() + sampler.STALE_SECONDS + 1)
            self.assertEqual(self.registry.by_addr, {k: v for k, v in self.registry.by_addr.items() if v() is not None})

        gc.disable()  # only reference counting may free it
        try:
            asyncio.run(main())
        finally:
            gc.enable()

    def test_a_destroyed_pending_report_after_the_collection_keeps_where_it_waited(self):
        # In a reference cycle, the collector clears the task's weak references (the
        # sampler may handle that collection at once) before the task's finalizer makes
        # asyncio report it; and if the coroutine was finalized first, the report carries
        # no await chain: the one the sampler last saw must stand in.
        async def waits():
            await asyncio.get_running_loop().create_future()

        async def main():
            task = asyncio.create_task(waits(), name="doomed")
            await asyncio.sleep(0)
            for _ in range(4):
                await asyncio.sleep(0.06)  # past the first step and the 0.05 s interval
                await self.tick()
            ref = self.registry.lookup(task)
            self.assertIsNotNone(ref)
            self.assertTrue(ref.awaiting, "the sampler never saw where the task waits")
            self.sampler._finish_collected(ref, time.time())  # as if collected, handled first
            self.assertIsNone(ref.point)
            self.registry.reports.append((hooks.DESTROYED_PENDING, ref, time.time(), "doomed", "waits", [],
                                          hash(task), None, ref.loop))
            self.sent()
            await self.tick()
            (event,) = [m for m in self.sent() if m["type"] == "event" and m["kind"] == "destroyed-pending"]
            self.assertTrue(_names(event["evidence"]["awaiting"][0]["function"], "waits"), event["evidence"])
            task.cancel()

        asyncio.run(main())

    def test_a_live_record_whose_task_failed_unseen_ends_once_at_the_report(self):
        # A task seen waiting fails and is collected between two samples: asyncio reports
        # its exception (handled before collections), then its collection comes. It ends
        # once, failed, with its exception, and is no longer a live task.
        async def waits(fut):
            await fut

        async def main():
            asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: None)
            fut = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(waits(fut), name="fails-unseen")
            await asyncio.sleep(0)
            for _ in range(3):
                await asyncio.sleep(0.06)  # past the first step and the 0.05 s interval
                await self.tick()
            ref = self.registry.lookup(task)
            self.assertEqual(ref.state, "pending")
            self.assertIn(ref, self.sampler._live_records())
            self.sent()
            fut.set_exception(KeyError("unseen"))
            fut = None
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            self.assertTrue(task.done())
            del task
            gc.collect()
            self.assertTrue(self.registry.reports, "asyncio did not report the exception")
            self.assertTrue(self.registry.collected)
            await self.tick(2)
            upserts = [t for m in self.sent() for t in m.get("upsert", ()) if t["name"] == "fails-unseen"]
            self.assertEqual([t["state"] for t in upserts], ["failed"])
            self.assertEqual(upserts[0]["exception"]["type"], "KeyError")
            self.assertNotIn(ref, self.sampler._live_records())
            self.assertEqual([r for r in self.sampler.records() if r is ref], [ref])
            self.assertEqual(sum(1 for r in self.sampler._history if r is ref), 1)

        asyncio.run(main())

    def test_exceptions_are_read_without_being_retrieved(self):
        reported = []

        async def fails():
            raise KeyError("k")

        async def main():
            asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reported.append(ctx["message"]))
            task = asyncio.create_task(fails(), name="fails")
            await asyncio.sleep(0)
            await self.tick(2)  # adopted at the second: failed tasks are kept
            record = [t for m in self.sent() for t in m.get("tasks", m.get("upsert", ())) if t["name"] == "fails"]
            self.assertEqual(record[-1]["state"], "failed")
            self.assertEqual(record[-1]["exception"]["type"], "KeyError")
            del task
            gc.collect()

        asyncio.run(main())
        self.assertEqual(reported, ["Task exception was never retrieved"])

    def test_a_waiting_tasks_record_holds_no_rare_fields(self):
        # A record's rare fields (finished, exception, cancel, findings) share one dict,
        # made only when one is set: a waiting task's record is its slots alone.
        self.sampler.quiet_max = 0

        async def main():
            event = asyncio.Event()
            tasks = [asyncio.create_task(event.wait()) for _ in range(10)]
            await self.tick(6)
            refs = [self.registry.lookup(t) for t in tasks]
            self.assertEqual([ref._rare for ref in refs], [None] * 10)
            self.assertEqual({ref.id for ref in refs}, {"t%d" % ref.num for ref in refs})
            self.assertEqual({ref.parent_id for ref in refs}, {self.registry.lookup(asyncio.current_task()).id})
            async def fails():
                raise KeyError("k")

            failing = asyncio.create_task(fails())
            await self.tick(2)
            failed = self.registry.lookup(failing)
            self.assertEqual(failed.state, "failed")
            self.assertEqual(failed.exception["type"], "KeyError")
            self.assertEqual(set(failed._rare), {"exception", "finished"})
            failing.exception()
            refs[1].tries = 3
            refs[1].tries = 0  # back to the default: the dict goes
            self.assertIsNone(refs[1]._rare)
            event.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(main())

    def test_the_entries_of_a_sample_are_let_go_some_samples_later(self):
        from taskscope.entries import KEEP

        async def main():
            event = asyncio.Event()
            tasks = [asyncio.create_task(event.wait()) for _ in range(30)]
            await self.tick(3)  # taken, then adopted
            self.assertEqual([t for t in tasks if self.registry.lookup(t) is None], [])
            await self.tick(KEEP)  # nothing new: the kept batches age out
            self.assertEqual(sum(len(batch.offsets) for batch in self.sampler._log._batches), 0)
            event.set()
            await asyncio.gather(*tasks)

        asyncio.run(main())

    def test_a_failing_hook_never_reaches_the_program(self):
        class Broken(dict):
            def get(self, key, default=None):
                raise RuntimeError("the agent is broken")

        hooks.uninstall()
        registry = Registry()
        registry.user_codes = Broken()  # read by the hot path at each frame
        hooks.install(registry)

        async def main():
            return await asyncio.create_task(asyncio.sleep(0, result="fine"))

        self.assertEqual(asyncio.run(main()), "fine")
        self.assertGreater(hooks.state.errors, 0)
        hooks.state.errors = 0

    def test_a_task_at_the_address_of_a_dead_one_is_told_apart_from_it(self):
        # Where the hook is in asyncio's set, an entry holds the task's hash, not the task:
        # once a task is gone, a later one may get its address, hence its hash. The later
        # task must get its own entry's creation site, not the dead one's, and one record.
        if TASK_SET is None:
            self.skipTest("entries hold weak references here (3.14)")

        async def main():
            await self.tick()  # the sampler's first sample takes nothing
            first = self.made_first()
            address = id(first)
            first.cancel()
            await asyncio.sleep(0)
            del first  # gone before any sample saw it
            later, keep = self.task_at(address, self.made_later)
            # Both entries are taken in one sample and looked at in the next.
            await self.tick(2)
            ref = self.registry.lookup(later)
            self.assertIsNotNone(ref, "the later task got no record")
            self.assertTrue(_names(self.sampler._site(ref)["function"], "made_later"), self.sampler._site(ref))
            records = [r for r in self.sampler.records() if r() is later]
            self.assertEqual(len(records), 1)
            for task in keep + [later]:
                task.cancel()
            return len(keep)

        asyncio.run(main())

    def test_an_entry_due_whose_address_a_task_made_since_has_is_not_taken_for_it(self):
        # The dead task's entry is due while the later task's entry, at the same address,
        # is one batch behind (the young batch): the task found alive at that address is
        # the later one, which must get its own entry's creation site, not the dead one's.
        if TASK_SET is None:
            self.skipTest("entries hold weak references here (3.14)")

        async def main():
            await self.tick()
            first = self.made_first()
            address = id(first)
            await asyncio.sleep(0)
            await self.tick()  # takes its entry: due at the next sample
            first.cancel()
            await asyncio.sleep(0)
            del first
            later, keep = self.task_at(address, self.made_later)
            await asyncio.sleep(0)  # it starts: nothing waits for its first step
            for _ in range(3):
                await self.tick()
                ref = self.registry.lookup(later)
                if ref is not None:
                    self.assertTrue(_names(self.sampler._site(ref)["function"], "made_later"), self.sampler._site(ref))
            self.assertIsNotNone(self.registry.lookup(later), "the later task got no record")
            for task in keep + [later]:
                task.cancel()

        asyncio.run(main())

    def test_a_task_at_the_address_of_a_dead_one_while_nobody_listens(self):
        if TASK_SET is None:
            self.skipTest("entries hold weak references here (3.14)")
        self.sink.active = False

        async def main():
            await self.tick()
            first = self.made_first()
            address = id(first)
            await self.tick()  # taken: looked at in the next sample, when it is gone
            first.cancel()
            await asyncio.sleep(0)
            del first
            later, keep = self.task_at(address, self.made_later)
            await self.tick(2)  # both entries looked at: only the later one is kept
            self.sink.active = True
            await self.tick()
            ref = self.registry.lookup(later)
            self.assertIsNotNone(ref, "the later task got no record")
            self.assertTrue(_names(self.sampler._site(ref)["function"], "made_later"), self.sampler._site(ref))
            self.assertEqual(len([r for r in self.sampler.records() if r() is later]), 1)
            for task in keep + [later]:
                task.cancel()

        asyncio.run(main())

    def test_a_finding_on_a_task_not_due_yet_records_that_task_alone(self):
        # The watchdog names the task that blocks the loop; a task made since the last
        # sample has no record yet. Its record is made from its entry alone: recording
        # every queued task instead (thousands in a burst) took the sampler, and the
        # program waiting for the interpreter lock, up to a second.
        from taskscope.watchdog import Blocked

        def made_here():
            return asyncio.create_task(asyncio.sleep(10), name="blocker")

        async def main():
            await self.tick()
            before = [asyncio.create_task(asyncio.sleep(10)) for _ in range(50)]
            blocker = made_here()
            after = [asyncio.create_task(asyncio.sleep(10)) for _ in range(50)]
            loop = self.registry.loop_ref(asyncio.get_running_loop())
            for taken in (False, True):  # still in the hook's queue; then taken, not due
                with self.subTest(taken=taken):
                    if taken:
                        await self.tick()
                    recorded = len(self.sampler.records())
                    self.sampler._report_blocked(Blocked(loop, blocker, 0.3, []))
                    (event,) = self.sampler._events
                    self.sampler._events = []
                    ref = self.registry.lookup(blocker)
                    self.assertIsNotNone(ref)
                    self.assertEqual(event["task"], ref.id)
                    self.assertTrue(_names(self.sampler._site(ref)["function"], "made_here"), self.sampler._site(ref))
                    self.assertEqual(len(self.sampler.records()), recorded + (0 if taken else 1))
            # When the entries come due, the others get their records, and the blocker
            # keeps its one record, with its parent.
            await self.tick()
            self.assertEqual(len([r for r in self.sampler.records() if r() is blocker]), 1)
            for task in before + after:
                self.assertIsNotNone(self.registry.lookup(task))
            self.assertEqual(self.registry.lookup(blocker).parent_id,
                             self.registry.lookup(asyncio.current_task()).id)
            for task in before + after + [blocker]:
                task.cancel()

        asyncio.run(main())

    def test_tasks_not_started_yet_are_recorded_once_they_run_or_after_defer_seconds(self):
        # A burst (thousands of create_task in one loop) is still waiting for its first
        # step at the sample after it was made; most of it ends a sample or two later.
        # Those tasks wait for their records until they run, or for defer_seconds: a loop
        # that stays blocked still shows them then.
        async def noop():
            pass

        async def main():
            await self.tick(2)
            self.sent()
            recorded = len(self.sampler.records())
            self.sampler.defer_seconds = 0.2
            # Sampled with the loop blocked (no task gets a step in between).
            waiting = [asyncio.create_task(asyncio.sleep(10)) for _ in range(20)]
            self.sampler.tick()  # takes their entries
            self.sampler.tick()  # due now: not one has started
            self.sampler.tick()  # nor now
            self.assertEqual([t for t in waiting if self.registry.lookup(t) is not None], [])
            self.assertEqual(len(self.sampler.records()), recorded)
            await asyncio.sleep(0)  # they take their first step
            self.sampler.tick()
            self.assertEqual([t for t in waiting if self.registry.lookup(t) is None], [])
            blocked = [asyncio.create_task(asyncio.sleep(10)) for _ in range(20)]
            self.sampler.tick()
            self.sampler.tick()
            self.assertEqual([t for t in blocked if self.registry.lookup(t) is not None], [])
            time.sleep(0.25)
            self.sampler.tick()  # after defer_seconds they are recorded, started or not
            self.assertEqual([t for t in blocked if self.registry.lookup(t) is None], [])
            ids = {self.registry.lookup(t).id for t in waiting + blocked}
            self.assertLessEqual(ids, {t["id"] for m in self.sent() for t in m.get("upsert", ())})
            blocked += waiting
            for task in blocked:
                task.cancel()
            await asyncio.sleep(0)
            self.sent()
            # A burst that is over by then costs no record at all.
            recorded = len(self.sampler.records())
            short = self.sampler.short_lived
            burst = [asyncio.create_task(noop()) for _ in range(50)]
            self.sampler.tick()
            self.sampler.tick()
            for task in burst:
                await task
            del burst, task
            await asyncio.sleep(0)  # the loop lets go of the last one it woke
            self.sampler.tick()
            self.assertEqual(len(self.sampler.records()), recorded)
            self.assertEqual(self.sampler.short_lived - short, 50)

        asyncio.run(main())

    def test_while_nobody_listens_tasks_not_started_keep_their_entries_for_a_later_session(self):
        def made_here():
            return [asyncio.create_task(asyncio.sleep(10)) for _ in range(5)]

        from taskscope.entries import heads

        def parked():
            return sum(len(heads(items)) for items in self.sampler._parked)

        self.sink.active = False

        async def main():
            await self.tick(2)
            before = parked()  # the main task's entry
            tasks = made_here()
            self.sampler.tick()  # takes their entries
            self.sampler.tick()  # due: not started, they wait
            self.assertEqual(parked(), before)
            await asyncio.sleep(0)  # they start
            self.sampler.tick()
            self.assertEqual(parked(), before + len(tasks))
            for _ in range(self.sampler.rescan_every):  # the parked entries are looked at again
                self.sampler.tick()
            self.assertEqual(parked(), before + len(tasks))
            self.sink.active = True  # a session begins: its snapshot has them, with their site
            self.sink.wants_snapshot = True
            self.sampler.tick()
            for task in tasks:
                ref = self.registry.lookup(task)
                self.assertIsNotNone(ref)
                function = self.sampler._site(ref)["function"]
                # 3.10 runs the comprehension as a function whose code object does not
                # name the function it is in.
                in_comprehension = sys.version_info < (3, 11) and function == "<listcomp>"
                self.assertTrue(_names(function, "made_here") or in_comprehension, self.sampler._site(ref))
                task.cancel()

        asyncio.run(main())

    def test_the_hot_path_learns_to_stop_at_the_programs_frame(self):
        def spawn():
            return asyncio.create_task(asyncio.sleep(1))

        # Nobody listens: the sampler makes no records (which would teach it too), it only
        # keeps the entries of live tasks, and learns from them.
        self.sink.active = False

        async def main():
            first = spawn()
            # Nothing is known yet: the walk goes up to the loop's dispatch.
            cold = self.codes_of_last_entry()
            await self.tick(2)  # an entry is looked at one sample after it was taken
            second = spawn()
            warm = self.codes_of_last_entry()
            for task in (first, second):
                task.cancel()
            return cold, warm

        cold, warm = asyncio.run(main())
        self.assertIn(spawn.__code__, cold)
        self.assertIsNot(cold[-1], spawn.__code__)
        # Taught by the sample, the walk stops at the program's own frame.
        self.assertIs(warm[-1], spawn.__code__)
        self.assertLess(len(warm), len(cold))

    def test_between_samples_the_hook_learns_from_its_newest_entries(self):
        """Samples may be seconds apart during a burst (MAX_DUTY); learn_recent, run every
        interval meanwhile, teaches the hook from the entries queued since."""
        def spawn():
            return asyncio.create_task(asyncio.sleep(1))

        async def main():
            made = [spawn() for _ in range(200)]
            cold = self.codes_of_last_entry()
            queued = len(self.registry.new)
            self.sampler.learn_recent()
            left = len(self.registry.new)
            made.append(spawn())
            warm = self.codes_of_last_entry()
            for task in made:
                task.cancel()
            return cold, warm, queued, left

        cold, warm, queued, left = asyncio.run(main())
        self.assertIsNot(cold[-1], spawn.__code__)  # walked past it, up to the loop's dispatch
        self.assertIs(warm[-1], spawn.__code__)
        self.assertLess(len(warm), len(cold))
        self.assertEqual(left, queued)  # the queue is the sample's to take
        self.assertEqual(self.sampler._ticks, 0)  # no sample was taken

    def test_between_samples_the_hook_learns_a_place_whose_burst_others_followed(self):
        """A short burst from a new place, then a long one from a known place, between two
        looks: the look learns the new place although the newest entries are not its."""
        def known():
            return asyncio.create_task(asyncio.sleep(1))

        def new_place():
            return asyncio.create_task(asyncio.sleep(1))

        async def main():
            made = [known()]
            self.sampler.learn_recent()  # known() is the program's now
            made.append(known())
            taught = self.codes_of_last_entry()
            made += [new_place() for _ in range(3)]
            made += [known() for _ in range(500)]
            self.sampler.learn_recent()
            made.append(new_place())
            warm = self.codes_of_last_entry()
            for task in made:
                task.cancel()
            return taught, warm

        taught, warm = asyncio.run(main())
        self.assertIs(taught[-1], known.__code__)
        self.assertIs(warm[-1], new_place.__code__)  # one step now: the hook knew the place
        self.assertEqual(len(warm), 2, warm)
        self.assertEqual(self.sampler._ticks, 0)  # no sample was taken

    def test_each_route_gives_each_task_its_own_site_when_places_alternate(self):
        """The hook remembers the last code it found at each place of its one-step routes
        (Registry.recent): tasks made from two places in turn, by each route, must each
        get their own creation site, not the remembered one (3.14: the create_task
        wrapper's routes)."""
        from taskscope.entries import entry_stack, heads
        from taskscope.registry import ASKED, CALLED, DISPATCHED, GATHERED, LIBRARY

        async def child():
            pass

        def by_create_task_a():
            return [asyncio.create_task(child())]

        def by_create_task_b():
            return [asyncio.create_task(child())]

        async def by_gather_a():
            await asyncio.gather(child())

        async def by_gather_b():
            await asyncio.gather(child())

        def by_loop_a():
            return [asyncio.get_running_loop().create_task(child())]

        def by_loop_b():
            return [asyncio.get_running_loop().create_task(child())]

        def last_entry():
            items = self.registry.new
            return entry_stack(items, heads(items)[-1])

        async def main():
            # Taught first: the program's functions here, and the library's that calls
            # loop.create_task from a callback (library_make).
            for make in (by_create_task_a, by_create_task_b, by_loop_a, by_loop_b):
                await asyncio.gather(*make())
            for make in (by_gather_a, by_gather_b):
                await make()
            await self.tick(2)
            for function in (by_create_task_a, by_create_task_b, by_loop_a, by_loop_b):
                self.registry.user_codes[id(function.__code__)] = True
            self.registry.user_codes[id(by_gather_a.__code__)] = True
            self.registry.user_codes[id(by_gather_b.__code__)] = True
            self.registry.user_codes[id(library_make.__code__)] = False
            seen = []
            for _ in range(2):
                for make in (by_create_task_a, by_create_task_b, by_loop_a, by_loop_b):
                    tasks = make()
                    seen.append((make.__code__, last_entry()))
                    await asyncio.gather(*tasks)
                for make in (by_gather_a, by_gather_b):
                    task = asyncio.ensure_future(make())
                    await asyncio.sleep(0)  # gather makes its task
                    seen.append((make.__code__, last_entry()))
                    await task
                made = []
                for _ in range(2):
                    asyncio.get_running_loop().call_soon(library_make, made, child)
                    await asyncio.sleep(0)
                    seen.append((library_make.__code__, last_entry()))
                await asyncio.gather(*made)
            return seen

        seen = asyncio.run(main())
        for code, stack in seen:
            self.assertIn(code, stack[::2], code.co_name)
            if code is not library_make.__code__:
                self.assertIs(stack[-2], code, code.co_name)  # the walk stopped there
        recent = self.registry.recent
        # 3.12+: ensure_future makes the task itself, so main's call of it is the last.
        self.assertIn(recent[ASKED], (by_create_task_a.__code__, by_create_task_b.__code__, main.__code__))
        self.assertIn(recent[GATHERED], (by_gather_a.__code__, by_gather_b.__code__))
        self.assertIn(recent[CALLED], (by_loop_a.__code__, by_loop_b.__code__))
        self.assertIs(recent[LIBRARY], library_make.__code__)
        self.assertIsNot(recent[DISPATCHED], FORGOTTEN)

    def test_a_remembered_code_that_no_longer_counts_as_the_programs_is_forgotten(self):
        from taskscope.registry import ASKED, LIBRARY

        def asks():
            pass

        def library():
            pass

        recent = self.registry.recent
        self.registry.user_codes[id(asks.__code__)] = True
        self.registry.user_codes[id(library.__code__)] = False
        recent[ASKED] = asks.__code__
        recent[LIBRARY] = library.__code__
        self.registry.check_recent()
        self.assertIs(recent[ASKED], asks.__code__)
        self.assertIs(recent[LIBRARY], library.__code__)
        # Found to only build tasks (a task factory): the hook must walk past it again.
        self.sampler.resolver.mark_construction(asks.__code__)
        self.sampler.tick()
        self.assertIs(recent[ASKED], FORGOTTEN)
        self.assertIs(recent[LIBRARY], library.__code__)
        # The lookup's cache cleared: nothing is remembered that it does not say.
        self.registry.user_codes.clear()
        self.sampler.tick()
        self.assertEqual(recent, [FORGOTTEN] * len(recent))

    def test_a_new_task_commits_the_sets_pending_removals_as_weaksets_add_does(self):
        if TASK_SET is None:
            self.skipTest("the set hook (3.10 to 3.13)")

        async def main():
            iterating = iter(TASK_SET)
            next(iterating)  # an iteration in progress: removals wait in _pending_removals
            doomed = asyncio.ensure_future(asyncio.sleep(0))
            await doomed
            del doomed
            await asyncio.sleep(0)  # the loop lets go of the callback that woke this task
            gc.collect()
            pending = len(TASK_SET._pending_removals)
            task = asyncio.ensure_future(asyncio.sleep(0))
            after = len(TASK_SET._pending_removals)
            iterating = None
            await task
            return pending, after

        pending, after = asyncio.run(main())
        self.assertGreaterEqual(pending, 1)
        self.assertEqual(after, 0)

    def test_a_dead_tasks_reference_leaves_the_set_through_the_hooks_own_callback(self):
        # The hook makes the set's weak reference with a callback of its own (the set's
        # _remove reads the set's attributes through it, slow once its class changed):
        # it must do what _remove does, at once when nobody iterates the set.
        if TASK_SET is None:
            self.skipTest("the set hook (3.10 to 3.13)")

        async def main():
            task = asyncio.ensure_future(asyncio.sleep(0))
            refs = [wr for wr in list(TASK_SET.data) if wr() is task]
            callbacks = [wr.__callback__ for wr in refs]  # a dead reference has none
            await task
            before = len(TASK_SET.data)
            del task
            await asyncio.sleep(0)  # the loop lets go of the callback that woke this task
            gc.collect()
            return refs, callbacks, before, len(TASK_SET.data)

        refs, callbacks, before, after = asyncio.run(main())
        self.assertEqual(len(refs), 1)
        wr = refs[0]
        self.assertIsNone(wr())
        self.assertIsNotNone(callbacks[0])
        self.assertIsNot(callbacks[0], TASK_SET._remove)
        self.assertNotIn(wr, TASK_SET.data)
        self.assertEqual(after, before - 1)
        self.assertEqual(TASK_SET._pending_removals, [])

    def test_parent_of_tasks_made_while_a_task_runs_eagerly(self):
        if sys.version_info < (3, 12):
            self.skipTest("eager tasks are new in 3.12")

        async def child():
            await asyncio.sleep(0)

        async def parent():
            await asyncio.create_task(child(), name="eager-child")

        async def main():
            asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
            # The parent runs eagerly, makes the child (which runs eagerly too, up to its
            # sleep) and waits for it; only then does it join asyncio's tasks: its entry
            # comes after its child's.
            task = asyncio.create_task(parent(), name="eager-parent")
            self.sampler.tick()  # the first sample (a snapshot) adopts every queued task
            await task

        asyncio.run(main())
        (snapshot,) = self.sent()
        parents = {t["coro"]: t["parent"] for t in snapshot["tasks"]}
        ids = {t["coro"]: t["id"] for t in snapshot["tasks"]}
        self.assertEqual(parents["WithHooks.test_parent_of_tasks_made_while_a_task_runs_eagerly.<locals>.child"],
                         ids["WithHooks.test_parent_of_tasks_made_while_a_task_runs_eagerly.<locals>.parent"])


if __name__ == "__main__":
    unittest.main()
