"""Runs every agent benchmark, one after the other, and prints one summary table.

``npm run bench:agent`` (or ``python3 bench/agent/run_all.py``). Options: ``--only
spawn,memory`` for a subset; ``--agent REV`` to measure the agent as committed at REV,
exported to a temporary folder, instead of the work tree (which others may be changing
meanwhile). Each benchmark runs as its own process, as it would alone, and hands its goal
rows back through a JSON file; the summary lists each goal as met or NOT MET, and the
figures without a goal for reference. Exits 0 whatever the results: it measures, it does
not gate. All together take about 12 minutes on 2 shared cores.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import harness

BENCHMARKS = ("spawn", "sampling", "server", "memory", "memory_floor", "hook_cost", "hook_instructions", "server_instructions")
TIMEOUT = 600


def main(argv):
    only = BENCHMARKS
    if "--only" in argv:
        only = tuple(argv[argv.index("--only") + 1].split(","))
        unknown = set(only) - set(BENCHMARKS)
        if unknown:
            sys.exit("unknown benchmark(s): %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(BENCHMARKS)))
    with tempfile.TemporaryDirectory(prefix="ts-bench-agent-") as export:
        if "--agent" in argv:
            _export_agent(argv[argv.index("--agent") + 1], export)
        _run(only)


def _export_agent(rev, folder):
    """Puts python/ as committed at `rev` into `folder`; the benchmarks import it from there."""
    archive = subprocess.run(["git", "archive", rev, "python"], cwd=harness.REPO, capture_output=True)
    if archive.returncode != 0:
        sys.exit("git archive %s failed: %s" % (rev, archive.stderr.decode(errors="replace").strip()))
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
    # The last commit, up to `rev`, that changed the agent.
    described = subprocess.run(["git", "log", "-1", "--format=%h %cs", rev, "--", "python/taskscope"],
                               cwd=harness.REPO, capture_output=True, text=True).stdout.strip()
    # Read by harness in every benchmark process started from here (children inherit it).
    os.environ["BENCH_AGENT_PYTHON"] = harness.PYTHON_DIR = os.path.join(folder, "python")
    os.environ["BENCH_AGENT_REV"] = described or rev


def _run(only):
    harness.print_environment("TaskScope agent benchmarks")
    rows = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ts-bench-") as folder:
        for name in only:
            path = os.path.join(folder, name + ".json")
            print("\n--- %s %s\n" % (name, "-" * 60), flush=True)
            t0 = time.monotonic()
            try:
                code = subprocess.run([sys.executable, os.path.join(harness.HERE, name + ".py"), "--goals", path],
                                      cwd=harness.HERE, timeout=TIMEOUT).returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
            took = time.monotonic() - t0
            if code == 0 and os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    for row in json.load(f)["rows"]:
                        rows.append(dict(row, took=took))
            else:
                rows.append({"bench": name, "goal": "(the benchmark failed: exit %s)" % code, "measured": "-",
                             "met": None, "took": took})
    print("\n\nSummary (%s, %d CPUs, load average now %.2f, %.0f s in all)"
          % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), harness.load_average(), time.monotonic() - started))
    harness.table(["bench", "goal", "measured", "result"],
                  [[r["bench"], r["goal"], r["measured"], harness.verdict(r["met"])] for r in rows])
    goals = [r for r in rows if r["met"] in (True, False)]
    print("\n%d of %d goals met%s." % (sum(1 for r in goals if r["met"]), len(goals),
                                      "" if all(r["met"] is not None for r in rows) else "; some not measured"))


if __name__ == "__main__":
    main(sys.argv[1:])
