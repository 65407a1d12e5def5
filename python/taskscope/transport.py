"""The connection to the extension: one daemon thread, a bounded queue, reconnects.

The sender thread (``taskscope-transport``) connects to the address, sends ``hello``,
waits for ``welcome`` (or ``reject``), then writes queued messages and reads commands
until the connection ends; then it waits `retry` seconds (``TASKSCOPE_RETRY``, default 3)
and starts again with ``hello``. Nobody listening costs the program nothing: it runs as
if the agent were absent. After ``reject`` it closes and never connects again.

The sampler hands messages over without ever blocking (`send_state`, `send_snapshot`,
`send_result`). The queue holds at most `queue_max` state messages; when it is full the
message is dropped and counted, later deltas are dropped too, and the sampler is asked
for a fresh snapshot (`take_snapshot_request`), which replaces the deltas still queued,
so the next state message the extension gets is whole again. ``seq`` is numbered here,
as messages are written, so the extension sees no gaps; ``dropped`` is added to
snapshots. Every message is checked with `protocol.validate_agent_message` before it is
written (its task records too when ``TASKSCOPE_DEBUG`` is on; otherwise they are trusted,
being built by the sampler alone, and the tests check them all): one that fails is logged
and never sent.

Lines from the extension are split with the 8 MiB limit (`LineReader`), validated, and
dropped with a log line when invalid; nothing received can raise into the program or
close the connection by itself.
"""

import select
import socket
import sys
import threading
import time
from collections import deque

from . import protocol
from .log import log

RETRY_SECONDS = 3.0
QUEUE_MAX = 256
RESULTS_MAX = 4096
HANDSHAKE_SECONDS = 5.0
SEND_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0
POLL_SECONDS = 0.05


class LineReader:
    """Splits received bytes into lines; a line over the limit is dropped whole."""

    def __init__(self, limit=protocol.MAX_LINE_BYTES):
        self.limit = limit - 1  # the newline counts
        self._buf = bytearray()
        self._skipping = False
        self.oversized = 0

    def feed(self, data):
        lines = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            end = len(data) if nl < 0 else nl
            if not self._skipping:
                self._buf += data[start:end]
                if len(self._buf) > self.limit:
                    self._skipping = True
                    self._buf = bytearray()
            if nl < 0:
                return lines
            if self._skipping:
                self.oversized += 1
                log.warning("dropped a line from the extension longer than %d bytes", self.limit + 1)
                self._skipping = False
            else:
                line = bytes(self._buf)
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line.strip():
                    lines.append(line)
            self._buf = bytearray()
            start = nl + 1


