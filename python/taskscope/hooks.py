"""Task-creation tracking: the agent's only code on the program's hot path.

How creation is seen
--------------------
Every asyncio task, whatever made it, registers itself in asyncio's set of all tasks: on
Python 3.10 to 3.13 the C ``Task.__init__`` (and the pure-Python one) calls the ``add``
method of a ``weakref.WeakSet`` (``asyncio.tasks._all_tasks``, ``_scheduled_tasks`` from
3.12), a Python method. `install` changes that one object's class to `_RecordingWeakSet`,
whose ``add`` does what ``WeakSet.add`` does (the same three lines; the weak reference's
removal callback is the agent's own, which does what the set's does, see there) and then
queues an entry for the new task: the task's hash (that of the weak reference it just made), the
``id()`` of the current task of the task's loop, and ``code, lasti`` pairs up the stack,
as items on a list (see `registry`). No extra call, no extra weak reference, no lock, no
clock, and no object left for the garbage collector to look at: queued tuples and lists,
one per task, made every collection of the youngest generation slower (measured, they
cost more than all the rest), and so did the weak reference itself while the entry held
it (it outlived its task until the sampler took the entry, and the program's full
collections took half as long again; see `docs/benchmarks.md`). The sampler finds a live
task by its hash in asyncio's set (`entries.TaskLookup`). Every route goes through it: ``asyncio.create_task``,
``loop.create_task``, ``TaskGroup.create_task``, ``ensure_future``, ``gather`` of
coroutines, ``asyncio.Task(...)`` made directly, the main task of ``asyncio.run``, every
loop in every thread, uvloop's loops (their tasks are asyncio's C tasks), and eager tasks
that do not finish in their first step (3.12+; those that do were never scheduled and are
never seen).

Python 3.14 keeps its C tasks in per-thread lists with no Python code on the way, so there
(and wherever the set is not a plain ``WeakSet``) ``create_task`` is wrapped at class
level instead: ``asyncio.BaseEventLoop`` and ``uvloop.Loop`` (a plain Python subclass of
its compiled class; hooked right away if uvloop is imported, else from a finder on
``sys.meta_path`` that answers only for ``uvloop`` and leaves once it is imported). The
wrapper calls the original and queues the same entry, with a weak reference of its own.
Tasks made by calling ``asyncio.Task(...)`` directly are then found by the sampler in the
loops' task lists (without parent or site). The wrapper leaves the factory machinery
alone: ``loop.get_task_factory()`` returns what the program set, and a factory the
program installs still builds the task, which the wrapper then records.

Measured (CPython 3.11, ``bench/agent/hook_cost.py``): see `docs/benchmarks.md`. What
costs is the walk up the stack: ``f_back`` materializes a frame object for each frame
above, so the walk stops at the first frame the sampler has found to be the program's own
(`Registry.user_codes`, keyed by ``id(code)`` because hashing a code object hashes its
contents) or at `MAX_DEPTH`; lines are read later from ``f_lasti`` on the sampler thread
(``f_lineno`` would decode the line table here). On the usual routes asyncio's functions
are told by identity, and the code last found at each place of a route is remembered
(`Registry.recent`): a lookup in ``user_codes`` (an ``id()`` and a dict lookup) costs
about 600 instructions, a hit in the memory a few. While tasks come from ``gather``, the
next one is looked for first from gather's own frame (three up), whose frame object, and
that of the program's frame above it, outlive the task: reading the frame in between
(``_ensure_future``) made a frame object for every task (a quarter of the hook's
instructions on that route).

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
  A record found at the task's address is checked to be its own (addresses are taken
  again at once: see `_may_be_record_of`), and a task without one has its entry taken off
  the hook's list there and then, for the sampler to make its record from.
- ``asyncio.runners._cancel_all_tasks`` (what ``asyncio.run`` calls when its main
  coroutine returns): holds the tasks it cancels over the call, as its own set does, and
  then notes how each recorded one ended (`Registry.outcomes`), before they are freed.

Rejected alternatives: a task factory on each loop (a Python factory costs every task
about 250 ns before it records anything, and ``get_task_factory`` would have to be
faked); the ``create_task`` wrapper everywhere (its Python call costs about as much as
the whole recording in the set's ``add``).

Nothing on the hot path keeps a task alive (the entry holds the task's hash, or on 3.14
a weak reference, and the parent's ``id()``), so a task the program forgets is collected exactly when it would be
without the agent. No done callbacks, no locks, no ``traceback`` module, no name
formatting. Any error in it is logged and swallowed: the program always gets its task.
"""

