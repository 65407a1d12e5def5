"""CPython's own asyncio tests pass with the agent in every process they start.

``test.test_asyncio`` (and the few other modules of the suite that run coroutines, see
`SUITES`) is thousands of checks of asyncio's behaviour, edge cases included
(task factories, exception handlers, eager tasks, cancellation, subprocesses, several
loops, task-like objects of other classes). Run by ``python -m test`` with the bootstrap
on ``PYTHONPATH`` and ``TASKSCOPE_CONNECT`` pointing at a fake extension, every Python
process of the run (the test runner, its workers, the programs the tests start) gets the
agent, connected, sampling every 20 ms and reporting a task stuck after 1 ms: the suite is
the judge of "the program behaves the same", and the agent's log and messages are checked
too.

It needs the interpreter's test package (``test.test_asyncio``): CPython built from
source and pyenv's builds have it; Debian's Python has it in ``libpython3.X-testsuite``.
About a minute and a half per interpreter on two cores.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from test.agent import support

TIMEOUT = 900
#: asyncio's own tests, and the other modules of the test suite that run coroutines: async
#: generators, coroutines, async context managers, unittest's IsolatedAsyncioTestCase.
SUITES = ("test_asyncio", "test_asyncgen", "test_coroutines", "test_contextlib_async", "test_unittest")


def _has_asyncio_suite(cwd, env):
    done = subprocess.run([sys.executable, "-c", "import test.test_asyncio"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode == 0


class CPythonAsyncioSuite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Not from the repository: there `test` is this project's test package.
        cls.folder = tempfile.mkdtemp(prefix="ts-cpython-suite-")
        cls.log_path = os.path.join(cls.folder, "agent.log")
        probe_env = support.clean_env(PYTHONPATH=None)
        if not _has_asyncio_suite(cls.folder, probe_env):
            shutil.rmtree(cls.folder, ignore_errors=True)
            raise unittest.SkipTest("CPython's test suite is not installed for %s (Debian: libpython%d.%d-testsuite)"
                                    % (sys.executable, *sys.version_info[:2]))
        cls.ext = support.FakeExtension()
        # Thresholds so low that nearly every wait is "stuck" and loops "block": the findings'
        # code runs against everything the suite does too.
        env = support.clean_env(PYTHONPATH=support.BOOTSTRAP, TASKSCOPE_CONNECT=cls.ext.address,
                                TASKSCOPE_LOG=cls.log_path, TASKSCOPE_STUCK_AFTER="0.001",
                                TASKSCOPE_BLOCKED_AFTER="0.001")
        # -w: a test that fails is run again once; the run fails if it fails again.
        cls.done = subprocess.run([sys.executable, "-m", "test", "-j2", "-w", *SUITES], cwd=cls.folder,
                                  env=env, capture_output=True, text=True, timeout=TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        cls.ext.close()
        shutil.rmtree(cls.folder, ignore_errors=True)

    def test_the_suite_passes(self):
        out = self.done.stdout + self.done.stderr
        self.assertEqual(self.done.returncode, 0, out[-4000:])
        self.assertRegex(out, r"Tests result: SUCCESS")

    def test_every_process_had_the_agent_connected(self):
        # The runner, its workers and the tests' own Python subprocesses: dozens.
        connections = self.ext.connections
        self.assertGreater(len(connections), 20)
        snapshots = sum(1 for conn in connections if conn.of_type("snapshot"))
        self.assertGreater(snapshots, 20)
        tasks = sum(len(conn.tasks) for conn in connections)
        self.assertGreater(tasks, 100)
        kinds = {m["kind"] for conn in connections for m in conn.of_type("event")}
        # What the suite's tests provoke: 3.10's suite blocks no loop for 0.25 s.
        expected = {"stuck", "destroyed-pending"} | ({"loop-blocked"} if sys.version_info >= (3, 11) else set())
        self.assertTrue(expected <= kinds, kinds)

    def test_the_agent_sent_only_valid_messages(self):
        invalid = [(line, error) for conn in self.ext.connections for line, error in conn.invalid]
        self.assertEqual(invalid, [])

    def test_the_agent_logged_no_error(self):
        with open(self.log_path, encoding="utf-8") as f:
            log = f.read()
        self.assertIn(" info: agent ", log)  # the log is the agents' own
        errors = [line for line in log.splitlines() if " error: " in line]
        self.assertEqual(errors, [], log[-4000:])


if __name__ == "__main__":
    unittest.main()
