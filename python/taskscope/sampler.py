"""The sampler: a daemon thread that reads the tasks and builds snapshots, deltas and findings.

Every ``interval`` seconds (``TASKSCOPE_INTERVAL``, default 0.1; later after a sample that
took long: see `MAX_DUTY`), while an extension listens or a recording is written (the sink
says), it

1. takes the entries the hook queued since the last sample (see `registry`), and makes
   records for those queued before the last one (see `_adopt_new`: tasks still pending,
   failed or cancelled; a few that ended well; at most `ADOPT_PER_SAMPLE`), links each to
   its parent (`entries` tells which task had the parent's address), and notes whether the
   creating code kept the task, for fire-and-forget (creation frames are resolved later,
   only when a record is first sent),
2. turns asyncio's reports about dying tasks (noted by the hook) into findings (with a
   record made from the task's entry if it had none), then handles records whose task was
   collected,
3. where the hook is the ``create_task`` wrapper (3.14), every `RESCAN_EVERY` samples,
   looks through the loops' tasks for tasks it could not see (``asyncio.Task(...)``),
4. reads the live tasks that are due (a timing wheel: see `_observe_due`): ``_state``, the
   loop's current task (``running``), its name and its await point (the future it is
   suspended on, through a weak reference: the same one means it has not moved; else the
   await chain, compared with the last one by identity of the code objects and
   instruction offsets without allocating), resolved into frames and ``waitingOn``
   (`waits`) only when it moved; a pending task is checked for stuck and, if a candidate,
   fire-and-forget (`findings`),
5. looks again at children still pending a moment after their parent ended (orphans),
6. forgets finished tasks after `HISTORY_SECONDS` or past `HISTORY_MAX` (``remove``),
7. sends a snapshot when the transport asks for one (new session, or messages were
   dropped: one ``snapshot`` and ``delta`` messages for the rest, `SNAPSHOT_CHUNK` tasks
   each), else a ``delta`` with only the records that changed, else nothing; then the
   findings of this sample, as ``event`` messages.

Between samples, every `watch_period` seconds, the `watchdog` looks for blocked loops.

While nobody listens it only keeps the entries of live tasks (and teaches the hook which
code is the program's) and forgets those whose task died: the next session starts with a
snapshot.

Costs: a sample looks at the tasks that are due, that run, that were just made or
collected; quiet tasks come due less and less often, within bounds (`QUIET_SECONDS`,
`QUIET_LOOKS_PER_SAMPLE`). Known limits: a task that ends well within one sample is
counted, not listed; a task collected between two looks is reported as ``done`` (or as
failed, when asyncio reports its exception) with its collection time, since its outcome
can no longer be read.

It also runs the extension's commands, on this thread, so that records are only ever
touched here. It never calls into the loop except through ``call_soon_threadsafe`` (for
``cancel``), and never keeps a task alive: each task is dereferenced from its weak
reference, read, and released before the next one. It reads ``Future._exception``
rather than ``exception()``, which would mark the exception as retrieved and silence
asyncio's "exception was never retrieved" report.
"""

import asyncio
import gc
import math
import sys
import threading
import time
import weakref
from collections import deque
from itertools import compress

from . import findings, hooks, protocol
from .findings import CallSites, loop_only_holds
from .frames import FrameResolver, await_chain, capture_traceback, chain_matches
from .log import log
from .entries import (FRAMES, STRIDE, EntryLog, TaskLookup, entry_end, entry_stack, hash_or_none, heads, keys_at,
                      latest_entry, pack, pointer_hash, unknown_codes, walked)
from .registry import RECORDS, is_eager, untrack
from .waits import RUN_UNTIL_CANCELLED, WaitClassifier
from .watchdog import Watchdog

HISTORY_SECONDS = 30.0
HISTORY_MAX = 1000
RESCAN_EVERY = 10
#: A task found unchanged is looked at again after 1, 2, 4, ... samples, at most this
#: many seconds apart (a finished task that is dropped is still seen at once: its weak
#: reference reports the collection).
QUIET_SECONDS = 0.5
MIN_INTERVAL = 0.005
MAX_INTERVAL = 60.0
MESSAGE_LIMIT = 1000  # characters of an exception message or cancel message
STUCK_AFTER = 10.0
BLOCKED_AFTER = 0.25
#: Children of ended tasks watched for orphans while nobody listens, at most (the oldest go).
ORPHAN_WATCH_MAX = 10_000
#: Seconds a collected task's record stays findable by address (see `registry`).
STALE_SECONDS = 2.0
#: A task that waits at the same place again and again (a consumer at ``queue.get()``)
#: has its new ``waitingSince`` sent at most this often.
REPUBLISH_SECONDS = 1.0
#: A live task that changes at look after look (a server connection's task, on a new
#: request each time) is sent at most every this many seconds; its latest state goes out
#: once the time has passed (see `_release_held`). Each change cost a whole record on the
#: wire: 64 busy connections of an aiohttp server made 300 KiB/s of deltas.
BUSY_PUBLISH_SECONDS = 0.5
#: Tasks that ended well before a sample adopted them, but are still referenced, get a
#: record (state and all, for the history) up to this many per sample; the others only
#: count (`Sampler.short_lived`): a program making thousands of tiny tasks a second pays
#: for twenty records a sample, not for thousands.
SHORT_LIVED_PER_SAMPLE = 20
#: The sampler's share of one core at most: after a sample that took `t` seconds of its
#: thread's time, the next one comes `t / MAX_DUTY` seconds later if that is longer than
#: the interval (the program's threads wait for the interpreter lock while it works), but
#: never more than `MAX_GAP` seconds later (a burst of new tasks may then cost more).
MAX_DUTY = 0.05
MAX_GAP = 2.0
#: Until the hook knows one frame of the program's code, it walks up to `hooks.MAX_DEPTH`
#: frames per new task (three times the cost of a task): in the first `EAGER_SECONDS`, the
#: sampler samples every `EAGER_INTERVAL` until it has learnt one, so that a program that
#: starts with a burst of tasks pays for a few milliseconds of them, not a whole interval.
EAGER_SECONDS = 1.0
EAGER_INTERVAL = 0.01
#: Between samples, `Sampler.learn_recent` looks at the entries queued since it last did at
#: least this often, whatever the interval: until the hook knows a new place, it walks up
#: the stack for every task made there (with samples 30 s apart, a gather of 10,000
#: coroutines took 1.9 times as long as without the agent, against 1.2).
LEARN_INTERVAL = 0.1
#: Past this many entries in the hook's queue, the next sample comes at once, whatever the
#: interval or `MAX_DUTY`: the queue's memory grows with it, and where the garbage collector
#: could not be told to leave the queue alone (`registry.untrack`) it goes through every item
#: at each full collection (with samples 30 s apart and the queue never taken, a gather of
#: 10,000 coroutines took 1.45 times as long as without the agent). A sample takes it whole.
QUEUE_MAX_ENTRIES = 100_000
#: Records made per sample at most; the entries of other live tasks wait for the next.
ADOPT_PER_SAMPLE = 5000
#: A new task that has not taken its first step yet gets its record up to this many
#: seconds later (see `Sampler._adopt_items`): most tasks of a burst end before then.
DEFER_SECONDS = 0.5
#: Findings sent per sample at most (the rest are not sent: a program with 100,000 tasks
#: in trouble must not flood the connection, which would drop messages and start over
#: with snapshots).
EVENTS_PER_SAMPLE = 100
#: Stuck tasks told per await point (the same await chain): thousands of tasks waiting at
#: one place are one problem.
STUCK_PER_PLACE = 5
#: Tasks whose deadline the sampler remembers at most (see `Sampler._under_deadline`).
DEADLINES_MAX = 100_000
#: Task records per message of a snapshot (see `Sampler.build_snapshot`).
SNAPSHOT_CHUNK = 2000
#: Quiet tasks looked at per sample, about: with more live tasks than this many times
#: the samples in `QUIET_SECONDS`, a quiet task is looked at less often than that (the
#: cost of a sample stays bounded; how late a change of a long-quiet task is seen grows
#: with the number of tasks), at most every `QUIET_MAX_SECONDS`.
QUIET_LOOKS_PER_SAMPLE = 300
QUIET_MAX_SECONDS = 30.0
#: A candidate fire-and-forget task is reported after this many looks in a row at which
#: only the loop held it.
SUSPECT_LOOKS = 2

_current_task = asyncio.current_task
_refcount = sys.getrefcount


def _sole_owner_count():
    held = object()
    return _refcount(held)


#: What ``sys.getrefcount(task)`` returns when the sampler's local is the only reference.
_SOLE = _sole_owner_count()


def _cancel_each(tasks, msg):
    """On a task's loop: cancels `tasks` (of that loop) one after the other, in one
    callback, then lets go of them (on the loop's thread, where a task may be finalized)."""
    try:
        for task in tasks:
            try:
                task.cancel(msg)
            except Exception:
                log.exception("cancelling %r failed", task)
    finally:
        del tasks[:]


def _noop(_task):
    pass


def _unstarted(task):
    """True when `task` is pending and its coroutine has not begun: 3.11+ tell so without
    reading a frame; 3.10, where every frame is an object anyway, by the frame's offset
    (-1 until it starts). For anything but a coroutine, False."""
    if getattr(task, "_state", None) != "PENDING":
        return False
    coro = task.get_coro()
    suspended = getattr(coro, "cr_suspended", None)
    if suspended is None:
        if _HAS_SUSPENDED:
            return False  # not a coroutine
        frame = getattr(coro, "cr_frame", None)
        return frame is not None and frame.f_lasti < 0 and not coro.cr_running
    return not suspended and not coro.cr_running


#: Coroutines tell whether they are suspended from 3.11 on (``cr_suspended``).
_HAS_SUSPENDED = sys.version_info >= (3, 11)


def _weak_all_tasks():
    """asyncio's weak set of (scheduled) tasks, where it holds every task.

    Python 3.14 keeps its own (C) tasks in per-thread lists instead, and the weak set
    holds only tasks of other classes: there the tasks are read per loop."""
    if sys.version_info >= (3, 14):
        return None
    tasks_module = asyncio.tasks
    for name in ("_all_tasks", "_scheduled_tasks"):
        ws = getattr(tasks_module, name, None)
        if ws is not None and hasattr(ws, "data"):
            return ws
    return None


class _ProbeTask:
    """What `_foreign_task_sets` registers for a moment: done, on no loop, as asyncio's
    ``all_tasks()`` would read it."""

    __slots__ = ("__weakref__",)

    def done(self):
        return True

    def get_loop(self):
        return None


