"""The command line: ``python -m taskscope run [options] script.py|-m module [args]``.

``run`` runs the program as ``python script.py`` (or ``python -m module``) would, with the
agent installed: the same ``sys.argv``, ``sys.path[0]`` (the script's folder, symlinks
resolved; the current folder for ``-m``), a fresh ``__main__`` module with the same
globals, the same output and the same exit status. An uncaught exception is printed
through ``sys.excepthook`` with the agent's and runpy's frames removed, and the exit status
is 1; ``SystemExit`` propagates unchanged; an uncaught ``KeyboardInterrupt`` ends the
process by SIGINT, as Python does.

The address comes from ``--connect`` or ``TASKSCOPE_CONNECT``, the token from ``--token``
or ``TASKSCOPE_TOKEN``. ``--record FILE`` (or ``TASKSCOPE_RECORD``) also writes the stream
to a file (`recorder`), with or without an address. A malformed address, or a recording
that cannot be opened, is reported on stderr, naming it, with exit status 2, before the
program starts. Without an address or a recording the program runs without agent.
"""

import argparse
import atexit
import builtins
import importlib.machinery
import importlib.util
import io
import marshal
import os
import runpy
import signal
import sys
import types

from . import __version__, protocol
from . import agent as agent_module
from .log import log
from .recorder import Recorder

PROG = "python -m taskscope"

RUN_USAGE = (
    "%(prog)s [--connect ADDRESS] [--token TOKEN] [--record FILE] script.py [args ...]\n"
    "       %(prog)s [--connect ADDRESS] [--token TOKEN] [--record FILE] -m module [args ...]"
)

RUN_DESCRIPTION = """\
Run a Python program with the TaskScope agent, which shows its asyncio tasks live in
the TaskScope extension of VS Code. The program runs as with `python script.py` (or
`python -m module`): the same sys.argv, sys.path[0], __main__ module, output and exit
status. Everything after the script (or -m module) goes to the program. If no address
is given, or nobody listens there, the program runs as if the agent were absent.
With --record FILE the agent writes what it would send to the extension into FILE,
which the extension can open later (TaskScope: Open a Recording...)."""

RUN_EPILOG = """\
addresses:
  unix:/path/to/socket   a Unix domain socket (Linux, macOS)
  tcp:127.0.0.1:PORT     TCP on the loopback interface (needs the token)
  pipe:\\\\.\\pipe\\NAME     a Windows named pipe

environment:
  TASKSCOPE_CONNECT      the address when --connect is not given
  TASKSCOPE_TOKEN        the token when --token is not given
  TASKSCOPE_RECORD       the recording when --record is not given
  TASKSCOPE_INTERVAL     seconds between samples of the tasks (default 0.1)
  TASKSCOPE_STUCK_AFTER  seconds at one await before a task is reported stuck (default 10)
  TASKSCOPE_BLOCKED_AFTER  seconds without the loop getting control back before it is
                         reported blocked (default 0.25)
  TASKSCOPE_HISTORY_SECONDS  seconds a finished task stays listed (default 30; 0: none)
  TASKSCOPE_HISTORY_MAX  finished tasks listed at most (default 1000; 0: none)
  TASKSCOPE_RETRY        seconds between connection attempts (default 3)
  TASKSCOPE_FOLLOW_FORKS  0: a child made by fork() runs without the agent (default 1:
                         it gets an agent and a connection of its own)
  TASKSCOPE_LOG          a file for the agent's own log (default: no log)
  TASKSCOPE_DEBUG=1      also log to stderr, debug messages included

examples:
  python -m taskscope run --connect unix:/tmp/ts/ipc.sock app.py --port 8080
  python -m taskscope run --record run.ndjson -m mypackage.server"""

_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RUNPY_FILES = {os.path.abspath(runpy.__file__), "<frozen runpy>"}
_CTRL_C_EXIT = 0xC000013A  # STATUS_CONTROL_C_EXIT, what Windows Python exits with


class UsageError(Exception):
    pass


def _top_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="TaskScope: see a running asyncio program's tasks live in VS Code.",
        epilog="Run `%s run --help` for the options of run." % PROG,
    )
    parser.add_argument("--version", action="version", version="taskscope %s" % __version__)
    parser.add_argument("command", choices=["run"], help="run: run a program with the agent")
    return parser


