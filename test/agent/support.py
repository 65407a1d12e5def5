"""Helpers for the agent's tests: a fake extension, and runners for the fixture programs.

`FakeExtension` listens on a Unix socket in a private temporary folder, does the
handshake the way docs/protocol.md describes, validates every line the agent sends with
`taskscope.protocol.validate_agent_message` (recording failures in ``invalid``), keeps a
picture of the tasks from snapshots and deltas, and can send commands or raw bytes.

`run_agent` / `run_plain` run a program under ``python -m taskscope run`` / plain
``python`` in a subprocess, with a clean environment (PYTHONPATH = the repo's python/).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON_DIR = os.path.join(REPO, "python")
PROGRAMS = os.path.join(REPO, "test", "fixtures", "programs")
PROTOCOL_FIXTURES = os.path.join(REPO, "test", "fixtures", "protocol")
BOOTSTRAP = os.path.join(PYTHON_DIR, "taskscope", "bootstrap")

if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

from taskscope import protocol  # noqa: E402

#: Sampling interval in the tests: fast, so that programs can be short.
INTERVAL = "0.02"


def program(name):
    return os.path.join(PROGRAMS, name)


def site_line(name, marker):
    """The line number of ``# site: <marker>`` in fixture program `name`."""
    with open(program(name), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.rstrip().endswith("# site: " + marker):
                return number
    raise AssertionError("no '# site: %s' marker in %s" % (marker, name))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSCOPE_")}
    env.pop("PYTHONSTARTUP", None)
    env["PYTHONPATH"] = PYTHON_DIR
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["TASKSCOPE_INTERVAL"] = INTERVAL
    env["TASKSCOPE_RETRY"] = "0.2"
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def agent_command(args, connect=None, interpreter=()):
    cmd = [sys.executable, *interpreter, "-m", "taskscope", "run"]
    if connect:
        cmd += ["--connect", connect]
    return cmd + list(args)


def run_agent(args, connect=None, env=None, cwd=None, timeout=30, interpreter=()):
    """Runs ``python -m taskscope run [--connect] args``; returns CompletedProcess."""
    return subprocess.run(agent_command(args, connect, interpreter), capture_output=True, text=True,
                          env=env or clean_env(), cwd=cwd or PROGRAMS, timeout=timeout)


def run_plain(args, env=None, cwd=None, timeout=30, interpreter=()):
    """Runs ``python args`` the ordinary way; returns CompletedProcess."""
    return subprocess.run([sys.executable, *interpreter, *args], capture_output=True, text=True,
                          env=env or clean_env(), cwd=cwd or PROGRAMS, timeout=timeout)


def start_agent(args, connect=None, env=None, cwd=None):
    """Starts ``python -m taskscope run`` and returns the Popen (pipes for stdout/stderr)."""
    return subprocess.Popen(agent_command(args, connect), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env or clean_env(), cwd=cwd or PROGRAMS)


class Connection:
    """One agent connection as the fake extension sees it."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.messages = []  # every valid message, in order
        self.lines = []  # every raw line
        self.invalid = []  # (line, error) for lines that broke the protocol
        self.tasks = {}  # the picture built from snapshot + deltas
        self.loops = {}
        self.closed = threading.Event()
        self.hello = None
        self.results = {}
        self.seqs = []

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, message):
        self.send_raw((json.dumps(message) + "\n").encode("utf-8"))

    def _apply(self, message):
        kind = message["type"]
        if kind in protocol.SEQUENCED_TYPES:
            self.seqs.append(message["seq"])
        if kind == "snapshot":
            self.tasks = {t["id"]: t for t in message["tasks"]}
            self.loops = {lp["id"]: lp for lp in message["loops"]}
        elif kind == "delta":
            for t in message["upsert"]:
                self.tasks[t["id"]] = t
            for tid in message["remove"]:
                self.tasks.pop(tid, None)
            for lp in message.get("loops", ()):
                self.loops[lp["id"]] = lp
        elif kind == "result":
            self.results[message["id"]] = message

    def of_type(self, kind):
        with self.server.cond:
            return [m for m in self.messages if m["type"] == kind]

    def task_named(self, name):
        with self.server.cond:
            found = [t for t in self.tasks.values() if t["name"] == name]
        return found[0] if found else None


class FakeExtension:
    """A stand-in for the extension's agent server (see the module docstring).

    Listens on a Unix socket (at `path`, else in a folder of its own), or on TCP with `tcp`
    (True: 127.0.0.1; or a host address). mode: ``"welcome"`` (default), ``"reject"``, ``"silent"`` (never answers hello) or
    ``"hangup"`` (closes the connection after hello). `before_welcome` / `after_welcome`
    are raw byte strings sent around the welcome; `welcome_delay` seconds pass before the
    answer to hello (a busy extension host).
    """

    def __init__(self, mode="welcome", before_welcome=(), after_welcome=(), tcp=False, path=None,
                 welcome_delay=0.0):
        self.mode = mode
        self.welcome_delay = welcome_delay
        self.before_welcome = list(before_welcome)
        self.after_welcome = list(after_welcome)
        self.dir = tempfile.mkdtemp(prefix="ts-ext-")
        os.chmod(self.dir, 0o700)
        self.connections = []
        self.cond = threading.Condition()
        if tcp:
            host = tcp if isinstance(tcp, str) else "127.0.0.1"
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.bind((host, 0))
            self.address = "tcp:%s:%d" % (host, self._listener.getsockname()[1])
        else:
            self.path = path or os.path.join(self.dir, "ipc.sock")
            self.address = "unix:" + self.path
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(self.path)
        self._listener.listen(8)
        self._stopped = False
        self._threads = []
        self._next_id = 100
        thread = threading.Thread(target=self._accept, name="fake-extension", daemon=True)
        thread.start()
        self._threads.append(thread)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stopped = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        for conn in list(self.connections):
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.sock.close()
        for thread in self._threads:
            thread.join(2)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _accept(self):
        while not self._stopped:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            conn = Connection(self, sock)
            with self.cond:
                self.connections.append(conn)
                self.cond.notify_all()
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn):
        buf = b""
        greeted = False
        try:
            while True:
                data = conn.sock.recv(65536)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._receive(conn, line)
                    if not greeted and conn.hello is not None:
                        greeted = True
                        # Greet from another thread, so that this one keeps reading
                        # while big greetings are written.
                        thread = threading.Thread(target=self._greet, args=(conn,), daemon=True)
                        thread.start()
                        self._threads.append(thread)
        except OSError:
            pass
        finally:
            with self.cond:
                conn.closed.set()
                self.cond.notify_all()

    def _greet(self, conn):
        if self.welcome_delay:
            time.sleep(self.welcome_delay)
        try:
            for raw in self.before_welcome:
                conn.send_raw(raw)
            if self.mode == "hangup":
                conn.sock.shutdown(socket.SHUT_RDWR)
            elif self.mode == "reject":
                conn.send({"type": "reject", "protocol": 1, "extension": "0.1.0",
                           "reason": "protocol mismatch: agent 1, extension 2 (test)"})
            elif self.mode == "welcome":
                conn.send({"type": "welcome", "protocol": 1, "extension": "0.1.0"})
                for raw in self.after_welcome:
                    conn.send_raw(raw)
        except OSError:
            pass  # the program ended first

    def _receive(self, conn, line):
        try:
            message = protocol.parse_agent_line(line)
        except protocol.ProtocolError as e:
            with self.cond:
                conn.invalid.append((line[:300], str(e)))
                self.cond.notify_all()
            return
        with self.cond:
            conn.lines.append(line)
            conn.messages.append(message)
            if message["type"] == "hello" and conn.hello is None:
                conn.hello = message
            conn._apply(message)
            self.cond.notify_all()

    # --- waiting ----------------------------------------------------------------------

    def wait(self, predicate, timeout=10.0, what="condition"):
        """Waits until ``predicate()`` is truthy (under the lock); returns its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out waiting for %s" % what)
                self.cond.wait(min(remaining, 0.1))

    def wait_connection(self, index=0, timeout=10.0):
        return self.wait(lambda: len(self.connections) > index and self.connections[index], timeout,
                         "connection %d" % index)

    def wait_task(self, conn, predicate, timeout=10.0, what="task"):
        return self.wait(lambda: next((t for t in conn.tasks.values() if predicate(t)), None), timeout, what)

    def wait_message(self, conn, predicate, timeout=10.0, what="message"):
        return self.wait(lambda: next((m for m in conn.messages if predicate(m)), None), timeout, what)

    def command(self, conn, name, timeout=10.0, **fields):
        """Sends a command and waits for its result."""
        with self.cond:
            self._next_id += 1
            cid = self._next_id
        conn.send(dict({"type": "command", "id": cid, "command": name}, **fields))
        return self.wait(lambda: conn.results.get(cid), timeout, "result of %s" % name)


def uvloop_available():
    """True when this interpreter has uvloop (Debian's python3-uvloop for /usr/bin/python3.11)."""
    import importlib.util

    return importlib.util.find_spec("uvloop") is not None


class TracedRun:
    """What one traced run of a fixture produced: its outcome and the connection."""

    def __init__(self, returncode, stdout, stderr, conn, picture=None):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.conn = conn
        #: The tasks as the extension saw them when `until` held (before the release).
        self.picture = picture if picture is not None else {}

    @property
    def outcome(self):
        return self.returncode, self.stdout, self.stderr

    def events(self, kind=None):
        return [m for m in self.conn.messages if m["type"] == "event" and (kind is None or m["kind"] == kind)]

    def task_named(self, name):
        return self.conn.task_named(name)


def traced(args, until=None, seconds=0.0, timeout=30, **env):
    """Runs ``python -m taskscope run args`` against a fake extension, with RELEASE_FILE:
    waits for ``until(conn)`` (under the extension's lock) and/or `seconds`, releases the
    program, and waits for it to end and its connection to close. Returns a `TracedRun`."""
    release_path = release_file()
    try:
        with FakeExtension() as ext:
            proc = start_agent(args if isinstance(args, list) else [args], connect=ext.address,
                               env=clean_env(RELEASE_FILE=release_path, **env))
            try:
                conn = ext.wait_connection(timeout=timeout)
                if until is not None:
                    ext.wait(lambda: until(conn), timeout=timeout, what="the program's state")
                if seconds:
                    time.sleep(seconds)
                with ext.cond:
                    picture = {tid: dict(t) for tid, t in conn.tasks.items()}
                release(release_path)
                out, err = proc.communicate(timeout=timeout)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            ext.wait(lambda: conn.closed.is_set(), timeout=timeout, what="the connection closed")
            return TracedRun(proc.returncode, out, err, conn, picture)
    finally:
        shutil.rmtree(os.path.dirname(release_path), ignore_errors=True)


def parallel(function, items, workers=3):
    """``[function(item) for item in items]``, a few at a time (the runs mostly wait)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, items))


def release_file():
    """A path for RELEASE_FILE in a fresh temporary folder (removed by the caller)."""
    folder = tempfile.mkdtemp(prefix="ts-release-")
    return os.path.join(folder, "release")


def release(path):
    with open(path, "w") as f:
        f.write("go")


def non_loopback_address():
    """An IPv4 address of this machine that is not loopback, or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        host = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if host.startswith("127.") or host == "0.0.0.0" else host