def _foreign_task_sets():
    """Python 3.14+: the sets where asyncio keeps the task-like objects that are not its
    own tasks (``_register_task`` and ``_register_eager_task`` of an object of another
    class), a weak set and a set; ``asyncio.all_tasks()`` calls ``done()`` and
    ``get_loop()`` of each, which the sampler must not do from its thread (see
    `Sampler._discover`). Found once, when the agent starts: a probe object is registered,
    the sets that hold it are noted (the weak set through the callback of its weak
    reference), and it is unregistered. None when they cannot be found."""
    if sys.version_info < (3, 14):
        return None
    try:
        import _asyncio
    except ImportError:
        return None
    found = []
    probe = _ProbeTask()
    try:
        _asyncio._register_task(probe)
        try:
            for wr in weakref.getweakrefs(probe):
                for default in getattr(wr.__callback__, "__defaults__", None) or ():
                    holder = default() if isinstance(default, weakref.ref) else None
                    if isinstance(holder, weakref.WeakSet) and wr in holder.data:
                        found.append(holder.data)
        finally:
            _asyncio._unregister_task(probe)
        _asyncio._register_eager_task(probe)
        try:
            found.extend(r for r in gc.get_referrers(probe) if type(r) is set)
        finally:
            _asyncio._unregister_eager_task(probe)
    except Exception:
        log.exception("asyncio's sets of task-like objects were not found")
        return None
    return tuple(found) if len(found) == 2 else None


def _construction_codes():
    """Code that makes a task on the way to asyncio's all-tasks set (not where the
    program made it): cut from the start of a captured creation stack."""
    import asyncio.tasks as tasks

    codes = {}
    for fn in (asyncio.BaseEventLoop.create_task, getattr(getattr(tasks, "_PyTask", None), "__init__", None),
               getattr(tasks, "_py_register_task", None), getattr(tasks, "_register_task", None)):
        code = getattr(fn, "__code__", None)
        if code is not None:
            codes[id(code)] = code
    return codes


_ASYNCIO_TASKS = tuple(t for t in (asyncio.Task, getattr(asyncio.tasks, "_PyTask", None),
                                   getattr(asyncio.tasks, "_CTask", None)) if t is not None)

_FUTURES = hooks.FUTURES  # see there


def _later_keys(keys, items, offset=0):
    """Those of `keys` (a set of ints) that are the key of an entry of `items` (hashes)
    from `offset` on, as a set; and the offset past the last entry read. C-level: the
    entries are a burst's, the keys few."""
    n = len(items) if items else 0
    if offset >= n or not keys:
        return set(), n
    return keys.intersection(items[offset:n:STRIDE]), n


def _last_ks(keys, wanted):
    """The k of the last entry with each key of `wanted` (a set) in `keys`, ascending: an
    earlier entry with the same key is an earlier task at that address. Only the entries
    with a wanted key are indexed, in C: a dict of every key of a burst (tens of
    thousands) cost more than the rest of the pass, most of it the kernel's page faults
    on its fresh memory."""
    if not wanted:
        return []
    ks = list(compress(range(len(keys)), map(wanted.__contains__, keys)))
    return sorted(dict(zip(map(keys.__getitem__, ks), ks)).values())


def _add_keys(keys, items, offset):
    """Adds the key of each entry of `items` from `offset` on to the dict `keys` (hashed,
    where the key is a weak reference; continuation slots add None), as keys; returns the
    offset past the last one. The hook adds whole entries at once, so the length read is
    at the end of one. A dict of ints, not a set: the garbage collector does not track it
    (a set it does, and goes through its items at every collection while it lives)."""
    n = len(items)
    if offset < n:
        column = items[offset:n:STRIDE]
        if type(column[0]) is not int:  # weak references (3.14)
            column = map(hash_or_none, column)
        keys.update(dict.fromkeys(column))
    return n


#: How long a TaskGroup's note waits for its task's record (see `Sampler._regroup`).
GROUP_NOTE_SECONDS = DEFER_SECONDS + 2 * MAX_GAP


def _in_group(ref, group):
    """True when the task of `ref` is one of the live tasks of the TaskGroup of `group` (a
    `GroupRef`): a note names the task by address, which a later task may have taken."""
    task = ref()
    tg = group()
    try:
        tasks = getattr(tg, "_tasks", None) if tg is not None else None
        return task is not None and (tasks is None or task in tasks)
    finally:
        if task is not None and _refcount(task) <= _SOLE:
            Sampler._hand_back(task)
        task = tg = None


#: Tasks looked up at once in asyncio's set (see `Sampler._live_refs`).
LOOKUP_CHUNK = 1024

#: The states of a live task's record (adopted, not finished).
LIVE_STATES = frozenset(("pending", "running"))


def _num_of(ref):
    return ref.num


def _part(items, start, stop=None):
    """``items[start:stop]``; where `items` is a list (the hook's queue as taken, see
    `Registry.take_new`), a list the garbage collector does not track, as the queue
    itself (see `entries.Batch`)."""
    part = items[start:stop]
    return untrack(part) if type(part) is list else part


def _joined(chunks):
    """One list of the items of a list of tuples."""
    items = []
    for chunk in chunks:
        items.extend(chunk)
    return items


def _ms(seconds):
    return int(seconds * 1000)


def _short(text):
    text = str(text)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT - 1] + "\u2026"