import asyncio
import functools
import sys
import threading
import time
import weakref

from .entries import latest_entry, pack
from .frames import await_chain, capture_traceback
from .log import log
from .registry import ASKED, CALLED, DISPATCHED, GATHERED, LIBRARY

#: Frames captured at most per creation (the walk stops earlier at known program code).
MAX_DEPTH = 10

#: What asyncio's finalizers say (futures.py / _asynciomodule.c).
DESTROYED_PENDING = "destroyed-pending"
NEVER_RETRIEVED = "exception-never-retrieved"
PENDING_MESSAGE = "Task was destroyed but it is pending!"
NEVER_RETRIEVED_SUFFIX = " exception was never retrieved"

_base = asyncio.BaseEventLoop

#: What every asyncio task is an instance of (the C and the pure-Python Future). asyncio's
#: set of all tasks can also hold other objects (a library's task-like objects given to
#: ``asyncio._register_task``): the agent leaves those alone, since reading them would run
#: their code (on the sampler's thread, or on the hot path).
FUTURES = tuple({t for t in (asyncio.Future, getattr(asyncio.futures, "_PyFuture", None),
                             getattr(asyncio.futures, "_CFuture", None)) if t is not None})
_HEAPTYPE = 1 << 9


class _State:
    __slots__ = ("active", "errors", "registry", "wrapped", "finder", "task_set")

    def __init__(self):
        self.active = False
        self.errors = 0
        self.registry = None
        self.wrapped = []  # (class, attribute name, what its __dict__ held before, or _ABSENT)
        self.finder = None
        self.task_set = None  # (asyncio's all-tasks set, its class before, the recording class)


state = _State()
_ABSENT = object()


def installed():
    return state.registry is not None


def _failed(what):
    state.errors += 1
    if state.errors <= 3:
        log.exception(what)


def _all_tasks_set():
    """asyncio's weak set of all tasks, when every task is added to it through its
    Python ``add`` (3.10 to 3.13), else None."""
    if sys.version_info >= (3, 14):
        return None
    import _weakrefset
    for name in ("_scheduled_tasks", "_all_tasks"):
        ws = getattr(asyncio.tasks, name, None)
        if type(ws) is _weakrefset.WeakSet:
            return ws
    return None


def install(registry):
    """Records every new task into `registry` (see the module docstring), and notes
    asyncio's reports about dying tasks."""
    if installed():
        if state.registry is registry:
            _activate()
            return
        uninstall()
    state.registry = registry
    task_set = _all_tasks_set()
    if task_set is not None:
        state.task_set = (task_set, type(task_set), _recording_set_class(task_set, registry))
        registry.task_data = task_set.data
        _wrap_exception_handler(_base, registry)
    else:
        hook_loop_class(_base, registry)
    group_class = getattr(asyncio, "TaskGroup", None)
    if group_class is not None:
        _wrap(group_class, "create_task", _taskgroup_wrapper(group_class.create_task, registry))
    runners = sys.modules.get("asyncio.runners")
    cancel_all = getattr(runners, "_cancel_all_tasks", None)
    if callable(cancel_all):
        _wrap(runners, "_cancel_all_tasks", _cancel_all_wrapper(cancel_all, registry))
    uvloop = sys.modules.get("uvloop")
    if uvloop is not None and getattr(uvloop, "Loop", None) is not None:
        hook_loop_class(uvloop.Loop, registry)
    else:
        finder = state.finder = _UvloopFinder(registry)
        sys.meta_path.insert(0, finder)
    _activate()


def _activate():
    state.active = True
    if state.task_set is not None:
        task_set, _, recording = state.task_set
        task_set.__class__ = recording


