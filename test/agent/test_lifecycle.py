"""Start and stop: the agent leaves no thread or socket behind, and a forked child does
not speak on its parent's connection."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

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
    asyncio.run(asyncio.sleep(0.1))
    # Forked between two loops: forking inside a running loop and starting another one in
    # the child hangs on Python 3.14, agent or not.
    pid = os.fork()
    if pid == 0:
        asyncio.run(asyncio.sleep(0.05))  # the child uses asyncio too
        sys.exit(7)
    _, status = os.waitpid(pid, 0)
    print("child exited with", os.waitstatus_to_exitcode(status), flush=True)
    asyncio.run(asyncio.sleep(0.1))
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

    @unittest.skipUnless(hasattr(__import__("os"), "fork"), "needs os.fork")
    def test_a_forked_child_stays_off_the_parents_connection(self):
        # Python 3.12+ warns about fork() in a process with threads, and the agent's are
        # threads: a known difference, not what this test is about.
        with support.FakeExtension() as ext:
            done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORK, ext.address],
                                  capture_output=True, text=True, env=support.clean_env(), timeout=30)
            conn = ext.wait_connection()
            self.assertTrue(conn.closed.wait(5))
        self.assertEqual((done.returncode, done.stdout, done.stderr), (0, "child exited with 7\n", ""))
        self.assertEqual(len(ext.connections), 1)
        self.assertEqual(conn.invalid, [])
        self.assertEqual([m["type"] for m in conn.messages].count("bye"), 1)
        self.assertEqual(conn.messages[-1], {"type": "bye", "exitCode": None})
        self.assertEqual(len({m["pid"] for m in conn.messages if m["type"] == "hello"}), 1)


if __name__ == "__main__":
    unittest.main()
