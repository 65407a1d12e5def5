"""A stand-in for the extension's agent server, cheap enough to sit beside a benchmark.

It is the test suite's `FakeExtension` (test/agent/support.py: a Unix socket in a private
folder, the handshake as docs/protocol.md says), except that after ``hello`` it only counts
the bytes and lines it receives instead of decoding and validating every line, so that its
own cost stays small next to the program being measured. The real extension runs in
another process too, so the agent still does all of its work: samples, deltas, encoding
and writing to the socket.
"""

import importlib.util
import os
import sys
import threading

import harness

if harness.PYTHON_DIR not in sys.path:
    sys.path.insert(0, harness.PYTHON_DIR)


def _load_test_support():
    # Loaded by path: the name `test` would otherwise find CPython's own test package.
    path = os.path.join(harness.REPO, "test", "agent", "support.py")
    spec = importlib.util.spec_from_file_location("taskscope_bench_support", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_support = _load_test_support()


class Listener(_support.FakeExtension):
    """Greets each agent, then counts what it sends (`counts`)."""

    def __init__(self):
        super().__init__(mode="welcome")
        self.received_bytes = 0
        self.received_lines = 0
        self._count_lock = threading.Lock()

    def _serve(self, conn):
        buf = b""
        try:
            while conn.hello is None:
                data = conn.sock.recv(65536)
                if not data:
                    return
                buf += data
                while b"\n" in buf and conn.hello is None:
                    line, buf = buf.split(b"\n", 1)
                    self._receive(conn, line)
            thread = threading.Thread(target=self._greet, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)
            self._count(buf)
            recv = conn.sock.recv
            while True:
                data = recv(1 << 20)
                if not data:
                    break
                self._count(data)
        except OSError:
            pass
        finally:
            with self.cond:
                conn.closed.set()
                self.cond.notify_all()

    def _count(self, data):
        with self._count_lock:
            self.received_bytes += len(data)
            self.received_lines += data.count(b"\n")

    def counts(self):
        """``(bytes, lines)`` received after the hellos, from every connection so far."""
        with self._count_lock:
            return self.received_bytes, self.received_lines
