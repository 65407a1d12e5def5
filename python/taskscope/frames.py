"""Where code lives: turning captured ``(code, lasti)`` pairs into protocol frames.

The hot path (`hooks`) captures only code objects and instruction offsets (``f_lasti``,
an attribute read; ``f_lineno`` would decode the line table on the program's thread).
This module, used on the sampler thread, resolves them: file, line (from
``code.co_lines()``, the same table ``f_lineno`` reads), qualified function name, and
whether the code is the program's own ("user" code: not the standard library, not
site-packages, not the agent).

`FrameResolver` caches per code object, keyed by ``id(code)`` (hashing a code object
hashes its contents, which costs more than everything else the hot path does) with the
code object kept in the entry so that the id cannot be reused while cached.
`Registry.user_codes` (``id(code) -> bool``) receives what it learns, so that the hot
path can stop walking the stack at the first frame known to be the program's.
"""

import os
import site
import sys
import sysconfig

from .lasti import lasti as read_lasti

_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
_AGENT_PREFIX = os.path.normcase(os.path.join(_AGENT_DIR, ""))
_SEGMENTS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def _norm(path):
    return os.path.normcase(os.path.abspath(path))


def _library_roots():
    """Folders whose code is not the program's own, each ending with a separator."""
    roots = set()
    try:
        paths = sysconfig.get_paths()
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            if paths.get(key):
                roots.add(paths[key])
    except Exception:
        pass
    for getter in (getattr(site, "getsitepackages", None), ):
        try:
            roots.update(getter() if getter else ())
        except Exception:
            pass
    try:
        user_site = site.getusersitepackages()
        if user_site:
            roots.add(user_site)
    except Exception:
        pass
    # The folder of the stdlib module that defines `os`, whatever the layout (venvs, embeds).
    roots.add(os.path.dirname(os.__file__))
    roots.add(_AGENT_DIR)
    return tuple(sorted({_norm(r).rstrip(os.sep) + os.sep for r in roots if r}))


def _loop_dispatch_codes():
    """Where an event loop calls a callback or a task's step (``Handle._run``)."""
    import asyncio.events

    code = getattr(asyncio.events.Handle._run, "__code__", None)
    return {id(code): code} if code is not None else {}


_LOOP_DISPATCH = _loop_dispatch_codes()


def _codes_of(*functions):
    codes = (getattr(f, "__code__", None) for f in functions)
    return {id(c): c for c in codes if c is not None}


def _loop_runner_codes():
    """What runs an event loop: ``asyncio.run``, ``Runner.run`` (3.11+), and a loop's
    ``run_until_complete`` and ``run_forever``. A loop whose callbacks and task steps are
    called from compiled code (uvloop) leaves no frame of its own between a callback's frame
    and the runner's, so a walk up from a task made in a callback goes on past the loop."""
    import asyncio.base_events
    import asyncio.runners

    base = asyncio.base_events.BaseEventLoop
    runner = getattr(asyncio.runners, "Runner", None)
    return _codes_of(asyncio.runners.run, getattr(runner, "run", None), base.run_until_complete, base.run_forever)


def _task_making_codes():
    """asyncio's functions that a loop runner calls to make its main task (``Runner.run``
    calls the loop's ``create_task``; 3.10's ``run_until_complete``, ``ensure_future``)."""
    import asyncio.base_events
    import asyncio.tasks

    return _codes_of(asyncio.tasks.create_task, asyncio.tasks.ensure_future,
                     getattr(asyncio.tasks, "_ensure_future", None), asyncio.base_events.BaseEventLoop.create_task,
                     asyncio.base_events.BaseEventLoop.run_until_complete)


_LOOP_RUNNERS = _loop_runner_codes()
_TASK_MAKERS = _task_making_codes()
_UVLOOP_INIT = os.path.join("uvloop", "__init__.py")


def _runs_loop(code):
    """Whether `code` runs an event loop (see `_loop_runner_codes`; uvloop's ``run`` too)."""
    return (_LOOP_RUNNERS.get(id(code)) is code
            or (code.co_name == "run" and code.co_filename.endswith(_UVLOOP_INIT)))