def uninstall():
    """Puts everything back as it was (tests; the agent itself only deactivates)."""
    state.active = False
    finder, state.finder = state.finder, None
    if finder is not None:
        finder.leave()
    task_set, state.task_set = state.task_set, None
    if task_set is not None:
        if state.registry is not None:
            state.registry.task_data = None
        try:
            task_set[0].__class__ = task_set[1]
        except Exception:
            pass
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
    """Stops recording (cheap, safe from any thread): the wrappers check ``state.active``;
    asyncio's all-tasks set gets its own class back (its ``add`` has no check: one
    attribute read less for every task), and `install` gives it the recording one again."""
    state.active = False
    if state.task_set is not None:
        try:
            state.task_set[0].__class__ = state.task_set[1]
        except Exception:
            pass
    finder, state.finder = state.finder, None
    if finder is not None:
        finder.leave()


def _wrap(cls, name, wrapper):
    before = cls.__dict__.get(name, _ABSENT)
    setattr(cls, name, wrapper)
    state.wrapped.append((cls, name, before))


def is_hooked(cls):
    """True when tasks made on loops of class `cls` are recorded at creation."""
    if state.task_set is not None:
        return state.registry is not None
    return bool(getattr(getattr(cls, "create_task", None), "__taskscope__", False))


def hook_loop_class(cls, registry=None):
    """Makes sure the tasks of loops of class `cls` are recorded, and asyncio's reports
    on its loops noted: wraps ``create_task`` (only where the all-tasks set is not
    hooked) and ``call_exception_handler``. For ``BaseEventLoop`` and for Python-level
    loop classes that do not derive from it (``uvloop.Loop``). Returns True when the
    class is hooked (now or before)."""
    registry = registry or state.registry
    if registry is None:
        return False
    if cls is not _base and (issubclass(cls, _base) or not (getattr(cls, "__flags__", 0) & _HEAPTYPE)):
        return False
    if state.task_set is None:
        if getattr(getattr(cls, "create_task", None), "__taskscope__", False):
            return True
        original = getattr(cls, "create_task", None)
        if original is None:
            return False
        _wrap(cls, "create_task", _create_task_wrapper(original, registry))
    else:
        # The set hook runs on the thread that makes the task, which it does not note:
        # a loop that does not tell its thread (uvloop's) tells it here, once per run.
        run_forever = getattr(cls, "run_forever", None)
        if cls is not _base and run_forever is not None and not getattr(run_forever, "__taskscope__", False):
            _wrap(cls, "run_forever", _run_forever_wrapper(run_forever, registry))
    _wrap_exception_handler(cls, registry)
    if cls is not _base:
        log.info("recording the tasks of %s.%s loops", cls.__module__, cls.__qualname__)
    return True


def _wrap_exception_handler(cls, registry):
    handler = getattr(cls, "call_exception_handler", None)
    if handler is not None and not getattr(handler, "__taskscope__", False):
        _wrap(cls, "call_exception_handler", _exception_handler_wrapper(handler, registry))


def _ensure_future():
    """asyncio's function that makes the task of ``gather``, ``ensure_future``, ``shield``
    and ``wait_for`` from a coroutine (3.10 and 3.11: ``_ensure_future``, which
    ``ensure_future`` calls; 3.12+: ``ensure_future`` itself)."""
    return getattr(asyncio.tasks, "_ensure_future", None) or asyncio.tasks.ensure_future


def _callers_of_create_task():
    """Code of asyncio's functions that call ``loop.create_task`` (and of
    ``BaseEventLoop.create_task``, which calls a task factory): when the frame two above
    the set's ``add`` runs one of them, the frame between only made the task (the loop's
    ``create_task`` or a task factory), and the walk up the stack starts above it (each
    frame the walk reads costs a frame object)."""
    import asyncio.runners
    import asyncio.tasks

    functions = [asyncio.tasks.create_task, _ensure_future(),
                 asyncio.BaseEventLoop.create_task, getattr(getattr(asyncio.runners, "Runner", None), "run", None)]
    group_class = getattr(asyncio, "TaskGroup", None)
    if group_class is not None:
        functions.append(getattr(group_class.create_task, "__taskscope_original__", group_class.create_task))
    codes = {}
    for function in functions:
        code = getattr(function, "__code__", None)
        if code is not None:
            codes[id(code)] = code
    return codes


def _remember(recent, place, code):
    """Notes `code` as the last found at `place` of ``Registry.recent``; True. Called
    only when the lookup in ``user_codes`` missed the remembered code: the hot path's
    hits cost no call."""
    recent[place] = code
    return True


