"""The agent's own log: never the program's stderr, never the `logging` module.

The agent runs inside someone else's program, so its messages must not show up in the
program's output or in its `logging` configuration (a `logging.getLogger("taskscope")`
would propagate to the program's root handlers). Messages go to the file named by
``TASKSCOPE_LOG`` (appended, one line each) and, only when ``TASKSCOPE_DEBUG=1``, also to
stderr, where debug-level messages are written too. With neither set, they go nowhere.

Writing never raises.
"""

import os
import sys
import threading
import time
import traceback

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error"}


class Log:
    """One line per message: time, pid, thread, level, text."""

    def __init__(self, path=None, debug=False):
        self.path = path or None
        self.debug_enabled = bool(debug)
        self._lock = threading.Lock()
        self._once = set()

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        return cls(env.get("TASKSCOPE_LOG") or None, env.get("TASKSCOPE_DEBUG", "") not in ("", "0"))

    @property
    def enabled(self):
        return self.path is not None or self.debug_enabled

    def debug(self, text, *args):
        if self.debug_enabled:
            self._write(DEBUG, text, args)

    def info(self, text, *args):
        self._write(INFO, text, args)

    def warning(self, text, *args):
        self._write(WARNING, text, args)

    def error(self, text, *args):
        self._write(ERROR, text, args)

    def exception(self, text, *args):
        """An error with the traceback of the exception being handled."""
        if not self.enabled:
            return
        try:
            details = traceback.format_exc().rstrip()
        except Exception:
            details = "(no traceback)"
        self._write(ERROR, text + "\n" + details, args)

    def once(self, key, text, *args):
        """A warning written only the first time `key` is seen."""
        if key in self._once:
            return
        self._once.add(key)
        self._write(WARNING, text, args)

    def _write(self, level, text, args):
        if not self.enabled:
            return
        try:
            if args:
                text = text % args
            stamp = time.strftime("%H:%M:%S", time.localtime())
            line = "%s taskscope[%d] %s %s: %s\n" % (
                stamp, os.getpid(), threading.current_thread().name, _NAMES.get(level, level), text)
            with self._lock:
                if self.path is not None:
                    with open(self.path, "a", encoding="utf-8", errors="replace") as f:
                        f.write(line)
                if self.debug_enabled:
                    stream = sys.__stderr__
                    if stream is not None:
                        stream.write(line)
                        stream.flush()
        except Exception:
            pass


#: The agent's log until `configure` replaces it (from the environment at import time).
log = Log.from_env()


def _after_fork_in_child():
    # Another thread may have held the lock at the fork: the child would wait for it forever.
    log._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def configure(path=None, debug=False):
    """Points the shared log elsewhere (used by tests and by the CLI)."""
    log.path = path or None
    log.debug_enabled = bool(debug)
    return log
