"""Per-task and per-loop records, held weakly.

A `TaskRef` is a ``weakref.ref`` to one task that also carries everything the agent
knows about it: the hook fills the creation fields on the program's thread, the sampler
fills the rest on its own thread. Being a weak reference, it never keeps a task alive; its
callback only notes the collection time and queues the record for the sampler.

The `Registry` holds the hand-over points between the hot path and the sampler:

- ``by_addr``: ``id(task) -> TaskRef`` while the task lives (always checked with
  ``ref() is task``, since addresses are reused);
- ``new`` and ``collected``: deques the sampler drains (``append``/``popleft`` are
  thread-safe);
- ``loops``: ``id(loop) -> LoopRef``;
- ``orphans``: ``id(parent) -> [TaskRef]`` for tasks whose parent was not recorded yet
  (it was running eagerly inside its own ``create_task``); the hook links them when the
  parent's record is made;
- ``user_codes``: ``id(code) -> bool``, learnt by the sampler, read by the hot path to
  stop walking the stack at the program's own frame;
- ``groups``: ``id(TaskGroup) -> GroupRef`` (weak), for the tasks a TaskGroup made;
  ``regroup``: records whose group was set after the hook queued them;
- ``reports``: what asyncio reported about dying tasks (destroyed while pending, exception
  never retrieved), noted by the ``call_exception_handler`` wrapper for the sampler.

A collected task's record stays in ``by_addr`` until the sampler has handled the
collection (and a little longer): asyncio reports a task destroyed inside a reference
cycle only after the garbage collector has cleared its weak references, and the report
must still find the record. Readers always check ``ref() is task`` (addresses are reused).
"""

import itertools
import threading
import time
import weakref
from collections import deque


class TaskRef(weakref.ref):
    """A weak reference to a task, plus its record."""

    __slots__ = (
        # Set on the creating thread (hooks) or by the sampler for tasks it discovers.
        "num", "addr", "loop", "parent", "created", "stack", "coro", "name", "collected",
        # Sampler-only from here on.
        "id", "state", "parent_id", "site", "creation", "await_sig", "awaiting",
        "waiting_since", "finished", "exception", "cancel_message", "cancel_requested", "record",
        "tries", "skip", "quiet", "group", "waiter", "waiting_on", "binding", "suspect", "flagged",
    )


class LoopRef(weakref.ref):
    """A weak reference to an event loop, plus its id and thread."""

    __slots__ = ("num", "id", "addr", "thread_ident", "thread_name", "record", "watch")


class GroupRef(weakref.ref):
    """A weak reference to a TaskGroup, plus its id (``"g1"``, ...)."""

    __slots__ = ("num", "id", "addr")


class Registry:
    """What the hot path writes and the sampler reads."""

    def __init__(self):
        self.by_addr = {}
        self.new = deque()
        self.collected = deque()
        self.loops = {}
        self.orphans = {}
        self.user_codes = {}
        self.groups = {}
        self.regroup = deque()
        self.reports = deque()
        self._task_numbers = itertools.count(1)
        self._loop_numbers = itertools.count(1)
        self._group_numbers = itertools.count(1)
        self._loop_lock = threading.Lock()
        by_addr = self.by_addr
        collected_append = self.collected.append
        now = time.time

        def task_collected(ref):
            # Runs on whichever thread dropped the task's last reference: keep it tiny.
            # The record stays in by_addr: the sampler takes it out (see the docstring).
            try:
                ref.collected = now()
                collected_append(ref)
            except Exception:
                pass

        self.task_collected = task_collected

        def loop_collected(ref):
            try:
                if self.loops.get(ref.addr) is ref:
                    self.loops.pop(ref.addr, None)
            except Exception:
                pass

        self._loop_collected = loop_collected

        groups = self.groups

        def group_collected(ref):
            try:
                if groups.get(ref.addr) is ref:
                    groups.pop(ref.addr, None)
            except Exception:
                pass

        self._group_collected = group_collected

    def next_task_number(self):
        return next(self._task_numbers)

    def group_ref(self, group):
        """The `GroupRef` of a TaskGroup, made on first sight (on the hot path: no lock;
        a group is used from its loop's thread)."""
        gr = self.groups.get(id(group))
        if gr is not None and gr() is group:
            return gr
        gr = GroupRef(group, self._group_collected)
        gr.num = next(self._group_numbers)
        gr.id = "g%d" % gr.num
        gr.addr = id(group)
        self.groups[gr.addr] = gr
        return gr

    def loop_ref(self, loop, thread_ident=None, guess=True):
        """The `LoopRef` of `loop`, made on first sight. Its thread is the loop's own
        ``_thread_id`` while it runs, else `thread_ident`, else (with `guess`) the calling
        thread: the hook calls this on the thread that creates a task on the loop, which for
        loops that do not tell their thread (uvloop's) is the loop's own thread."""
        lr = self.loops.get(id(loop))
        if lr is not None and lr() is loop:
            return lr
        with self._loop_lock:
            lr = self.loops.get(id(loop))
            if lr is not None and lr() is loop:
                return lr
            lr = LoopRef(loop, self._loop_collected)
            lr.num = next(self._loop_numbers)
            lr.id = "l%d" % lr.num
            lr.addr = id(loop)
            ident = getattr(loop, "_thread_id", None)
            if ident is None:
                ident = thread_ident
            if ident is None and guess:
                ident = threading.get_ident()
            lr.thread_ident = ident
            lr.thread_name = None
            lr.record = None
            lr.watch = None
            self.loops[lr.addr] = lr
            return lr

    def lookup(self, task):
        """The `TaskRef` of a live task, or None."""
        ref = self.by_addr.get(id(task))
        if ref is not None and ref() is task:
            return ref
        return None

    def track_discovered(self, task, loop, now):
        """Records a task the hook did not see (``asyncio.Task(...)`` made directly)."""
        ref = TaskRef(task, self.task_collected)
        ref.num = self.next_task_number()
        ref.addr = id(task)
        ref.loop = self.loop_ref(loop, guess=False) if loop is not None else None
        ref.parent = None
        ref.created = now
        ref.stack = None
        ref.coro = None
        ref.name = None
        ref.collected = None
        ref.group = None
        self.by_addr[ref.addr] = ref
        return ref
