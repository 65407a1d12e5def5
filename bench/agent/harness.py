"""What the agent benchmarks share: environment facts, a listener, child processes, goals.

Every benchmark in this folder measures things side by side in one run and prints
ratios; none is a timed unit test. Each is runnable alone (``python3 bench/agent/NAME.py``)
and from ``run_all.py`` (``npm run bench:agent``), which passes ``--goals FILE`` so that the
script writes its goal rows there as JSON for the summary table.

`listener.Listener` stands in for the extension. Children import this module too, so it
imports nothing of the agent's.
instead of decoding and validating every line (see `listener`).
"""

import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
#: Where the agent is imported from: the work tree, or a committed version that
#: ``run_all.py --agent REV`` exported (``BENCH_AGENT_PYTHON``, ``BENCH_AGENT_REV``).
PYTHON_DIR = os.environ.get("BENCH_AGENT_PYTHON") or os.path.join(REPO, "python")

# --- environment ------------------------------------------------------------------------


def _git(*args):
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(python=None):
    """Facts printed at the top of every benchmark (and kept in the goals file)."""
    try:
        load = " ".join("%.2f" % x for x in os.getloadavg())
    except OSError:
        load = "unknown"
    agent_dirty = bool(_git("status", "--porcelain", "--", "python/taskscope"))
    exported = os.environ.get("BENCH_AGENT_REV")
    facts = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "python": "%s (%s)" % (platform.python_version(), sys.executable),
        "cpus": os.cpu_count(),
        "load average (1, 5, 15 min)": load,
        "machine": "%s %s" % (platform.system(), platform.machine()),
        # The last commit that changed the agent (the repository's head moves with others' work).
        "agent": ("%s (committed version, exported)" % exported) if exported else "%s%s" % (
            _git("log", "-1", "--format=%h %cs", "--", "python/taskscope") or "?",
            " + uncommitted changes in python/taskscope" if agent_dirty else ""),
    }
    if python:
        facts["child python"] = python
    return facts


def print_environment(title, python=None):
    print(title)
    print("=" * len(title))
    for key, value in environment(python).items():
        print("  %-28s %s" % (key + ":", value))
    print()


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


# --- numbers ----------------------------------------------------------------------------


def median(values):
    return statistics.median(values) if values else float("nan")


def pair_ratios(base, other):
    """``other[i] / base[i]`` for each pair of runs made one after the other: a ratio that
    the machine's load, drifting over a benchmark's minutes, disturbs less than the ratio
    of the two medians does."""
    return [b / a for a, b in zip(base, other)]


#: Plain runs further apart than this (slowest over fastest) were disturbed by other work:
#: the figure is printed with a note saying so.
DISTURBED_SPREAD = 1.15


def disturbed(values):
    """A note for a goal's figure when the plain runs `values` (times or rates) are more
    than `DISTURBED_SPREAD` apart, else ""."""
    if not values or min(values) <= 0:
        return ""
    apart = max(values) / min(values)
    return " (disturbed: plain runs %.2fx apart)" % apart if apart > DISTURBED_SPREAD else ""


def spread(values):
    """``min..max`` of `values`, for showing the noise next to a median."""
    if not values:
        return "-"
    return "%s..%s" % (_num(min(values)), _num(max(values)))


def _num(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.3g" % x


def table(headers, rows):
    """Prints a plain-text table (right-aligned numbers, left-aligned text)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths)))


_NUMBER = re.compile(r"[-+]?[\d.]+(\.\.[\d.]+)?( ?(%|x|s|ms|us|B|KiB|MiB))?")


def _numeric(text):
    return bool(_NUMBER.fullmatch(text))


# --- goals ------------------------------------------------------------------------------


def main(argv, measure, child=None):
    """A benchmark script's entry point: ``--child ARGS...`` runs `child(*ARGS)` (a child
    process the benchmark started), anything else measures and prints (and, with
    ``--goals FILE``, writes) the goal rows `measure()` returns."""
    if child is not None and "--child" in argv:
        child(*argv[argv.index("--child") + 1:])
        return
    goals = measure()
    goals.print()
    goals.write(argv)


class Goals:
    """The goal rows of one benchmark: what was asked, what was measured, met or not."""

    def __init__(self, bench):
        self.bench = bench
        self.rows = []

    def add(self, goal, measured, met, note=""):
        """`met` is True, False, None (not measured) or "info" (a figure without a goal)."""
        self.rows.append({"bench": self.bench, "goal": goal, "measured": measured, "met": met, "note": note})

    def print(self):
        print()
        print("Goals")
        table(["goal", "measured", "result"], [(r["goal"], r["measured"], verdict(r["met"])) for r in self.rows])

    def write(self, argv):
        """Writes the rows to the file after ``--goals`` in `argv`, if any."""
        if "--goals" in argv:
            path = argv[argv.index("--goals") + 1]
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"rows": self.rows, "environment": environment()}, f)


def verdict(met):
    return {True: "met", False: "NOT MET", None: "not measured", "info": "(reference)"}[met]


# --- child processes --------------------------------------------------------------------

RESULT_PREFIX = "BENCH-RESULT "


def child_env(**extra):
    """A clean environment for a child: the agent importable, no TASKSCOPE_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSCOPE_")}
    env.pop("PYTHONSTARTUP", None)
    env.pop("PYTHONASYNCIODEBUG", None)
    env["PYTHONPATH"] = PYTHON_DIR
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def agent_command(python, listener_address, script_args):
    """``python -m taskscope run --connect ADDRESS script args``: the agent as users run it."""
    return [python, "-m", "taskscope", "run", "--connect", listener_address, *script_args]


def run_child(cmd, timeout, env=None):
    """Runs a child that prints one ``BENCH-RESULT {json}`` line; returns that dict."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or child_env(), cwd=HERE,
                          timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise RuntimeError("child %s exited %d without a result\nstdout: %s\nstderr: %s"
                       % (" ".join(cmd), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))


def report(result):
    """Called in a child: hands `result` (JSON-able) to the parent."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def _running_agent():
    # Looked up, never imported: a child without agent must not load any of it.
    module = sys.modules.get("taskscope.agent")
    return module.current() if module is not None else None


def agent_stats():
    """In a child: what the running agent did (None without agent)."""
    agent = _running_agent()
    if agent is None:
        return None
    transport = agent.transport
    return {
        "session": bool(transport.session_active()),
        "messages_sent": getattr(transport, "_seq", None),
        "dropped": getattr(transport, "_dropped", None),
        "samples": getattr(agent.sampler, "_ticks", None),
        "tasks_recorded": next(agent.registry._task_numbers) - 1,
        "thread_cpu": thread_cpu(),
    }


def thread_cpu():
    """In a child: CPU seconds (user + system) of each live thread, by thread name (Linux)."""
    import threading

    out = {}
    for thread in threading.enumerate():
        try:
            with open("/proc/self/task/%d/stat" % thread.native_id) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            continue
        out[thread.name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def wait_for_agent_session(timeout=10.0):
    """In a child run under ``taskscope run``: waits until the agent's session is on.

    Returns True when there is no agent or its session began; False on timeout.
    """
    agent = _running_agent()
    if agent is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.transport.session_active():
            return True
        time.sleep(0.01)
    return False