#: The methods of a loop that run it: a line that calls one (``loop.run_until_complete(main())``
#: in the program, or in a library such as aiohttp's ``web.run_app``) runs the loop.
_RUNNER_METHODS = frozenset(("run_until_complete", "run_forever"))


def _lines_calling_runner(code):
    """The lines of `code` that load a loop's running method as an attribute (on the sampler
    thread, once per code object: `dis` is imported then, not at start-up)."""
    import dis

    offsets = [ins.offset for ins in dis.get_instructions(code)
               if ins.opname in ("LOAD_METHOD", "LOAD_ATTR") and ins.argval in _RUNNER_METHODS]
    if not offsets:
        return frozenset()
    lines = set()
    for start, end, line in code.co_lines():
        if line is not None and any(start <= offset < end for offset in offsets):
            lines.add(line)
    return frozenset(lines)


def _key(codes, captured):
    """A cache key for a ``[code, lasti, ...]`` capture: the ids of its code objects, then
    its offsets (hashing a code object hashes its contents; the caller keeps the code
    objects to check that the ids still name them)."""
    return tuple(map(id, codes)) + tuple(captured[1::2])


_QUALNAMES = None


def _asyncio_qualnames():
    """``id(code) -> qualified name`` of the functions and methods of asyncio's modules,
    for 3.10, where a code object has no ``co_qualname`` (``Event.wait`` and
    ``asyncio.wait`` are both "wait" there). Made once, on the sampler thread; the code
    objects live as long as asyncio's modules."""
    global _QUALNAMES
    if _QUALNAMES is None:
        names = {}
        for module_name, module in list(sys.modules.items()):
            if module is None or not (module_name == "asyncio" or module_name.startswith("asyncio.")):
                continue
            for value in list(vars(module).values()):
                members = list(vars(value).values()) if isinstance(value, type) else [value]
                for member in members:
                    function = getattr(member, "__func__", member)  # classmethod, staticmethod
                    code = getattr(function, "__code__", None)
                    if code is not None and getattr(function, "__qualname__", None):
                        names.setdefault(id(code), function.__qualname__)
        _QUALNAMES = names
    return _QUALNAMES


def qualname(code, asyncios=True):
    """The qualified name of `code`: ``co_qualname`` (3.11+); on 3.10, where code objects
    know their bare name only, the name found in asyncio's modules (see above) when
    `asyncios` says the code may be asyncio's, else the bare name."""
    name = getattr(code, "co_qualname", None)
    if name is None:
        name = (_asyncio_qualnames().get(id(code)) if asyncios else None) or code.co_name
    return name


_COMPREHENSIONS = (".<locals>.<listcomp>", ".<locals>.<genexpr>", ".<locals>.<setcomp>", ".<locals>.<dictcomp>")


def enclosing(function):
    """The name of the function a comprehension is in: Python 3.11 and older run a
    comprehension as a function of its own (``branch.<locals>.<listcomp>``), 3.12 and later
    inline it, so that a site reads the same on every version."""
    for suffix in _COMPREHENSIONS:
        if function.endswith(suffix):
            return function[:-len(suffix)]
    return function


class Made(tuple):
    """A resolved creation: ``(site, stack, codes)`` (see `FrameResolver.made`). Its own
    class tells it apart from a raw capture in the record's slot both share
    (`registry._Record.origin`)."""

    __slots__ = ()


