"""The wire protocol (docs/protocol.md, version 1): addresses, messages, validation, framing.

Pure functions and constants, no I/O and no threads, so both the agent and its tests use
the same rules:

- `parse_address` turns ``unix:/path``, ``tcp:127.0.0.1:PORT`` or ``pipe:\\\\.\\pipe\\name``
  into an `Address`, or raises `AddressError` naming the bad value.
- `validate_agent_message` / `validate_extension_message` raise `ProtocolError` (with the
  path of the offending field) for a message the other side must not accept.
- `encode` makes one protocol line; `decode_line` parses one received line.
- The builders (`hello`, `result_ok`, ...) make the agent's messages.
"""

import json
import math
import os
import platform
import sys
import time
from collections import namedtuple

from . import __version__

PROTOCOL_VERSION = 1
AGENT_VERSION = __version__
#: The longest line either side may send, newline included.
MAX_LINE_BYTES = 8 * 1024 * 1024
TASK_STATES = ("pending", "running", "done", "cancelled", "failed")
AGENT_TYPES = ("hello", "snapshot", "delta", "event", "result", "bye")
EXTENSION_TYPES = ("welcome", "reject", "command")
#: Fields each known command needs besides ``id`` and ``command``.
WAIT_KINDS = ("task", "gather", "taskgroup", "wait", "lock", "semaphore", "event", "condition", "queue",
              "future", "sleep", "other")
#: Fields each known command needs besides ``id`` and ``command``: ``"string"`` or
#: ``"positive"`` (a number > 0).
COMMAND_FIELDS = {
    "cancel": {"task": "string"},
    "cancelTree": {"task": "string"},
    "stack": {"task": "string"},
    "setInterval": {"interval": "positive"},
}


class ProtocolError(ValueError):
    """A message (or line) that breaks the protocol; the text names the field."""


class AddressError(ValueError):
    """A connection address that cannot be used; the text names the value."""


#: ``kind`` is ``"unix"``, ``"tcp"`` or ``"pipe"``; ``target`` is the path, the pipe name,
#: or a ``(host, port)`` pair; ``text`` is the address as given.
Address = namedtuple("Address", "kind target text")

_LOOPBACK_NAMES = ("localhost",)
_PIPE_PREFIX = "\\\\.\\pipe\\"


def parse_address(text, token=None):
    """Parses a connection address; raises `AddressError` with a message naming `text`.

    A ``tcp:`` address names this machine's loopback interface, or, with a `token`, any
    host: a program in a container on a bridge network reaches the editor's machine at
    the bridge's gateway (``host.docker.internal``), where the extension listens only when
    told to, and every TCP connection must present the token."""
    if not isinstance(text, str) or not text:
        raise AddressError("empty address: expected unix:PATH, tcp:HOST:PORT or pipe:\\\\.\\pipe\\NAME")
    kind, sep, rest = text.partition(":")
    if not sep or kind not in ("unix", "tcp", "pipe"):
        raise AddressError(
            "invalid address %r: expected unix:PATH, tcp:HOST:PORT or pipe:\\\\.\\pipe\\NAME" % text)
    if kind == "unix":
        if not rest or "\0" in rest:
            raise AddressError("invalid address %r: unix: needs a socket path, as in unix:/tmp/taskscope.sock" % text)
        return Address("unix", rest, text)
    if kind == "pipe":
        if not rest.lower().startswith(_PIPE_PREFIX) or len(rest) == len(_PIPE_PREFIX) or "\0" in rest:
            raise AddressError(
                "invalid address %r: pipe: needs a Windows pipe name, as in pipe:\\\\.\\pipe\\taskscope-1" % text)
        return Address("pipe", rest, text)
    host, sep, port_text = rest.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536 or "\0" in host:
        raise AddressError("invalid address %r: tcp: needs a host and a port, as in tcp:127.0.0.1:4711" % text)
    if not _is_loopback(host) and not token:
        raise AddressError("invalid address %r: tcp: to %r, which is not this machine's loopback interface, "
                           "needs the token the extension gave (--token or TASKSCOPE_TOKEN)" % (text, host))
    return Address("tcp", (host, int(port_text)), text)


def _is_loopback(host):
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        import ipaddress
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- framing -------------------------------------------------------------------------