def _recording_set_class(task_set, registry):
    """The class `install` gives asyncio's all-tasks set `task_set`, and that set only (see
    the module docstring)."""
    base = type(task_set)
    # The set's own parts, read once: WeakSet sets them in __init__ and never again
    # (3.10 to 3.13). Read through ``self`` they cost about 300 instructions each: the
    # set's class changed, so its attributes are in a dict of its own now, looked up by
    # name (the interpreter's shortcut for them is for the class they were set with).
    pending_removals = task_set._pending_removals
    data_add = task_set.data.add
    # The callback of the weak references the hook puts in the set: what the set's own
    # (``_remove``) does when a task dies, without reading the set's attributes through
    # it (``self._iterating``, ``self.data``: about 630 instructions per task that died,
    # every task, measured with callgrind). While the set is being iterated (asyncio's
    # all_tasks()), the dead reference waits in the set's pending removals, as there.
    iterating = task_set._iterating
    pending_append = pending_removals.append
    data_discard = task_set.data.discard

    def remove(wr):
        if iterating:
            pending_append(wr)
        else:
            data_discard(wr)

    getframe = sys._getframe
    # Bound methods, not the dicts: each call then skips a method lookup. The sampler
    # clears and fills these dicts, never replaces them.
    caller = _callers_of_create_task().get
    # The hook's list of entries is queue[0] (the sampler swaps it for an empty one, see
    # Registry.take_new): each entry is built first, then added in one step.
    queue = registry.queue
    user_code = registry.user_codes.get
    # What each route found last (see Registry.recent): a code object compared by
    # identity costs a few instructions, its lookup in user_codes about 600.
    recent = registry.recent
    # asyncio's own functions on the usual routes, told apart by identity too.
    create_code = asyncio.tasks.create_task.__code__
    ensure_code = _ensure_future().__code__
    gather_code = asyncio.tasks.gather.__code__
    loop_code = getattr(_base.create_task, "__taskscope_original__", _base.create_task).__code__
    # asyncio.current_task is a Python function there; this is the dict it reads.
    current_tasks = getattr(asyncio.tasks, "_current_tasks", None)
    current_task = current_tasks.get if isinstance(current_tasks, dict) else asyncio.current_task
    make_ref = weakref.ref
    hash_of = hash
    depth = MAX_DEPTH
    futures = FUTURES
    # Whether the last task came from gather's usual route (the next one is then looked
    # for there first): read by every task, written when the route changes. A cell of its
    # own: an item of ``recent`` cost the other routes about 100 instructions more.
    gathering = [False]

    class _RecordingWeakSet(base):
        __slots__ = ()

        def add(self, item):
            # What WeakSet.add does (Lib/_weakrefset.py, the same in 3.10 to 3.13) ...
            if pending_removals:
                self._commit_removals()
            wr = make_ref(item, remove)
            data_add(wr)
            # ... then the entry for the sampler (the set has this class only while the
            # agent records: see `deactivate`).
            try:
                parent = current_task(item._loop)
                if gathering[0]:
                    # The last task came from gather's usual route, and so do the rest of
                    # its coroutines: read from gather's own frame. Frame 3 runs gather only
                    # on that route (gather, _ensure_future, the loop's create_task: the
                    # one call of gather's that makes a task); the frame objects of gather
                    # and of the program's frame above it outlive the task (made at its
                    # first task), where _ensure_future's would be made for each task
                    # (a quarter of the hook's instructions on this route).
                    try:
                        f = getframe(3)
                    except ValueError:
                        f = None
                    if f is not None and f.f_code is gather_code:
                        h = f.f_back
                        top = h.f_code if h is not None else None
                        if top is recent[GATHERED] or user_code(id(top)) and _remember(recent, GATHERED, top):
                            slot = (hash_of(wr), id(parent) if parent is not None else None, 3,
                                    ensure_code, -1, gather_code, -1, top, h.f_lasti)
                            queue[0].extend(slot)
                            return
                        h = None
                    gathering[0] = False
                try:
                    f = getframe(2)
                    code = f.f_code
                    if code is create_code or code is ensure_code or caller(id(code)) is code:
                        # asyncio's function, not the program's: the frame above asked.
                        g = f.f_back
                        up = g.f_code if g is not None else None
                        if up is recent[ASKED]:
                            known = True
                        elif up is gather_code:
                            known = False
                        else:
                            known = user_code(id(up)) if g is not None else None
                            if known:
                                recent[ASKED] = up
                        if known:
                            # The usual routes in one step, without a list or a loop:
                            # asyncio's function, then the program's ... (the line of
                            # asyncio's own frames is not read: -1, their first line,
                            # as in await chains; each read of a frame costs)
                            slot = (hash_of(wr), id(parent) if parent is not None else None, 2,
                                    code, -1, up, g.f_lasti, None, -1)
                            queue[0].extend(slot)
                            return
                        if known is False:
                            # ... or two of asyncio's (gather, then _ensure_future).
                            h = g.f_back
                            top = h.f_code if h is not None else None
                            if top is recent[GATHERED] or user_code(id(top)) and _remember(recent, GATHERED, top):
                                slot = (hash_of(wr), id(parent) if parent is not None else None, 3,
                                        code, -1, up, -1, top, h.f_lasti)
                                queue[0].extend(slot)
                                gathering[0] = True
                                return
                            h = None
                        # The task's hash, not its weak reference (see the module docstring).
                        entry = [hash_of(wr), id(parent) if parent is not None else None, 0,
                                 code, f.f_lasti]
                        f = g
                        g = None
                    else:
                        # Frame 1 made the task (the loop's create_task) or asked for it
                        # (asyncio.Task(...) called by the program); frame 2 called it.
                        e = getframe(1)
                        made = e.f_code
                        if made is loop_code or user_code(id(made)) is False:
                            if code is recent[CALLED]:
                                known = True
                            elif code is recent[LIBRARY]:
                                known = False
                            else:
                                known = user_code(id(code))
                                if known is not None:
                                    recent[CALLED if known else LIBRARY] = code
                            if known:
                                # The program called loop.create_task: one step again.
                                slot = (hash_of(wr), id(parent) if parent is not None else None, 2,
                                        made, -1, code, f.f_lasti, None, -1)
                                queue[0].extend(slot)
                                return
                            if known is False:
                                # A library did (aiohttp's request handler): the next
                                # frame is often the loop's dispatch, where walks stop.
                                g = f.f_back
                                up = g.f_code if g is not None else None
                                if up is recent[DISPATCHED] or user_code(id(up)) and _remember(recent, DISPATCHED, up):
                                    slot = (hash_of(wr), id(parent) if parent is not None else None, 3,
                                            made, -1, code, -1, up, g.f_lasti)
                                    queue[0].extend(slot)
                                    return
                                g = None
                        entry = [hash_of(wr), id(parent) if parent is not None else None, 0]
                        f = e  # frame 1 may be where the task was asked for
                        e = None
                except ValueError:
                    entry = [hash_of(wr), id(parent) if parent is not None else None, 0]
                    f = getframe(1)  # made at the top level of a module
                parent = None
                n = depth
                while f is not None and n:
                    code = f.f_code
                    entry.append(code)
                    entry.append(f.f_lasti)
                    if user_code(id(code)):
                        break
                    f = f.f_back
                    n -= 1
                f = None
                entry = pack(entry)
                queue[0].extend(entry)
            except Exception:
                # Not asyncio's: a task-like object given to asyncio._register_task,
                # without _loop (the sampler leaves those alone). Told here, off the
                # hot path.
                if isinstance(item, futures):
                    _failed("recording a new task failed")

    _RecordingWeakSet.__name__ = _RecordingWeakSet.__qualname__ = base.__name__
    _RecordingWeakSet.__module__ = base.__module__
    return _RecordingWeakSet


