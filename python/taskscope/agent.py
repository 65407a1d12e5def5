"""The agent: wires hooks, registry, sampler and transport together, once per process.

`install` starts it (idempotent: a second call returns the running agent); `shutdown`
stops it. It is shut down from an ``atexit`` handler registered when it starts, so it
runs after the program's own ``atexit`` handlers and after non-daemon threads have
been joined: it takes a last sample, sends ``bye`` (with the exit code when the command
line knows it, else null), closes the connection and joins both of its threads, so no
thread or socket of the agent outlives the program.

Environment (read by `settings_from_env`):

- ``TASKSCOPE_CONNECT``: the address (``unix:…``, ``tcp:127.0.0.1:PORT``, ``pipe:…``);
- ``TASKSCOPE_TOKEN``: the token sent in ``hello`` (needed on ``tcp:``);
- ``TASKSCOPE_INTERVAL``: seconds between samples (default 0.1);
- ``TASKSCOPE_RETRY``: seconds between connection attempts (default 3);
- ``TASKSCOPE_STUCK_AFTER``: seconds at one await point before a task is reported stuck
  (default 10);
- ``TASKSCOPE_BLOCKED_AFTER``: seconds without the loop getting control back before it is
  reported blocked (default 0.25);
- ``TASKSCOPE_HISTORY_SECONDS``: seconds a finished task stays in the stream before it is
  removed (default 30; 0 keeps none; the extension sets its ``taskscope.tasks.historySeconds``);
- ``TASKSCOPE_HISTORY_MAX``: finished tasks kept at most (default 1000; 0 keeps none);
- ``TASKSCOPE_RECORD``: a file to record the stream into (see `recorder`);
- ``TASKSCOPE_FOLLOW_FORKS``: ``0`` leaves a child made by ``fork()`` without the agent
  (by default a connected agent starts one of its own in the child, read at the fork);
- ``TASKSCOPE_LOG`` / ``TASKSCOPE_DEBUG``: the agent's own log (see `log`).

With a recording and no address, the agent runs without a connection.
"""

import atexit
import os
import sys
import threading
from collections import namedtuple

from . import hooks, protocol
from .log import log
from .recorder import Fanout, Recorder
from .registry import Registry
from .sampler import BLOCKED_AFTER, HISTORY_MAX, HISTORY_SECONDS, STUCK_AFTER, Sampler
from .transport import RETRY_SECONDS, Transport

DEFAULT_INTERVAL = 0.1
#: A program that ends while its connection is being set up waits at most this long for the
#: extension's welcome, so that its last state and exit code reach it: a busy extension host
#: can take more than a second to answer (0.5 s lost them in a CI run). Only then: a program
#: with no connection under way, or one already welcomed, does not wait.
EXIT_HANDSHAKE_SECONDS = 2.0

#: What the environment says (`settings_from_env`).
Settings = namedtuple("Settings", "address token interval retry stuck_after blocked_after record "
                                 "history_seconds history_max")

_agent = None
_agent_lock = threading.Lock()


def _float_env(environ, name, default):
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        log.warning("ignoring %s=%r: expected a number of seconds > 0", name, text)
        return default
    return value


def _history_seconds_env(environ, name, default):
    """Seconds, 0 allowed (no history)."""
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        log.warning("ignoring %s=%r: expected a number of seconds >= 0", name, text)
        return default
    return value


def _count_env(environ, name, default):
    """A whole number >= 0."""
    text = environ.get(name)
    if not text:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        log.warning("ignoring %s=%r: expected a whole number >= 0", name, text)
        return default
    return value


def settings_from_env(environ=None):
    """The agent's `Settings` from the environment (address text or None, ...)."""
    env = os.environ if environ is None else environ
    return Settings(env.get("TASKSCOPE_CONNECT") or None,
                    env.get("TASKSCOPE_TOKEN") or None,
                    _float_env(env, "TASKSCOPE_INTERVAL", DEFAULT_INTERVAL),
                    _float_env(env, "TASKSCOPE_RETRY", RETRY_SECONDS),
                    _float_env(env, "TASKSCOPE_STUCK_AFTER", STUCK_AFTER),
                    _float_env(env, "TASKSCOPE_BLOCKED_AFTER", BLOCKED_AFTER),
                    env.get("TASKSCOPE_RECORD") or None,
                    _history_seconds_env(env, "TASKSCOPE_HISTORY_SECONDS", HISTORY_SECONDS),
                    _count_env(env, "TASKSCOPE_HISTORY_MAX", HISTORY_MAX))


