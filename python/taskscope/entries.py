"""The last few batches of hot-path entries, for finding a task by its hash after the fact.

The sampler takes the hook's entries (see `registry`) in batches, in the order the tasks were made, and makes records only for
tasks that lived through a sample. Two questions then need the entries of tasks that got
no record:

- Who is the parent of a new record? The hook noted only the parent's ``id()``: the
  parent is the *latest task made before the child* at that address (it was alive when the
  child was made, so no other task had that address in between). Addresses are reused
  quickly, so the record found by address may be a later task, or an earlier one that
  died; the entries tell which.
- Which entry belongs to a task asyncio reported dying (``exception never retrieved``)?

Entries are looked up by hash: an entry's key is the task's hash (or, on 3.14, a weak
reference to it, whose hash stays readable after the task is gone: the ``create_task``
wrapper hashes it). A task at an address has the hash `pointer_hash` gives for that
address.

A key is not the task: the task of an entry is found by its hash in asyncio's set of all
tasks (`TaskLookup`), and once the task is gone, a task made later may have its address,
hence its hash. So the task found for an entry is the entry's own only when no entry
with the same key was queued after it (the sampler checks).

Each batch is indexed by hash once, when a lookup first needs it (most samples need none).
Kept: the last `KEEP` batches (a parent that ended before it was adopted was made at most
two batches before its child).
"""

import asyncio
import gc
import sys
from itertools import compress, repeat
from operator import is_not, itemgetter

KEEP = 3


def _pointer_hash_of(addr):
    # CPython's hash of an object without __hash__ (Python/pyhash.c, _Py_HashPointer):
    # its address rotated right by 4 bits, as a signed machine word.
    bits = sys.hash_info.width
    mask = (1 << bits) - 1
    value = ((addr >> 4) | (addr << (bits - 4))) & mask
    if value >= 1 << (bits - 1):
        value -= 1 << bits
    return -2 if value == -1 else value


def _pointer_hash_works():
    probe = asyncio.Future.__new__(asyncio.Future)
    return _pointer_hash_of(id(probe)) == hash(probe)


_POINTER_HASH = _pointer_hash_works()


def pointer_hash(addr):
    """The hash of the task at `addr` (which need not exist any more), or None where it
    cannot be told from the address (then parents that ended early stay unknown)."""
    return _pointer_hash_of(addr) if _POINTER_HASH else None


#: Frames per slot of the hook's queue, and items per slot (see `registry`): the key, the
#: parent's id, the number of frames the slot holds, then FRAMES ``code, lasti`` pairs
#: (``None, -1`` where there are fewer). Every entry is one slot, or more when its stack
#: is deeper (continuation slots, whose key is None, follow their entry's first slot).
FRAMES = 3
STRIDE = 3 + 2 * FRAMES
_CODE_COLUMNS = tuple(range(3, STRIDE, 2))


