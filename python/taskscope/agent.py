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
- ``TASKSCOPE_LOG`` / ``TASKSCOPE_DEBUG``: the agent's own log (see `log`).
"""

import atexit
import os
import sys
import threading

from . import hooks, protocol
from .log import log
from .registry import Registry
from .sampler import Sampler
from .transport import RETRY_SECONDS, Transport

DEFAULT_INTERVAL = 0.1

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


def settings_from_env(environ=None):
    """``(address text or None, token, interval, retry)`` from the environment."""
    env = os.environ if environ is None else environ
    return (env.get("TASKSCOPE_CONNECT") or None,
            env.get("TASKSCOPE_TOKEN") or None,
            _float_env(env, "TASKSCOPE_INTERVAL", DEFAULT_INTERVAL),
            _float_env(env, "TASKSCOPE_RETRY", RETRY_SECONDS))


class Agent:
    """One process's agent. Use `install` rather than making one directly."""

    def __init__(self, address, token=None, interval=DEFAULT_INTERVAL, retry=RETRY_SECONDS,
                 argv=None, title=None):
        self.address = address
        self.token = token
        self.title = title
        self._argv = list(argv) if argv is not None else None
        self.started = protocol.now_ms()
        self.exit_code = None
        self.exit_code_known = False
        self.registry = Registry()
        self.transport = Transport(address, self._hello, retry=retry)
        self.sampler = Sampler(self.registry, self.transport, interval=interval)
        self.transport.on_session_start = self.sampler.request_tick
        self.transport.on_command = self.sampler.submit
        self._stopped = False
        self._pid = os.getpid()

    def _hello(self):
        argv = self._argv if self._argv is not None else list(getattr(sys, "argv", []) or [])
        title = self.title
        if title is None and argv and argv[0]:
            title = os.path.basename(argv[0])
        return protocol.hello(argv, self.started, token=self.token, title=title)

    def start(self):
        hooks.install(self.registry)
        self.sampler.start()
        self.transport.start()
        atexit.register(self._at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)
        log.info("agent %s started in pid %d, connecting to %s", protocol.AGENT_VERSION, self._pid,
                 self.address.text)
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
            self.transport.wait_handshake(min(0.5, timeout / 2))
            self.sampler.stop(timeout / 2)
            hooks.deactivate()
            bye = protocol.bye(self.exit_code if self.exit_code_known else None)
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
        self._stopped = True
        hooks.deactivate()
        conn = self.transport._conn
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


def current():
    """The running agent, or None."""
    return _agent


def install(address, token=None, interval=DEFAULT_INTERVAL, retry=RETRY_SECONDS, argv=None, title=None):
    """Starts the agent for `address` (an `Address` or its text); returns it.

    Raises `protocol.AddressError` for a malformed address. A second call returns the
    agent already running.
    """
    global _agent
    if not isinstance(address, protocol.Address):
        address = protocol.parse_address(address)
    with _agent_lock:
        if _agent is not None:
            if _agent.address.text != address.text:
                log.warning("agent already connected to %s; ignoring %s", _agent.address.text, address.text)
            return _agent
        _agent = Agent(address, token=token, interval=interval, retry=retry, argv=argv, title=title).start()
        return _agent


def install_from_env(environ=None):
    """Starts the agent when ``TASKSCOPE_CONNECT`` is set; never raises. Returns it or None."""
    try:
        text, token, interval, retry = settings_from_env(environ)
        if not text:
            return None
        try:
            address = protocol.parse_address(text)
        except protocol.AddressError as e:
            log.error("TASKSCOPE_CONNECT: %s; the agent is not started", e)
            return None
        return install(address, token=token, interval=interval, retry=retry)
    except Exception:
        log.exception("starting the agent failed")
        return None