class _SocketConnection:
    def __init__(self, sock):
        self.sock = sock
        sock.settimeout(SEND_TIMEOUT)

    def poll(self, timeout):
        readable, _, _ = select.select([self.sock], [], [], timeout)
        return bool(readable)

    def recv(self):
        return self.sock.recv(65536)

    def send(self, data):
        self.sock.sendall(data)

    def abort(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class _PipeConnection:
    """A Windows named pipe opened as a plain file.

    One thread does all the I/O, so a synchronous handle is enough: it never reads while
    it writes. ``PeekNamedPipe`` tells whether a read would block. Not tested on Windows
    in this repository's CI (which runs on Linux).
    """

    def __init__(self, path):
        import _winapi  # noqa: F401  (Windows only)
        import msvcrt
        self._winapi = _winapi
        self.file = open(path, "r+b", buffering=0)
        self.handle = msvcrt.get_osfhandle(self.file.fileno())

    def _available(self):
        return self._winapi.PeekNamedPipe(self.handle, 0)[0]

    def poll(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self._available():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def recv(self):
        n = self._available()
        return self.file.read(max(1, min(n, 65536)))

    def send(self, data):
        view = memoryview(data)
        while view:
            written = self.file.write(view)
            view = view[written or 0:]

    def abort(self):
        self.close()

    def close(self):
        try:
            self.file.close()
        except OSError:
            pass


class Transport:
    """Owns the connection and the sender thread; see the module docstring."""

    def __init__(self, address, hello_factory, retry=RETRY_SECONDS, queue_max=QUEUE_MAX,
                 handshake_seconds=HANDSHAKE_SECONDS):
        self.address = address
        self.hello_factory = hello_factory
        self.retry = retry
        self.queue_max = queue_max
        self.handshake_seconds = handshake_seconds
        #: Called on the sender thread when a session begins, and for each valid command.
        self.on_session_start = None
        self.on_command = None
        self.connections = 0
        #: Check the task records inside messages too (costly; on with TASKSCOPE_DEBUG).
        self.validate_records = log.debug_enabled
        self._lock = threading.Lock()
        self._queue = deque()
        self._active = False
        self._snapshot_wanted = False
        self._dropping = False
        self._dropped = 0
        self._seq = 0
        self._rejected = False
        self._stop = threading.Event()
        # Set while no connection is being set up; clear from the start, since the
        # sender thread's first attempt is about to begin.
        self._idle = threading.Event()
        self._conn = None
        self._thread = None
        self._unknown_types = set()

    # --- the sampler's side (never blocks) --------------------------------------------

    def session_active(self):
        return self._active

    def take_snapshot_request(self):
        with self._lock:
            wanted = self._snapshot_wanted
            self._snapshot_wanted = False
            return wanted

    def send_state(self, message):
        """Queues a delta or event; False when it was dropped."""
        with self._lock:
            if not self._active:
                return False
            if self._dropping or len(self._queue) >= self.queue_max:
                self._dropped += 1
                self._dropping = True
                self._snapshot_wanted = True
                return False
            self._queue.append(message)
            return True

    def send_snapshot(self, message, rest=()):
        """Queues a snapshot and the deltas that carry the rest of it (`rest`), whatever
        the queue's bound: deltas still queued are superseded by them and removed."""
        with self._lock:
            if not self._active:
                return False
            if any(m.get("type") == "delta" for m in self._queue):
                self._queue = deque(m for m in self._queue if m.get("type") != "delta")
            self._queue.append(message)
            self._queue.extend(rest)
            self._dropping = False
            return True

    def send_result(self, message):
        with self._lock:
            if not self._active or len(self._queue) >= RESULTS_MAX:
                return False
            self._queue.append(message)
            return True

    # --- lifecycle ----------------------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._run, name="taskscope-transport", daemon=True)
        self._thread.start()

    def wait_handshake(self, timeout):
        """Waits (at most `timeout`) while a connection is being set up."""
        return self._idle.wait(timeout)

    def close(self, bye=None, timeout=1.0):
        """Sends `bye` if a session is on, flushes, closes; waits at most `timeout`."""
        with self._lock:
            if self._active and bye is not None:
                self._queue.append(bye)
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if thread.is_alive():
            conn = self._conn
            if conn is not None:
                conn.abort()
            thread.join(0.5)
        return not thread.is_alive()

    @property
    def rejected(self):
        return self._rejected

    # --- the sender thread ------------------------------------------------------------

    def _run(self):
        try:
            self._loop()
        except BaseException:  # never let threading.excepthook print into the program's stderr
            try:
                log.exception("the transport thread failed")
            except BaseException:
                pass
        finally:
            self._idle.set()

    def _loop(self):
        while not self._stop.is_set() and not self._rejected:
            conn = self._connect()
            if conn is False:
                return  # this kind of address cannot work here
            if conn is not None:
                self.connections += 1
                self._conn = conn
                try:
                    self._session(conn)
                except OSError as e:
                    log.info("connection to %s lost: %s", self.address.text, e)
                except Exception:
                    log.exception("connection to %s failed", self.address.text)
                finally:
                    with self._lock:
                        self._active = False
                        self._queue.clear()
                    self._conn = None
                    conn.close()
                    self._idle.set()
            if self._rejected or self._stop.is_set():
                return
            self._stop.wait(self.retry)

    def _connect(self):
        address = self.address
        self._idle.clear()
        try:
            if address.kind == "unix":
                if not hasattr(socket, "AF_UNIX"):
                    log.error("unix: addresses are unsupported on this platform (%s)", address.text)
                    return False
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(CONNECT_TIMEOUT)
                    sock.connect(address.target)
                except OSError:
                    sock.close()
                    raise
                return _SocketConnection(sock)
            if address.kind == "tcp":
                sock = socket.create_connection(address.target, timeout=CONNECT_TIMEOUT)
                return _SocketConnection(sock)
            if address.kind == "pipe":
                if sys.platform != "win32":
                    log.error("pipe: addresses are unsupported on this platform (%s); the agent stays "
                              "disconnected", address.text)
                    return False
                return _PipeConnection(address.target)
            return False
        except OSError as e:
            self._idle.set()
            log.debug("cannot connect to %s: %s", address.text, e)
            return None

    def _write(self, conn, message):
        """Numbers, checks, encodes and writes one message. Returns False if not sent."""
        kind = message.get("type")
        sequenced = kind in protocol.SEQUENCED_TYPES
        if sequenced:
            message["seq"] = self._seq + 1
            if kind == "snapshot":
                message["dropped"] = self._dropped
        try:
            protocol.validate_agent_message(message, deep=self.validate_records)
            data = protocol.encode(message)
        except protocol.ProtocolError as e:
            if kind == "snapshot" and "longer than" in str(e) and len(message["tasks"]) > 1:
                message["tasks"] = message["tasks"][: len(message["tasks"]) // 2]
                log.warning("snapshot over the line limit: sending %d tasks", len(message["tasks"]))
                return self._write(conn, message)
            log.error("not sending an invalid %s message: %s", kind, e)
            return False
        except (TypeError, ValueError) as e:
            log.error("not sending a %s message that cannot be encoded: %s", kind, e)
            return False
        conn.send(data)
        if sequenced:
            self._seq += 1
        return True

    def _session(self, conn):
        reader = LineReader()
        hello = self.hello_factory()
        if not self._write(conn, hello):
            return
        deadline = time.monotonic() + self.handshake_seconds
        pending = []
        welcomed = False
        while not welcomed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("no welcome from %s within %.1f s", self.address.text, self.handshake_seconds)
                return
            if self._stop.is_set():
                return
            if not conn.poll(min(remaining, POLL_SECONDS)):
                continue
            data = conn.recv()
            if not data:
                log.info("%s closed the connection before welcome", self.address.text)
                return
            lines = reader.feed(data)
            while lines:
                message = self._parse(lines.pop(0))
                if message is None:
                    continue
                kind = message["type"]
                if kind == "welcome":
                    if message["protocol"] != protocol.PROTOCOL_VERSION:
                        log.warning("welcome names protocol %r, this agent speaks %d",
                                    message["protocol"], protocol.PROTOCOL_VERSION)
                    welcomed = True
                    pending = lines
                    break
                if kind == "reject":
                    self._reject(message)
                    return
                log.info("ignoring a %s message that came before welcome", kind)
        with self._lock:
            self._active = True
            self._seq = 0
            self._dropped = 0
            self._dropping = False
            self._snapshot_wanted = True
            self._queue.clear()
        log.info("connected to %s", self.address.text)
        self._idle.set()
        callback = self.on_session_start
        if callback is not None:
            callback()
        for line in pending:
            if not self._dispatch(line):
                return
        while True:
            while True:
                with self._lock:
                    if not self._queue:
                        break
                    message = self._queue.popleft()
                self._write(conn, message)
            if self._stop.is_set():
                return
            if conn.poll(POLL_SECONDS):
                data = conn.recv()
                if not data:
                    log.info("%s closed the connection", self.address.text)
                    return
                for line in reader.feed(data):
                    if not self._dispatch(line):
                        return

    def _parse(self, line):
        try:
            return protocol.parse_extension_line(line)
        except protocol.ProtocolError as e:
            text = str(e)
            if text.startswith("type:"):
                key = text
                if key not in self._unknown_types:
                    self._unknown_types.add(key)
                    log.warning("dropped a message of unknown type from the extension: %s", text)
            else:
                log.warning("dropped an invalid message from the extension: %s (%r)", text, line[:200])
            return None

    def _dispatch(self, line):
        """Handles one line of a session; False ends the session."""
        message = self._parse(line)
        if message is None:
            return True
        kind = message["type"]
        if kind == "command":
            callback = self.on_command
            if callback is None:
                self.send_result(protocol.result_error(message["id"], "the agent cannot run commands now"))
            else:
                callback(message)
            return True
        if kind == "reject":
            self._reject(message)
            return False
        log.info("ignoring a second %s message", kind)
        return True

    def _reject(self, message):
        log.warning("the extension rejected this agent: %s", message.get("reason"))
        self._rejected = True