class FrameResolver:
    """Resolves code objects to protocol frames; one per sampler (not thread-safe)."""

    MAX_CACHE = 20000

    def __init__(self, user_codes=None, roots=None):
        self._roots = _library_roots() if roots is None else roots
        self._codes = {}  # id(code) -> [file, function, is_user, line table or None, code]
        self._files = {}  # co_filename -> is_user
        self._agent_files = {}  # co_filename -> the agent's own
        self._frames = {}  # (id(code), lasti, user) -> Frame dict, shared: never mutate one
        self._creations = {}  # _key of a capture -> (site, stack, its code objects)
        self._construction = {}  # id(code) -> code: see mark_construction
        self._chains = {}  # chain key -> (chain tuple, frames): see chain
        self._runner_lines = {}  # id(code) -> (code, lines that call a loop's run method)
        #: Shared with the hot path: id(code) -> bool, for codes held in ``_codes``.
        self.user_codes = {} if user_codes is None else user_codes
        #: True once a code object of the program's own was classified (the hot path's
        #: walks then stop there; the loop's dispatch, where they also stop, is no such).
        self.knows_user_code = False
        self._seed_stops()

    def is_agent_file(self, filename):
        known = self._agent_files.get(filename)
        if known is None:
            known = self._agent_files[filename] = _norm(filename).startswith(_AGENT_PREFIX)
        return known

    def is_user_file(self, filename):
        known = self._files.get(filename)
        if known is None:
            known = self._files[filename] = self._classify(filename)
        return known

    def _classify(self, filename):
        if not filename:
            return False
        if filename.startswith("<"):
            # <frozen runpy>, <frozen importlib._bootstrap> are the standard library;
            # <string>, <stdin>, <ipython-input-…> are the program's own.
            return not filename.startswith("<frozen ")
        path = _norm(filename)
        if any(seg in path for seg in _SEGMENTS):
            return False
        return not path.startswith(self._roots)

    def _entry(self, code):
        key = id(code)
        entry = self._codes.get(key)
        if entry is None or entry[4] is not code:
            if len(self._codes) >= self.MAX_CACHE:
                self.user_codes.clear()
                self._codes.clear()
                self._frames.clear()
                self._creations.clear()
                self._seed_stops()
            user = self.is_user_file(code.co_filename) and self._construction.get(key) is not code
            function = enclosing(qualname(code, asyncios=not user))
            entry = self._codes[key] = [code.co_filename, function, user, None, code]
            if user:
                self.knows_user_code = True
            # The hot path stops its walk where this is true: at the program's code, and at
            # the event loop's dispatch (a task made by library code has no frame of the
            # program's below the loop; the frames above it only run the loop).
            self.user_codes[key] = user or _LOOP_DISPATCH.get(key) is code
        return entry

    def _seed_stops(self):
        for code in _LOOP_DISPATCH.values():
            self._entry(code)

    def mark_construction(self, code):
        """Makes `code` count as not the program's own, whatever its file: a task factory
        or a Task subclass's ``__init__``, which only build the task (the hot path then
        walks past it to where the task was asked for)."""
        self._construction[id(code)] = code
        entry = self._entry(code)
        entry[2] = False
        self.user_codes[id(code)] = False

    def _runs_loop_at(self, code, lasti):
        """Whether `code`, at offset `lasti`, runs an event loop: one of the runners
        (`_runs_loop`), or a line that calls a loop's ``run_until_complete`` or
        ``run_forever`` (the program's own ``loop.run_until_complete(main())`` on uvloop,
        aiohttp's ``web.run_app``)."""
        if _runs_loop(code):
            return True
        if lasti < 0:
            return False
        entry = self._runner_lines.get(id(code))
        if entry is None or entry[0] is not code:
            if len(self._runner_lines) >= self.MAX_CACHE:
                self._runner_lines.clear()
            try:
                lines = _lines_calling_runner(code)
            except Exception:
                lines = frozenset()
            entry = self._runner_lines[id(code)] = (code, lines)
        return bool(entry[1]) and self.line(code, lasti) in entry[1]

    def _makes_task(self, code):
        """asyncio's functions that make a task, and the task factories and Task subclasses'
        ``__init__`` the hook found (`mark_construction`)."""
        key = id(code)
        return _TASK_MAKERS.get(key) is code or self._construction.get(key) is code

    def is_user(self, code):
        return self._entry(code)[2]

    def learn(self, captured):
        """Classifies the code objects of a capture (filling ``user_codes``), so that the
        hot path stops at the program's frame from now on; stops at the first user code."""
        for i in range(0, len(captured), 2):
            if self._entry(captured[i])[2]:
                return

    def line(self, code, lasti):
        """The line of the instruction at byte offset `lasti` (0 when unknown)."""
        entry = self._entry(code)
        table = entry[3]
        if table is None:
            try:
                table = entry[3] = [(start, end, line) for start, end, line in code.co_lines()]
            except Exception:
                table = entry[3] = []
        if lasti < 0:
            return code.co_firstlineno or 0
        lo, hi = 0, len(table)
        while lo < hi:  # the ranges are sorted and contiguous
            mid = (lo + hi) // 2
            start, end, line = table[mid]
            if lasti < start:
                hi = mid
            elif lasti >= end:
                lo = mid + 1
            else:
                return line if line is not None and line >= 0 else 0
        return 0

    def frame(self, code, lasti, user=False):
        """A protocol Frame (shared and cached: callers must not change it);
        `user=True` adds ``"user": true``."""
        key = (id(code), lasti, bool(user))
        frame = self._frames.get(key)
        if frame is None or self._codes.get(key[0], (None,) * 5)[4] is not code:
            entry = self._entry(code)
            frame = {"file": entry[0], "line": self.line(code, lasti), "function": entry[1]}
            if user:
                frame["user"] = True
            if len(self._frames) >= self.MAX_CACHE:
                self._frames.clear()
            self._frames[key] = frame
        return frame

    def creation(self, captured, limit=8):
        """(site, stack) from a flat ``[code, lasti, code, lasti, ...]`` capture.

        `stack` is innermost first and ends at the site (the first user frame, marked
        ``user: true``); without a user frame it holds the first `limit` frames and
        `site` is None.
        """
        made = self.made(captured, limit)
        return made[0], made[1]

    def made(self, captured, limit=8):
        """``(site, stack, codes)`` as `creation` tells them, one shared `Made` for every
        task made at the same place (records keep it: one slot, no object of their own)."""
        codes = tuple(captured[::2])
        key = _key(codes, captured)
        cached = self._creations.get(key)
        if cached is not None and cached[2] == codes:  # the same code objects (identity first)
            return cached
        stack = []
        site_frame = None
        for i in range(0, len(captured) - 1, 2):
            code = captured[i]
            if self.is_agent_file(code.co_filename):
                continue  # the agent's own wrappers (TaskGroup.create_task's)
            if i and self._runs_loop_at(code, captured[i + 1]) and not (
                    self._runs_loop_at(captured[i - 2], captured[i - 1]) or self._makes_task(captured[i - 2])):
                # What runs the loop, above a frame that it did not call to make a task or to
                # run the loop (a callback's, on uvloop): the walk went past the loop. What made
                # the task is below it: a library's callback (a server's connection tasks).
                break
            if self.is_user(code):
                site_frame = self.frame(code, captured[i + 1], user=True)
                stack.append(site_frame)
                break
            if len(stack) < limit:
                stack.append(self.frame(code, captured[i + 1]))
        if len(self._creations) >= self.MAX_CACHE:
            self._creations.clear()
        made = self._creations[key] = Made((site_frame, stack, codes))
        return made

    def chain(self, captured):
        """``(chain, frames)`` for an await chain ``[code, lasti, ...]``: a tuple and its
        protocol frames, the same two objects for every task waiting at the same place
        (thousands of tasks idle at one ``await`` share them). Never change either."""
        codes = tuple(captured[::2])
        key = _key(codes, captured)
        hit = self._chains.get(key)
        if hit is not None and hit[0][::2] == codes:  # the same code objects (identity first)
            return hit
        if len(self._chains) >= self.MAX_CACHE:
            self._chains.clear()
        hit = self._chains[key] = (tuple(captured), self.frames_of(captured))
        return hit

    def frames_of(self, captured):
        """Frames for a flat ``[code, lasti, ...]`` list, in its order; those of the
        program's own code marked ``"user": true`` (where it waits, where it failed: the
        extension opens the program's frame, not asyncio's)."""
        frame = self.frame
        is_user = self.is_user
        return [frame(captured[i], captured[i + 1], is_user(captured[i])) for i in range(0, len(captured) - 1, 2)]


