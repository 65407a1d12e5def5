"""The aiohttp server in instructions: what the agent adds to a request, counted.

`server.py` times the server under wrk, and on two shared cores its ratio moves by 10 to
20% from one run to the next (wrk, the server and the agent's threads compete for the same
cores). This benchmark counts instead: the same application (`aiohttp_app.py`, Debian's
``/usr/bin/python3.11`` with ``python3-aiohttp``) runs under valgrind's callgrind, one
thread's count per file (``--separate-threads=yes``), and a client in this process sends
it a fixed number of requests over keep-alive connections. Instructions per request =
(count after N2 requests - count after N1) / (N2 - N1), so that start-up and shutdown
cancel out; the figure is the program's thread (the event loop's), which is where the
program loses time to the hook. The agent's own threads are shown too, for reference
only: under callgrind the program runs about fifty times slower while the sampler still
wakes every 0.1 s of real time, so their count per request is many times what it is in a
real run (``server.py`` reports their CPU time per request instead).

Variants: ``plain`` (no agent) and ``agent`` (``python -m taskscope run --connect`` to a
listener, as in ``server.py``).

Run alone: ``python3 bench/agent/server_instructions.py`` (a few minutes).
"""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import harness
import hook_instructions
import server

REQUESTS = (300, 1300)
CONNECTIONS = 8
START_TIMEOUT = 300
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"


def _complete(answer):
    """True once `answer` holds a whole response (headers, then Content-Length bytes)."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return length is not None and len(body) >= int(length.group(1))


def _client(port, total):
    """Sends `total` requests over CONNECTIONS keep-alive connections, one at a time on
    each; returns the number of good answers."""
    counts = [0] * CONNECTIONS
    errors = []

    def one(i, n):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
                for _ in range(n):
                    s.sendall(REQUEST)
                    answer = b""
                    while not _complete(answer):
                        chunk = s.recv(4096)
                        if not chunk:
                            raise ConnectionError("the server closed the connection")
                        answer += chunk
                    if not answer.startswith(b"HTTP/1.1 200"):
                        raise RuntimeError("unexpected answer: %r" % answer[:80])
                    counts[i] += 1
        except Exception as e:  # reported by the caller
            errors.append(e)

    share = [total // CONNECTIONS + (1 if i < total % CONNECTIONS else 0) for i in range(CONNECTIONS)]
    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(share)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("the client failed: %s" % errors[0])
    return sum(counts)


def _thread_counts(prefix):
    """``{thread number: instructions}`` from callgrind's per-thread files."""
    counts = {}
    for path in glob.glob(prefix + "-*"):
        found = re.search(r"-(\d+)$", path)
        if not found:
            continue
        with open(path) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    counts[int(found.group(1))] = int(line.split()[1])
                    break
    return counts


def _run(variant, requests, listener):
    port = server._free_port()
    folder = tempfile.mkdtemp(prefix="taskscope-callgrind-")
    prefix = os.path.join(folder, "out")
    args = ["aiohttp_app.py", str(port)]
    program = harness.agent_command(server.PYTHON, listener.address, args) if variant == "agent" else [
        server.PYTHON, *args]
    cmd = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--callgrind-out-file=" + prefix, *program]
    if shutil.which("setarch"):
        cmd = ["setarch", "-R", *cmd]
    env = dict(harness.child_env(), PYTHONHASHSEED="0")
    stderr = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=harness.HERE, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    try:
        if not server._wait_listening(port, proc, timeout=START_TIMEOUT):
            stderr.seek(0)
            raise RuntimeError("the server did not start under callgrind: %s" % stderr.read()[-2000:])
        if variant == "agent":
            listener.wait(lambda: any(c.hello is not None for c in listener.connections[-1:]), 60, "the agent's hello")
        answered = _client(port, requests)
        time.sleep(1.0)  # a few samples, as between requests in a real run
    finally:
        proc.send_signal(2)  # SIGINT: aiohttp shuts down, valgrind writes its files
        try:
            proc.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        stderr.close()
    counts = _thread_counts(prefix)
    shutil.rmtree(folder, ignore_errors=True)
    if 1 not in counts:
        raise RuntimeError("callgrind wrote no count for the program's thread")
    return answered, counts


def measure():
    harness.print_environment("Agent: the aiohttp server in instructions (callgrind)", python=server.PYTHON)
    goals = harness.Goals("server_instructions")
    if not hook_instructions._valgrind() or not server.ensure_packages():
        goals.add("aiohttp in instructions", "valgrind, aiohttp or wrk missing", None)
        return goals
    from listener import Listener

    n1, n2 = REQUESTS
    print("Instructions per request: (count after %d requests - count after %d) / %d, over %d keep-alive "
          "connections.\n" % (n2, n1, n2 - n1, CONNECTIONS))
    per_request = {}
    with Listener() as listener:
        for variant in ("plain", "agent"):
            runs = {}
            for n in (n1, n2):
                answered, counts = _run(variant, n, listener)
                if answered != n:
                    raise RuntimeError("%d of %d requests answered" % (answered, n))
                runs[n] = counts
                print("  %-6s %5d requests: program's thread %d, other threads %d" % (
                    variant, n, counts[1], sum(v for k, v in counts.items() if k != 1)), flush=True)
            main = (runs[n2][1] - runs[n1][1]) / (n2 - n1)
            others = (sum(v for k, v in runs[n2].items() if k != 1) -
                      sum(v for k, v in runs[n1].items() if k != 1)) / (n2 - n1)
            per_request[variant] = (main, others)
    plain, agent = per_request["plain"][0], per_request["agent"][0]
    print()
    harness.table(["variant", "program's thread instr/request", "other threads instr/request (inflated)"],
                  [[v, "%.0f" % m, "%.0f" % o] for v, (m, o) in per_request.items()])
    ratio = plain / agent
    print("\nThe program's thread: %+.0f instructions per request with the agent (%.3f as many); if time "
          "followed instructions, requests/s would be %.3f of plain." % (agent - plain, agent / plain, ratio))
    goals.add("aiohttp in instructions: program's thread per request, without / with",
              "%.3f (+%.0f of %.0f)" % (ratio, agent - plain, plain), "info")
    return goals


if __name__ == "__main__":
    harness.main(sys.argv[1:], measure)