def _create_task_wrapper(original, registry):
    getframe = sys._getframe
    current_task = asyncio.current_task
    make_ref = weakref.ref
    caller = _callers_of_create_task().get
    user_code = registry.user_codes.get
    queue = registry.queue  # see _recording_set_class
    recent = registry.recent  # see _recording_set_class
    create_code = asyncio.tasks.create_task.__code__
    ensure_code = _ensure_future().__code__
    gather_code = asyncio.tasks.gather.__code__
    depth = MAX_DEPTH
    st = state

    @functools.wraps(original)
    def create_task(self, coro, *args, **kwargs):
        task = original(self, coro, *args, **kwargs)
        # In debug mode the task remembers where it was made, and the original removes
        # at most its own frame from that (compiled loops: none): remove this wrapper's.
        try:
            made_at = task._source_traceback
            if made_at and made_at[-1].filename == __file__:
                del made_at[-1]
        except Exception:
            pass
        if st.active:
            try:
                wr = make_ref(task)
                hash(wr)  # kept by the reference: the entry stays findable once the task is gone
                parent = current_task(self)
                parent = id(parent) if parent is not None else None
                # The routes of the set's hook, in one step where it can (see there; the
                # same lines, inlined in both: a shared function would cost a call per
                # task); frame 1 called the loop's create_task.
                f = getframe(1)
                code = f.f_code
                entry = None
                if code is create_code or code is ensure_code or caller(id(code)) is code:
                    g = f.f_back
                    up = g.f_code if g is not None else None
                    if up is recent[ASKED]:
                        known = True
                    elif up is gather_code:
                        known = False
                    else:
                        known = user_code(id(up)) if g is not None else None
                        if known:
                            recent[ASKED] = up
                    if known:
                        entry = (wr, parent, 2, code, -1, up, g.f_lasti, None, -1)
                    elif known is False:
                        h = g.f_back
                        top = h.f_code if h is not None else None
                        if top is recent[GATHERED] or user_code(id(top)) and _remember(recent, GATHERED, top):
                            entry = (wr, parent, 3, code, -1, up, -1, top, h.f_lasti)
                        h = None
                    g = None
                else:
                    if code is recent[CALLED]:
                        known = True
                    elif code is recent[LIBRARY]:
                        known = False
                    else:
                        known = user_code(id(code))
                        if known is not None:
                            recent[CALLED if known else LIBRARY] = code
                    if known:
                        # The program called loop.create_task. Its line is read: the
                        # sampler then looks for codes to learn in the batch (entries.walked).
                        entry = (wr, parent, 1, code, f.f_lasti, None, -1, None, -1)
                    elif known is False:
                        g = f.f_back
                        up = g.f_code if g is not None else None
                        if up is recent[DISPATCHED] or user_code(id(up)) and _remember(recent, DISPATCHED, up):
                            entry = (wr, parent, 2, code, -1, up, g.f_lasti, None, -1)
                        g = None
                if entry is None:
                    entry = [wr, parent, 0]
                    n = depth
                    while f is not None and n:
                        code = f.f_code
                        entry.append(code)
                        entry.append(f.f_lasti)
                        if user_code(id(code)):
                            break
                        f = f.f_back
                        n -= 1
                    entry = pack(entry)
                f = None
                queue[0].extend(entry)
                entry = None
            except Exception:
                _failed("recording a new task failed")
        try:
            return task
        finally:
            # As asyncio's own create_task does (gh-128552): this frame may outlive the call
            # in the traceback of the task's exception (an eager task that failed in its
            # first step), and must not keep the task alive through it.
            del task

    create_task.__taskscope__ = True
    create_task.__taskscope_original__ = original
    create_task.__taskscope_registry__ = registry
    return create_task