class Agent:
    """One process's agent. Use `install` rather than making one directly.

    `address` (an `Address`) or `record` (a path, or a `Recorder`) or both."""

    def __init__(self, address, token=None, interval=DEFAULT_INTERVAL, retry=RETRY_SECONDS,
                 argv=None, title=None, stuck_after=STUCK_AFTER, blocked_after=BLOCKED_AFTER, record=None,
                 history_seconds=HISTORY_SECONDS, history_max=HISTORY_MAX):
        self.address = address
        self.token = token
        self.title = title
        self._argv = list(argv) if argv is not None else None
        self.started = protocol.now_ms()
        self.exit_code = None
        self.exit_code_known = False
        self.registry = Registry()
        self.recorder = Recorder(record) if isinstance(record, str) else record
        self.transport = Transport(address, self._hello, retry=retry) if address is not None else None
        sinks = [s for s in (self.transport, self.recorder) if s is not None]
        sink = sinks[0] if len(sinks) == 1 else Fanout(sinks)
        self.sampler = Sampler(self.registry, sink, interval=interval, stuck_after=stuck_after,
                               blocked_after=blocked_after, history_seconds=history_seconds,
                               history_max=history_max)
        if self.transport is not None:
            self.transport.on_session_start = self.sampler.request_tick
            self.transport.on_command = self.sampler.submit
        self._stopped = False
        self._pid = os.getpid()
        # What a forked child's own agent is made with (see `_after_fork_in_child`).
        self._settings = dict(token=token, interval=interval, retry=retry, argv=argv, title=title,
                              stuck_after=stuck_after, blocked_after=blocked_after,
                              history_seconds=history_seconds, history_max=history_max)

    def _hello(self):
        argv = self._argv if self._argv is not None else list(getattr(sys, "argv", []) or [])
        title = self.title
        if title is None and argv and argv[0]:
            title = os.path.basename(argv[0])
        return protocol.hello(argv, self.started, token=self.token, title=title)

    def start(self):
        if self.recorder is not None:
            self.recorder.start(self._hello())
        hooks.install(self.registry)
        self.sampler.start()
        if self.transport is not None:
            self.transport.start()
        atexit.register(self._at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)
        log.info("agent %s started in pid %d, %s%s", protocol.AGENT_VERSION, self._pid,
                 "connecting to %s" % self.address.text if self.address is not None else "not connecting",
                 ", recording to %s" % self.recorder.path if self.recorder is not None else "")
        return self

    def set_exit_code(self, code):
        """The program's exit status, as the command line saw it (sent in ``bye``)."""
        self.exit_code = code
        self.exit_code_known = True

    def shutdown(self, timeout=2.0):
        """Last sample, ``bye``, close, join the threads. Safe to call twice."""
        if self._stopped or os.getpid() != self._pid:
            return
        self._stopped = True
        try:
            # A program that ends right away should still be seen: let a connection that
            # is being set up finish, so that the last sample and `bye` reach it.
            if self.transport is not None:
                self.transport.wait_handshake(EXIT_HANDSHAKE_SECONDS)
            self.sampler.stop(timeout / 2)
            hooks.deactivate()
            bye = protocol.bye(self.exit_code if self.exit_code_known else None)
            if self.recorder is not None:
                self.recorder.close(bye)
            if self.transport is not None:
                self.transport.close(bye, timeout / 2)
        except Exception:
            log.exception("shutting the agent down failed")

    def _at_exit(self):
        try:
            self.shutdown()
        except BaseException:
            pass

    def _after_fork_in_child(self):
        # The child has none of the agent's threads; it must not send or wait for them.
        global _agent, _agent_lock
        if self._stopped:
            return  # shut down, or left behind by an earlier fork (its handler stays registered)
        self._stopped = True
        hooks.deactivate()
        if self.recorder is not None:
            self.recorder.abandon()
        conn = self.transport._conn if self.transport is not None else None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
        # A connected agent follows the fork: the child (a server's worker, a process of a
        # pool) gets an agent of its own, with its own connection and pid, so that it is a
        # process of its own in the extension. Nothing of the parent's agent is reused: its
        # threads are gone, and its locks may have been held at the fork. A recording stays
        # the parent's alone.
        if _agent is not self:
            return
        _agent = None
        _agent_lock = threading.Lock()  # another thread may have held it at the fork
        if self.address is None or os.environ.get("TASKSCOPE_FOLLOW_FORKS", "1") in ("0", ""):
            return
        try:
            _agent = Agent(self.address, **self._settings).start()
        except Exception:
            log.exception("starting the agent in a forked child failed")


def current():
    """The running agent, or None."""
    return _agent


def install(address, token=None, interval=DEFAULT_INTERVAL, retry=RETRY_SECONDS, argv=None, title=None,
            stuck_after=STUCK_AFTER, blocked_after=BLOCKED_AFTER, record=None, history_seconds=HISTORY_SECONDS,
            history_max=HISTORY_MAX):
    """Starts the agent for `address` (an `Address`, its text, or None with `record`);
    returns it.

    Raises `protocol.AddressError` for a malformed address, `OSError` for a recording
    that cannot be opened. A second call returns the agent already running.
    """
    global _agent
    if address is not None and not isinstance(address, protocol.Address):
        address = protocol.parse_address(address, token)
    if address is None and record is None:
        raise ValueError("the agent needs an address or a recording")
    with _agent_lock:
        if _agent is not None:
            running = _agent.address.text if _agent.address is not None else None
            wanted = address.text if address is not None else None
            if running != wanted:
                log.warning("agent already running (address %s); ignoring %s", running, wanted)
            return _agent
        _agent = Agent(address, token=token, interval=interval, retry=retry, argv=argv, title=title,
                       stuck_after=stuck_after, blocked_after=blocked_after, record=record,
                       history_seconds=history_seconds, history_max=history_max).start()
        return _agent


def install_from_env(environ=None):
    """Starts the agent when ``TASKSCOPE_CONNECT`` (or ``TASKSCOPE_RECORD``) is set; never
    raises. Returns it or None."""
    try:
        settings = settings_from_env(environ)
        if not settings.address and not settings.record:
            return None
        address = None
        if settings.address:
            try:
                address = protocol.parse_address(settings.address, settings.token)
            except protocol.AddressError as e:
                log.error("TASKSCOPE_CONNECT: %s; the agent is not started", e)
                return None
        record = None
        if settings.record:
            try:
                record = Recorder(settings.record)
            except OSError as e:
                log.error("TASKSCOPE_RECORD: cannot open %s: %s", settings.record, e)
                if address is None:
                    return None
        return install(address, token=settings.token, interval=settings.interval, retry=settings.retry,
                       stuck_after=settings.stuck_after, blocked_after=settings.blocked_after, record=record,
                       history_seconds=settings.history_seconds, history_max=settings.history_max)
    except Exception:
        log.exception("starting the agent failed")
        return None
