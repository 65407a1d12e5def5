"""Record mode: the stream the extension would receive, written to a file.

``python -m taskscope run --record FILE`` (or ``TASKSCOPE_RECORD=FILE``) writes ``hello``,
a ``snapshot``, then ``delta`` and ``event`` messages as they happen, and ``bye`` at exit:
the same lines, in the same framing, that a live extension would get (``seq`` numbered in
this file; no ``token``; no ``result``, which answers a live extension's commands). It
works with or without a live connection; the extension opens such a file later
(``loadRecording``).

Each message is written with one ``write()`` of its whole line to a file opened for
appending, from the sampler thread (``hello`` and ``bye`` from the thread that starts and
stops the agent): a program that dies mid-stream leaves a file whose every line is whole
and valid, and that merely lacks ``bye``. A message that cannot be written (disk full) is
counted and logged once; recording goes on with the next.

`Fanout` lets the sampler feed the live connection and the recording alike: a session is
on while either is, a snapshot is made when either wants one, and each gets its own copy
of every message (the transport numbers its copies as it sends them).
"""

import os
import threading

from . import protocol
from .log import log


class Recorder:
    """A sink for the sampler (see `Fanout`) that appends protocol lines to a file."""

    def __init__(self, path):
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_APPEND", 0) | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(path, flags, 0o644)
        self._lock = threading.Lock()
        self._seq = 0
        self._snapshot_wanted = True
        self.written = 0
        self.failed = 0

    # --- the sampler's side ---------------------------------------------------------------

    def session_active(self):
        return self._fd is not None

    def take_snapshot_request(self):
        wanted, self._snapshot_wanted = self._snapshot_wanted, False
        return wanted

    def send_state(self, message):
        return self._write(message)

    def send_snapshot(self, message, rest=()):
        """Writes a snapshot and the deltas that carry the rest of it."""
        written = self._write(message)
        for delta in rest:
            written = self._write(delta) and written
        return written

    def send_result(self, message):
        return False  # answers to a live extension's commands are not part of a recording

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, hello):
        """Writes ``hello`` (the first line)."""
        hello = dict(hello)
        hello.pop("token", None)
        self._write(hello)

    def close(self, bye=None):
        """Writes ``bye`` (when given) and closes the file. Safe to call twice."""
        if bye is not None:
            self._write(bye)
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def abandon(self):
        """In a forked child: let go of the parent's file without writing to it."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _write(self, message):
        message = dict(message)
        kind = message.get("type")
        with self._lock:
            if self._fd is None:
                return False
            sequenced = kind in protocol.SEQUENCED_TYPES
            if sequenced:
                message["seq"] = self._seq + 1
                if kind == "snapshot":
                    message["dropped"] = 0
            try:
                protocol.validate_agent_message(message, deep=False)
                data = protocol.encode(message)
            except (protocol.ProtocolError, TypeError, ValueError) as e:
                log.error("not recording an invalid %s message: %s", kind, e)
                return False
            try:
                view = memoryview(data)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError as e:
                self.failed += 1
                if self.failed == 1:
                    log.error("cannot write the recording %s: %s", self.path, e)
                return False
            if sequenced:
                self._seq += 1
            self.written += 1
            return True


class Fanout:
    """Several sinks seen by the sampler as one (see the module docstring)."""

    def __init__(self, sinks):
        self.sinks = list(sinks)

    def session_active(self):
        return any(s.session_active() for s in self.sinks)

    def take_snapshot_request(self):
        wanted = False
        for s in self.sinks:
            if s.session_active() and s.take_snapshot_request():
                wanted = True
        return wanted

    def _each(self, method, message, copy):
        """Hands `message` to every active sink (each its own copy when `copy`: sinks stamp it)."""
        sent = False
        for s in self.sinks:
            if s.session_active():
                sent = getattr(s, method)(dict(message) if copy else message) or sent
        return sent

    def send_state(self, message):
        return self._each("send_state", message, copy=True)

    def send_snapshot(self, message, rest=()):
        sent = False
        for s in self.sinks:
            if s.session_active():
                sent = s.send_snapshot(dict(message), [dict(d) for d in rest]) or sent
        return sent

    def send_result(self, message):
        return self._each("send_result", message, copy=False)
