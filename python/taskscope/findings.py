"""Findings: the classic asyncio task bugs, told as protocol ``event`` messages.

The sampler finds them (it owns the records); this module holds what decides them and
the words. Each finding is reported once per task (``stuck``: once per await point, and
``loop-blocked`` once per blocking episode), while the program runs.

fire-and-forget
    At adoption, from the creation frames the hook captured: past asyncio's own
    ``create_task``/``ensure_future`` (which return the task they make), the first frame
    must be the program's, and the instruction after its call must be ``POP_TOP`` (the
    result is discarded) or ``STORE_FAST*`` (bound to a local name). `CallSites` reads that
    with ``dis`` once per (code object, offset); ``f_lasti`` points at the call (3.12+) or
    at its last inline cache entry (3.11), so the next instruction is the first one past
    it. Such a task is a *candidate*; it is reported when, at two looks in a row while it
    is pending and suspended on a future, nothing but the event loop holds it
    (`loop_only_holds`): its reference count, less the sampler's own, equals the number
    of the future's callbacks bound to it (plus 3.14's ``awaited_by`` link). A set, a
    list, an attribute, a global, an awaiting task, a TaskGroup or a gather each hold it
    and so keep it quiet; for a local, the count falls when the frame returns. A task that
    holds itself (a frame that keeps ``current_task()``, an ``asyncio.timeout`` inside it)
    looks held, so it is missed rather than falsely reported; so is a task made through a
    helper of the program's own that returns it, or one whose result is passed straight
    to a call (``weakref.ref(create_task(...))``). Cost: one dict lookup per new task on the
    sampler thread; a few attribute reads per look at a candidate.

destroyed-pending, exception-never-retrieved
    From asyncio's own reports: the hook wraps ``call_exception_handler`` and notes the
    report (see `hooks`); the sampler turns it into an event with the task's record. No
    cost unless asyncio reports something.

orphan
    When a task's finish is seen, its children still pending and in no TaskGroup are
    looked at again `orphan_grace` seconds later (``asyncio.run`` cancels what is left
    when its main task ends, and a cancelled child needs a moment to finish); those still
    pending are orphans. Cost: a list entry per child, compacted as children finish.

stuck
    A pending task whose await point (chain of code objects and offsets, and the very
    future it is suspended on, held weakly) has not changed for `stuck_after` seconds.
    Comparing the future as well tells a consumer that awaits ``queue.get()`` at the same
    line many times from one that waits there once. Cost: a subtraction per look.

loop-blocked
    See `watchdog`.
"""

import dis
import os
import sys

from . import protocol

FIRE_AND_FORGET = "fire-and-forget"
DESTROYED_PENDING = "destroyed-pending"
NEVER_RETRIEVED = "exception-never-retrieved"
ORPHAN = "orphan"
STUCK = "stuck"
LOOP_BLOCKED = "loop-blocked"

DISCARDED = "discarded"
LOCAL = "local"

_refcount = sys.getrefcount


def _count_in_callee(obj):
    return _refcount(obj)


def _sole_in_callee():
    held = object()
    return _count_in_callee(held)


#: ``sys.getrefcount(x)`` inside a function given `x`, when the caller's local is the
#: only other reference (measured: it depends on how the interpreter passes arguments).
_SOLE_IN_CALLEE = _sole_in_callee()


def loop_only_holds(task):
    """True when only the event loop's bookkeeping holds `task`, a task suspended on a
    future: its callbacks on that future (and, on 3.14, the future's ``awaited_by``).

    The caller must hold `task` in one local and pass it directly (the count is compared
    with `_SOLE_IN_CALLEE`). Anything in flight (a step about to run, a callback being
    moved) only adds references, so a race can hide a finding but not invent one."""
    fut = getattr(task, "_fut_waiter", None)
    if fut is None:
        return False
    try:
        if fut.done():
            return False
        held = 0
        callbacks = fut._callbacks or ()
        for entry in callbacks:
            callback = entry[0] if type(entry) is tuple else entry
            if getattr(callback, "__self__", None) is task:
                held += 1
        entry = callback = callbacks = None
        awaited_by = getattr(fut, "_asyncio_awaited_by", None)
        if awaited_by and task in awaited_by:
            held += 1
        awaited_by = None
    finally:
        fut = None
    return held > 0 and _refcount(task) - _SOLE_IN_CALLEE - held <= 0