def _run_forever_wrapper(original, registry):
    get_ident = threading.get_ident
    st = state

    @functools.wraps(original)
    def run_forever(self, *args, **kwargs):
        if st.active:
            try:
                registry.loop_ref(self).thread_ident = get_ident()
            except Exception:
                _failed("noting a loop's thread failed")
        return original(self, *args, **kwargs)

    run_forever.__taskscope__ = True
    run_forever.__taskscope_original__ = original
    return run_forever


def _taskgroup_wrapper(original, registry):
    group_ref = registry.group_ref
    regroup_append = registry.regroup.append
    st = state

    @functools.wraps(original)
    def create_task(self, coro, *args, **kwargs):
        task = original(self, coro, *args, **kwargs)
        if st.active:
            try:
                regroup_append((id(task), group_ref(self)))
            except Exception:
                _failed("recording a task's TaskGroup failed")
        try:
            return task
        finally:
            del task  # see _create_task_wrapper

    create_task.__taskscope__ = True
    create_task.__taskscope_original__ = original
    return create_task


def _text(exc):
    try:
        return str(exc)
    except Exception:
        return "(str() of the exception failed)"


def _cancel_all_wrapper(original, registry):
    """``asyncio.runners._cancel_all_tasks``, which ``asyncio.run`` (``Runner.close``) calls
    at the end of its loop: it cancels the tasks still pending, lets them finish, and drops
    them, so that most are freed when it returns, before any sample could see how they
    ended (they would all be reported ``done``). The wrapper holds them over the call, as
    the original's own set does, and then notes how each recorded one ended for the
    sampler (`Registry.outcomes`): a few attribute reads per task, on the program's thread,
    before they are let go at the same point of the program as without the agent."""
    outcomes_append = registry.outcomes.append
    by_addr = registry.by_addr

    @functools.wraps(original)
    def _cancel_all_tasks(loop):
        if not (state.active and by_addr):  # no record (nobody listened yet): nothing to note
            return original(loop)
        try:
            held = asyncio.all_tasks(loop)
        except Exception:
            held = None
        try:
            return original(loop)
        finally:
            if held:
                try:
                    _note_outcomes(held, by_addr, outcomes_append)
                except Exception:
                    _failed("noting how the cancelled tasks ended failed")
            held = None

    _cancel_all_tasks.__taskscope__ = True
    _cancel_all_tasks.__taskscope_original__ = original
    return _cancel_all_tasks


