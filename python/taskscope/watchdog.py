"""The loop-blocked finding: an event loop that has not got control back for too long.

Runs on the sampler thread, every `period` seconds (at most the sampling interval, and a
quarter of the threshold), so it keeps working while a loop is blocked: it never waits for
a loop. For each running loop it looks at what the loop's thread is doing now:

- busy in a task step when the loop has a current task (``asyncio.current_task(loop)``,
  readable from any thread);
- busy in a plain callback when the thread's stack (``sys._current_frames()``) holds
  ``Handle._run`` above ``BaseEventLoop._run_once`` (the frame above it is the callback);
- otherwise idle (in ``select``, or not inside the loop at all).

A busy thread starts an *episode*: the watchdog posts one marker with
``loop.call_soon_threadsafe``, which runs only once the loop has finished what it is doing
and started its next iteration. While the marker has not run and the same task (the same
callback) is still the one running, no other step of it can have started (a task's next
step is queued after the marker), so the loop has not had control back since the episode
began. When that has lasted `blocked_after` seconds, the watchdog takes the loop thread's
stack at that moment (from the innermost frame out to the task's coroutine frame or the
callback), and the sampler reports it once, while the loop is still blocked.

Costs: per check and running loop, ``is_running()`` and ``current_task()``; one
``sys._current_frames()`` per check when a ``BaseEventLoop`` runs no task (a dict of one
frame per thread); one ``call_soon_threadsafe`` per episode, that is at most one per check
and only while a loop is found busy (an idle loop is never disturbed). Measured (2,000
checks of one idle loop, four threads): about 2 us per check on 3.11, 1.6 us on 3.14, on
the sampler thread. Markers, with a check every 62.5 ms: none for a loop running 200,000
trivial task steps (the checks find its thread in ``select``, where it lets go of the
GIL); 0.7 to 3 per second for steps of about 1 ms of computation each, where 16,000 steps
took 1.358 s with the checks and 1.341 s without (the noise of this machine): negligible.

Limits: the duration is a lower bound (from the first check that saw the loop busy, so a
block is always reported once it lasts `blocked_after` plus one `period`, and may be
missed if shorter); a callback that is not a task step is only recognised on loops that
derive from ``BaseEventLoop`` (uvloop runs callbacks from compiled code); a thread that
holds the GIL for the whole block in C code (one huge ``sorted()``) keeps the sampler
from looking until it lets go, so such a block is seen late or not at all; many short
callbacks with the same function in one loop iteration count as one.
"""

import asyncio
import sys
import weakref

_current_task = asyncio.current_task
_base = asyncio.BaseEventLoop


def _code(function):
    return getattr(function, "__code__", None)


_HANDLE_RUN = _code(asyncio.events.Handle._run)
_RUN_ONCE = _code(_base._run_once)
#: Frames where the loop's own machinery starts: the stack of a finding stops below them.
_DISPATCH = {id(c): c for c in (_HANDLE_RUN, _RUN_ONCE, _code(_base.run_forever), _code(_base.run_until_complete))
             if c is not None}

MAX_FRAMES = 64


def _mark(token):
    token[0] = True


class Episode:
    """One stretch during which a loop was found busy with the same thing."""

    __slots__ = ("start", "task", "code", "token", "reported")

    def __init__(self, start, task, code, token):
        self.start = start
        self.task = weakref.ref(task) if task is not None else None
        self.code = code
        self.token = token
        self.reported = False

    def same(self, task, code):
        if self.task is not None:
            return task is not None and self.task() is task
        return task is None and code is self.code


class Blocked:
    """What the watchdog saw: the sampler turns it into a ``loop-blocked`` event."""

    __slots__ = ("loop", "task", "seconds", "stack")

    def __init__(self, loop, task, seconds, stack):
        self.loop = loop  # LoopRef
        self.task = task  # the running task (a strong reference: the caller drops it)
        self.seconds = seconds
        self.stack = stack  # [code, lasti, ...], innermost first


class Watchdog:
    def __init__(self, blocked_after):
        self.blocked_after = blocked_after
        self.posted = 0  # markers posted (for tests and benchmarks)

    def check(self, loops, now):
        """Looks at every loop of `loops` (LoopRefs); returns a list of `Blocked`."""
        found = []
        frames = None
        for lr in loops:
            loop = lr()
            if loop is None:
                lr.watch = None
                continue
            try:
                if not loop.is_running():
                    lr.watch = None
                    continue
                base = isinstance(loop, _base)
                ident = getattr(loop, "_thread_id", None) if base else None
                if ident is None:
                    ident = lr.thread_ident
                task = _current_task(loop)
                code = None
                if task is None and base:
                    if frames is None:
                        frames = sys._current_frames()
                    code = self._callback(frames.get(ident))
                if task is None and code is None:
                    lr.watch = None
                    continue
                ep = lr.watch
                if ep is not None and ep.token[0]:
                    ep = None  # the loop has had control back since
                if ep is not None and not ep.same(task, code):
                    # Something else runs now in the same loop iteration (the marker has
                    # not run yet, so it still proves that from now on).
                    ep = Episode(now, task, code, ep.token)
                if ep is None:
                    token = [False]
                    loop.call_soon_threadsafe(_mark, token)
                    self.posted += 1
                    ep = Episode(now, task, code, token)
                lr.watch = ep
                if not ep.reported and now - ep.start >= self.blocked_after:
                    ep.reported = True
                    if frames is None:
                        frames = sys._current_frames()
                    stack = self._stack(frames.get(ident), task)
                    found.append(Blocked(lr, task, now - ep.start, stack))
            except RuntimeError:
                lr.watch = None  # closed meanwhile
            finally:
                loop = task = None
        frames = None
        return found

    @staticmethod
    def _callback(frame):
        """The code of the callback a BaseEventLoop's thread runs now, or None when idle."""
        above = None
        depth = 0
        while frame is not None and depth < 256:
            code = frame.f_code
            if code is _HANDLE_RUN:
                return above.f_code if above is not None else code
            if code is _RUN_ONCE:
                return None
            above = frame
            frame = frame.f_back
            depth += 1
        return None

    @staticmethod
    def _stack(frame, task):
        """``[code, lasti, ...]`` from the innermost frame out to the step's outermost."""
        outer = None
        if task is not None:
            try:
                outer = getattr(task.get_coro(), "cr_frame", None)
            except Exception:
                outer = None
        out = []
        while frame is not None and len(out) < 2 * MAX_FRAMES:
            code = frame.f_code
            if _DISPATCH.get(id(code)) is code:
                break
            out.append(code)
            out.append(frame.f_lasti)
            if frame is outer:
                break
            frame = frame.f_back
        return out
