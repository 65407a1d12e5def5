"""What a waiting task waits for: the ``waitingOn`` of the protocol.

Worked out on the sampler thread, only when a task's await point changed, from two things
the task shows without being disturbed:

- its await chain (``cr_await`` from coroutine to coroutine): the outermost frame that is
  asyncio's own code names the primitive (``Queue.get``, ``Lock.acquire``, ``Event.wait``,
  ``Condition.wait``, ``Semaphore.acquire``, ``sleep``, ``wait``, ``wait_for``,
  ``TaskGroup.__aexit__``, stream reads, ...), recognised by qualified name within the
  asyncio package (cached per code object);
- the future it is suspended on (``task._fut_waiter``): another task (``await task``), a
  gather's future (its children), or a plain future.

The tasks behind ``asyncio.wait``, ``wait_for`` (3.11, where it waits on a helper future)
and a TaskGroup are read from the waiting coroutine's own locals with
``gc.get_referents(coroutine)``, which lists the values a suspended coroutine holds
without creating anything (``frame.f_locals`` would, on 3.11 and 3.12, attach a snapshot
of the locals to the frame and so keep them alive). Nothing here keeps a reference to a
task or a future once it returns.
"""

import asyncio
import gc
import os
import sys
from types import MethodType

from .frames import iter_await_chain, qualname

_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep

#: Qualified names of asyncio's coroutines -> (kind, label).
PRIMITIVES = {
    "Queue.get": ("queue", "Queue.get"),
    "Queue.put": ("queue", "Queue.put"),
    "Queue.join": ("queue", "Queue.join"),
    "Lock.acquire": ("lock", "Lock.acquire"),
    "Semaphore.acquire": ("semaphore", "Semaphore.acquire"),
    "Event.wait": ("event", "Event.wait"),
    "Condition.wait": ("condition", "Condition.wait"),
    "Condition.wait_for": ("condition", "Condition.wait_for"),
    "Barrier.wait": ("other", "Barrier.wait"),
    "sleep": ("sleep", "sleep"),
    "wait": ("wait", "wait"),
    "_wait": ("wait", "wait"),
    "wait_for": ("wait", "wait_for"),
    "as_completed.<locals>._wait_for_one": ("wait", "as_completed"),
    "_AsCompletedIterator._wait_for_one": ("wait", "as_completed"),
    "TaskGroup.__aexit__": ("taskgroup", "TaskGroup"),
    "TaskGroup._aexit": ("taskgroup", "TaskGroup"),
    "StreamReader.read": ("other", "StreamReader.read"),
    "StreamReader.readline": ("other", "StreamReader.readline"),
    "StreamReader.readexactly": ("other", "StreamReader.readexactly"),
    "StreamReader.readuntil": ("other", "StreamReader.readuntil"),
    "StreamReader._wait_for_data": ("other", "StreamReader.read"),
    "StreamWriter.drain": ("other", "StreamWriter.drain"),
    "StreamWriter.wait_closed": ("other", "StreamWriter.wait_closed"),
    "Server.serve_forever": ("other", "Server.serve_forever"),
    "Server.wait_closed": ("other", "Server.wait_closed"),
}

#: Labels of the waits a program makes to run until it is cancelled (a server's main task
#: in ``serve_forever()``): such a wait is never a stuck task, however long.
RUN_UNTIL_CANCELLED = frozenset({"Server.serve_forever"})

#: Compiled coroutines that stand for one of `PRIMITIVES` (uvloop's, made by Cython): their
#: qualified name -> (kind, label).
COMPILED_PRIMITIVES = {
    "Server.serve_forever": ("other", "Server.serve_forever"),
}

#: The type names of Cython's coroutines, and of the wrapper their ``__await__`` returns.
_COMPILED_COROUTINES = frozenset({"coroutine", "iterable_coroutine"})
_COMPILED_AWAIT = "coroutine_wrapper"

_Future = asyncio.Future
_QUEUE_JOIN = asyncio.Queue.join.__code__
_WAIT_FOR = asyncio.wait_for.__code__
_Timeout = getattr(asyncio, "Timeout", None)  # 3.11+
_TimerHandle = asyncio.TimerHandle


def _timer_running(value):
    """Whether `value` is a timer that has not been cancelled: asyncio's ``TimerHandle``,
    or uvloop's (a class of its own, not asyncio's)."""
    timer = isinstance(value, _TimerHandle) or (type(value).__name__ == "TimerHandle"
                                               and type(value).__module__ == "uvloop.loop")
    return timer and not value.cancelled()
