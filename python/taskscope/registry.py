"""Per-task and per-loop records, held weakly.

The hot path (`hooks`) makes no record: it queues a light *entry* per new task on the
list ``Registry.new``, as items, not as a tuple (a queued tuple per task is an object
the garbage collector looks at until it is taken), in fixed *slots* of `entries.STRIDE`
items: ``key, id of the parent task or None, n, code, lasti, code, lasti, code, lasti``,
the first ``n`` of the `entries.FRAMES` (three) frames used, innermost first, and
``None, -1`` after them. A deeper stack takes more slots, whose key and parent are None
(continuation slots). Fixed slots let the sampler find every entry's key and code by
slicing the list (``items[0::STRIDE]``), in C, instead of walking it entry by entry in
Python. One ``list.extend`` per entry, so that entries made on two threads do not mix,
and the length of the list is always at the end of an entry. The key is the task's hash
where asyncio's all-tasks set is hooked (3.10 to 3.13: the sampler finds the task in
that set, ``task_data``; see `entries.TaskLookup`), else (3.14) a weak reference to the
task made by the ``create_task`` wrapper (see `hooks`). The sampler takes the entries
queued so far at each sample (`take_new`: the hook's list itself, swapped for an empty
one; the hook only ever adds at the end) and turns an entry into a record only once the
task has lived through a sample and taken its first step (most tasks end before that,
and then cost nothing more).

A `TaskRef` is a ``weakref.ref`` to one task that also carries everything the agent
knows about it, all of it written on the sampler thread. Being a weak reference, it never
keeps a task alive; its callback only queues the record, with the time, for the sampler. A `DeadRef` carries the same fields for a task that was already gone when
its record was made (a parent that ended before its child was adopted, a task asyncio
reported as destroyed); calling it returns None, like a dead weak reference. A record is
kept small (it exists for every live task the extension sees): a slot per field every
record needs, one dict for the fields few records need (`_RARE`), and properties for what
follows from other fields (its id, its parent's id, its creation site, where it waits).

The `Registry` holds the hand-over points between the hot path and the sampler:

- ``queue``: a list of one item, the hook's list of the entries above (``new``), which
  the garbage collector is told not to track (see `untrack`); ``task_data``: the ``data``
  of asyncio's all-tasks set (its weak references) when the hook is in it, else None; ``collected``: ``(record, time)`` of
  each task collected (deques the sampler drains: ``append``/``popleft`` are thread-safe);
- ``by_addr``: ``id(task) -> TaskRef`` while the task lives (always checked with
  ``ref() is task``, since addresses are reused); the sampler's index of live records too
  (those in a live state);
- ``loops``: ``id(loop) -> LoopRef``;
- ``user_codes``: ``id(code) -> bool``, learnt by the sampler, read by the hot path to
  stop walking the stack at the program's own frame; ``recent``: the hot path's memory of
  the last code object it found at each place of its one-step routes (`RECENT_VERDICTS`
  says what ``user_codes`` said of it), so that a program that makes its tasks from a few
  places skips the lookup in ``user_codes`` (an ``id()`` and a dict lookup, about 600
  instructions); the sampler drops what ``user_codes`` no longer says (`check_recent`);
- ``groups``: ``id(TaskGroup) -> GroupRef`` (weak), for the tasks a TaskGroup made;
  ``regroup``: ``(id(task), GroupRef)`` noted by the TaskGroup wrapper;
- ``reports``: what asyncio reported about dying tasks (destroyed while pending, exception
  never retrieved), noted by the ``call_exception_handler`` wrapper for the sampler;
  ``outcomes``: how the tasks cancelled at the end of ``asyncio.run`` ended, noted by the
  ``_cancel_all_tasks`` wrapper.

A collected task's record stays in ``by_addr`` until the sampler has handled the
collection (and a little longer): asyncio reports a task destroyed inside a reference
cycle only after the garbage collector has cleared its weak references, and the report
must still find the record. Readers always check ``ref() is task`` (addresses are reused).
"""

import asyncio
import gc
import itertools
import sys
import threading
import time
import weakref
from collections import deque

from .frames import Made

try:
    # A function object of the agent's own (not ``ctypes.pythonapi``'s, whose argtypes
    # the program may set), called with the interpreter lock held.
    import ctypes
    _GC_UNTRACK = (ctypes.PYFUNCTYPE(None, ctypes.py_object)(("PyObject_GC_UnTrack", ctypes.pythonapi))
                   if sys.implementation.name == "cpython" else None)
except Exception:  # a Python without ctypes, or without the call
    _GC_UNTRACK = None


