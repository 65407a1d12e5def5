"""Start and stop: the agent leaves no thread or socket behind, and a forked child does
not speak on its parent's connection: it gets an agent and a connection of its own."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest
import urllib.request

from test.agent import support

SHUTDOWN = textwrap.dedent("""
    import asyncio, os, sys, threading
    from taskscope import agent

    def sockets():
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink("/proc/self/fd/" + fd).startswith("socket:")
            except OSError:
                pass  # the descriptor listdir itself used
        return count

    def threads():
        return sorted(t.name for t in threading.enumerate())

    running = agent.install(sys.argv[1], interval=0.01, retry=0.1)
    async def main():
        await asyncio.gather(*(asyncio.sleep(0.05) for _ in range(3)))
    asyncio.run(main())
    print("during:", threads(), sockets())
    running.shutdown()
    print("after:", threads(), sockets())
    running.shutdown()  # twice is harmless
    print("again:", threads(), sockets())
""")

RECORDING = textwrap.dedent("""
    import asyncio, os, sys, threading
    from taskscope import agent

    def open_files():
        names = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                names.append(os.readlink("/proc/self/fd/" + fd))
            except OSError:
                pass
        return names

    running = agent.install(None, interval=0.01, record=sys.argv[1])
    asyncio.run(asyncio.sleep(0.05))
    print("during:", sorted(t.name for t in threading.enumerate()), sys.argv[1] in open_files())
    running.shutdown()
    print("after:", sorted(t.name for t in threading.enumerate()), sys.argv[1] in open_files())
""")

FORK = textwrap.dedent("""
    import asyncio, os, sys
    from taskscope import agent

    running = agent.install(sys.argv[1], interval=0.01, retry=0.1)

    async def main(name):
        await asyncio.create_task(asyncio.sleep(0.3), name=name)

    asyncio.run(main("parent-before"))
    # Forked between two loops: forking inside a running loop and starting another one in
    # the child hangs on Python 3.14, agent or not.
    pid = os.fork()
    if pid == 0:
        asyncio.run(main("child"))  # the child uses asyncio too
        sys.exit(7)
    _, status = os.waitpid(pid, 0)
    print("child %d exited with %d" % (pid, os.waitstatus_to_exitcode(status)), flush=True)
    asyncio.run(main("parent-after"))
""")

#: A pool's way: multiprocessing's fork start method, the child ends with os._exit (no
#: atexit handlers, so no bye); a child that makes no task; and one that forks again.
POOL = textwrap.dedent("""
    import asyncio, multiprocessing, os, sys, time
    from taskscope import agent

    agent.install(sys.argv[1], interval=0.01, retry=0.1)

    async def main(name):
        await asyncio.create_task(asyncio.sleep(0.3), name=name)

    def worker(name):
        print(name, os.getpid(), flush=True)
        asyncio.run(main(name))

    def quiet():
        print("quiet", os.getpid(), flush=True)
        time.sleep(0.5)  # long enough for its agent to say hello before os._exit

    def forker():
        print("forker", os.getpid(), flush=True)
        grandchild = multiprocessing.get_context("fork").Process(target=worker, args=("grandchild",))
        grandchild.start()
        grandchild.join()

    context = multiprocessing.get_context("fork")
    for target, args in ((worker, ("worker",)), (quiet, ()), (forker, ())):
        process = context.Process(target=target, args=args)
        process.start()
        process.join()
        print("exit code", process.exitcode, flush=True)