class Sampler:
    """Owns every task record once adopted; see the module docstring."""

    def __init__(self, registry, sink, interval=0.1, history_seconds=HISTORY_SECONDS,
                 history_max=HISTORY_MAX, rescan_every=RESCAN_EVERY, stuck_after=STUCK_AFTER,
                 blocked_after=BLOCKED_AFTER):
        self.registry = registry
        self.sink = sink
        self.interval = self._clamp(interval)
        self._max_skip = self._skips(self.interval)
        #: Samples a quiet task is left alone at most; None: from QUIET_SECONDS and the
        #: number of live tasks (see `_skips`).
        self.quiet_max = None
        self.history_seconds = history_seconds
        self.history_max = history_max
        self.rescan_every = max(1, int(rescan_every))
        self.stuck_after = stuck_after
        self.blocked_after = blocked_after
        self.defer_seconds = DEFER_SECONDS
        self.resolver = FrameResolver(registry.user_codes)
        self.calls = CallSites(self.resolver)
        self.waits = WaitClassifier(registry.lookup)
        self.watchdog = Watchdog(blocked_after)
        self.watch_period = self._watch_period()
        self.orphan_grace = max(1.0, 3 * self.interval)
        self._children = {}  # parent num -> [child TaskRef] (for orphans)
        self._orphan_watch = deque()  # (due, child, parent)
        self._stale = deque()  # (time, TaskRef) of collected tasks still in by_addr
        self._events = []  # findings of this sample, sent after its snapshot or delta
        # The live tasks' records are those of ``registry.by_addr`` in a live state (see
        # `_live_records`): no dict of their own, which cost 40 to 50 bytes a task.
        self._done = {}  # num -> record of each finished task kept (the history)
        self._history = deque()
        self._changed = {}
        self._held = {}  # num -> record of a busy task changed since it was last sent
        # Nums of the busy tasks: held once, and changed at every look since (a task found
        # the same again leaves it). Their looks follow their sends (see `_schedule_held`).
        self._busy = set()
        self._looked = ()  # nums of the records looked at in this sample
        self._group_notes = {}  # addr -> (GroupRef, when): see _regroup
        self._removed = []
        self._loops = {}
        self._loops_changed = {}
        self._orphans = []  # records whose parent is known by address only, for now
        # Entries are kept in tuples: the collector stops looking into a tuple of untracked
        # objects (ints, code), where it would go through a list's items at every full
        # collection (measured: a tenth of a spawn-heavy program's time).
        self._parked = []  # tuples of entries (items) of live tasks kept while nobody listens
        self._backlog = ()  # entries (items) left for the next sample (ADOPT_PER_SAMPLE)
        self._deferred_since = None  # when the backlog's tasks not started began to wait
        self._young = None  # the hook's queue as taken at the last sample: due now
        self._later = None  # keys of the entries queued after those due (see _queued_after)
        self._learnt_upto = 0  # the hook's queue up to here was learnt from (see learn_recent)
        self._later_seen = 0  # how far into the hook's queue _later has read
        self._tasks = TaskLookup(registry)  # finds a live task by its entry's key
        self._older_groups = 0  # TaskGroup notes queued before the last sample: due now
        self._construction = _construction_codes()  # see _cut_construction
        self._task_types = {}  # Task classes seen -> None
        # 3.14+: where asyncio keeps task-like objects of other classes (see `_discover`).
        self._foreign = _foreign_task_sets() if hooks.state.task_set is None else None
        self._log = EntryLog()  # the last batches of entries taken (parents, reports)
        self._wheel = {}  # tick -> [records to look at then]
        self._wheel_at = 0  # the last tick whose records were looked at
        self._running_refs = {}  # num -> record last seen running: looked at every sample
        self._fresh = []  # records adopted since the last sample: looked at in the next
        self.short_lived = 0  # tasks that ended before a sample could adopt them
        self.events_held_back = 0  # findings not sent: over EVENTS_PER_SAMPLE in a sample
        self._await_point_changed = False  # set by _read_await_point
        self._stuck_places = {}  # id(await chain) -> stuck tasks told there
        self._deadlines = {}  # record number -> its waitingSince when found under a deadline
        self._short_budget = SHORT_LIVED_PER_SAMPLE
        self._commands = deque()
        self._ticks = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._tick_requested = False
        self._thread = None

    # --- thread -----------------------------------------------------------------------

    def _watch_period(self):
        return max(MIN_INTERVAL, min(self.interval, self.blocked_after / 4.0))

    @staticmethod
    def _skips(interval, live=0):
        """How many samples a quiet task is left alone, at most (see `QUIET_SECONDS`)."""
        skips = max(0, int(QUIET_SECONDS / interval) - 1)
        if live > skips * QUIET_LOOKS_PER_SAMPLE:
            skips = min(live // QUIET_LOOKS_PER_SAMPLE, max(skips, int(QUIET_MAX_SECONDS / interval)))
        return skips

    @staticmethod
    def _clamp(interval):
        try:
            interval = float(interval)
        except (TypeError, ValueError):
            return 0.1
        if not interval > 0:
            return 0.1
        return min(max(interval, MIN_INTERVAL), MAX_INTERVAL)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="taskscope-sampler", daemon=True)
        self._thread.start()

    def request_tick(self):
        """Asks for a sample now (the transport calls it when a session begins)."""
        self._tick_requested = True
        self._wake.set()

    def submit(self, command):
        """Queues a validated ``command`` message; its result goes to ``sink.send_result``."""
        self._commands.append(command)
        self._wake.set()

    def stop(self, timeout=1.0):
        """Takes one last sample, then ends the thread (waits at most `timeout`)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _run(self):
        try:
            self._loop()
        except BaseException:  # never let threading.excepthook print into the program's stderr
            try:
                log.exception("the sampler thread failed")
            except BaseException:
                pass

    def _loop(self):
        next_tick = next_watch = next_learn = time.monotonic()
        eager_until = next_tick + EAGER_SECONDS
        while True:
            delay = min(next_tick, next_watch, next_learn) - time.monotonic()
            if delay > 0:
                self._wake.wait(delay)
            self._wake.clear()
            try:
                self._run_commands()
            except Exception:
                log.exception("running a command failed")
            if self._stop.is_set():
                self.safe_tick(final=True)
                self._run_commands()
                return
            now = time.monotonic()
            if now >= next_watch:
                self.safe_watch()
                next_watch = time.monotonic() + self.watch_period
            if self._tick_requested or now >= next_tick:
                self._tick_requested = False
                spent = time.thread_time()
                self.safe_tick()
                spent = time.thread_time() - spent
                # A sample that took long (a burst of new tasks) spaces out the next ones,
                # so that the sampler takes at most MAX_DUTY of a core (but the view never
                # waits more than MAX_GAP for the next one).
                interval = self.interval
                if eager_until is not None:
                    if time.monotonic() < eager_until and not self._taught():
                        interval = min(interval, EAGER_INTERVAL)
                    else:
                        eager_until = None
                now = time.monotonic()
                next_learn = now + min(interval, LEARN_INTERVAL)
                next_tick = now + max(interval, min(spent / MAX_DUTY, MAX_GAP))
            elif now >= next_learn:
                # Between samples (spaced out by a burst, or a long interval): the hook
                # still learns where the program's new tasks come from, at least every
                # LEARN_INTERVAL.
                self.safe_learn_recent()
                next_learn = time.monotonic() + min(self.interval, LEARN_INTERVAL)
                if len(self.registry.new) >= QUEUE_MAX_ENTRIES * STRIDE:
                    next_tick = next_learn = time.monotonic()

    def _taught(self):
        """True once the hook knows a code object of the program's (it then stops its walks
        there; see `EAGER_SECONDS`)."""
        return self.resolver.knows_user_code

    def safe_learn_recent(self):
        try:
            self.learn_recent()
        except Exception:
            log.exception("learning from new tasks failed")

    def learn_recent(self):
        """Teaches the hook from the entries queued since the last look (by a sample, or
        by this): a burst comes from a few places, and until the hook knows a new one it
        walks up the stack for every task made there. Samples may be seconds apart during
        a burst (see `MAX_DUTY`). One C-level pass over the entries' first offsets, then
        the entries themselves only when one came from a walk; whole entries, since the
        hook adds whole slots and the queue only ever grows at its end between samples."""
        new = self.registry.new
        n = len(new)
        start = self._learnt_upto if self._learnt_upto <= n else 0
        self._learnt_upto = n
        if n > start and walked(new, start, n):
            self._learn_all(new[start:n])

    def safe_tick(self, final=False):
        try:
            self.tick(final)
        except Exception:
            log.exception("sampling failed")

    def safe_watch(self):
        """Looks for blocked loops (see `watchdog`), while a session is on."""
        try:
            if self.sink.session_active() and self._loops:
                for blocked in self.watchdog.check(list(self._loops.values()), time.monotonic()):
                    self._report_blocked(blocked)
                    self._tick_requested = True  # sent by the next sample, after its state
        except Exception:
            log.exception("watching the loops failed")

    # --- one sample -------------------------------------------------------------------

    def tick(self, final=False):
        """One sample; `final` (the last, at shutdown) adopts every queued task."""
        now = time.time()
        self._ticks += 1
        self.registry.check_recent()
        active = self.sink.session_active()
        if not active:
            # Nobody listens: only keep the entries of live tasks for a later session and
            # forget the dead (teaching the hook which code is the program's). The next
            # session starts with a snapshot, so what changed meanwhile need not be tracked.
            self._park_new(now)
            self._handle_collected(now)
            self._forget_stale(now)
            # TaskGroup notes are dropped: the next session's snapshot reads each live
            # group's tasks instead (see `_regroup_live`).
            self.registry.regroup.clear()
            self._group_notes.clear()
            self._older_groups = 0
            self.registry.reports.clear()
            self.registry.outcomes.clear()
            # The children of tasks that end meanwhile stay watched: one still pending once a
            # session is back is an orphan, and reported then (see `_check_orphans`).
            while len(self._orphan_watch) > ORPHAN_WATCH_MAX:
                self._orphan_watch.popleft()
            self._events = []
            self._prune(now)
            self._changed.clear()
            self._held.clear()
            self._busy.clear()
            self._removed = []
            self._loops_changed.clear()
            return
        snapshot = self.sink.take_snapshot_request()
        if self.registry.reports:
            # Before the hook's new entries are taken (see `_record_of_reported`), and
            # before collections: a destroyed task's last await is still known.
            self._handle_reports(now)
        if self.registry.outcomes:
            self._handle_outcomes()  # before collections too: gone, they would be "done"
        # A new session's first snapshot holds every task, however young.
        self._adopt_new(now, everything=bool(snapshot or final))
        if snapshot and self.registry.groups:
            self._regroup_live()
        self._handle_collected(now)
        self._forget_stale(now)
        if hooks.state.task_set is None and (snapshot or self._ticks % self.rescan_every == 1
                                             or self.rescan_every == 1):
            self._discover(now)
        if self._orphans:
            self._resolve_orphans()
        self._observe_due(now, everything=final)
        if self.registry.reports:
            self._handle_reports(now)
        if self._orphan_watch:
            self._check_orphans(now)
        self._observe_loops()
        self._prune(now)
        if self._held:
            self._release_held(now, everything=bool(snapshot or final))
        if snapshot:
            messages = self.build_snapshot(now)
            self.sink.send_snapshot(messages[0], messages[1:])
        elif self._changed or self._removed or self._loops_changed:
            for message in self._build_deltas(now):
                self.sink.send_state(message)
        self._changed.clear()
        self._removed = []
        self._loops_changed.clear()
        # Findings after the state that names their tasks.
        events, self._events = self._events, []
        for event in events:
            self.sink.send_state(event)

    def _release_held(self, now, everything=False):
        """Sends the held changes of busy tasks (see `BUSY_PUBLISH_SECONDS`) whose time
        has come, once looked at in this sample (`_schedule_held` makes that look come
        then), so that what goes out is their state now; all of them with `everything`,
        and those a finding of this sample
        names (a finding goes after the state of its task: a loop blocked by a task that
        was caught running must not find it waiting in the view); those of ended tasks
        went with their end."""
        held = self._held
        named = {event.get("task") for event in self._events} if self._events else ()
        for num, ref in list(held.items()):
            if ref.state not in LIVE_STATES:
                del held[num]
            elif (everything or ref.published is None or ref.id in named
                  or (now - ref.published >= BUSY_PUBLISH_SECONDS and num in self._looked)):
                del held[num]
                self._changed[num] = ref

    def _observe_due(self, now, everything=False):
        """Looks at the records due at this sample (the timing wheel), those that run or
        ran at the last look, and those just adopted; each is put back on the wheel
        `skip` samples ahead: 1, 2, 4, ... while it stays the same, at most about
        `QUIET_SECONDS` (staggered, so that tasks made together are not all due at once);
        a busy one, whose change is held, at the sample its change is due.
        With `everything` (the last sample), every live record is looked at."""
        tick = self._ticks
        if self.quiet_max is None:
            self._max_skip = self._skips(self.interval, len(self.registry.by_addr))
        else:
            self._max_skip = self.quiet_max
        due = self._wheel.pop(tick, None) or []
        if self._wheel_at < tick - 1:
            # Samples went by without looks (nobody listened): what fell due meanwhile is
            # due now, or it would never be looked at again.
            for at in [at for at in self._wheel if at < tick]:
                due.extend(self._wheel.pop(at))
        self._wheel_at = tick
        if everything:
            due = self._live_records()
        running = self._running_tasks()
        if running:
            by_addr = self.registry.by_addr
            for addr in running:
                ref = by_addr.get(addr)
                if ref is not None and ref.id is not None:
                    due.append(ref)
        if self._running_refs:
            due.extend(self._running_refs.values())
            self._running_refs = {}
        if self._fresh:
            due.extend(self._fresh)
            self._fresh = []
        finished = None
        seen = self._looked = set()
        held = self._held
        busy = self._busy
        for ref in due:
            if ref.num in seen or ref.state not in LIVE_STATES:
                continue  # seen already at this sample, or ended
            seen.add(ref.num)
            if self._observe(ref, now, running):
                if finished is None:
                    finished = []
                finished.append(ref)
                continue
            if ref.state == "running":
                self._running_refs[ref.num] = ref
            num = ref.num
            # Busy: its change held now, or changed again since it went out (sent now).
            if num in held or (num in busy and not ref.quiet):
                busy.add(num)
                self._schedule_held(ref, tick, now)
            else:
                busy.discard(num)
                self._schedule(ref, tick)
        if finished:
            for ref in finished:
                self._finished(ref, ref.finished)

    def _schedule(self, ref, tick):
        quiet = ref.quiet
        ahead = 1 + quiet
        if quiet >= self._max_skip and quiet:
            # At the longest: anywhere from half of it to one and a half, by task, so that
            # tasks made together spread over the samples.
            ahead = 1 + quiet // 2 + ref.num % (quiet + 1)
        self._put(ref, tick + ahead)

    def _schedule_held(self, ref, tick, now):
        """Puts a busy task (its change held: see `BUSY_PUBLISH_SECONDS`) back on the wheel
        at the sample where its held change is due: a look between would only find it
        changed again, and not sent (it cost a look at every sample, 10 us each for an
        aiohttp server's connection tasks). Its end is still seen at once when it is
        collected, or when it is found running. When its change goes out at this sample
        (held and due, or changed again since it went out: it is in ``_busy``), the next is
        due `BUSY_PUBLISH_SECONDS` after the wait sent began: one look per change sent (a
        look at the next sample would only find it changed again). A look that finds it the
        same puts it back on the quiet tasks' schedule."""
        published = ref.published
        if published is None:  # its change goes out in this sample (see _release_held)
            self._schedule(ref, tick)
            return
        due = published + BUSY_PUBLISH_SECONDS
        if due <= now and ref.state == "pending" and ref.waiting_since is not None:
            due = ref.waiting_since + BUSY_PUBLISH_SECONDS  # what `published` becomes now
        self._put(ref, tick + max(1, math.ceil((due - now) / self.interval)))

    def _put(self, ref, at):
        slot = self._wheel.get(at)
        if slot is None:
            self._wheel[at] = [ref]
        else:
            slot.append(ref)

    def _running_tasks(self):
        """``id()`` of each loop's current task, now (usually empty: the loops wait)."""
        running = set()
        for lr in self._loops.values():
            loop = lr()
            if loop is not None:
                task = _current_task(loop)
                if task is not None:
                    running.add(id(task))
                task = None
            loop = None
        return running

    # --- entries: from the hot path to records -------------------------------------------

    def _learn_all(self, items):
        """Teaches the hot path where the program's code is, from every code object in the
        entries of `items` that nobody has classified yet (a walk that ended at the loop's
        dispatch, or at `MAX_DEPTH`, passed such codes). The distinct codes of a burst are
        a handful, found by C-level slicing (see `entries.unknown_codes`), and only where
        the hook walked: the codes of its one-step routes are known (`entries.walked`;
        looking for them cost 0.4 us a task in a burst, most of the sampler's work)."""
        if not walked(items):
            return
        learn = self.resolver.learn
        for code in unknown_codes(items, self.registry.user_codes).values():
            learn((code, -1))

    def _take_young(self):
        """Takes the hook's queue (due at the next sample); returns what was due now."""
        due = self._young
        self._young = self.registry.take_new()
        self._learnt_upto = 0  # what the hook queued since is at the queue's start now
        self._later = None
        if self._young:
            # At once, not a sample later: a program's first tasks are made from a few
            # places, and until the hook knows them it walks further up the stack.
            self._learn_all(self._young)
        return due

    def _queued_after(self):
        """The keys of the entries queued after those now due: of the young batch and of the
        hook's queue, read up to now (see `_live_refs`)."""
        later = self._later
        if later is None:
            later = self._later = {}
            self._later_seen = 0
            if self._young:
                _add_keys(later, self._young, 0)
        self._later_seen = _add_keys(later, self.registry.new, self._later_seen)
        return later

    def _live_refs(self, items, offsets, limit=None, defer_from=None):
        """The k of each entry of `items` (at `offsets`) whose task is alive, in order, and
        the weak reference of each of those tasks: two lists (no tuple per task: a burst
        would feed the collector), at most `limit` long; the k where it stopped, else None;
        and whether it stopped at a task that has not started (from offset `defer_from`
        on, the first such task stops it: see `_adopt_items`).

        A key that is a hash finds the live task with that hash in asyncio's set; it is the
        entry's own only if no entry with that key was queued after it: later in `items`,
        or since (in the young batch or the hook's queue, which is read again after the
        lookup: a task found alive was made, and its entry queued, before the lookup).

        The entries after the k where it stopped are not looked at, but their keys count
        as later ones (they are, and the task found is theirs)."""
        keys = keys_at(items, offsets)
        ks = []
        refs = []
        alive = self._alive
        if self.registry.task_data is None:  # weak references (3.14)
            for k, wr in enumerate(keys):
                if alive(wr):
                    if limit is not None and len(ks) >= limit:
                        return ks, refs, k, False
                    if defer_from is not None and offsets[k] >= defer_from and self._unstarted(wr):
                        return ks, refs, k, True
                    ks.append(k)
                    refs.append(wr)
            return ks, refs, None, False
        # Addresses are reused at once: most entries of gone tasks have a later entry with
        # their key, and are not even looked up. The sets and dicts are C-level: a burst
        # brings hundreds of thousands of entries, and only the tasks still there cost a
        # Python call each, in order, up to where it stops.
        alive_keys = self._tasks.live_keys(keys)
        seen = 0
        if alive_keys:
            # Of those, the keys of later entries: a later task has the address now. Looked
            # for among the few live keys (a dict of every later key cost a burst twice as
            # much: the young batch alone holds a whole burst).
            later, _ = _later_keys(alive_keys, self._young)
            since, seen = _later_keys(alive_keys, self.registry.new)
            alive_keys -= later
            alive_keys -= since
        stopped = None
        deferred = False
        live = _last_ks(keys, alive_keys)
        # Their weak references a chunk at a time (a burst's finished tasks that the
        # program still holds are thousands: one lookup each cost as much again; all at
        # once held a list per task, 100 bytes each, while nobody listens and 100,000
        # parked entries are looked at again).
        lookup = self._tasks.refs
        found = {}
        none = ()
        for i, k in enumerate(live):
            if i % LOOKUP_CHUNK == 0:
                found = lookup([keys[j] for j in live[i:i + LOOKUP_CHUNK]])
            for wr in found.get(keys[k], none):
                if alive(wr):
                    break
            else:
                continue
            if limit is not None and len(ks) >= limit:
                stopped = k
                break
            if defer_from is not None and offsets[k] >= defer_from and self._unstarted(wr):
                stopped = k
                deferred = True
                break
            ks.append(k)
            refs.append(wr)
        if ks:
            later, _ = _later_keys(alive_keys, self.registry.new, seen)  # queued during the lookups
            if later:
                kept = [i for i, k in enumerate(ks) if keys[k] not in later]
                ks = [ks[i] for i in kept]
                refs = [refs[i] for i in kept]
        return ks, refs, stopped, deferred

    def _queued_entry(self, key, fresh=True):
        """The latest entry with key `key` among those not adopted yet (the hook's queue,
        unless not `fresh`, the young batch, the backlog, the parked ones), as a tuple;
        None without one."""
        sources = [self.registry.new] if fresh else []
        sources += [self._young, self._backlog]
        sources.extend(reversed(self._parked))
        for items in sources:
            entry = latest_entry(items, key) if items else None
            if entry is not None:
                return entry
        return None

    def _adopt_now(self, task, now):
        """The record of a live task whose entry is not due yet (a finding names it), made
        from that entry alone; its parent is linked by address in a later sample. None
        without an entry."""
        entry = self._queued_entry(hash(task))
        if entry is None:
            return None
        ref = self._adopt_entry(entry, 0, now, now - self.interval, weakref.ref(task), keep_done=True)
        if ref is not None:
            self._fresh.append(ref)
            if ref.parent is not None and not isinstance(ref.parent, RECORDS):
                self._orphans.append(ref)
        return ref

    def _entry_ref(self, batch, k):
        """The weak reference of the live task of the k-th entry of `batch` (a kept one),
        or None when its task is gone (or a later task has its address)."""
        key = batch.items[batch.offsets[k]]
        if type(key) is not int:
            return key if self._alive(key) else None
        for wr in self._tasks.ref(key):
            if self._alive(wr):
                if self._log.after(key, batch.start + k) is None and key not in self._queued_after():
                    return wr
                return None
        return None

    def _park_new(self, now):
        """While nobody listens: keeps the entries of live tasks that have lived through a
        sample, drops the others. Entries of tasks that have not started yet wait, as for
        records (see `_adopt_items`): most tasks of a burst are gone a sample or two later."""
        backlog, self._backlog = self._backlog, ()
        young = self._take_young()
        items = tuple(_joined((backlog, young))) if backlog and young else backlog or young
        if items:
            waited = self._deferred_since
            young_from = len(backlog)
            defer_from = 0 if waited is not None and now - waited < self.defer_seconds else young_from
            offsets = heads(items)
            ks, _refs, stopped, waits = self._live_refs(items, offsets, None, defer_from)
            kept = self._entries_at(items, offsets, ks)
            if kept:
                self._parked.append(kept)
            if waits:
                self._backlog = _part(items, offsets[stopped])
                if offsets[stopped] >= young_from or waited is None:
                    self._deferred_since = now
            else:
                self._deferred_since = None
        if self._parked and self._ticks % self.rescan_every == 0:
            parked = _joined(self._parked)
            offsets = heads(parked)
            kept = self._entries_at(parked, offsets, self._live_refs(parked, offsets)[0])
            self._parked = [kept] if kept else []

    def _entries_at(self, items, offsets, ks):
        """The entries of `items` at the `ks`-th offsets, as one tuple, each cut down to
        what a record needs (its stack up to the program's first frame, usually one slot;
        the parent's id shared with its siblings'): they are kept as long as their task
        lives, and a burst's first entries walked the whole stack before the hook knew
        where the program's code was."""
        kept = []
        user = self.registry.user_codes.get
        parents = {}
        for k in ks:
            offset = offsets[k]
            end = entry_end(items, offset)
            if end - offset == STRIDE and items[offset + 2] < FRAMES:
                parent = items[offset + 1]  # one slot: nothing to cut
                kept.append(items[offset])
                kept.append(parents.setdefault(parent, parent) if type(parent) is int else parent)
                kept.extend(items[offset + 2:end])
                continue
            stack = entry_stack(items, offset)
            for i in range(0, len(stack), 2):
                if user(id(stack[i])):
                    stack = stack[:i + 2]
                    break
            parent = items[offset + 1]
            if type(parent) is int:
                parent = parents.setdefault(parent, parent)
            kept.extend(pack([items[offset], parent, 0, *stack]))
        return tuple(kept)

    def _adopt_new(self, now, everything=False):
        """Makes records for the queued tasks that have lived through a sample (all of
        them with `everything`): those still pending, and those that ended with an
        exception or were cancelled (history worth showing). A task that ended well
        before a sample could see it costs only its entry (counted in `short_lived`).
        At most `ADOPT_PER_SAMPLE` records are made per sample (without `everything`):
        the entries not looked at yet wait, oldest first, for the next sample."""
        regroup = self.registry.regroup
        self._short_budget = SHORT_LIVED_PER_SAMPLE
        # TaskGroup notes are counted first: a note is queued after its task's entry, so
        # every note counted has its entry among those taken (or left for later).
        groups_due = len(regroup) if everything else self._older_groups
        # The entries in the order they were queued, copied only when there are several
        # parts (a burst's entries are many, and each copy is work for the collector too).
        parts = self._parked
        self._parked = []
        if self._backlog:
            parts.append(self._backlog)
            self._backlog = ()
        parts = [part for part in parts if part]
        # Where the entries of the last sample's batch begin: those may wait for a later
        # sample while their task has not started (see `_adopt_items`), and so may the
        # older ones that have waited so for less than DEFER_SECONDS.
        young_from = sum(len(part) for part in parts)
        waited = self._deferred_since
        defer_from = 0 if waited is not None and now - waited < self.defer_seconds else young_from
        young = self._take_young()
        if young:
            parts.append(young)
        if everything:
            defer_from = None
            if self._young:
                parts.append(self._young)
            self._young = None
            self._later = None
        items = parts[0] if len(parts) == 1 else tuple(_joined(parts))
        deferred = None
        if items:
            deferred = self._adopt_items(items, now, None if everything else ADOPT_PER_SAMPLE, defer_from)
        else:
            self._log.add(items)  # an empty batch: the kept ones age by samples
        if deferred is None:
            self._deferred_since = None
        elif deferred >= young_from or waited is None:
            self._deferred_since = now  # the older ones are all adopted: the young wait now
        if groups_due:
            self._regroup(groups_due, now)
        self._older_groups = len(regroup)

    def _adopt_items(self, items, now, limit=None, defer_from=None):
        """Adopts the entries of `items` in order, making at most `limit` records; the
        entries after the last one looked at go to the backlog.

        From offset `defer_from` on, the first live task that has not started yet stops
        the adoption there too: a burst of new tasks (thousands made in one loop) is
        still waiting for its first step at the sample after it was made, and most of it
        is done a sample or two later. The entries from there on go to the backlog, and
        may wait so for `defer_seconds` at most (a loop that stays blocked still shows its
        tasks). Returns the offset where it stopped so, else None."""
        found = []  # (k, record)
        created = now - self.interval  # made before the last sample (or since, with everything)
        offsets = heads(items)
        adopt_entry = self._adopt_entry
        # Most tasks are gone by now: only those alive are looked at.
        ks, refs, stopped, waits = self._live_refs(items, offsets, limit, defer_from)
        deferred = offsets[stopped] if waits else None
        short = len(offsets) if stopped is None else stopped
        if stopped is not None:
            offset = offsets[stopped]
            self._backlog = _part(items, offset)
            items = _part(items, 0, offset)
            offsets = offsets[:stopped]
        for k, wr in zip(ks, refs):
            # A task that ended well, once the sample's few short ones are listed, is only
            # counted.
            task = wr()
            if task is None:
                continue
            counted = (self._short_budget <= 0 and getattr(task, "_state", None) == "FINISHED"
                       and getattr(task, "_exception", None) is None)
            if _refcount(task) <= _SOLE:
                self._hand_back(task)  # see there
            task = None
            if counted:
                continue
            ref = adopt_entry(items, offsets[k], now, created, wr)
            if ref is not None:
                found.append((k, ref))
                short -= 1
        self.short_lived += short
        batch = self._log.add(items, offsets)
        for k, ref in found:
            batch.records[k] = ref
        for k, ref in found:
            self._link_parent(ref, batch.start + k, now)
        self._fresh.extend(ref for _, ref in found)  # looked at in this sample
        return deferred

    def _unstarted(self, wr):
        """True when the task of `wr` is pending and has not taken its first step yet
        (read safely, see `_alive`)."""
        task = wr()
        if task is None:
            return False
        try:
            unstarted = _unstarted(task)
        except Exception:
            unstarted = False
        if _refcount(task) <= _SOLE:
            self._hand_back(task)
        task = None
        return unstarted

    def _adopt_entry(self, items, offset, now, created, wr, keep_done=False):
        """The record of the task of the entry at `offset` (`wr`: its weak reference),
        or None when the task is gone, or ended well (and not `keep_done`). The caller
        counts the tasks that got none."""
        task = wr()
        if task is None or not isinstance(task, _FUTURES):
            return None
        try:
            existing = self.registry.lookup(task)
            if existing is not None:
                return existing  # adopted ahead of its turn (`_adopt_now`)
            if not keep_done:
                try:
                    raw = task._state
                except AttributeError:
                    raw = "FINISHED" if task.done() else "PENDING"
                if raw == "FINISHED" and getattr(task, "_exception", None) is None:
                    if self._short_budget <= 0:
                        return None
                    self._short_budget -= 1
            ref = self.registry.record(task, task.get_loop(), items[offset + 1], entry_stack(items, offset), created)
            self._adopt(ref, now, task)
            return ref
        finally:
            if _refcount(task) <= _SOLE:
                self._hand_back(task)
            task = None

    def _link_parent(self, ref, position, now, depth=0):
        """Links a new record to its parent (the hook noted the parent's address only);
        `position`: where its entry was among all the entries taken."""
        addr = ref.parent
        if addr is None or isinstance(addr, RECORDS):
            return
        if depth > 16:
            ref.parent = None
            return
        parent = self._parent_at(addr, position, ref, now, depth)
        if parent is None:
            self._orphans.append(ref)  # not recorded yet: made eagerly (3.12+), or unseen
            return
        ref.parent = parent
        self._child_of(parent, ref, now)

    def _parent_at(self, addr, position, child, now, depth=0):
        """The record of the task that made `child`: the latest task made at `addr` before
        it (see `entries`), made from its entry if it ended before it was adopted."""
        found = self.registry.by_addr.get(addr)
        if found is not None and found.num < child.num and found() is not None:
            return found  # alive and made earlier: nothing else had the address since
        key = pointer_hash(addr)
        hit = None
        if key is not None:
            if child.loop is not None and child.loop.eager:
                # A parent running eagerly joins asyncio's set after its first step, so
                # after the tasks it made meanwhile: its entry comes later.
                hit = self._log.after(key, position)
                if hit is not None and self._entry_ref(*hit) is None:
                    hit = None
            if hit is None:
                hit = self._log.before(key, position)
        if hit is None:
            return found if found is not None and found.num < child.num else None
        batch, k = hit
        ref = batch.records.get(k)
        if ref is None:
            ref = batch.records[k] = self._record_of_parent(batch, k, child, now)
            if ref is not None:
                self._link_parent(ref, batch.start + k, now, depth + 1)
        return ref

    def _record_of_parent(self, batch, k, child, now):
        """The record of a parent that got none when its entry was taken (it had ended):
        a full one while the task is still there, else a `DeadRef` with what the entry
        tells (so that its children still show where they came from, and can be orphans)."""
        items, offset = batch.items, batch.offsets[k]
        wr = self._entry_ref(batch, k)
        ref = self._adopt_entry(items, offset, now, now - self.interval, wr, keep_done=True) if wr is not None else None
        if ref is not None:
            self._fresh.append(ref)
            return ref
        ref = self.registry.dead_record(child.loop, items[offset + 1], entry_stack(items, offset), now - self.interval)
        self._adopt(ref, now, None)
        # Its coroutine can no longer be read: the function that made the child (the
        # program's own frame of the child's creation stack) stands in for it.
        self._creation(child)
        ref.coro = child.site["function"] if child.site else ""
        ref.state = "done"
        self._finished(ref, now)
        return ref

    def _adopt(self, ref, now, task):
        ref.state = "pending"  # from now on it has an id (see `registry._Record`)
        ref.point = None
        ref.waiting_since = None
        ref.published = None
        ref.quiet = 0
        ref.waiter = ref.waiting_on = None
        lr = ref.loop
        if lr is not None and lr.id not in self._loops:
            self._adopt_loop(lr)
        if task is not None and type(task) not in self._task_types:
            self._learn_task_class(type(task))
        ref.binding = None
        if ref.stack:
            ref.stack = self._cut_construction(ref.stack)
            ref.binding = self.calls.binding(ref.stack) if ref.stack else None
        self._changed[ref.num] = ref
        if self._group_notes and ref.group is None and task is not None:
            ref.group = self._group_noted(ref)
        if task is None:
            ref.name = ref.name or ""
            ref.coro = ref.coro or ""
            return
        if ref.name is None:
            ref.name = str(task.get_name())
        if ref.coro is None:
            ref.coro = self._coro_name(task)

    def _construction_code(self, code):
        """Notes `code` as making tasks rather than asking for them (a task factory, a
        Task subclass's ``__init__``): see `_cut_construction`."""
        if code is not None and self._construction.get(id(code)) is not code:
            self._construction[id(code)] = code
            self.resolver.mark_construction(code)

    def _learn_task_class(self, cls):
        self._task_types[cls] = None
        if cls not in _ASYNCIO_TASKS:
            for klass in cls.__mro__:
                if klass in _ASYNCIO_TASKS:
                    break
                self._construction_code(getattr(klass.__dict__.get("__init__"), "__code__", None))

    def _cut_construction(self, stack):
        """A creation stack (innermost first) without the frames that only built the task:
        asyncio's ``create_task``, a task factory, a Task subclass's ``__init__``: up to
        the last of them before the program's own code."""
        cut = 0
        construction = self._construction
        is_user = self.resolver.is_user
        for i in range(0, len(stack) - 1, 2):
            code = stack[i]
            if construction.get(id(code)) is code:
                cut = i + 2
            elif is_user(code):
                break
        return stack[cut:] if cut else stack

    def _alive(self, wr):
        """True when the weak reference's task is still there (read safely)."""
        task = wr()
        if task is None:
            return False
        if _refcount(task) <= _SOLE:
            self._hand_back(task)
        task = None
        return True

    @staticmethod
    def _hand_back(task):
        """Lets go of a task of which the sampler holds the last reference.

        The program dropped the task while the sampler was reading it. Dropping it here
        would finalize it on this thread (and run asyncio's "destroyed"/"never retrieved"
        reports here); instead the task goes back to its loop, which drops it on its own
        thread at its next iteration. Callers check ``sys.getrefcount`` and then clear
        their local without a call in between, so the check cannot go stale.
        """
        try:
            loop = task.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_noop, task)
        except Exception:
            pass

    def _coro_name(self, task):
        try:
            coro = task.get_coro()
        except Exception:
            return ""
        qualname = getattr(coro, "__qualname__", None)
        if isinstance(qualname, str):
            return qualname
        try:
            return _short(repr(coro))
        except Exception:
            return type(coro).__qualname__

    def _adopt_loop(self, lr):
        self._loops[lr.id] = lr
        self._refresh_loop(lr, force=True)

    def _refresh_loop(self, lr, force=False):
        loop = lr()
        ident = getattr(loop, "_thread_id", None) if loop is not None else None
        loop = None
        if ident is None:
            ident = lr.thread_ident
        name = None
        if ident is not None:
            thread = threading._active.get(ident)
            name = thread.name if thread is not None else None
        if name is None:
            name = lr.thread_name or ("thread-%d" % ident if ident else "unknown")
        loop = lr()
        lr.eager = is_eager(loop)
        factory = loop.get_task_factory() if loop is not None else None
        loop = None
        if factory is not None:
            self._construction_code(getattr(factory, "__code__", None)
                                    or getattr(getattr(factory, "__func__", None), "__code__", None))
        factory = None
        if force or ident != lr.thread_ident or name != lr.thread_name:
            lr.thread_ident = ident
            lr.thread_name = name
            lr.record = {"id": lr.id, "thread": name, "threadId": int(ident or 0)}
            self._loops_changed[lr.id] = lr

    def _observe_loops(self):
        for lr in list(self._loops.values()):
            if lr() is not None:
                self._refresh_loop(lr)

    def _handle_collected(self, now):
        collected = self.registry.collected
        stale = self._stale
        while collected:
            try:
                ref, when = collected.popleft()
            except IndexError:
                break
            stale.append((now, ref))
            if ref.state in LIVE_STATES:
                self._finish_collected(ref, when)

    def _finish_collected(self, ref, when):
        # Collected before a sample saw it finish: it ended (or was destroyed pending)
        # between two samples, and its outcome can no longer be read.
        if ref.state in LIVE_STATES:
            ref.state = "done"
            ref.last_point = ref.point  # for asyncio's report, if it comes later
        self._finished(ref, when)

    def _forget_stale(self, now):
        """Takes collected tasks' records out of ``by_addr`` a while after collection."""
        stale = self._stale
        by_addr = self.registry.by_addr
        horizon = now - STALE_SECONDS
        while stale and stale[0][0] <= horizon:
            _, ref = stale.popleft()
            if by_addr.get(ref.addr) is ref:
                by_addr.pop(ref.addr, None)

    def _finished(self, ref, when):
        ref.finished = when
        if self._deadlines:
            self._deadlines.pop(ref.num, None)
        ref.point = None
        ref.waiting_since = None
        ref.waiter = ref.waiting_on = None
        ref.binding = None
        self._done[ref.num] = ref
        self._running_refs.pop(ref.num, None)
        self._busy.discard(ref.num)
        self._history.append(ref)
        self._changed[ref.num] = ref
        children = self._children.pop(ref.num, None)
        if children:
            due = time.time() + self.orphan_grace
            for child in children:
                if child.state in LIVE_STATES and child.group is None:
                    self._orphan_watch.append((due, child, ref))

    # --- findings ---------------------------------------------------------------------

    def _emit(self, event):
        if len(self._events) >= EVENTS_PER_SAMPLE:
            self.events_held_back += 1  # the next samples may tell it; never a flood
            return
        self._events.append(event)

    def _flag(self, ref, key):
        """True the first time `key` is flagged on `ref` (each finding is told once)."""
        flagged = ref.flagged
        if flagged is None:
            ref.flagged = (key,)
            return True
        if key in flagged:
            return False
        ref.flagged = flagged + (key,)
        return True

    def _site(self, ref):
        if ref.stack:
            self._creation(ref)
        return ref.site

    def _made_by(self, ref):
        """Where a task that no frame of the program's made was made: the innermost frame of
        its creation stack, a library's code (a server's connection tasks, made in a callback
        of the event loop); None when it has a site, or no creation stack."""
        if ref is None or self._site(ref) is not None:
            return None
        creation = ref.creation
        return creation[0] if creation else None

    def _child_of(self, parent, child, now):
        """Indexes a child under its parent, for the orphan check when the parent ends."""
        if parent.finished is not None:
            if child.group is None:
                self._orphan_watch.append((now + self.orphan_grace, child, parent))
            return
        children = self._children.get(parent.num)
        if children is None:
            self._children[parent.num] = [child]
            return
        children.append(child)
        n = len(children)
        if n >= 64 and n & (n - 1) == 0:  # now and then, drop the children that have ended
            children[:] = [c for c in children if c.state in LIVE_STATES]

    def _check_orphans(self, now):
        watch = self._orphan_watch
        while watch and watch[0][0] <= now:
            _, child, parent = watch.popleft()
            if child.state not in LIVE_STATES or child.group is not None:
                continue
            task = child()  # now, not as last seen (a quiet task is looked at less often)
            try:
                pending = task is not None and not task.done()
            finally:
                if task is not None and _refcount(task) <= _SOLE:
                    self._hand_back(task)
                task = None
            if not pending or not self._flag(child, findings.ORPHAN):
                continue
            self._emit(findings.orphan(_ms(now), child.id, child.name, child.coro, self._site(child),
                                       parent.id, parent.name, parent.coro, parent.state, self._made_by(child)))

    def _regroup(self, count, now):
        """Gives the first `count` TaskGroup notes to their tasks' records. A note that
        cannot be given now waits for its task's record (`_group_noted`), if that comes
        within `GROUP_NOTE_SECONDS`: the task has not taken its first step (see
        `_adopt_items`), and the record found at its address, if any, is an older task's."""
        regroup = self.registry.regroup
        by_addr = self.registry.by_addr
        pending = self._group_notes
        while count > 0:
            try:
                addr, group = regroup.popleft()
            except IndexError:
                break
            count -= 1
            if not self._give_group(by_addr.get(addr), group):
                pending[addr] = (group, now)
        if pending:
            horizon = now - GROUP_NOTE_SECONDS
            for addr in [a for a, (_, noted) in pending.items() if noted < horizon]:
                del pending[addr]

    def _regroup_live(self):
        """Gives the records of a session's snapshot the TaskGroups their tasks are in,
        read from each live group (the notes queued while nobody listened were dropped:
        kept, they would grow with every task a long-lived group made)."""
        by_addr = self.registry.by_addr
        for group in list(self.registry.groups.values()):  # the loop's thread adds to it
            try:
                tg = group()
                tasks = getattr(tg, "_tasks", None) if tg is not None else None
                # Read in C, by address: the sampler holds none of the group's tasks.
                addrs = set(map(id, tasks)) if isinstance(tasks, (set, dict)) else ()
                tg = tasks = None
                for addr in addrs:
                    self._give_group(by_addr.get(addr), group)
            except Exception:
                log.exception("reading a TaskGroup's tasks failed")

    def _give_group(self, ref, group):
        """Gives the record `ref` (or None) the TaskGroup `group` when its task is a live
        task of that group (a note names a task by address, which a later task may have
        taken); True when it did."""
        if ref is not None and ref.group is None and ref.state in LIVE_STATES and _in_group(ref, group):
            ref.group = group
            self._changed[ref.num] = ref
            return True
        return False

    def _group_noted(self, ref):
        """The TaskGroup noted for the task of a new record before it had one, or None."""
        note = self._group_notes.pop(ref.addr, None)
        if note is not None and _in_group(ref, note[0]):
            return note[0]
        return None

    def _handle_reports(self, now):
        """asyncio's reports about dying tasks, noted by the hook (see `hooks`)."""
        reports = self.registry.reports
        while reports:
            try:
                kind, ref, when, name, coro, details, key, entry, lr = reports.popleft()
            except IndexError:
                break
            task_id = site = None
            if ref is None or ref.id is None:
                ref = self._record_of_reported(key, entry, name, coro, when, lr)
            if ref is not None:
                if not self._flag(ref, kind):
                    continue
                task_id = ref.id
                name = ref.name or name
                coro = ref.coro or coro
                site = self._site(ref)
            if kind == hooks.DESTROYED_PENDING:
                # In a reference cycle the coroutine may be finalized first: then the
                # last await point the sampler saw stands in.
                if details:
                    pairs, awaiting = details, self.resolver.frames_of(details)
                else:
                    point = (ref.point or ref.last_point) if ref is not None else None
                    pairs, awaiting = (point[0], list(point[1])) if point is not None else ([], [])
                where = self._innermost_user(pairs, awaiting)
                event = findings.destroyed_pending(_ms(when), task_id, name, coro, site, awaiting, where,
                                                   self._made_by(ref))
            else:
                exc_type, message, tb = details
                message = _short(message)
                traceback = self.resolver.frames_of(tb) if tb else []
                event = findings.never_retrieved(_ms(when), task_id, name, coro, site, exc_type, message, traceback,
                                                 self._made_by(ref))
                if task_id is not None and ref.exception is None:
                    # Collected before a sample saw it fail: now its outcome is known.
                    live = ref.state in LIVE_STATES
                    ref.state = "failed"
                    ref.exception = {"type": exc_type, "message": message}
                    if traceback:
                        ref.exception["traceback"] = traceback
                    if live:
                        # Reports come before collections: its collection, not handled
                        # yet, would find it failed, no longer live. It ends here.
                        self._finished(ref, when)  # reported as it was collected
                    elif self._tracked(ref):
                        self._changed[ref.num] = ref
            self._emit(event)

    def _handle_outcomes(self):
        """How the tasks asyncio's runner cancelled at a loop's end ended, noted by the hook
        as they were dropped (see `hooks._cancel_all_wrapper`)."""
        outcomes = self.registry.outcomes
        while outcomes:
            try:
                ref, state, when, exc = outcomes.popleft()
            except IndexError:
                break
            if ref.state not in LIVE_STATES:
                continue  # seen ending by a sample already
            ref.state = state
            if state == "cancelled" and ref.cancel_requested is not None:
                ref.cancel_message = _short(ref.cancel_requested)
            if exc is not None:
                exc_type, message, tb = exc
                ref.exception = {"type": exc_type, "message": _short(message)}
                if tb:
                    ref.exception["traceback"] = self.resolver.frames_of(tb)
            self._finished(ref, when)

    def _record_of_reported(self, key, entry, name, coro, when, lr):
        """The record of a task asyncio reported that no sample had adopted (it lived for
        less than a sample), made from its entry (`entry` when the hook found it on its
        list); None without one.

        Without `entry`, the task's was taken off the hook's list before the report, and
        reports are handled before the entries queued since are taken (`tick`): the
        latest entry with its key that the sampler holds is the task's own (a task made
        at its address later is still on the hook's list). An entry not adopted yet is
        later than every entry of the log."""
        if entry is None:
            entry = self._queued_entry(key, fresh=False)
        if entry is not None:
            hit = EntryLog().add(entry), 0  # a batch of its own, not kept
        else:
            hit = self._log.latest(key)
            if hit is None:
                return None
        batch, k = hit
        ref = batch.records.get(k)
        if ref is not None:
            return ref
        items, offset = batch.items, batch.offsets[k]
        self._learn_all(items[offset:entry_end(items, offset)])
        ref = batch.records[k] = self.registry.dead_record(lr, items[offset + 1], entry_stack(items, offset), when)
        self._adopt(ref, when, None)
        ref.name = name or ""
        ref.coro = coro or ""
        self._link_parent(ref, batch.start + k, when)
        ref.state = "done"
        self._finished(ref, when)
        return ref

    def _innermost_user(self, pairs, frames):
        """The frame of `frames` (resolved from `pairs`, in that order) that is the
        innermost of the program's own, or None."""
        for i in range(len(frames) - 1, -1, -1):
            if 2 * i < len(pairs) and self.resolver.is_user(pairs[2 * i]):
                return frames[i]
        return None

    def _check_stuck(self, ref, task, fut, now):
        """Stuck: still suspended on a future that is not done (one that is done only
        waits for the loop to run the task: a blocked loop is its own finding), not in
        ``asyncio.sleep`` (which ends by itself, however long: a periodic job's wait), not
        in a wait made to run until cancelled (`RUN_UNTIL_CANCELLED`: ``serve_forever``),
        and not waiting on other tasks (a TaskGroup, a gather, ``asyncio.wait``, a task):
        those are looked at for themselves, and one stuck there is the one reported (a
        main task waits on its workers for as long as the program runs), and not under a
        deadline (``asyncio.timeout()``, ``wait_for`` with a timeout: it ends by itself,
        like a sleep). A task in ``Queue.join()`` is stuck once no item of the queue was
        done for as long (its workers busy at it are progress; all of them gone or stuck is
        the classic hang)."""
        waiting_on = ref.waiting_on
        since = ref.waiting_since
        if waiting_on is not None and waiting_on.get("label") == "Queue.join" and since is not None:
            since = self._queue_progress(ref, task, since, now)
        if not (ref.await_sig and now - since >= self.stuck_after and fut is not None and not fut.done()):
            return
        if waiting_on is not None and (waiting_on.get("kind") == "sleep" or "tasks" in waiting_on
                                       or waiting_on.get("label") in RUN_UNTIL_CANCELLED):
            return
        key = id(ref.await_sig)  # shared by every task waiting there (see FrameResolver.chain)
        if self._stuck_places.get(key, 0) >= STUCK_PER_PLACE:
            return  # told already for a few tasks waiting there: one place, one problem
        flagged = ref.flagged
        if flagged is not None and key in flagged:
            return  # told already
        if self._under_deadline(ref, task):
            return  # ends by itself, like a sleep: asyncio.timeout(), wait_for(..., timeout)
        if not self._flag(ref, key):
            return
        if len(self._stuck_places) >= 10000:
            self._stuck_places.clear()
        self._stuck_places[key] = self._stuck_places.get(key, 0) + 1
        where = self._innermost_user(ref.await_sig, ref.awaiting or [])
        idle = now - since if since > ref.waiting_since else None
        self._emit(findings.stuck(_ms(now), ref.id, ref.name, ref.coro, self._site(ref), now - ref.waiting_since,
                                  ref.awaiting, ref.waiting_on, where, self._made_by(ref), idle))

    def _under_deadline(self, ref, task):
        """Whether the task of `ref` waits under a deadline (see `WaitClassifier.under_deadline`
        and `_awaited_by_wait_for_with_deadline`). Read once per wait: the answer is kept
        (`_deadlines`, a dict entry per such task) until the task waits anew, since a task
        past the threshold is looked at every half second or so, and reading its chain
        costs a few microseconds (10,000 idle tasks under a timeout, in `sampling.py`:
        0.74 ms a sample without it, 0.37 ms with it)."""
        since = ref.waiting_since
        if self._deadlines.get(ref.num) == since:
            return True
        try:
            found = self.waits.under_deadline(task.get_coro()) or self._awaited_by_wait_for_with_deadline(ref, task)
        except Exception:
            log.exception("looking for a deadline failed")
            found = False
        if found:
            if len(self._deadlines) >= DEADLINES_MAX:
                self._deadlines.clear()
            self._deadlines[ref.num] = since
        elif self._deadlines:
            self._deadlines.pop(ref.num, None)
        return found

    def _awaited_by_wait_for_with_deadline(self, ref, task):
        """Whether `task` is the one ``wait_for`` made (3.10, 3.11: it runs what it waits
        for in a task of its own, made in the task that calls it) and that caller still
        waits in it with its timer: the deadline is in the caller's chain only. Told from
        the caller's ``wait_for`` itself: its record may not list the task yet."""
        parent = ref.parent
        if not isinstance(parent, RECORDS) or parent.state not in LIVE_STATES:
            return False
        waiting_on = parent.waiting_on
        if waiting_on is None or waiting_on.get("label") != "wait_for":
            return False
        caller = parent()
        try:
            return caller is not None and self.waits.wait_for_with_deadline(caller.get_coro(), task)
        finally:
            if caller is not None and _refcount(caller) <= _SOLE:
                self._hand_back(caller)
            caller = None

    def _queue_progress(self, ref, task, since, now):
        """When the queue that `task` joins last had an item done, as seen at this look,
        or `since`, when it started waiting there, if later (or when the count cannot be
        read)."""
        try:
            count = self.waits.unfinished_items(task.get_coro())
        except Exception:
            count = None
        if count is None:
            ref.progress = None
            return since
        progress = ref.progress
        if progress is None or progress[0] != count or progress[1] < since:
            progress = ref.progress = (count, now if progress is not None and progress[1] >= since else since)
        return progress[1]

    def _report_fire_and_forget(self, ref, now):
        binding, variable = ref.binding
        ref.binding = None
        if not self._flag(ref, findings.FIRE_AND_FORGET):
            return
        site = self._site(ref)
        function = site["function"] if site else None
        self._emit(findings.fire_and_forget(_ms(now), ref.id, ref.name, ref.coro, site, binding, variable, function,
                                            self._made_by(ref)))

    def _report_blocked(self, blocked):
        now = time.time()
        task = blocked.task
        blocked.task = None
        ref = name = coro = None
        if task is not None:
            ref = self.registry.lookup(task)
            if ref is None:
                ref = self._adopt_now(task, now)
            if ref is None:
                try:
                    name = str(task.get_name())
                except Exception:
                    name = None
                coro = self._coro_name(task)
            else:
                name, coro = ref.name, ref.coro
        task = None
        pairs = blocked.stack
        frames = self.resolver.frames_of(pairs)  # innermost first
        blocking = None
        for i in range(0, len(pairs) - 1, 2):
            if self.resolver.is_user(pairs[i]):
                blocking = frames[i // 2] = self.resolver.frame(pairs[i], pairs[i + 1], user=True)
                break
        frames.reverse()
        lr = blocked.loop
        self._emit(findings.loop_blocked(_ms(now), ref.id if ref is not None else None, name, coro, blocked.seconds,
                                         lr.id, lr.thread_name, frames, blocking,
                                         self._site(ref) if ref is not None else None))

    def _discover(self, now):
        ws = _weak_all_tasks()
        lookup = self.registry.lookup
        # Tasks whose entries wait in a queue (not started yet, or over the sample's
        # limit) were seen: they get their records from their entries, with their parent
        # and site.
        queued = {}
        for items in (self.registry.new, self._young, self._backlog, *self._parked):
            if items:
                _add_keys(queued, items, 0)
        if ws is not None:
            try:
                refs = list(ws.data)
            except RuntimeError:
                return
            for wr in refs:
                task = wr()
                if task is None or not isinstance(task, _FUTURES):
                    continue
                try:
                    if lookup(task) is None and not task.done() and hash(task) not in queued:
                        self._adopt_discovered(task, now)
                finally:
                    if _refcount(task) <= _SOLE:
                        self._hand_back(task)
                    task = None
            return
        # asyncio.all_tasks() calls done() and get_loop() of task-like objects that are not
        # asyncio's (given to _register_task by a library): not from this thread. While
        # there are any, tasks made by asyncio.Task(...) directly wait for a later round.
        foreign = self._foreign
        if foreign is not None and any(foreign):
            return
        for lr in list(self._loops.values()):
            loop = lr()
            if loop is None:
                continue
            try:
                tasks = list(asyncio.all_tasks(loop))
            except Exception:
                tasks = []
            loop = None
            while tasks:
                task = tasks.pop()
                if isinstance(task, _FUTURES) and lookup(task) is None and hash(task) not in queued:
                    self._adopt_discovered(task, now)
                if _refcount(task) <= _SOLE:
                    self._hand_back(task)
                task = None

    def _adopt_discovered(self, task, now):
        ref = self.registry.track_discovered(task, task.get_loop(), now)
        self._adopt(ref, now, task)
        self._fresh.append(ref)
        self._hook_loop_of(task)

    @staticmethod
    def _hook_loop_of(task):
        """A task the hook did not see may come from a loop class it does not know yet
        (one that is not a BaseEventLoop): record that class's tasks from now on."""
        try:
            cls = type(task.get_loop())
            if not hooks.is_hooked(cls):
                hooks.hook_loop_class(cls)
        except Exception:
            log.exception("hooking a loop class failed")

    def _resolve_orphans(self):
        """Links records to parents that were not recorded when they were adopted (a
        parent running eagerly inside its own ``create_task``, 3.12+), for a few samples."""
        keep = []
        by_addr = self.registry.by_addr
        for ref in self._orphans:
            addr = ref.parent
            if isinstance(addr, RECORDS) or addr is None:
                continue
            parent = by_addr.get(addr)
            if parent is not None and parent.id is not None and parent is not ref:
                ref.parent = parent
                if self._tracked(ref):
                    self._changed[ref.num] = ref
                self._child_of(parent, ref, time.time())
                continue
            ref.tries += 1
            if ref.tries < 50:
                keep.append(ref)
            else:
                ref.parent = None
                ref.tries = 0
        self._orphans = keep

    def _observe(self, ref, now, running=()):
        """Reads one live task; True when it has finished (the caller then moves it to
        the history: it must stay live while the records due are walked). `running` holds
        the ``id()`` of the loops' current tasks."""
        task = ref()
        if task is None:
            if ref.state in LIVE_STATES:
                ref.state = "done"  # collected between two samples: see _finish_collected
                ref.last_point = ref.point
            ref.finished = now  # its collection (and the time of it) not handled yet
            return True
        try:
            try:
                raw = task._state
            except AttributeError:
                raw = "FINISHED" if task.done() else "PENDING"
            changed = retry = False
            if raw == "PENDING":
                state = "running" if id(task) in running else "pending"
                fut = getattr(task, "_fut_waiter", None)
                waiter = ref.waiter
                # Suspended on the very future it was suspended on at the last look: it has
                # not taken a step since, so its await chain is the same (not read again).
                quiet = (fut is not None and state == "pending" and ref.state == "pending"
                         and waiter and waiter() is fut)
                waiter = None
                if not quiet:
                    self._read_await_point(ref, task, fut, state, now)
                    changed, retry = self._await_point_changed, self.waits.unresolved
                if state == "pending":
                    if ref.binding is not None:  # task in this one local: see loop_only_holds
                        self._suspect(ref, loop_only_holds(task), now)
                    self._check_stuck(ref, task, fut, now)
                fut = None
                name = task.get_name()
                if name != ref.name:
                    ref.name = str(name)
                    changed = True
                if state != ref.state:
                    ref.state = state
                    changed = True
                if changed or retry:
                    if changed:
                        published = ref.published
                        if ref.quiet == 0 and published is not None and now - published < BUSY_PUBLISH_SECONDS:
                            self._held[ref.num] = ref  # changed at the last look too: sent later
                        else:
                            self._changed[ref.num] = ref
                    ref.quiet = 0
                else:
                    ref.quiet = min(2 * ref.quiet or 1, self._max_skip)
                return False
            if raw == "CANCELLED":
                ref.state = "cancelled"
                # The C Task keeps the message of cancel(msg) where Python cannot read it
                # without consuming it; what is known is a message the agent itself sent.
                message = getattr(task, "_cancel_message", None) or ref.cancel_requested
                if message is not None:
                    ref.cancel_message = _short(message)
            else:
                exc = getattr(task, "_exception", None)
                if exc is not None:
                    ref.state = "failed"
                    ref.exception = self._exception_record(exc)
                    exc = None
                else:
                    ref.state = "done"
            ref.finished = now
            return True
        finally:
            if _refcount(task) <= _SOLE:
                self._hand_back(task)
            task = None

    def _read_await_point(self, ref, task, fut, state, now):
        """Reads where a pending task waits: the chain of code objects and offsets, and the
        very future it is suspended on (a task that awaits queue.get() at the same line
        again and again has a new future each time); sets `_await_point_changed`."""
        changed = False
        coro = task.get_coro()
        waiter = ref.waiter
        if waiter is None:
            same = fut is None
        elif waiter is False:
            same = True  # a future without weak references: the chain decides
        else:
            same = waiter() is fut
        waiter = None
        moved = not chain_matches(coro, ref.await_sig)
        self.waits.unresolved = False
        if moved or not same:
            if moved:
                sig = await_chain(coro, is_user=self.resolver.is_user) if coro is not None else []
                ref.point = self.resolver.chain(sig) if sig else None
            ref.waiting_since = now
            if fut is None:
                ref.waiter = None
            else:
                try:
                    ref.waiter = weakref.ref(fut)
                except TypeError:
                    ref.waiter = False
            waiting_on = self.waits.classify(task, coro) if state == "pending" else None
            if self.waits.unresolved:
                ref.waiter = None  # asks again at the next look, which comes soon
            if moved or waiting_on != ref.waiting_on:
                changed = True
            elif ref.published is not None and now - ref.published >= REPUBLISH_SECONDS:
                # The same place again, on a new future: its new waitingSince is sent, at
                # most every REPUBLISH_SECONDS (the view shows seconds).
                changed = True
            ref.waiting_on = waiting_on
        coro = None
        self._await_point_changed = changed

    def _suspect(self, ref, loop_only, now):
        """Fire-and-forget: a candidate that only the loop holds, look after look."""
        if loop_only:
            ref.suspect += 1
            if ref.suspect >= SUSPECT_LOOKS:
                self._report_fire_and_forget(ref, now)
        else:
            ref.suspect = 0

    def _exception_record(self, exc):
        try:
            message = _short(exc)
        except Exception:
            message = "(str() failed)"
        record = {"type": type(exc).__qualname__, "message": message}
        try:
            tb = capture_traceback(exc.__traceback__)
            if tb:
                record["traceback"] = self.resolver.frames_of(tb)
        except Exception:
            pass
        return record

    def _prune(self, now):
        """Lets the oldest finished tasks go past the history's bounds; one that finished
        in this sample goes at the next, once its end has been sent (with a history of one
        task, two that end in one sample are both seen ending)."""
        history = self._history
        horizon = now - self.history_seconds
        changed = self._changed
        while history and (len(history) > self.history_max or history[0].finished < horizon):
            if history[0].num in changed:
                break  # not sent yet: the tasks after it ended later
            ref = history.popleft()
            if self._done.get(ref.num) is ref:
                del self._done[ref.num]
            self._changed.pop(ref.num, None)
            self._removed.append(ref.id)
            ref.parent = None

    # --- messages ---------------------------------------------------------------------

    def _creation(self, ref):
        """Resolves the creation frames the hook captured (once, when first needed)."""
        stack = ref.stack
        if stack:
            ref.made = self.resolver.made(stack)  # in the stack's place

    def task_record(self, ref):
        """The protocol record of a task (built when sent: records are not kept)."""
        if ref.stack:
            self._creation(ref)
        lr = ref.loop
        record = {
            "id": ref.id,
            "name": ref.name if isinstance(ref.name, str) else str(ref.name),
            "coro": ref.coro or "",
            "state": ref.state,
            "parent": ref.parent_id,
            "loop": lr.id if lr is not None else "l0",
            "created": _ms(ref.created),
            "site": ref.site,
        }
        if ref.creation:
            record["stack"] = ref.creation
        if ref.awaiting:
            record["awaiting"] = ref.awaiting
        if ref.waiting_since is not None and ref.state == "pending":
            record["waitingSince"] = _ms(ref.waiting_since)
            ref.published = ref.waiting_since
            if ref.waiting_on is not None:
                record["waitingOn"] = ref.waiting_on
        if ref.group is not None:
            record["group"] = ref.group.id
        if ref.finished is not None:
            record["finished"] = _ms(ref.finished)
        if ref.exception is not None:
            record["exception"] = ref.exception
        if ref.cancel_message is not None:
            record["cancelMessage"] = ref.cancel_message
        return record

    def build_snapshot(self, now):
        """The snapshot, as a ``snapshot`` message with the first `SNAPSHOT_CHUNK` tasks
        (live tasks first) and ``delta`` messages that upsert the rest: each message
        stays far below the protocol's line limit, whatever the number of tasks."""
        referenced = set()
        records = self._live_records()
        records.extend(self._history)
        for ref in records:
            if ref.loop is not None:
                referenced.add(ref.loop.id)
        loops = []
        for lid, lr in list(self._loops.items()):
            if lr() is None and lid not in referenced:
                del self._loops[lid]
                continue
            loops.append(lr.record)
        ms = _ms(now)
        task_record = self.task_record
        chunk = SNAPSHOT_CHUNK
        messages = [protocol.snapshot(ms, loops, [task_record(ref) for ref in records[:chunk]])]
        for i in range(chunk, len(records), chunk):
            messages.append(protocol.delta(ms, [task_record(ref) for ref in records[i:i + chunk]], []))
        return messages

    def _build_deltas(self, now):
        """The ``delta`` messages of a sample: one, or one per `SNAPSHOT_CHUNK` changed
        tasks (a sample that adopts thousands of tasks must stay under the line limit)."""
        records = list(self._changed.values())
        loops = [lr.record for lr in self._loops_changed.values()]
        ms = _ms(now)
        chunk = SNAPSHOT_CHUNK
        messages = [protocol.delta(ms, [self.task_record(ref) for ref in records[:chunk]], list(self._removed), loops)]
        for i in range(chunk, len(records), chunk):
            messages.append(protocol.delta(ms, [self.task_record(ref) for ref in records[i:i + chunk]], []))
        return messages

    # --- commands (run on this thread) ------------------------------------------------

    def _run_commands(self):
        commands = self._commands
        while commands:
            try:
                command = commands.popleft()
            except IndexError:
                break
            try:
                result = self.run_command(command)
            except Exception as e:
                log.exception("command %r failed", command.get("command"))
                result = protocol.result_error(command["id"], "the agent failed: %s" % e)
            self.sink.send_result(result)

    def run_command(self, command):
        """The `result` message for one validated command."""
        cid = command["id"]
        name = command["command"]
        if name == "cancel":
            ref = self._find(command["task"])
            if ref is None:
                return protocol.result_error(cid, "no task %s" % command["task"])
            error = self._cancel(ref, command.get("msg"))
            if error:
                return protocol.result_error(cid, error)
            return protocol.result_ok(cid, {"cancelled": [ref.id]})
        if name == "cancelTree":
            root = self._find(command["task"])
            if root is None:
                return protocol.result_error(cid, "no task %s" % command["task"])
            _, cancelled = self._cancel_all(self._tree(root), command.get("msg"))
            return protocol.result_ok(cid, {"cancelled": cancelled})
        if name == "stack":
            ref = self._find(command["task"])
            if ref is None:
                return protocol.result_error(cid, "no task %s" % command["task"])
            return protocol.result_ok(cid, self._stack(ref))
        if name == "setInterval":
            self.interval = self._clamp(command["interval"])
            self._max_skip = self._skips(self.interval)
            self.watch_period = self._watch_period()
            self.orphan_grace = max(1.0, 3 * self.interval)
            return protocol.result_ok(cid, {"interval": self.interval})
        return protocol.result_error(cid, "unknown command %r" % name)

    def _find(self, task_id):
        if not isinstance(task_id, str) or not task_id.startswith("t") or not task_id[1:].isdigit():
            return None
        num = int(task_id[1:])
        found = self._done.get(num)
        if found is None:
            for ref in self._live_records(ordered=False):
                if ref.num == num:
                    return ref
        return found

    def _tracked(self, ref):
        """True while `ref` is one of the records the extension is told about."""
        return ref.state in LIVE_STATES or self._done.get(ref.num) is ref

    def records(self):
        """Every record the extension is told about: the live tasks, then the history."""
        records = self._live_records()
        records.extend(self._done.values())
        return records

    def _live_records(self, ordered=True):
        """The records of the live tasks (a new list), oldest first unless not `ordered`.
        A live task's record is in ``by_addr`` under its task's address; so, for a while,
        are those of collected tasks (finished, or about to be: see `_handle_collected`)."""
        records = [ref for ref in list(self.registry.by_addr.values()) if ref.state in LIVE_STATES]
        if ordered:
            records.sort(key=_num_of)
        return records

    def live_count(self):
        """How many live tasks have a record (counted: for tests and benchmarks)."""
        return sum(1 for ref in list(self.registry.by_addr.values()) if ref.state in LIVE_STATES)

    def _cancel(self, ref, msg):
        """Schedules ``task.cancel(msg)`` on the task's loop; returns an error text or None."""
        return self._cancel_all([ref], msg)[0].get(ref.id)

    def _cancel_all(self, refs, msg):
        """Cancels the tasks of `refs` on their loops: ``({id: error}, [cancelled ids])``.

        Every task is checked before any is cancelled, and the tasks of one loop are
        cancelled by one callback, in one go: cancelling a parent cancels the task it
        awaits, and the program may then end and close its loop before a second callback
        could be scheduled (the tree's other tasks were cancelled all the same, but the
        answer would have said otherwise).
        """
        errors = {}
        by_loop = {}  # id(loop) -> (loop, [ref, ...], [task, ...])
        for ref in refs:
            task = ref()
            if task is None:
                errors[ref.id] = "task %s no longer exists" % ref.id
                continue
            try:
                loop = task.get_loop()
                if task.done():
                    errors[ref.id] = "task %s has already finished" % ref.id
                elif loop.is_closed():
                    errors[ref.id] = "the loop of task %s is closed" % ref.id
                else:
                    group = by_loop.get(id(loop))
                    if group is None:
                        group = by_loop[id(loop)] = (loop, [], [])
                    group[1].append(ref)
                    group[2].append(task)
            finally:
                loop = None
                if _refcount(task) <= _SOLE:
                    self._hand_back(task)
                task = None
        cancelled = []
        for loop, group_refs, tasks in by_loop.values():
            try:
                loop.call_soon_threadsafe(_cancel_each, tasks, msg)
            except RuntimeError as e:
                del tasks[:]  # the loop is closed: nothing can be handed back to it
                for ref in group_refs:
                    errors[ref.id] = "cannot cancel task %s: %s" % (ref.id, e)
                continue
            for ref in group_refs:
                if msg is not None:
                    ref.cancel_requested = msg
                cancelled.append(ref.id)
        by_loop.clear()  # the loop's callback holds the tasks now, and lets go of them there
        loop = tasks = None
        return errors, cancelled

    def _tree(self, root):
        """`root` and every live task it created, transitively (root first)."""
        children = {}
        for ref in self._live_records():
            if ref.parent_id is not None:
                children.setdefault(ref.parent_id, []).append(ref)
        out, todo, seen = [], [root], set()
        while todo:
            ref = todo.pop(0)
            if ref.id in seen:
                continue
            seen.add(ref.id)
            out.append(ref)
            todo.extend(children.get(ref.id, ()))
        return out

    def _stack(self, ref):
        if ref.stack:
            self._creation(ref)
        creation = []
        if ref.creation:
            creation = list(ref.creation)
        awaiting = []
        task = ref()
        try:
            if task is not None and not task.done():
                coro = task.get_coro()
                sig = await_chain(coro, limit=256) if coro is not None else []
                coro = None
                awaiting = self.resolver.frames_of(sig)
        finally:
            if task is not None and _refcount(task) <= _SOLE:
                self._hand_back(task)
            task = None
        return {"awaiting": awaiting, "creation": creation}