def untrack(container):
    """Tells the garbage collector to stop looking into `container`, a list that holds
    nothing that refers back to it (the hook's queue: ints, None, code objects, and on
    3.14 weak references without callbacks, or a part of it), so that no reference
    cycle can go through it; returns `container`.

    A collection goes through every item of every container it tracks in the
    generations it collects, and the queue, long-lived, is in the oldest: at each full
    collection of a burst it went through up to 600,000 items (a few milliseconds per
    collection, see docs/benchmarks.md). Python has no call for this, but its C API does
    (``PyObject_GC_UnTrack``, what CPython itself calls when a container can no longer be
    in a cycle); the list's own operations never track it again. Where ctypes or the call
    is missing the queue stays tracked, which costs time, nothing else."""
    if _GC_UNTRACK is not None and gc.is_tracked(container):
        _GC_UNTRACK(container)
    return container


#: The fields of a task's record (`TaskRef` and `DeadRef`) that every record has a slot
#: for: a slot costs 8 bytes per task, so a field only some tasks need (finished,
#: failed, cancelled, suspected) lives in `_RARE`, and what can be told from another
#: field is a property (see `_Record`).
RECORD_FIELDS = (
    "num", "addr", "loop", "parent", "created", "origin", "coro", "name", "state",
    "point", "waiting_since", "published", "quiet", "group", "waiter", "waiting_on", "binding", "_rare",
)

#: Fields kept in the record's ``_rare`` dict (made when one of them is first set to
#: something else than its default), with their defaults. Written on the sampler thread
#: only (the collection callback, which runs on any thread, writes no field).
_RARE = {
    "finished": None, "exception": None, "cancel_message": None, "cancel_requested": None,
    "tries": 0, "suspect": 0, "flagged": None,
    # Where a task collected while pending last waited (``point`` is cleared when it is
    # finished): asyncio's report of its destruction may come after the collection was
    # handled, and the coroutine may have been finalized first.
    "last_point": None,
    # A task in ``Queue.join()``: ``(items not done yet, when that count was first seen)``,
    # the queue's progress (see `Sampler._check_stuck`).
    "progress": None,
}


def _rare_field(name, default):
    def get(self):
        rare = self._rare
        return default if rare is None else rare.get(name, default)

    def put(self, value):
        rare = self._rare
        if value is default or (value == default and type(value) is type(default)):
            if rare is not None:
                rare.pop(name, None)
                if not rare:
                    self._rare = None
            return
        if rare is None:
            rare = self._rare = {}
        rare[name] = value

    return property(get, put, doc="a rare field of the record (see `_RARE`)")


class _Record:
    """What `TaskRef` and `DeadRef` share: the properties over their slots."""

    __slots__ = ()

    @property
    def id(self):
        """The task's id in the protocol (``"t12"``), once the sampler adopted it."""
        return "t%d" % self.num if self.state is not None else None

    @property
    def parent_id(self):
        parent = self.parent
        return parent.id if isinstance(parent, _Record) else None

    # Where the task was made: ``origin`` holds the hook's capture (``stack``: code
    # objects and offsets) until it is resolved, then the resolver's shared `Made` in its
    # place (``made``; see `FrameResolver.made`): one slot for both.
    @property
    def stack(self):
        """The raw creation capture ``[code, lasti, ...]`` while it is not resolved."""
        origin = self.origin
        return None if type(origin) is Made else origin

    @stack.setter
    def stack(self, value):
        self.origin = value

    @property
    def made(self):
        """The resolved creation ``(site, stack, codes)``, once resolved."""
        origin = self.origin
        return origin if type(origin) is Made else None

    @made.setter
    def made(self, value):
        self.origin = value

    @property
    def site(self):
        made = self.made
        return made[0] if made is not None else None

    @property
    def creation(self):
        made = self.made
        return made[1] if made is not None else None

    # Where it waits: ``point`` is the resolver's shared ``(chain, frames)`` pair (see
    # `FrameResolver.chain`), the same for every task waiting at one place.
    @property
    def await_sig(self):
        point = self.point
        return point[0] if point is not None else None

    @property
    def awaiting(self):
        point = self.point
        return point[1] if point is not None else None


for _name, _default in _RARE.items():
    setattr(_Record, _name, _rare_field(_name, _default))
del _name, _default


class TaskRef(weakref.ref, _Record):
    """A weak reference to a task, plus its record."""

    __slots__ = RECORD_FIELDS


class DeadRef(_Record):
    """The record of a task that was gone before its record was made; calling it
    returns None, as a dead `TaskRef` would."""

    __slots__ = RECORD_FIELDS

    def __call__(self):
        return None


#: What a record can be.
RECORDS = (TaskRef, DeadRef)


def is_eager(loop):
    """True when `loop` makes eager tasks (3.12+: ``asyncio.eager_task_factory``, or one
    from ``create_eager_task_factory``)."""
    try:
        factory = loop.get_task_factory() if loop is not None else None
    except Exception:
        return False
    if factory is None:
        return False
    return (factory is getattr(asyncio, "eager_task_factory", False)
            or getattr(factory, "__qualname__", "").startswith("create_eager_task_factory."))


