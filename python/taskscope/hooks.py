"""Task-creation tracking: the agent's only code on the program's hot path.

How creation is hooked
----------------------
``asyncio.BaseEventLoop.create_task`` is replaced, at class level, by a wrapper that calls
the original and then records the new task. Every public route ends there:
``asyncio.create_task``, ``loop.create_task``, ``TaskGroup.create_task``,
``asyncio.ensure_future`` and ``asyncio.gather`` of coroutines, and the main task of
``asyncio.run`` (``Runner.run`` calls ``loop.create_task``), on every loop of every
thread, including loop subclasses that call ``super().create_task``, and eager tasks
(3.12+: the task's first step runs inside the original; its parent is the task running
once the original returns, and tasks it makes during that step are linked to it through
``Registry.orphans``). Tasks made by calling ``asyncio.Task(...)`` directly are found
later by the sampler through the all-tasks set (without parent or site).

uvloop's ``Loop`` does not derive from ``BaseEventLoop`` (its methods are compiled), but
``uvloop.Loop`` itself is a plain Python subclass of the compiled class, so the same
wrapper goes on it (`hook_loop_class`): right away if uvloop is already imported, else
from a finder on ``sys.meta_path`` that only answers for ``uvloop`` and leaves as soon as
uvloop is imported. Any other loop class that is not a ``BaseEventLoop`` gets it too when
the sampler first meets one of its tasks (earlier tasks then stay without parent and
site). Measured on Debian's Python 3.11 with uvloop 0.17 (median of 7 rounds of the
best of 7 x 20,000 ``loop.create_task`` of a trivial coroutine, a shared and busy machine,
so +-20%): 3.0 us per call without the agent; 2.4 us with the class wrapper present but
not recording, 2.6 us with a pass-through Python task factory instead (the two are the
same within the noise, so the wrapper, which leaves ``get_task_factory`` alone, wins);
5.5 us with the wrapper recording (the same recording as on ``BaseEventLoop``).

Also wrapped
------------
- ``TaskGroup.create_task`` (3.11+): after the original, the task's record gets the
  group (``group`` in the protocol). Only TaskGroup tasks pay for it (one more Python
  call, a dict lookup, a deque append).
- ``call_exception_handler`` (``BaseEventLoop`` and every hooked loop class): when asyncio
  reports a task destroyed while pending or a task exception never retrieved (from the
  task's finalizer), the wrapper notes the task's record, name, await chain or exception
  type, message and traceback as ``(code, lasti)`` pairs, then ALWAYS calls the original,
  so the program's own handler and asyncio's log message run exactly as without the agent.
  It never calls ``exception()`` or ``result()``, which would mark the exception retrieved.

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
import threading
import time
import weakref

from .frames import await_chain, capture_traceback
from .log import log
from .registry import TaskRef

#: Frames captured at most per creation (the walk stops earlier at known program code).
MAX_DEPTH = 10

#: What asyncio's finalizers say (futures.py / _asynciomodule.c).
DESTROYED_PENDING = "destroyed-pending"
NEVER_RETRIEVED = "exception-never-retrieved"
PENDING_MESSAGE = "Task was destroyed but it is pending!"
NEVER_RETRIEVED_SUFFIX = " exception was never retrieved"

_base = asyncio.BaseEventLoop
_HERE = __file__
_HEAPTYPE = 1 << 9


class _State:
    __slots__ = ("active", "errors", "registry", "wrapped", "finder")

    def __init__(self):
        self.active = False
        self.errors = 0
        self.registry = None
        self.wrapped = []  # (class, attribute name, what its __dict__ held before, or _ABSENT)
        self.finder = None


state = _State()
_ABSENT = object()


def installed():
    return getattr(_base.create_task, "__taskscope__", False)


def _failed(what):
    state.errors += 1
    if state.errors <= 3:
        log.exception(what)


def install(registry):
    """Wraps task creation (and asyncio's reports about dying tasks) so that `registry`
    sees every new task; see the module docstring."""
    if installed():
        if getattr(_base.create_task, "__taskscope_registry__", None) is registry:
            state.active = True
            return
        uninstall()
    state.registry = registry
    hook_loop_class(_base, registry)
    group_class = getattr(asyncio, "TaskGroup", None)
    if group_class is not None:
        _wrap(group_class, "create_task", _taskgroup_wrapper(group_class.create_task, registry))
    uvloop = sys.modules.get("uvloop")
    if uvloop is not None and getattr(uvloop, "Loop", None) is not None:
        hook_loop_class(uvloop.Loop, registry)
    else:
        finder = state.finder = _UvloopFinder(registry)
        sys.meta_path.insert(0, finder)
    state.active = True


def uninstall():
    """Puts everything back as it was (tests; the agent itself only deactivates)."""
    state.active = False
    finder, state.finder = state.finder, None
    if finder is not None:
        finder.leave()
    while state.wrapped:
        cls, name, before = state.wrapped.pop()
        try:
            if before is _ABSENT:
                delattr(cls, name)
            else:
                setattr(cls, name, before)
        except Exception:
            pass
    state.registry = None


def deactivate():
    """Stops recording without touching the classes (cheap, safe from any thread)."""
    state.active = False
    finder, state.finder = state.finder, None
    if finder is not None:
        finder.leave()


def _wrap(cls, name, wrapper):
    before = cls.__dict__.get(name, _ABSENT)
    setattr(cls, name, wrapper)
    state.wrapped.append((cls, name, before))


def is_hooked(cls):
    """True when tasks made on loops of class `cls` are recorded at creation."""
    return bool(getattr(getattr(cls, "create_task", None), "__taskscope__", False))


def hook_loop_class(cls, registry=None):
    """Wraps ``create_task`` and ``call_exception_handler`` of an event-loop class.

    For ``BaseEventLoop`` and for Python-level loop classes that do not derive from it
    (``uvloop.Loop``). Returns True when the class is hooked (now or before)."""
    registry = registry or state.registry
    if registry is None or is_hooked(cls):
        return registry is not None
    if cls is not _base and (issubclass(cls, _base) or not (getattr(cls, "__flags__", 0) & _HEAPTYPE)):
        return False
    original = getattr(cls, "create_task", None)
    if original is None:
        return False
    _wrap(cls, "create_task", _create_task_wrapper(original, registry, cls is _base))
    handler = getattr(cls, "call_exception_handler", None)
    if handler is not None and not getattr(handler, "__taskscope__", False):
        _wrap(cls, "call_exception_handler", _exception_handler_wrapper(handler, registry))
    if cls is not _base:
        log.info("recording the tasks of %s.%s loops", cls.__module__, cls.__qualname__)
    return True


def _create_task_wrapper(original, registry, base_loop):
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
        if base_loop:
            if self._debug:
                # In debug mode the task remembers where it was made, and the original
                # removes only its own frame from that: remove this wrapper's as well.
                try:
                    made_at = task._source_traceback
                    if made_at and made_at[-1].filename == _HERE:
                        del made_at[-1]
                except Exception:
                    pass
        else:
            # Compiled loops (uvloop) make the task from C code, so its "created at"
            # stack (debug mode) ends in this wrapper.
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
                ref.group = None
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
    return create_task


def _taskgroup_wrapper(original, registry):
    by_addr = registry.by_addr
    group_ref = registry.group_ref
    regroup_append = registry.regroup.append
    st = state

    @functools.wraps(original)
    def create_task(self, coro, *args, **kwargs):
        task = original(self, coro, *args, **kwargs)
        if st.active:
            try:
                ref = by_addr.get(id(task))
                if ref is not None and ref() is task:
                    ref.group = group_ref(self)
                    # The sampler may have read the record already: it looks again.
                    regroup_append(ref)
                ref = None
            except Exception:
                _failed("recording a task's TaskGroup failed")
        return task

    create_task.__taskscope__ = True
    create_task.__taskscope_original__ = original
    return create_task


def _text(exc):
    try:
        return str(exc)
    except Exception:
        return "(str() of the exception failed)"


def _exception_handler_wrapper(original, registry):
    by_addr = registry.by_addr
    reports_append = registry.reports.append
    now = time.time
    st = state

    def note(context):
        message = context.get("message")
        if message == PENDING_MESSAGE:
            kind = DESTROYED_PENDING
            task = context.get("task")
        elif type(message) is str and message.endswith(NEVER_RETRIEVED_SUFFIX) and "exception" in context:
            kind = NEVER_RETRIEVED
            task = context.get("future")
        else:
            return
        get_coro = getattr(task, "get_coro", None)
        if get_coro is None:
            return  # a plain future, not a task
        coro = get_coro()
        coro_name = getattr(coro, "__qualname__", None)
        ref = by_addr.get(id(task))
        if ref is not None:
            # In a reference cycle the collector clears weak references before it runs
            # finalizers: a dead reference at this address is this task's record, unless
            # an unrecorded task took an old record's address (then the coroutine differs).
            target = ref()
            if target is not task and (target is not None or (ref.coro is not None and ref.coro != coro_name)):
                ref = None
            target = None
        try:
            name = task.get_name()
        except Exception:
            name = None
        if kind is DESTROYED_PENDING:
            details = await_chain(coro) if coro is not None else []
        else:
            exc = context.get("exception")
            details = (type(exc).__qualname__, _text(exc), capture_traceback(getattr(exc, "__traceback__", None)))
            exc = None
        coro = None
        reports_append((kind, ref, now(), name, coro_name, details))

    @functools.wraps(original)
    def call_exception_handler(self, context):
        if st.active:
            try:
                note(context)
            except Exception:
                _failed("noting asyncio's report failed")
        return original(self, context)

    call_exception_handler.__taskscope__ = True
    call_exception_handler.__taskscope_original__ = original
    return call_exception_handler


class _UvloopFinder:
    """Hooks ``uvloop.Loop`` right after uvloop is imported, then leaves ``sys.meta_path``.

    It answers only for the name ``uvloop``: it finds the spec through the other finders
    and hands it back with a loader that runs the real one and then hooks the class (and
    puts the real loader back on the module and its spec before uvloop's own code runs).
    Every other import costs one call that returns None."""

    def __init__(self, registry):
        self.registry = registry
        self._lock = threading.Lock()
        self._busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "uvloop" or self._busy:
            return None
        try:
            with self._lock:
                self._busy = True
                try:
                    spec = None
                    for finder in list(sys.meta_path):
                        find = getattr(finder, "find_spec", None)
                        if finder is self or find is None:
                            continue
                        spec = find(name, path, target)
                        if spec is not None:
                            break
                finally:
                    self._busy = False
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None
            spec.loader = _HookingLoader(spec.loader, self)
            return spec
        except Exception:
            _failed("looking for uvloop failed")
            return None

    def invalidate_caches(self):
        pass

    def imported(self, module):
        self.leave()
        try:
            loop_class = getattr(module, "Loop", None)
            if loop_class is not None and state.registry is self.registry:
                hook_loop_class(loop_class, self.registry)
        except Exception:
            _failed("hooking uvloop failed")

    def leave(self):
        try:
            while self in sys.meta_path:
                sys.meta_path.remove(self)
        except Exception:
            pass


class _HookingLoader:
    """Wraps the real loader of uvloop for one ``exec_module`` (see `_UvloopFinder`)."""

    def __init__(self, loader, finder):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        try:
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = self._loader
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self._loader
        except Exception:
            pass
        self._loader.exec_module(module)
        self._finder.imported(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)