def capture_stack(frame, limit=64):
    """``[code, lasti, ...]`` for `frame` and its callers (innermost first)."""
    out = []
    while frame is not None and limit:
        out.append(frame.f_code)
        out.append(frame.f_lasti)
        frame = frame.f_back
        limit -= 1
    return out


def capture_traceback(tb, limit=30):
    """``[code, lasti, ...]`` of a traceback, outermost first, at most the last `limit`."""
    out = []
    while tb is not None:
        out.append(tb.tb_frame.f_code)
        out.append(tb.tb_lasti)
        tb = tb.tb_next
    if len(out) > 2 * limit:
        out = out[-2 * limit:]
    return out


def _code_and_next(coro):
    """``(code, awaited)`` of a coroutine or generator-based coroutine that has not
    finished, reading its frame only when it is neither suspended nor running (3.11+ tell
    so without a frame); ``(None, None)`` for anything else."""
    code = getattr(coro, "cr_code", None)
    if code is not None:
        if not (getattr(coro, "cr_suspended", False) or coro.cr_running) and coro.cr_frame is None:
            return None, None  # finished
        return code, coro.cr_await
    code = getattr(coro, "gi_code", None)
    if code is not None:
        if not (getattr(coro, "gi_suspended", False) or coro.gi_running) and coro.gi_frame is None:
            return None, None
        return code, getattr(coro, "gi_yieldfrom", None)
    return None, None