def encode(message):
    """One protocol line (UTF-8 JSON plus newline). Raises `ProtocolError` past 8 MiB."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"
    if len(data) > MAX_LINE_BYTES:
        raise ProtocolError("message of %d bytes is longer than the %d-byte limit" % (len(data), MAX_LINE_BYTES))
    return data


def _reject_constant(name):
    raise ProtocolError("not JSON: %s is not a JSON value" % name)


def decode_line(line):
    """Parses one received line (bytes or str, newline optional) into a JSON object."""
    if isinstance(line, (bytes, bytearray)):
        try:
            line = bytes(line).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("not UTF-8: %s" % e) from None
    try:
        value = json.loads(line, parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except ValueError as e:
        raise ProtocolError("not JSON: %s" % e) from None
    if not isinstance(value, dict):
        raise ProtocolError("not a JSON object")
    return value


# --- validation ----------------------------------------------------------------------

def _fail(path, expected, value):
    if value is _MISSING:
        shown = "missing"
    else:
        try:
            shown = json.dumps(value)[:60]
        except (TypeError, ValueError):
            shown = repr(value)[:60]
    raise ProtocolError("%s: expected %s, got %s" % (path, expected, shown))


_MISSING = object()


def _is_int(v):
    return type(v) is int


def _is_num(v):
    return (type(v) is int) or (type(v) is float and math.isfinite(v))


def _get(o, key):
    return o.get(key, _MISSING)


def _str(o, key, path):
    v = _get(o, key)
    if type(v) is not str:
        _fail(path + "." + key, "a string", v)
    return v


def _opt_str(o, key, path):
    if key in o:
        _str(o, key, path)


def _int(o, key, path):
    v = _get(o, key)
    if not _is_int(v):
        _fail(path + "." + key, "an integer", v)
    return v


def _num(o, key, path):
    v = _get(o, key)
    if not _is_num(v):
        _fail(path + "." + key, "a number", v)
    return v


def _opt_num(o, key, path):
    if key in o:
        _num(o, key, path)


def _list(o, key, path):
    v = _get(o, key)
    if type(v) is not list:
        _fail(path + "." + key, "an array", v)
    return v


def _obj(v, path):
    if type(v) is not dict:
        _fail(path, "an object", v)
    return v


def validate_frame(value, path="frame"):
    o = _obj(value, path)
    _str(o, "file", path)
    line = _int(o, "line", path)
    if line < 0:
        _fail(path + ".line", "a line number >= 0", line)
    _str(o, "function", path)
    if "user" in o and type(o["user"]) is not bool:
        _fail(path + ".user", "a boolean", o["user"])


def _frames(o, key, path):
    if key in o:
        for i, f in enumerate(_list(o, key, path)):
            validate_frame(f, "%s.%s[%d]" % (path, key, i))


def validate_task(value, path="task"):
    o = _obj(value, path)
    _str(o, "id", path)
    _str(o, "name", path)
    _str(o, "coro", path)
    state = _get(o, "state")
    if state not in TASK_STATES or type(state) is not str:
        _fail(path + ".state", "one of " + ", ".join(TASK_STATES), state)
    parent = _get(o, "parent")
    if parent is not None and type(parent) is not str:
        _fail(path + ".parent", "a task id or null", parent)
    _str(o, "loop", path)
    _num(o, "created", path)
    site = _get(o, "site")
    if site is not None and site is not _MISSING:
        validate_frame(site, path + ".site")
    elif site is _MISSING:
        _fail(path + ".site", "a frame or null", site)
    _frames(o, "stack", path)
    _frames(o, "awaiting", path)
    _opt_num(o, "finished", path)
    if "exception" in o:
        e = _obj(o["exception"], path + ".exception")
        _str(e, "type", path + ".exception")
        _str(e, "message", path + ".exception")
        _frames(e, "traceback", path + ".exception")
    _opt_str(o, "cancelMessage", path)
    _opt_num(o, "waitingSince", path)
    if "waitingOn" in o:
        w = _obj(o["waitingOn"], path + ".waitingOn")
        kind = _get(w, "kind")
        if type(kind) is not str or kind not in WAIT_KINDS:
            _fail(path + ".waitingOn.kind", "one of " + ", ".join(WAIT_KINDS), kind)
        if "tasks" in w:
            for i, t in enumerate(_list(w, "tasks", path + ".waitingOn")):
                if type(t) is not str:
                    _fail("%s.waitingOn.tasks[%d]" % (path, i), "a task id", t)
        _opt_str(w, "label", path + ".waitingOn")
    _opt_str(o, "group", path)


def validate_loop(value, path="loop"):
    o = _obj(value, path)
    _str(o, "id", path)
    _str(o, "thread", path)
    _int(o, "threadId", path)


def _tasks(o, key, path, deep=True):
    tasks = _list(o, key, path)
    if deep:
        for i, t in enumerate(tasks):
            validate_task(t, "%s.%s[%d]" % (path, key, i))


def _loops(o, key, path, deep=True):
    loops = _list(o, key, path)
    if deep:
        for i, lp in enumerate(loops):
            validate_loop(lp, "%s.%s[%d]" % (path, key, i))


def validate_agent_message(message, deep=True):
    """Raises `ProtocolError` unless `message` is a message the agent may send.

    With ``deep=False`` the task and loop records inside snapshots and deltas are not
    walked (the agent's own cheap check of what it builds; tests check everything).
    """
    o = _obj(message, "message")
    kind = _get(o, "type")
    if kind == "hello" and type(kind) is str:
        p = "hello"
        _int(o, "protocol", p)
        _str(o, "agent", p)
        _int(o, "pid", p)
        _str(o, "python", p)
        for i, a in enumerate(_list(o, "argv", p)):
            if type(a) is not str:
                _fail("hello.argv[%d]" % i, "a string", a)
        for key in ("implementation", "executable", "cwd", "token", "title"):
            _opt_str(o, key, p)
        _opt_num(o, "started", p)
    elif kind == "snapshot":
        p = "snapshot"
        _int(o, "seq", p)
        _num(o, "time", p)
        _loops(o, "loops", p, deep)
        _tasks(o, "tasks", p, deep)
        if "dropped" in o:
            _int(o, "dropped", p)
    elif kind == "delta":
        p = "delta"
        _int(o, "seq", p)
        _num(o, "time", p)
        _tasks(o, "upsert", p, deep)
        for i, r in enumerate(_list(o, "remove", p)):
            if type(r) is not str:
                _fail("delta.remove[%d]" % i, "a task id", r)
        if "loops" in o:
            _loops(o, "loops", p, deep)
    elif kind == "event":
        p = "event"
        _int(o, "seq", p)
        _num(o, "time", p)
        _str(o, "kind", p)
        _str(o, "message", p)
        _opt_str(o, "task", p)
        if "site" in o:
            validate_frame(o["site"], "event.site")
        if "evidence" in o:
            _obj(o["evidence"], "event.evidence")
    elif kind == "result":
        p = "result"
        _int(o, "id", p)
        ok = _get(o, "ok")
        if type(ok) is not bool:
            _fail("result.ok", "a boolean", ok)
        if ok:
            _opt_str(o, "error", p)
        else:
            _str(o, "error", p)
    elif kind == "bye":
        code = _get(o, "exitCode")
        if code is not None and not _is_int(code):
            _fail("bye.exitCode", "an integer or null", code)
    else:
        _fail("type", "one of " + ", ".join(AGENT_TYPES), kind)


def validate_extension_message(message):
    """Raises `ProtocolError` unless `message` is a message the extension may send."""
    o = _obj(message, "message")
    kind = _get(o, "type")
    if kind == "welcome":
        _int(o, "protocol", "welcome")
        _str(o, "extension", "welcome")
    elif kind == "reject":
        _int(o, "protocol", "reject")
        _str(o, "extension", "reject")
        _str(o, "reason", "reject")
    elif kind == "command":
        _int(o, "id", "command")
        name = _str(o, "command", "command")
        for field, kind in COMMAND_FIELDS.get(name, {}).items():
            path = "command(%s)" % name
            if kind == "string":
                _str(o, field, path)
            elif _num(o, field, path) <= 0:
                _fail(path + "." + field, "a number > 0", o[field])
        _opt_str(o, "task", "command")
        _opt_str(o, "msg", "command")
        _opt_num(o, "interval", "command")
    else:
        _fail("type", "one of " + ", ".join(EXTENSION_TYPES), kind)


def parse_extension_line(line):
    """Decodes and validates one line from the extension; raises `ProtocolError`."""
    message = decode_line(line)
    validate_extension_message(message)
    return message


def parse_agent_line(line):
    """Decodes and validates one line from an agent (for tests and tools)."""
    message = decode_line(line)
    validate_agent_message(message)
    return message


# --- the agent's messages ---------------------------------------------------------------

def now_ms():
    """Milliseconds since the Unix epoch, as an integer."""
    return int(time.time() * 1000)


def hello(argv, started_ms, token=None, title=None):
    message = {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "agent": AGENT_VERSION,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable or "",
        "argv": [str(a) for a in argv],
        "started": started_ms,
    }
    try:
        message["cwd"] = os.getcwd()
    except OSError:
        pass
    if token:
        message["token"] = token
    if title:
        message["title"] = title
    return message


def snapshot(time_ms, loops, tasks):
    """`seq` and `dropped` are filled in by the transport when the message is sent."""
    return {"type": "snapshot", "time": time_ms, "loops": loops, "tasks": tasks}


def delta(time_ms, upsert, remove, loops=None):
    message = {"type": "delta", "time": time_ms, "upsert": upsert, "remove": remove}
    if loops:
        message["loops"] = loops
    return message


def event(time_ms, kind, message, task=None, site=None, evidence=None):
    """A finding (`seq` is filled in when it is sent); `site` is a Frame or None."""
    out = {"type": "event", "time": time_ms, "kind": kind, "message": message}
    if task is not None:
        out["task"] = task
    if site is not None:
        out["site"] = site
    if evidence is not None:
        out["evidence"] = evidence
    return out


def result_ok(command_id, value):
    return {"type": "result", "id": command_id, "ok": True, "value": value}


def result_error(command_id, error):
    return {"type": "result", "id": command_id, "ok": False, "error": error}


def bye(exit_code):
    return {"type": "bye", "exitCode": exit_code}


#: Messages that carry `seq` (numbered by the transport as they are sent).
SEQUENCED_TYPES = ("snapshot", "delta", "event")