_isfuture = asyncio.isfuture
_TaskGroup = getattr(asyncio, "TaskGroup", None)


def _holder(coro):
    """What holds a suspended coroutine's locals: the coroutine itself from 3.11 on; on
    3.10, its frame object (which every running or suspended coroutine has there, so
    reading it creates nothing)."""
    if _FRAME_HOLDS_LOCALS:
        frame = getattr(coro, "cr_frame", None)
        if frame is not None:
            return frame
    return coro


_FRAME_HOLDS_LOCALS = sys.version_info < (3, 11)


def _is_task(obj):
    return _isfuture(obj) and hasattr(obj, "get_coro")


def _compiled_primitive(awaited):
    """The (kind, label) of `COMPILED_PRIMITIVES` that `awaited` stands for, or None: a
    compiled coroutine, or what a Python coroutine awaiting one awaits (the wrapper the
    compiled coroutine's ``__await__`` made, which holds it: found in C, with
    ``gc.get_referents``, since the wrapper has no attribute for it)."""
    name = type(awaited).__name__
    if name == _COMPILED_AWAIT:
        held = [c for c in gc.get_referents(awaited) if type(c).__name__ in _COMPILED_COROUTINES]
        awaited = held[0] if held else None
    elif name not in _COMPILED_COROUTINES:
        return None
    return COMPILED_PRIMITIVES.get(getattr(awaited, "__qualname__", None))