def _pass_through_codes():
    """Code of asyncio's functions that return the task they create."""
    import asyncio.tasks as tasks

    codes = {}
    for name in ("create_task", "ensure_future", "_ensure_future"):
        code = getattr(getattr(tasks, name, None), "__code__", None)
        if code is not None:
            codes[id(code)] = code
    return codes


class CallSites:
    """Whether the code that made a task kept the task (see the module docstring)."""

    MAX_CACHE = 20000

    def __init__(self, resolver):
        self.resolver = resolver
        self._pass = _pass_through_codes()
        self._after = {}  # (id(code), lasti) -> (code, binding)
        self._listings = {}  # id(code) -> (code, [(offset, opname, argval)])

    def binding(self, captured):
        """``(DISCARDED, None)``, ``(LOCAL, name)`` or None for a hook capture
        (``[code, lasti, ...]``, innermost first)."""
        if not captured:
            return None
        i, n = 0, len(captured) - 1
        passes = self._pass
        while i < n and passes.get(id(captured[i])) is captured[i]:
            i += 2
        if i >= n:
            return None
        code = captured[i]
        if not self.resolver.is_user(code):
            return None
        return self.after_call(code, captured[i + 1])

    def after_call(self, code, lasti):
        key = (id(code), lasti)
        hit = self._after.get(key)
        if hit is not None and hit[0] is code:
            return hit[1]
        if len(self._after) >= self.MAX_CACHE:
            self._after.clear()
            self._listings.clear()
        result = None
        try:
            for offset, opname, argval in self._listing(code):
                if offset <= lasti or opname in ("EXTENDED_ARG", "CACHE", "NOP"):
                    continue
                if opname == "POP_TOP":
                    result = (DISCARDED, None)
                elif opname.startswith("STORE_FAST"):  # STORE_FAST_LOAD_FAST etc. (3.13+)
                    name = argval[0] if isinstance(argval, tuple) else argval
                    result = (LOCAL, name if isinstance(name, str) else None)
                break
        except Exception:
            result = None
        self._after[key] = (code, result)
        return result

    def _listing(self, code):
        entry = self._listings.get(id(code))
        if entry is None or entry[0] is not code:
            listing = [(ins.offset, ins.opname, ins.argval) for ins in dis.get_instructions(code)]
            entry = self._listings[id(code)] = (code, listing)
        return entry[1]


# --- the words -----------------------------------------------------------------------------

def place(frame):
    """``crawler.py:52`` for a Frame dict."""
    if not frame:
        return "an unknown place"
    return "%s:%d" % (os.path.basename(frame["file"]) or frame["file"], frame["line"])


def describe(name, coro):
    text = "Task %r" % (name,) if name else "A task"
    if coro:
        text += " (%s)" % coro
    return text


def _by_library(made_by):
    """``made by library code in StreamReaderProtocol.connection_made (streams.py:258)``: where
    a task that no frame of the program's made was made (`made_by`, a Frame dict)."""
    return "made by library code in %s (%s)" % (made_by["function"], place(made_by))


def _created(site, made_by=None):
    if site:
        return " was created at %s" % place(site)
    return " was %s" % _by_library(made_by) if made_by else " (creation site unknown)"


def _made(site, made_by=None):
    if site:
        return ", created at %s," % place(site)
    return ", %s," % _by_library(made_by) if made_by else ""