class LoopRef(weakref.ref):
    """A weak reference to an event loop, plus its id and thread."""

    __slots__ = ("num", "id", "addr", "thread_ident", "thread_name", "record", "watch", "eager")


class GroupRef(weakref.ref):
    """A weak reference to a TaskGroup, plus its id (``"g1"``, ...)."""

    __slots__ = ("num", "id", "addr")


#: The places of ``Registry.recent`` (see `hooks`): the program's code that called
#: asyncio's ``create_task`` or ``ensure_future``; that called ``gather``; that called
#: ``loop.create_task``; a library's code that called ``loop.create_task``; and the
#: frame above that (the loop's dispatch, where walks stop).
ASKED, GATHERED, CALLED, LIBRARY, DISPATCHED = range(5)
#: What ``user_codes`` says of the code remembered at each place.
RECENT_VERDICTS = (True, True, True, False, True)
#: What an empty place holds: not None, which the hot path finds where a frame has no
#: caller.
FORGOTTEN = object()


class Registry:
    """What the hot path writes and the sampler reads."""

    def __init__(self):
        self.by_addr = {}
        self.queue = [untrack([])]
        self.task_data = None
        self.collected = deque()
        self.loops = {}
        self.user_codes = {}
        self.recent = [FORGOTTEN] * len(RECENT_VERDICTS)
        self.groups = {}
        self.regroup = deque()
        self.reports = deque()
        # How the tasks that asyncio's runner cancelled at a loop's end ended, noted by the
        # hook before they are dropped: (record, state, time, exception or None).
        self.outcomes = deque()
        self._task_numbers = itertools.count(1)
        self._loop_numbers = itertools.count(1)
        self._group_numbers = itertools.count(1)
        self._loop_lock = threading.Lock()
        collected_append = self.collected.append
        now = time.time

        def task_collected(ref):
            # Runs on whichever thread dropped the task's last reference: keep it tiny.
            # The record stays in by_addr: the sampler takes it out (see the docstring).
            # The time travels with it (a slot for it would cost every live task 8 bytes).
            try:
                collected_append((ref, now()))
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

    @property
    def new(self):
        """The hook's list of entries now (items queued since the last `take_new`)."""
        return self.queue[0]

    def take_new(self):
        """The items queued so far (whole entries), taken off the queue: the hook's list
        itself, an untracked list that nobody changes any more, swapped for an empty one
        in one step. A copy cost the sampler about 0.3 us per entry, holding the
        interpreter lock (16 ms for a burst of 50,000 tasks, most of it page faults on the
        copy's fresh memory and the deletion's pass over the items). The hook builds its
        entry first and then extends ``queue[0]`` with it: nothing between its read of the
        list and the extension can let another thread run, so no entry goes to a list
        already taken."""
        fresh = untrack([])
        queue = self.queue
        taken, queue[0] = queue[0], fresh
        return taken

    def check_recent(self):
        """Forgets what ``recent`` remembers and ``user_codes`` no longer says (a code
        found to only build tasks, or the lookup's cache cleared). The hot path may have
        written a code it looked up just before a change: this runs every sample."""
        recent = self.recent
        user = self.user_codes
        for place, verdict in enumerate(RECENT_VERDICTS):
            code = recent[place]
            if code is not FORGOTTEN and user.get(id(code)) is not verdict:
                recent[place] = FORGOTTEN

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
            lr.eager = is_eager(loop)
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

    def record(self, task, loop, parent, stack, now):
        """Makes the `TaskRef` of a live task (on the sampler thread). `parent`: the
        parent's record, its ``id()`` while unresolved, or None."""
        ref = TaskRef(task, self.task_collected)
        self._fill(ref, parent, stack, now)
        ref.addr = id(task)
        ref.loop = self.loop_ref(loop, guess=False) if loop is not None else None
        self.by_addr[ref.addr] = ref
        return ref

    def dead_record(self, loop_ref, parent, stack, now):
        """Makes the `DeadRef` of a task that is already gone."""
        ref = DeadRef()
        self._fill(ref, parent, stack, now)
        ref.addr = None
        ref.loop = loop_ref
        return ref

    def _fill(self, ref, parent, stack, now):
        ref.num = next(self._task_numbers)
        ref.parent = parent
        ref.created = now
        ref.origin = stack
        ref.coro = None
        ref.name = None
        ref.group = None
        ref.state = None  # adopted when set (see `_Record.id`)
        ref.point = None
        ref._rare = None

    def track_discovered(self, task, loop, now):
        """Records a task the hook did not see (``asyncio.Task(...)`` made directly where
        the hook is the ``create_task`` wrapper)."""
        return self.record(task, loop, None, None, now)
