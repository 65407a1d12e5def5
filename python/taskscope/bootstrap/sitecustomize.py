"""TaskScope bootstrap: starts the agent in any Python program, without the command line.

The extension puts this folder on ``PYTHONPATH`` and sets ``TASKSCOPE_CONNECT``. Python
imports this file at startup (as ``sitecustomize``); it then

1. takes its own folder off ``sys.path`` and appends the folder that holds the
   ``taskscope`` package (appended, so it never shadows the program's modules);
2. starts the agent if ``TASKSCOPE_CONNECT`` (or ``TASKSCOPE_RECORD``) is set (``bye``
   will carry a null exit code: only the command line knows the exit status);
3. chains to the ``sitecustomize`` that Python would have found without this one (the
   next one on ``sys.path``), which then replaces this module in ``sys.modules``; an error
   in it is reported exactly as Python's ``site`` reports it.

Nothing here raises: the agent's own failures go to its log.
"""


def _taskscope_bootstrap():
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))

    def same(entry):
        try:
            return os.path.normcase(os.path.realpath(entry or os.curdir)) == os.path.normcase(os.path.realpath(here))
        except Exception:
            return False

    try:
        sys.path[:] = [entry for entry in sys.path if not same(entry)]
        agent_root = os.path.dirname(os.path.dirname(here))
        if not any(os.path.normcase(os.path.abspath(e or os.curdir)) == os.path.normcase(agent_root)
                   for e in sys.path):
            sys.path.append(agent_root)
    except Exception:
        pass

    if os.environ.get("TASKSCOPE_CONNECT") or os.environ.get("TASKSCOPE_RECORD"):
        try:
            from taskscope import agent

            agent.install_from_env()
        except Exception:
            try:
                from taskscope.log import log

                log.exception("the TaskScope bootstrap could not start the agent")
            except Exception:
                pass

    _taskscope_chain(same)


def _taskscope_chain(same):
    """Runs the next ``sitecustomize`` on ``sys.path``, as ``site.execsitecustomize`` would."""
    import sys

    try:
        import importlib.machinery
        import importlib.util

        path = [entry for entry in sys.path if not same(entry)]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
        if spec is None or spec.loader is None:
            return
        module = importlib.util.module_from_spec(spec)
    except Exception:
        return
    this = sys.modules.get("sitecustomize")
    sys.modules["sitecustomize"] = module
    try:
        try:
            spec.loader.exec_module(module)
        except ImportError as exc:
            if exc.name == "sitecustomize":
                pass
            else:
                raise
    except Exception as err:
        if this is not None:
            sys.modules["sitecustomize"] = this
        if sys.flags.verbose:
            sys.excepthook(*sys.exc_info())
        else:
            sys.stderr.write(
                "Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                "%s: %s\n" %
                (err.__class__.__name__, err))


_taskscope_bootstrap()
del _taskscope_bootstrap, _taskscope_chain
