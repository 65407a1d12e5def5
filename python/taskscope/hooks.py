"""Task-creation tracking: the agent's only code on the program's hot path.

How creation is hooked
----------------------
``asyncio.BaseEventLoop.create_task`` is replaced, at class level, by a wrapper that calls
the original and then records the new task. Every public route ends there:
``asyncio.create_task``, ``loop.create_task``, ``TaskGroup.create_task``,
``asyncio.ensure_future`` and ``asyncio.gather`` of coroutines, and the main task of
``asyncio.run`` (``Runner.run`` calls ``loop.create_task``), on every loop of every
thread, including loop subclasses that call ``super().create_task``. Tasks made by calling
``asyncio.Task(...)`` directly, or by loops that do not derive from ``BaseEventLoop``, are
found later by the sampler through the all-tasks set (without parent or site).

The alternative, installing a task factory on each loop, was measured and rejected: a
Python factory costs every ``create_task`` about 250 ns before it records anything (it
builds the Task from Python instead of C), it has to be put on each loop as the loop
appears, and it would have to fake ``get_task_factory``/``set_task_factory`` so that the
program still sees and sets its own factory. Wrapping the class method leaves the
factory machinery untouched: ``loop.get_task_factory()`` returns exactly what the program
set (None if nothing), and a factory the program installs still builds the task, which
the wrapper then records.

Measured on CPython 3.11 (2 shared, busy cores, so +-20%; best of 7 x 20,000
``loop.create_task`` calls of a trivial coroutine): 2.4-3.0 us per call without the agent;
the class wrapper alone (hook inactive) adds about 0.3 us; a pass-through Python task
factory adds about 0.25 us before recording anything; full recording adds 1.1-2.3 us
once the sampler has learnt which code is the program's (the walk then stops at the first
frame), 3.5-8 us for the first tasks made from a new place (up to `MAX_DEPTH` frames,
each ``f_back`` materializing a frame object). Reading ``f_lineno`` instead of
``f_lasti`` cost another 0.2 us for four frames (it decodes the line table on the
program's thread), so lines are resolved later on the sampler thread (`frames`), and the
code-object cache is keyed by ``id(code)`` because hashing a code object hashes its
contents. End to end, a task that does nothing (create, two steps, gather, free) went
from 6.3 to 9.3 us; a task that does any I/O costs tens of microseconds anyway.

What the wrapper does per task: a few attribute reads (``f_code``, ``f_lasti``,
``f_back`` for the frames up to the first one already known to be the program's own,
at most `MAX_DEPTH`), one ``TaskRef`` (a weak reference, so a task the program forgets
is collected exactly when it would be without the agent), ``current_task(loop)`` for
the parent, two dict operations and a deque append. No done callbacks, no locks, no
``traceback`` module, no name formatting. Any error in it is logged and swallowed: the
program always gets its task back.
"""

import asyncio
import functools
import sys
import time
import weakref

from .log import log
from .registry import TaskRef

#: Frames captured at most per creation (the walk stops earlier at known program code).
MAX_DEPTH = 10

_base = asyncio.BaseEventLoop
_HERE = __file__


class _State:
    __slots__ = ("active", "errors")

    def __init__(self):
        self.active = False
        self.errors = 0


state = _State()


def installed():
    return getattr(_base.create_task, "__taskscope__", False)


def install(registry):
    """Wraps ``BaseEventLoop.create_task`` so that `registry` sees every new task."""
    if installed():
        if getattr(_base.create_task, "__taskscope_registry__", None) is registry:
            state.active = True
            return
        uninstall()
    original = _base.create_task
    getframe = sys._getframe
    now = time.time
    current_task = asyncio.current_task
    make_weak = weakref.ref
    user_codes = registry.user_codes
    by_addr = registry.by_addr
    orphans = registry.orphans
    loops = registry.loops
    loop_ref = registry.loop_ref
    new_append = registry.new.append
    numbers = registry._task_numbers
    on_collect = registry.task_collected
    depth = MAX_DEPTH
    st = state

    @functools.wraps(original)
    def create_task(self, coro, *args, **kwargs):
        task = original(self, coro, *args, **kwargs)
        if self._debug:
            # In debug mode the task remembers where it was made, and the original
            # removes only its own frame from that: remove this wrapper's as well.
            try:
                made_at = task._source_traceback
                if made_at and made_at[-1].filename == _HERE:
                    del made_at[-1]
            except Exception:
                pass
        if st.active:
            try:
                f = getframe(1)
                stack = []
                n = depth
                while f is not None and n:
                    code = f.f_code
                    stack.append(code)
                    stack.append(f.f_lasti)
                    if user_codes.get(id(code)):
                        break
                    f = f.f_back
                    n -= 1
                f = None
                ref = TaskRef(task, on_collect)
                ref.num = next(numbers)
                ref.addr = addr = id(task)
                ref.created = now()
                ref.stack = stack
                ref.coro = getattr(coro, "__qualname__", None)
                ref.name = kwargs.get("name") if kwargs else None
                lr = loops.get(id(self))
                if lr is None or lr() is not self:
                    lr = loop_ref(self)
                ref.loop = lr
                parent = current_task(self)
                if parent is None:
                    ref.parent = None
                else:
                    pref = by_addr.get(id(parent))
                    if pref is not None and pref() is parent:
                        ref.parent = pref
                    else:
                        # The parent is not recorded yet: it is running eagerly inside
                        # its own create_task (3.12+), or was made by asyncio.Task().
                        ref.parent = make_weak(parent)
                        waiting = orphans.get(id(parent))
                        if waiting is None:
                            orphans[id(parent)] = [ref]
                        else:
                            waiting.append(ref)
                    parent = None
                by_addr[addr] = ref
                if orphans:
                    waiting = orphans.pop(addr, None)
                    if waiting:
                        for child in waiting:
                            if child.parent() is task:
                                child.parent = ref
                new_append(ref)
            except Exception:
                st.errors += 1
                if st.errors <= 3:
                    log.exception("recording a new task failed")
        return task

    create_task.__taskscope__ = True
    create_task.__taskscope_original__ = original
    create_task.__taskscope_registry__ = registry
    _base.create_task = create_task
    state.active = True


def uninstall():
    """Puts the original ``create_task`` back (tests; the agent itself only deactivates)."""
    state.active = False
    current = _base.create_task
    original = getattr(current, "__taskscope_original__", None)
    if original is not None:
        _base.create_task = original


def deactivate():
    """Stops recording without touching the class (cheap, safe from any thread)."""
    state.active = False