def fire_and_forget(time_ms, task_id, name, coro, site, binding, variable, function, made_by=None):
    if binding == LOCAL:
        held = "was kept only in the local variable %r" % variable if variable else "was kept only in a local variable"
        if function:
            held += " of %s" % function
        text = "%s%s and %s, which is gone: keep a reference (a set of background tasks) or await it" % (
            describe(name, coro), _created(site, made_by), held)
    else:
        text = ("%s%s and its only reference was dropped: keep a reference (a set of background tasks) "
                "or await it" % (describe(name, coro), _created(site, made_by)))
    evidence = {"binding": binding}
    if variable:
        evidence["variable"] = variable
    return protocol.event(time_ms, FIRE_AND_FORGET, text, task_id, site, evidence)


def destroyed_pending(time_ms, task_id, name, coro, site, awaiting, where=None, made_by=None):
    """`where`: the innermost of the program's own frames in `awaiting`, if any."""
    where = where or (awaiting[-1] if awaiting else None)
    where = ", waiting at %s" % place(where) if where else ""
    text = ("%s%s was destroyed by the garbage collector while still pending%s: nothing kept a reference "
            "to it; keep one until it finishes" % (describe(name, coro), _made(site, made_by), where))
    return protocol.event(time_ms, DESTROYED_PENDING, text, task_id, site, {"awaiting": awaiting or []})


def never_retrieved(time_ms, task_id, name, coro, site, exc_type, message, traceback, made_by=None):
    raised = " (raised at %s)" % place(traceback[-1]) if traceback else ""
    text = ("%s%s failed with %s: %s%s and nobody retrieved the exception: await the task, or read "
            "task.exception() in a done callback" % (describe(name, coro), _made(site, made_by), exc_type, message, raised))
    evidence = {"type": exc_type, "message": message, "traceback": traceback or []}
    return protocol.event(time_ms, NEVER_RETRIEVED, text, task_id, site, evidence)


def orphan(time_ms, task_id, name, coro, site, parent_id, parent_name, parent_coro, parent_state, made_by=None):
    text = ("%s%s is still pending after the task that created it, %s, ended (%s): await it where it "
            "was created, or create it in a TaskGroup" % (
                describe(name, coro), _made(site, made_by), describe(parent_name, parent_coro).replace("Task ", "task ", 1),
                parent_state))
    return protocol.event(time_ms, ORPHAN, text, task_id, site, {"parent": parent_id, "parentState": parent_state})


def stuck(time_ms, task_id, name, coro, site, waited, awaiting, waiting_on, where=None, made_by=None, idle=None):
    """`where`: the innermost of the program's own frames in `awaiting`, if any; `idle`:
    for a task in ``Queue.join()``, the seconds since an item of the queue was last done,
    when that is less than `waited`."""
    where = place(where or awaiting[-1]) if (where or awaiting) else "the same place"
    on = " on %s" % waiting_on["label"] if waiting_on and waiting_on.get("label") else ""
    made = "created at %s" % place(site) if site or not made_by else _by_library(made_by)
    idle = ", with no item of the queue done in the last %.1f s" % idle if idle is not None else ""
    text = "%s has waited%s at %s for %.1f s%s (%s)" % (describe(name, coro), on, where, waited, idle, made)
    evidence = {"waitedMs": int(waited * 1000), "awaiting": awaiting or []}
    if waiting_on:
        evidence["waitingOn"] = waiting_on
    return protocol.event(time_ms, STUCK, text, task_id, site, evidence)


def loop_blocked(time_ms, task_id, name, coro, blocked, loop_id, thread, stack, blocking, created=None):
    where = "in %s (%s)" % (blocking["function"], place(blocking)) if blocking else "(no Python frame)"
    running = ", running %s" % describe(name, coro).replace("Task ", "task ", 1) if task_id or name else ""
    text = "The event loop (%s) has been blocked for %.2f s so far %s%s" % (thread or loop_id, blocked, where, running)
    evidence = {"blockedMs": int(blocked * 1000), "loop": loop_id, "stack": stack}
    if blocking:
        evidence["blocking"] = blocking
    if created:
        evidence["created"] = created  # where the running task was created
    return protocol.event(time_ms, LOOP_BLOCKED, text, task_id, blocking, evidence)