def _run_parser():
    parser = argparse.ArgumentParser(
        prog=PROG + " run",
        usage=RUN_USAGE,
        description=RUN_DESCRIPTION,
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument("--connect", metavar="ADDRESS",
                        help="where the extension listens (default: $TASKSCOPE_CONNECT)")
    parser.add_argument("--token", metavar="TOKEN",
                        help="the token to present to the extension (default: $TASKSCOPE_TOKEN)")
    parser.add_argument("--record", metavar="FILE",
                        help="also write the stream to FILE, to open in the extension later "
                             "(default: $TASKSCOPE_RECORD)")
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a library module as a script, like python -m")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    parser.add_argument("script", nargs="?", help="the program to run, followed by its arguments")
    return parser


def parse_run_args(args):
    """Splits ``run``'s arguments: ``(options, target, is_module, program_args)``.

    Options are read up to the script (or ``-m MODULE``); everything after belongs to the
    program, even words that look like options.
    """
    options = {"connect": None, "token": None, "record": None, "help": False}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-h", "--help"):
            options["help"] = True
            return options, None, False, []
        if arg == "--":
            if i + 1 >= len(args):
                raise UsageError("nothing to run after --: give a script")
            return options, args[i + 1], False, args[i + 2:]
        matched = False
        for name in ("connect", "token", "record"):
            flag = "--" + name
            if arg == flag:
                if i + 1 >= len(args):
                    raise UsageError("%s needs a value" % flag)
                options[name] = args[i + 1]
                i += 2
                matched = True
                break
            if arg.startswith(flag + "="):
                options[name] = arg[len(flag) + 1:]
                i += 1
                matched = True
                break
        if matched:
            continue
        if arg == "-m":
            if i + 1 >= len(args):
                raise UsageError("-m needs a module name")
            return options, args[i + 1], True, args[i + 2:]
        if arg.startswith("-m") and not arg.startswith("--"):
            return options, arg[2:], True, args[i + 1:]
        if arg == "-":
            raise UsageError("reading the program from stdin is not supported: give a script file")
        if arg.startswith("-"):
            raise UsageError("unknown option %s (options go before the script; "
                             "what follows the script is the program's)" % arg)
        return options, arg, False, args[i + 1:]
    raise UsageError("nothing to run: give a script or -m module")


def main(argv=None):
    """Entry point of ``python -m taskscope``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "run":
        parser = _top_parser()
        if not args:
            parser.print_usage(sys.stderr)
            sys.stderr.write("%s: error: give a command, as in: %s run app.py\n" % (PROG, PROG))
            return 2
        parser.parse_args(args)  # --version, --help, or an error (exit 2)
        return 2
    run_parser = _run_parser()
    try:
        options, target, is_module, program_args = parse_run_args(args[1:])
    except UsageError as e:
        run_parser.print_usage(sys.stderr)
        sys.stderr.write("%s run: error: %s\n" % (PROG, e))
        return 2
    if options["help"]:
        run_parser.print_help(sys.stdout)
        return 0
    return run(target, is_module, program_args, connect=options["connect"], token=options["token"],
               record=options["record"])


# --- running the program ------------------------------------------------------------

def _fresh_main():
    module = types.ModuleType("__main__")
    if sys.version_info < (3, 14):
        # Before PEP 649 a module starts with an empty __annotations__; since 3.14 the
        # compiler makes __annotate__ instead, and __main__'s globals have neither.
        module.__annotations__ = {}
    module.__builtins__ = builtins
    return module


def _read_script(filename):
    with io.open_code(filename) as f:
        source = f.read()
    if source[:4] == importlib.util.MAGIC_NUMBER:
        return marshal.loads(source[16:])
    return compile(source, filename, "exec", dont_inherit=True)


def _exit_status(code):
    """The exit status Python gives ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if os.name == "posix" else code
    return 1


_interrupted = [False]


def _die_by_sigint():
    # Registered before the agent's atexit handler, so it runs after it: Python ends a
    # program stopped by an uncaught KeyboardInterrupt with SIGINT, so do we.
    if not _interrupted[0] or os.name != "posix":
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def _is_own(filename):
    return filename in _RUNPY_FILES or os.path.abspath(filename).startswith(_OWN_DIR)


def _print_uncaught(exc):
    tb = exc.__traceback__
    while tb is not None and _is_own(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    exc.__traceback__ = tb
    sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = exc
    try:
        sys.excepthook(type(exc), exc, tb)
    except BaseException as hook_error:
        sys.stderr.write("Error in sys.excepthook:\n")
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
        sys.stderr.write("\nOriginal exception was:\n")
        sys.__excepthook__(type(exc), exc, tb)
    try:
        sys.stderr.flush()
    except Exception:
        pass


class _Launch:
    """What the agent is to do: the address text (or None), the token, the Recorder (or None)."""

    def __init__(self, connect, token, recorder):
        self.connect = connect
        self.token = token
        self.recorder = recorder


def _install_agent(launch, argv, title):
    text = launch.connect if launch.connect is not None else os.environ.get("TASKSCOPE_CONNECT") or None
    if text is None and launch.recorder is None:
        log.info("no address (--connect or TASKSCOPE_CONNECT) and no recording: running without the agent")
        return None
    settings = agent_module.settings_from_env()
    token = launch.token or settings.token
    address = protocol.parse_address(text, token) if text is not None else None  # checked before
    if address is not None and address.kind == "tcp" and not token:
        log.warning("%s: a tcp: address needs a token (--token or TASKSCOPE_TOKEN)", text)
    try:
        return agent_module.install(address, token=token, interval=settings.interval, retry=settings.retry,
                                    argv=argv, title=title, stuck_after=settings.stuck_after,
                                    blocked_after=settings.blocked_after, record=launch.recorder,
                                    history_seconds=settings.history_seconds, history_max=settings.history_max)
    except Exception:
        log.exception("starting the agent failed; running without it")
        if launch.recorder is not None:
            launch.recorder.close()
        return None


def run(target, is_module, program_args, connect=None, token=None, record=None):
    """Runs the program with the agent; returns its exit status (or raises SystemExit)."""
    text = connect if connect is not None else os.environ.get("TASKSCOPE_CONNECT") or None
    if text is not None:
        try:
            protocol.parse_address(text, token if token is not None else os.environ.get("TASKSCOPE_TOKEN"))
        except protocol.AddressError as e:
            where = "--connect" if connect is not None else "TASKSCOPE_CONNECT"
            sys.stderr.write("%s run: error: %s: %s\n" % (PROG, where, e))
            return 2
    path = record if record is not None else os.environ.get("TASKSCOPE_RECORD") or None
    recorder = None
    if path is not None:
        try:
            recorder = Recorder(path)
        except OSError as e:
            where = "--record" if record is not None else "TASKSCOPE_RECORD"
            sys.stderr.write("%s run: error: %s: cannot write %r: %s\n" % (PROG, where, path, e.strerror or e))
            return 2
    launch = _Launch(connect, token, recorder)
    atexit.register(_die_by_sigint)
    if is_module:
        return _run_module(target, program_args, launch)
    return _run_script(target, program_args, launch)


def _run_script(path, program_args, launch):
    if os.path.isdir(path) or (os.path.isfile(path) and _is_zip(path)):
        return _run_path(path, program_args, launch)
    filename = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    try:
        code = _read_script(filename)
    except OSError as e:
        sys.stderr.write("%s: can't open file %r: [Errno %s] %s\n" % (sys.executable, filename, e.errno, e.strerror))
        return 2
    except BaseException as e:  # SyntaxError and friends: printed as Python prints them
        _print_uncaught(e)
        return 1
    sys.argv[:] = [path] + list(program_args)
    if not getattr(sys.flags, "safe_path", False) and sys.path:
        sys.path[0] = os.path.dirname(os.path.realpath(filename))
    main_module = _fresh_main()
    main_module.__file__ = filename
    main_module.__cached__ = None
    main_module.__loader__ = importlib.machinery.SourceFileLoader("__main__", filename)
    agent = _install_agent(launch, sys.argv, os.path.basename(path))
    sys.modules["__main__"] = main_module
    return _execute(agent, lambda: exec(code, main_module.__dict__))


def _is_zip(path):
    try:
        import zipfile
        return zipfile.is_zipfile(path)
    except Exception:
        return False


def _run_path(path, program_args, launch):
    sys.argv[:] = [path] + list(program_args)
    agent = _install_agent(launch, sys.argv, os.path.basename(os.path.abspath(path)))
    return _execute(agent, lambda: runpy.run_path(path, run_name="__main__"))


def _run_module(name, program_args, launch):
    sys.argv[:] = ["-m"] + list(program_args)
    get_details = getattr(runpy, "_get_module_details", None)
    run_code = getattr(runpy, "_run_code", None)
    error = getattr(runpy, "_Error", ImportError)
    if get_details is None or run_code is None:
        agent = _install_agent(launch, sys.argv, name)
        return _execute(agent, lambda: runpy.run_module(name, run_name="__main__", alter_sys=True))
    try:
        mod_name, spec, code = get_details(name, error)
    except error as e:
        sys.stderr.write("%s: %s\n" % (sys.executable, e))
        return 1
    except BaseException as e:  # the package's own import failed: a normal traceback
        if isinstance(e, SystemExit):
            raise
        _print_uncaught(e)
        return 1
    if spec.origin:
        sys.argv[0] = spec.origin
    main_module = _fresh_main()
    agent = _install_agent(launch, sys.argv, name)
    sys.modules["__main__"] = main_module
    return _execute(agent, lambda: run_code(code, main_module.__dict__, None, "__main__", spec))


def _execute(agent, body):
    try:
        body()
    except SystemExit as e:
        if agent is not None:
            agent.set_exit_code(_exit_status(e.code))
        raise
    except BaseException as e:
        _print_uncaught(e)
        status = 1
        if isinstance(e, KeyboardInterrupt):
            if os.name == "posix":
                _interrupted[0] = True
                status = 128 + signal.SIGINT
            else:
                status = _CTRL_C_EXIT
        if agent is not None:
            agent.set_exit_code(status)
        return status
    if agent is not None:
        agent.set_exit_code(0)
    return 0
