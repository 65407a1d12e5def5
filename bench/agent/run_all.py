"""Runs every agent benchmark, one after the other, and prints one summary table.

``npm run bench:agent`` (or ``python3 bench/agent/run_all.py``; ``--only spawn,memory``
for a subset). Each benchmark runs as its own process, as it would alone, and hands its
goal rows back through a JSON file; the summary lists each goal as met or NOT MET, and
the figures without a goal for reference. Exits 0 whatever the results: it measures, it
does not gate. All together take about 6 minutes on 2 shared cores.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import harness

BENCHMARKS = ("spawn", "sampling", "server", "memory")
TIMEOUT = 600


def main(argv):
    only = BENCHMARKS
    if "--only" in argv:
        only = tuple(argv[argv.index("--only") + 1].split(","))
        unknown = set(only) - set(BENCHMARKS)
        if unknown:
            sys.exit("unknown benchmark(s): %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(BENCHMARKS)))
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