def pack(entry):
    """The slots of an entry given as ``[key, parent, 0, code, lasti, ...]`` with any
    number of frames: a list of a multiple of `STRIDE` items (the hook's rare case)."""
    frames = entry[3:]
    out = []
    key, parent = entry[0], entry[1]
    for start in range(0, max(len(frames), 1), 2 * FRAMES):
        chunk = frames[start:start + 2 * FRAMES]
        out.append(key)
        out.append(parent)
        out.append(len(chunk) // 2)
        out.extend(chunk)
        out.extend((None, -1) * (FRAMES - len(chunk) // 2))
        key = parent = None
    return out


def heads(items):
    """The offsets of the entries of a queue of slots (a range where no entry has a
    continuation slot, the usual case: no loop over the items)."""
    keys = items[0::STRIDE]
    if None not in keys:
        return range(0, len(items), STRIDE)
    return tuple(compress(range(0, len(items), STRIDE), map(is_not, keys, repeat(None))))  # in C


def keys_at(items, offsets):
    """The keys of the entries at `offsets` (a range or a tuple), as a tuple, in C: a
    burst's batch holds tens of thousands."""
    if type(offsets) is range and offsets.step == STRIDE:
        return tuple(items[offsets.start:offsets.stop:STRIDE])
    if len(offsets) < 2:
        return tuple(items[offset] for offset in offsets)
    return itemgetter(*offsets)(items)


def entry_end(items, offset):
    """The offset just past the entry at `offset` (its continuation slots included)."""
    end = offset + STRIDE
    n = len(items)
    while end < n and items[end] is None:
        end += STRIDE
    return end


def entry_stack(items, offset):
    """The ``[code, lasti, ...]`` of the entry at `offset` (innermost first)."""
    stack = items[offset + 3:offset + 3 + 2 * items[offset + 2]]
    end = offset + STRIDE
    n = len(items)
    while end < n and items[end] is None:
        stack += items[end + 3:end + 3 + 2 * items[end + 2]]
        end += STRIDE
    return stack


def latest_entry(items, key):
    """The latest entry of `items` (a queue of slots, which the hook may extend meanwhile:
    only the whole entries there now are read) whose key is the hash `key`, as a tuple of
    its slots; None without one. C-level but for the keys of 3.14 (weak references)."""
    n = len(items)  # whole slots: the hook adds one entry's in one step
    if n < STRIDE:
        return None
    keys = items[n - STRIDE::-STRIDE]  # the latest first (a list or a tuple, as `items`)
    if type(keys[0]) is not int:
        keys = [hash_or_none(item) if item is not None else None for item in keys]
    try:
        offset = n - STRIDE * (1 + keys.index(key))
    except ValueError:
        return None
    return tuple(items[offset:entry_end(items, offset)])


def walked(items, start=0, stop=None):
    """True when an entry of `items` (a queue of slots; from offset `start`, an entry's,
    to `stop`) came from a walk up the stack: the hook's one-step routes never read the
    line of their first frame (asyncio's), and put -1 there, where a walk puts the offset
    it read (and so does a continuation slot). Only a walk can hold a code object that
    nobody has classified yet. One C-level pass."""
    lastis = items[start + 4:stop:STRIDE]
    return bool(lastis) and max(lastis) >= 0


def unknown_codes(items, known):
    """The code objects in a queue of slots whose ``id()`` is not a key of `known`, as
    ``{id(code): code}``. C-level: a burst of 100,000 entries holds a handful of distinct
    codes, usually all known already, and each column of codes goes into one small dict."""
    found = {}
    for column in _CODE_COLUMNS:
        codes = items[column::STRIDE]
        found.update(zip(map(id, codes), codes))
    found.pop(id(None), None)
    for key in found.keys() & known.keys():
        del found[key]
    return found


class Batch:
    """One sample's entries (slots, see `registry`), in the order the tasks were made,
    and their records by k (the few the sampler made).

    Items are a tuple, or a list the garbage collector does not track (the hook's queue
    as taken, see `Registry.take_new`): the collector stops looking into a tuple of
    untracked objects (ints, code objects), where it would go through a tracked list's
    items at every full collection."""

    __slots__ = ("items", "offsets", "records", "start", "_last", "_first", "_keys")

    def __init__(self, items, start, offsets=None):
        self.items = items if type(items) is tuple or not gc.is_tracked(items) else tuple(items)
        self.offsets = heads(self.items) if offsets is None else offsets
        self.records = {}
        self.start = start  # position of the first entry among all entries ever taken
        self._last = None
        self._first = None
        self._keys = None

    def ks(self, key):
        """The k of the entries with hash `key`, ascending: an int, a list, or None."""
        last = self._last
        if last is None:
            self._build_index()
            last = self._last
        k = last.get(key)
        if k is None:
            return None
        first = self._first.get(key)
        if first == k:
            return k
        # An address reused within the batch: the few entries between, by a C-level scan.
        keys = self._keys
        found = [first]
        i = first
        while i < k:
            i = keys.index(key, i + 1)
            found.append(i)
        return found

    def _build_index(self):
        # Built once per batch, when a lookup first needs it (most samples need none):
        # the first and the last k of each hash, by C-level zipping.
        keys = keys_at(self.items, self.offsets)
        if keys and type(keys[0]) is not int:  # weak references (3.14)
            keys = tuple(map(hash_or_none, keys))
        self._keys = keys
        n = len(keys)
        self._last = dict(zip(keys, range(n)))
        self._first = dict(zip(reversed(keys), range(n - 1, -1, -1)))


def hash_or_none(item):
    """The hash of `item`, or None where it has none (a weak reference whose referent was
    gone before it was ever hashed)."""
    try:
        return hash(item)
    except TypeError:
        return None  # a weak reference never hashed while its task was alive


class TaskLookup:
    """Finds tasks by hash in asyncio's set of all tasks (`Registry.task_data`: a set of
    weak references, each hashed as its task).

    A set finds its element equal to a key of the same hash, and a weak reference does not
    compare with anything but a weak reference: Python then asks the key. The key here is
    a `_Probe`, an ``int`` whose ``__eq__`` notes the weak reference it is compared with
    and answers no, so the lookup goes on through every element of that hash. Where no
    task has the hash (most entries: their task is gone), the lookup never leaves C."""

    def __init__(self, registry):
        self._registry = registry
        hits = self._hits = []
        note = hits.append

        class _Probe(int):
            __slots__ = ()
            __hash__ = int.__hash__

            def __eq__(self, other):
                note(other)  # a weak reference, dead or alive: the caller reads it
                return False

        self._probe = _Probe

    def live_keys(self, keys):
        """The keys of `keys` (ints, maybe repeated) that are the hash of a weak reference
        in asyncio's set (a set). C-level: with many keys (a burst), the hashes of the whole
        set are taken at once and the keys looked up in them (no set of the keys: a burst's
        is tens of thousands, fresh memory each time); with few, each distinct key is probed
        (a probe that finds a reference costs a Python call)."""
        data = self._registry.task_data
        if data is None or not keys:
            return set()
        if len(keys) * 4 > len(data):
            return set(map(hash, list(data))).intersection(keys)
        return set(self.refs(set(keys)))

    def refs(self, keys):
        """``{key: [weak reference, ...]}`` for the keys of `keys` (ints) that are the hash
        of a weak reference in asyncio's set, dead ones included (a set may hold a dead one
        for a while, and then a live one of the same hash)."""
        data = self._registry.task_data
        if data is None:
            return {}
        hits = self._hits
        del hits[:]
        any(map(data.__contains__, map(self._probe, keys)))  # the loop stays in C
        found = {}
        for wr in hits:
            key = hash(wr)  # cached by the weak reference
            refs = found.get(key)
            if refs is None:
                found[key] = [wr]
            else:
                refs.append(wr)
        del hits[:]
        return found

    def ref(self, key):
        """The weak references of asyncio's set with hash `key`: a list, maybe empty."""
        return self.refs((key,)).get(key, [])


def _ascending(ks):
    return () if ks is None else (ks,) if type(ks) is int else ks


class EntryLog:
    """The last `KEEP` batches; positions count every entry ever taken, in order."""

    def __init__(self):
        self._batches = []
        self._taken = 0

    def add(self, items, offsets=None):
        """Keeps a new batch (drops the oldest); returns it. `offsets`: those of the
        entries of `items`, when the caller has them."""
        batch = Batch(items, self._taken, offsets)
        self._taken += len(batch.offsets)
        self._batches.append(batch)
        if len(self._batches) > KEEP:
            del self._batches[0]
        return batch

    def at(self, position):
        """``(batch, k)`` of a kept position (the k-th entry of the batch), or None."""
        for batch in self._batches:
            k = position - batch.start
            if 0 <= k < len(batch.offsets):
                return batch, k
        return None

    def before(self, key, position):
        """``(batch, k)`` of the latest kept entry with hash `key` made before
        `position`, or None."""
        for batch in reversed(self._batches):
            if batch.start >= position:
                continue
            for k in reversed(_ascending(batch.ks(key))):
                if batch.start + k < position:
                    return batch, k
        return None

    def after(self, key, position):
        """``(batch, k)`` of the first kept entry with hash `key` made after `position`,
        or None."""
        for batch in self._batches:
            if batch.start + len(batch.offsets) <= position + 1:
                continue
            for k in _ascending(batch.ks(key)):
                if batch.start + k > position:
                    return batch, k
        return None

    def latest(self, key):
        """``(batch, k)`` of the latest kept entry with hash `key`, or None."""
        for batch in reversed(self._batches):
            ks = _ascending(batch.ks(key))
            if ks:
                return batch, ks[-1]
        return None