class WaitClassifier:
    """One per sampler; `lookup` maps a task to its record (or None)."""

    MAX_CACHE = 20000

    def __init__(self, lookup):
        self.lookup = lookup
        #: Set by `classify` when a task waited on has no record yet (the sampler adopts
        #: tasks once they have lived through a sample): the caller asks again later.
        self.unresolved = False
        self._codes = {}  # id(code) -> (code, (kind, label) | None, is asyncio's)
        self._shared = {}  # (kind, label) -> the WaitTarget dict of every task waiting so

    def _primitive(self, code):
        entry = self._codes.get(id(code))
        if entry is None or entry[0] is not code:
            if len(self._codes) >= self.MAX_CACHE:
                self._codes.clear()
            ours = code.co_filename.startswith(_ASYNCIO_DIR)
            name = qualname(code, asyncios=ours)
            known = PRIMITIVES.get(name) if ours else None
            if ours and known is None:
                known = (None, name)  # asyncio's, but not a primitive with a meaning
            entry = self._codes[id(code)] = (code, known, ours)
        return entry[1]

    def classify(self, task, coro):
        """The WaitTarget dict for `task` (suspended in `coro`), or None."""
        self.unresolved = False
        outermost = None
        outer_coro = last = None
        task_coro = coro
        for coro, code in iter_await_chain(coro):
            last = coro
            known = self._primitive(code)
            if known is not None and outermost is None:
                outermost = known
                outer_coro = coro
        if outermost is None:
            # The chain may end at a compiled coroutine, or be one (a task of its own).
            outermost = _compiled_primitive(getattr(last, "cr_await", None) if last is not None else task_coro)
        coro = last = task_coro = None  # hold no coroutine of the program past this point
        fut = getattr(task, "_fut_waiter", None)
        try:
            return self._target(task, fut, outermost, outer_coro)
        finally:
            fut = outer_coro = None

    def _target(self, task, fut, known, outer_coro):
        ids = []
        kind = label = None
        if known is not None:
            kind, label = known
        if kind == "taskgroup":
            group = self._referent(outer_coro, _TaskGroup) if _TaskGroup is not None else None
            if group is not None:
                # A set: in the order of the tasks' addresses, which differs from one run
                # to the next. Listed by their records' numbers instead (the order the
                # hook queued the tasks in), as gather's are in the order given.
                self._add(ids, list(getattr(group, "_tasks", ()) or ()), task, ordered=True)
            group = None
        elif kind == "wait":
            if fut is not None and _is_task(fut):
                self._add(ids, [fut], task)
                kind = "task"
            elif fut is not None and hasattr(fut, "_children"):
                self._add(ids, list(fut._children), task)
                kind = "gather"
            else:
                self._add(ids, self._referenced_futures(outer_coro), task)
                if label == "wait_for" and len(ids) == 1:
                    kind = "task"  # 3.11: wait_for waits on a helper future for one task
        elif kind is None:
            if fut is None:
                if label is None:
                    return None
                kind = "other"
            elif _is_task(fut):
                self._add(ids, [fut], task)
                kind = "task"
                if label is None:
                    label = self._task_label(fut)
            elif hasattr(fut, "_children") and type(fut).__name__ == "_GatheringFuture":
                self._add(ids, list(fut._children), task)
                kind, label = "gather", "gather"
            else:
                kind = "future" if isinstance(fut, _Future) else "other"
                if label is None:
                    label = type(fut).__name__
        if not ids:
            # Shared (never changed once made): thousands of tasks idle on the same kind
            # of wait cost one dict, not one each.
            key = (kind, label)
            target = self._shared.get(key)
            if target is None:
                if len(self._shared) >= self.MAX_CACHE:
                    self._shared.clear()
                target = self._shared[key] = {"kind": kind, "label": label} if label else {"kind": kind}
            return target
        target = {"kind": kind, "tasks": ids}
        if label:
            target["label"] = label
        return target

    @staticmethod
    def _task_label(fut):
        try:
            return "Task %r" % (fut.get_name(),)
        except Exception:
            return "Task"

    def _add(self, ids, futures, waiter, ordered=False):
        """Adds the ids of the records of `futures` (tasks other than `waiter`) to `ids`;
        `ordered`: in the order the records were made (by their number), else as given."""
        lookup = self.lookup
        found = []
        for fut in futures:
            if fut is waiter or not _is_task(fut):
                continue
            ref = lookup(fut)
            task_id = getattr(ref, "id", None) if ref is not None else None
            if task_id is None:
                if not fut.done():
                    self.unresolved = True
            else:
                found.append((ref.num, task_id) if ordered else task_id)
        del futures[:]
        if ordered:
            found.sort()
            found = [task_id for _num, task_id in found]
        for task_id in found:
            if task_id not in ids:
                ids.append(task_id)

    @staticmethod
    def _referent(coro, cls):
        if coro is None:
            return None
        for value in gc.get_referents(_holder(coro)):
            if isinstance(value, cls):
                return value
        return None

    @classmethod
    def unfinished_items(cls, coro):
        """The count of items not done yet (``task_done()``) of the queue whose ``join()``
        the suspended coroutine `coro` awaits down its chain, or None."""
        for awaiting, code in iter_await_chain(coro):
            if code is _QUEUE_JOIN:
                queue = cls._referent(awaiting, asyncio.Queue)
                count = getattr(queue, "_unfinished_tasks", None)
                return count if type(count) is int else None
        return None

    @staticmethod
    def under_deadline(coro):
        """Whether a coroutine down the await chain of `coro` waits under a deadline, so
        that the wait ends by itself: in an ``asyncio.timeout()`` (or ``timeout_at()``)
        block with a time set (3.11+; ``wait_for`` uses one from 3.12 on), or in
        ``wait_for`` with its timer (3.10, 3.11). Read in C from each coroutine's locals
        and stack (``async with`` keeps the block's ``__aexit__`` there)."""
        for awaiting, code in iter_await_chain(coro):
            for value in gc.get_referents(_holder(awaiting)):
                if type(value) is MethodType:
                    value = value.__self__
                if _Timeout is not None and isinstance(value, _Timeout):
                    if value.when() is not None:
                        return True
                elif code is _WAIT_FOR and _timer_running(value):
                    return True
        return False

    @staticmethod
    def wait_for_with_deadline(coro, task):
        """Whether `task` is what a ``wait_for`` down the await chain of `coro` runs and
        waits for with its timer (3.10, 3.11: ``wait_for`` wraps what it waits for in a
        task of its own, which is in its locals)."""
        for awaiting, code in iter_await_chain(coro):
            if code is _WAIT_FOR:
                held = gc.get_referents(_holder(awaiting))
                return (any(value is task for value in held)
                        and any(_timer_running(value) for value in held))
        return False

    @staticmethod
    def _referenced_futures(coro):
        """The futures a suspended asyncio coroutine holds in its locals (directly, or in
        a set, list or tuple): the tasks given to ``wait``/``wait_for``/``as_completed``."""
        out = []
        if coro is None:
            return out
        for value in gc.get_referents(_holder(coro)):
            if _isfuture(value):
                out.append(value)
            elif isinstance(value, (set, frozenset, list, tuple)) and len(value) < 100000:
                for item in list(value):
                    if _isfuture(item):
                        out.append(item)
        return out