""")


@unittest.skipUnless(sys.platform.startswith("linux"), "reads /proc/self/fd")
class Lifecycle(unittest.TestCase):
    def test_shutdown_joins_the_threads_and_closes_the_socket(self):
        with support.FakeExtension() as ext:
            done = subprocess.run([sys.executable, "-c", SHUTDOWN, ext.address], capture_output=True, text=True,
                                  env=support.clean_env(), timeout=30)
            conn = ext.wait_connection()
            self.assertTrue(conn.closed.wait(5))
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(lines[0], "during: ['MainThread', 'taskscope-sampler', 'taskscope-transport'] 1")
        self.assertEqual(lines[1], "after: ['MainThread'] 0")
        self.assertEqual(lines[2], "again: ['MainThread'] 0")
        self.assertEqual(conn.messages[-1], {"type": "bye", "exitCode": None})
        self.assertEqual(conn.invalid, [])

    def test_a_recording_alone_leaves_no_thread_or_open_file(self):
        folder = tempfile.mkdtemp(prefix="ts-lifecycle-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "run.ndjson")
        done = subprocess.run([sys.executable, "-c", RECORDING, path], capture_output=True, text=True,
                              env=support.clean_env(), timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.splitlines(), ["during: ['MainThread', 'taskscope-sampler'] True",
                                                    "after: ['MainThread'] False"])
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read().splitlines()[-1], '{"type":"bye","exitCode":null}')

    def run_forking(self, script, **env):
        # Python 3.12+ warns about fork() in a process with threads, and the agent's are
        # threads: a known difference, not what these tests are about.
        with support.FakeExtension() as ext:
            done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", script, ext.address],
                                  capture_output=True, text=True, env=support.clean_env(**env), timeout=60)
            first = ext.wait_connection()
            ext.wait(lambda: all(conn.closed.is_set() for conn in ext.connections), what="every connection closed")
            connections = list(ext.connections)
        self.assertEqual(first.messages[0]["pid"], connections[0].messages[0]["pid"])
        for conn in connections:
            self.assertEqual(conn.invalid, [])
            self.assertEqual([m["type"] for m in conn.messages].count("hello"), 1)
        by_pid = {conn.messages[0]["pid"]: conn for conn in connections}
        self.assertEqual(len(by_pid), len(connections), "two connections with one pid")
        return done, by_pid

    @staticmethod
    def names(conn):
        return sorted(t["name"] for t in conn.tasks.values() if t["coro"] != "main")

    @unittest.skipUnless(hasattr(__import__("os"), "fork"), "needs os.fork")
    def test_a_forked_child_gets_an_agent_and_a_connection_of_its_own(self):
        done, by_pid = self.run_forking(FORK)
        self.assertEqual(done.returncode, 0, done.stderr)
        child = int(done.stdout.split()[1])
        self.assertEqual(done.stdout, "child %d exited with 7\n" % child)
        self.assertEqual(done.stderr, "")
        self.assertEqual(sorted(by_pid), sorted([child, next(p for p in by_pid if p != child)]))
        parent = by_pid[next(p for p in by_pid if p != child)]
        # Each speaks for itself: the parent's tasks on its connection, the child's on its own.
        self.assertEqual(self.names(parent), ["parent-after", "parent-before"])
        self.assertEqual(self.names(by_pid[child]), ["child"])
        for conn in by_pid.values():
            self.assertEqual([m["type"] for m in conn.messages].count("bye"), 1)
            self.assertEqual(conn.messages[-1], {"type": "bye", "exitCode": None})

    @unittest.skipUnless(hasattr(__import__("os"), "fork"), "needs os.fork")
    def test_with_TASKSCOPE_FOLLOW_FORKS_0_a_forked_child_runs_without_the_agent(self):
        done, by_pid = self.run_forking(FORK, TASKSCOPE_FOLLOW_FORKS="0")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(len(by_pid), 1)
        (parent,) = by_pid.values()
        self.assertEqual(self.names(parent), ["parent-after", "parent-before"])
        self.assertEqual(parent.messages[-1], {"type": "bye", "exitCode": None})

    @unittest.skipUnless(hasattr(__import__("os"), "fork"), "needs os.fork")
    def test_the_processes_of_a_fork_pool(self):
        done, by_pid = self.run_forking(POOL)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual([line for line in lines if line.startswith("exit code")], ["exit code 0"] * 3)
        pids = {line.split()[0]: int(line.split()[1]) for line in lines if not line.startswith("exit code")}
        self.assertEqual(sorted(pids), ["forker", "grandchild", "quiet", "worker"])
        # The parent, its three children and the forker's child: five processes, five agents.
        self.assertEqual(len(by_pid), 5)
        self.assertEqual(self.names(by_pid[pids["worker"]]), ["worker"])
        self.assertEqual(self.names(by_pid[pids["quiet"]]), [])
        self.assertEqual(self.names(by_pid[pids["forker"]]), [])
        self.assertEqual(self.names(by_pid[pids["grandchild"]]), ["grandchild"])
        # os._exit ends a pool's process: no bye, the connection just closes.
        self.assertEqual(by_pid[pids["worker"]].of_type("bye"), [])



def gunicorn_available():
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("gunicorn", "aiohttp"))


@unittest.skipUnless(gunicorn_available(), "gunicorn or aiohttp is not installed for this Python "
                                           "(Debian: python3-gunicorn, python3-aiohttp)")
@unittest.skipUnless(hasattr(os, "fork"), "needs os.fork")
class PreForkingServer(unittest.TestCase):
    """gunicorn's master forks its workers: each is a process of its own in the extension,
    with the tasks of the requests it is serving."""

    WORKERS = 2
    REQUESTS = 6

    def test_each_worker_shows_the_requests_it_serves(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with support.FakeExtension() as ext:
            proc = support.start_agent(["-m", "gunicorn", "-w", str(self.WORKERS), "-k", "aiohttp.GunicornWebWorker",
                                        "-b", "127.0.0.1:%d" % port, "--graceful-timeout", "5", "gunicorn_app:app"],
                                       connect=ext.address)
            answers = []
            try:
                def serving():
                    return len([c for c in ext.connections if c.of_type("hello")]) == 1 + self.WORKERS

                ext.wait(serving, timeout=20, what="the master and its workers connected")

                def get(i):
                    url = "http://127.0.0.1:%d/request-%d?s=2" % (port, i)
                    for _ in range(50):  # the workers may still be binding
                        try:
                            answers.append(urllib.request.urlopen(url, timeout=20).read().decode())
                            return
                        except OSError:
                            threading.Event().wait(0.1)

                clients = [threading.Thread(target=get, args=(i,)) for i in range(self.REQUESTS)]
                for client in clients:
                    client.start()

                def handlers(conn):
                    return [t for t in conn.tasks.values()
                            if t["coro"].endswith("_handle_request") and t["state"] == "pending"]

                ext.wait(lambda: sum(len(handlers(c)) for c in ext.connections) == self.REQUESTS, timeout=20,
                         what="every request's handler task, in the workers")
                with ext.cond:
                    serving_now = {c.messages[0]["pid"]: len(handlers(c)) for c in ext.connections}
                for client in clients:
                    client.join(30)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                out, err = proc.communicate(timeout=30)
            ext.wait(lambda: all(c.closed.is_set() for c in ext.connections), what="every connection closed")
            connections = list(ext.connections)
        self.assertEqual(proc.returncode, 0, err[-3000:])
        self.assertEqual(sorted(answers), sorted("ok request-%d" % i for i in range(self.REQUESTS)))
        workers = sorted(int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", err))
        self.assertEqual(len(workers), self.WORKERS, err[-3000:])
        # The master (which makes no task) and each worker, by pid, each with one hello and bye.
        self.assertEqual(sorted(serving_now), sorted(workers + [proc.pid]))
        self.assertEqual(serving_now[proc.pid], 0)
        self.assertEqual(sum(serving_now.values()), self.REQUESTS)
        for conn in connections:
            self.assertEqual(conn.invalid, [])
            self.assertEqual([m["type"] for m in conn.messages].count("hello"), 1)
            self.assertEqual([m["type"] for m in conn.messages].count("bye"), 1)

if __name__ == "__main__":
    unittest.main()