def _note_outcomes(tasks, by_addr, outcomes_append):
    """Notes how each of `tasks` that has a record ended. Reads the task's exception
    without retrieving it (``_exception``; asyncio's runner has retrieved it anyway)."""
    when = time.time()
    for task in tasks:
        ref = by_addr.get(id(task))
        if ref is None or ref() is not task:
            continue  # no record (or a task-like object of a library's, see test_transparency)
        try:
            if not task.done():
                continue
            exc = None
            if task.cancelled():
                outcome = "cancelled"
            else:
                error = getattr(task, "_exception", None)
                if error is None:
                    outcome = "done"
                else:
                    outcome = "failed"
                    exc = (type(error).__qualname__, _text(error),
                           capture_traceback(getattr(error, "__traceback__", None)))
                    error = None
        except Exception:
            _failed("reading how a cancelled task ended failed")
            continue
        outcomes_append((ref, outcome, when, exc))


def _may_be_record_of(ref, task, name, coro_name):
    """Whether `ref`, a record at the address of `task` whose weak reference is dead, may
    still be the record of `task`, which asyncio is finalizing.

    It may in a reference cycle only: there the collector clears every weak reference to
    the task before it runs finalizers. When the task is freed by its last reference going
    (most tasks), the finalizer runs first, while its weak references still live. So while
    the task has a weak reference, a dead one is another task's: one that ended at this
    address before this task was made there (it had no record yet). Without any, the
    record's coroutine and name must be the task's."""
    if weakref.getweakrefcount(task):
        return False
    return (ref.coro is None or ref.coro == coro_name) and (not ref.name or ref.name == name)


def _exception_handler_wrapper(original, registry):
    by_addr = registry.by_addr
    reports_append = registry.reports.append
    queue = registry.queue
    now = time.time
    st = state

    loop_ref = registry.loop_ref

    def note(loop, context):
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
        try:
            name = task.get_name()
        except Exception:
            name = None
        ref = by_addr.get(id(task))
        if ref is not None:
            target = ref()
            if target is not task and (target is not None or not _may_be_record_of(ref, task, name, coro_name)):
                ref = None
            target = None
        if kind is DESTROYED_PENDING:
            details = await_chain(coro) if coro is not None else []
        else:
            exc = context.get("exception")
            details = (type(exc).__qualname__, _text(exc), capture_traceback(getattr(exc, "__traceback__", None)))
            exc = None
        coro = None
        # hash(task) is the hash of the task's entry's weak reference, dead or alive: it
        # finds the entry of a task the sampler has not made a record for yet. The entry,
        # if still on the hook's list, is taken now: a task made at this address once
        # this one is freed, before the sampler handles the report, has the same hash.
        key = hash(task)
        entry = latest_entry(queue[0], key) if ref is None else None
        reports_append((kind, ref, now(), name, coro_name, details, key, entry, loop_ref(loop)))

    @functools.wraps(original)
    def call_exception_handler(self, context):
        if st.active:
            try:
                note(self, context)
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
