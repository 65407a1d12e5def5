"""Where a suspended coroutine waits, read without giving it a frame object.

Python 3.11 and later keep a coroutine's frame inside the coroutine object, and create a
frame object for it only when someone asks: ``coro.cr_frame``. Once created, that frame
object lives as long as the coroutine (about 160 bytes per waiting task, measured by
``bench/agent/memory.py``), so reading ``cr_frame.f_lasti`` of every waiting task would
change what the program holds in memory.

The instruction offset is also a pointer inside the coroutine object: ``prev_instr``
(3.11, 3.12) or ``instr_ptr`` (3.13+) of its interpreter frame, which points into its code
object's bytecode. This module finds, once, at which word of the coroutine object that
pointer is and how it relates to ``f_lasti``, by *measuring* it on coroutines of its own
(no layout is written down here): it suspends a probe coroutine at two awaits, reads the
coroutine's words each time (``ctypes.string_at`` on its own memory, within
``sys.getsizeof``), and keeps the word that moved by exactly the difference of the two
``f_lasti`` and points into the probe's code object. A second probe, of other code,
suspended elsewhere, must then read right too. Where any of this fails (3.10, where every
coroutine has a frame object anyway; another implementation; a surprise), `lasti`
answers None and the caller reads ``cr_frame`` as before.

A read is one ``ctypes`` read of one word of a live object the caller holds, on the
sampler thread with the interpreter lock held (the coroutine cannot move meanwhile), and
the value is checked against the code's length.
"""

import sys
import types

try:
    import ctypes
except Exception:  # a Python without ctypes
    ctypes = None

_WORD = 8 if sys.maxsize > 2 ** 32 else 4


class _Step:
    """An awaitable that suspends the coroutine awaiting it once."""

    def __await__(self):
        yield


async def _probe_a():
    await _Step()
    x = 1
    await _Step()
    return x


async def _probe_b():
    y = [0]
    y.append(1)
    await _Step()
    y.append(2)
    await _Step()
    return y


def _words(coro):
    size = sys.getsizeof(coro)
    raw = ctypes.string_at(id(coro), size - size % _WORD)
    return [int.from_bytes(raw[i:i + _WORD], sys.byteorder) for i in range(0, len(raw), _WORD)]


def _suspended_twice(make):
    """Words and ``f_lasti`` of a coroutine at its first and at its second await."""
    coro = make()
    try:
        coro.send(None)
        first = _words(coro)
        probe = make()
        probe.send(None)
        lasti_1 = probe.cr_frame.f_lasti  # of a twin: the coroutine read keeps no frame object
        probe.send(None)
        lasti_2 = probe.cr_frame.f_lasti
        probe.close()
        coro.send(None)
        second = _words(coro)
        return coro, first, lasti_1, second, lasti_2
    except BaseException:
        coro.close()
        raise


def _calibrate():
    """``(word index, bias)`` such that a suspended coroutine's ``f_lasti`` is the word at
    that index, less the address of its code object, less the bias; None if not found."""
    if ctypes is None or sys.version_info < (3, 11) or sys.implementation.name != "cpython":
        return None
    coro, first, lasti_1, second, lasti_2 = _suspended_twice(_probe_a)
    code = coro.cr_code
    low, high = id(code), id(code) + sys.getsizeof(code)
    found = None
    for index, (a, b) in enumerate(zip(first, second)):
        if b - a == lasti_2 - lasti_1 and low <= a < high and low <= b < high:
            found = (index, a - id(code) - lasti_1)
            break
    coro.close()
    if found is None or lasti_1 == lasti_2:
        return None
    reader = _Reader(*found)
    # The other probe, other code, other offsets: each read must agree with f_lasti.
    coro = _probe_b()
    twin = _probe_b()
    try:
        for _ in range(2):
            coro.send(None)
            twin.send(None)
            if reader.lasti(coro) != twin.cr_frame.f_lasti:
                return None
    finally:
        coro.close()
        twin.close()
    return found


class _Reader:
    def __init__(self, index, bias):
        self._offset = index * _WORD
        self._bias = bias
        self._sizes = {}  # id(code) -> (code, its bytecode's length)
        self._read = ctypes.c_size_t.from_address

    def lasti(self, coro):
        """The instruction offset of a suspended coroutine (``f_lasti``), or None when it
        cannot be read so (the caller then reads ``cr_frame``)."""
        if type(coro) is not types.CoroutineType or not coro.cr_suspended:
            return None
        code = coro.cr_code
        lasti = self._read(id(coro) + self._offset).value - id(code) - self._bias
        known = self._sizes.get(id(code))
        if known is None or known[0] is not code:
            if len(self._sizes) > 10000:
                self._sizes.clear()
            known = self._sizes[id(code)] = (code, len(code.co_code))
        if 0 <= lasti < known[1] and not lasti & 1:
            return lasti
        return None


def _make_reader():
    try:
        found = _calibrate()
    except Exception:
        found = None
    return _Reader(*found) if found is not None else None


_READER = _make_reader()


def lasti(coro):
    """``f_lasti`` of a suspended coroutine, read from the coroutine object itself; None
    where that cannot be done (see the module docstring)."""
    return _READER.lasti(coro) if _READER is not None else None


def available():
    """True when offsets are read without frame objects on this Python."""
    return _READER is not None