def iter_await_chain(coro, limit=64):
    """Yields ``(coroutine, code)`` down a coroutine's await chain, outermost first.

    Follows ``cr_await`` (``gi_yieldfrom`` for generator-based coroutines) while the
    awaited object is itself a coroutine, at most `limit` steps. Reads no frame: reading
    a suspended coroutine's ``cr_frame`` makes Python create a frame object for it and keep
    it as long as the coroutine lives. `chain_matches` walks the same way without this
    generator, because it must not allocate.
    """
    while coro is not None and limit:
        code, nxt = _code_and_next(coro)
        if code is None:
            return
        yield coro, code
        coro = nxt
        limit -= 1


#: The offset `await_chain` gives a coroutine that has not started (its function's first
#: line), where its frame says -1 (3.10): -1 there means "not read", which `chain_matches`
#: does not compare, and a task first seen before its first step would never be seen
#: waiting further on.
NOT_STARTED = -2


def _lasti(coro):
    lasti = read_lasti(coro)  # without a frame object, where that can be done (see `lasti`)
    if lasti is not None:
        return lasti
    frame = getattr(coro, "cr_frame", None)
    if frame is None:
        frame = getattr(coro, "gi_frame", None)
    if frame is None:
        return -1
    lasti = frame.f_lasti
    return lasti if lasti >= 0 else NOT_STARTED


def await_chain(coro, limit=64, is_user=None):
    """``[code, lasti, ...]`` of a coroutine's await chain, outermost first.

    With `is_user` (code -> bool), the offset is read only for the program's own code and
    is -1 for the rest (the library's line is then its function's first; see
    `iter_await_chain` for why); without it, for every coroutine."""
    out = []
    for c, code in iter_await_chain(coro, limit):
        out.append(code)
        out.append(_lasti(c) if is_user is None or is_user(code) else -1)
    return out


def chain_matches(coro, sig, limit=64):
    """True when `coro`'s await chain is exactly `sig` (as `await_chain` built it: an
    offset of -1 is not compared, and that coroutine's frame is not read).

    Compares as it walks, by identity of the code objects, without building a list: the
    sampler calls it for every waiting task it looks at.
    """
    if sig is None:
        return False
    i = 0
    n = len(sig)
    while coro is not None and limit:
        code, nxt = _code_and_next(coro)
        if code is None:
            break
        if i >= n or sig[i] is not code:
            return False
        lasti = sig[i + 1]
        if lasti != -1 and lasti != _lasti(coro):
            return False
        i += 2
        coro = nxt
        limit -= 1
    return i == n
