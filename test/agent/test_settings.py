"""The agent's settings from the environment: the history of finished tasks
(TASKSCOPE_HISTORY_SECONDS, which the extension sets from taskscope.tasks.historySeconds,
and TASKSCOPE_HISTORY_MAX), read the same way through the command line and the bootstrap;
bad values are logged and ignored."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from test.agent import support
from taskscope import agent, protocol, sampler
from taskscope.log import log

PROGRAM = "finishes_tasks.py"
FINISHED = ("cancelled", "failed")


class IntervalSetting(unittest.TestCase):
    def test_with_samples_seconds_apart_the_hook_still_learns_a_new_place_soon(self):
        # Until the hook knows the place a task is made from, it walks up the stack for
        # each one; learning must not wait for the next sample when samples are far apart.
        # Nobody listens: the samples still come (and a session would add none here).
        result = support.run_agent(["learns_a_new_place.py"], connect="unix:/nonexistent/taskscope-test.sock",
                                   env=support.clean_env(TASKSCOPE_INTERVAL="10"))
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertRegex(result.stdout, r"^learnt in \d+\.\d\d s\n$")
        self.assertLess(float(result.stdout.split()[2]), 1.0, result.stdout)


    def test_with_samples_seconds_apart_the_queue_of_new_tasks_is_still_taken(self):
        # The hook's queue is a list the garbage collector goes through; samples 10 s apart
        # must not let it grow with every task made meanwhile.
        result = support.run_agent(["queues_many_tasks.py"], connect="unix:/nonexistent/taskscope-test.sock",
                                   env=support.clean_env(TASKSCOPE_INTERVAL="10"))
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        peak, limit, samples = map(int, result.stdout.split())
        self.assertGreater(samples, 0, result.stdout)
        self.assertLess(peak, 2 * limit, result.stdout)


class HistorySettings(unittest.TestCase):
    def test_defaults_are_the_samplers(self):
        settings = agent.settings_from_env({})
        self.assertEqual((settings.history_seconds, settings.history_max), (sampler.HISTORY_SECONDS, sampler.HISTORY_MAX))

    def test_read_from_the_environment_zero_included(self):
        settings = agent.settings_from_env({"TASKSCOPE_HISTORY_SECONDS": "120", "TASKSCOPE_HISTORY_MAX": "5000"})
        self.assertEqual((settings.history_seconds, settings.history_max), (120.0, 5000))
        settings = agent.settings_from_env({"TASKSCOPE_HISTORY_SECONDS": "0", "TASKSCOPE_HISTORY_MAX": "0"})
        self.assertEqual((settings.history_seconds, settings.history_max), (0.0, 0))

    def test_bad_values_are_logged_and_ignored(self):
        folder = tempfile.mkdtemp(prefix="ts-settings-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "agent.log")
        saved = (log.path, log.debug_enabled)
        log.path, log.debug_enabled = path, False
        try:
            for seconds, count in (("soon", "many"), ("-1", "-1"), ("nan", "2.5"), ("inf", "1e3")):
                with self.subTest(seconds=seconds, count=count):
                    settings = agent.settings_from_env({"TASKSCOPE_HISTORY_SECONDS": seconds,
                                                        "TASKSCOPE_HISTORY_MAX": count})
                    self.assertEqual((settings.history_seconds, settings.history_max),
                                     (sampler.HISTORY_SECONDS, sampler.HISTORY_MAX))
        finally:
            log.path, log.debug_enabled = saved
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for seconds in ("soon", "-1", "nan", "inf"):
            self.assertIn("ignoring TASKSCOPE_HISTORY_SECONDS=%r" % seconds, text)
        for count in ("many", "-1", "2.5", "1e3"):
            self.assertIn("ignoring TASKSCOPE_HISTORY_MAX=%r" % count, text)

    def test_the_agent_hands_them_to_its_sampler(self):
        address = protocol.parse_address("unix:/nonexistent/ipc.sock")
        made = agent.Agent(address, history_seconds=7.5, history_max=3)  # not started: no thread
        self.assertEqual((made.sampler.history_seconds, made.sampler.history_max), (7.5, 3))


def run_finishing(env, via="cli", gone=None):
    """Runs the program against a fake extension until both tasks were seen finished, then
    until `gone(removed ids, ids of the two tasks)` holds (else for 1.5 s). Returns the two
    tasks' ids and the ids the agent removed by then."""
    release_path = support.release_file()
    try:
        with support.FakeExtension() as ext:
            environment = support.clean_env(RELEASE_FILE=release_path, **env)
            if via == "cli":
                proc = support.start_agent([PROGRAM], connect=ext.address, env=environment)
            else:
                environment.update(PYTHONPATH=support.BOOTSTRAP, TASKSCOPE_CONNECT=ext.address)
                proc = subprocess.Popen([sys.executable, PROGRAM], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=environment, cwd=support.PROGRAMS)
            try:
                conn = ext.wait_connection()
                ids = {}

                def finished():
                    # Every record sent, not the picture now: with a short history a task's
                    # end and its removal can both arrive before this thread looks.
                    for m in conn.messages:
                        records = m["tasks"] if m["type"] == "snapshot" else m.get("upsert", ())
                        for t in records:
                            if t["name"] in FINISHED and t["state"] in ("cancelled", "failed"):
                                ids[t["name"]] = t["id"]
                    return len(ids) == len(FINISHED)

                ext.wait(finished, what="both tasks seen finished")

                def removed():
                    return {tid for m in conn.messages if m["type"] == "delta" for tid in m["remove"]}

                if gone is not None:
                    ext.wait(lambda: gone(removed(), set(ids.values())), timeout=15, what="the tasks removed")
                else:
                    time.sleep(1.5)
                with ext.cond:
                    result = dict(ids), removed()
                support.release(release_path)
                out, err = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        if proc.returncode != 0 or out != "done True ValueError\n":
            raise AssertionError("the program did not run as usual: %r %r %r" % (proc.returncode, out, err))
        return result
    finally:
        shutil.rmtree(os.path.dirname(release_path), ignore_errors=True)


class HistoryOfARunningProgram(unittest.TestCase):
    """The variables set the history the agent keeps (finished tasks leave with ``remove``)."""

    @classmethod
    def setUpClass(cls):
        def both_gone(removed, ids):
            return ids <= removed

        runs = {
            "cli, 0.3 s": lambda: run_finishing({"TASKSCOPE_HISTORY_SECONDS": "0.3"}, gone=both_gone),
            "bootstrap, 0.3 s": lambda: run_finishing({"TASKSCOPE_HISTORY_SECONDS": "0.3"}, via="bootstrap",
                                                      gone=both_gone),
            "cli, at most 1": lambda: run_finishing({"TASKSCOPE_HISTORY_MAX": "1"}),
            "cli, default": lambda: run_finishing({}),
        }
        names = list(runs)
        cls.runs = dict(zip(names, support.parallel(lambda name: runs[name](), names, workers=4)))

    def test_a_short_history_removes_finished_tasks_command_line_and_bootstrap(self):
        for name in ("cli, 0.3 s", "bootstrap, 0.3 s"):
            with self.subTest(name):
                ids, removed = self.runs[name]
                self.assertLessEqual(set(ids.values()), removed)

    def test_a_history_of_one_task_keeps_the_last_one_only(self):
        ids, removed = self.runs["cli, at most 1"]
        self.assertEqual(len(set(ids.values()) & removed), 1, (ids, removed))

    def test_by_default_finished_tasks_stay(self):
        ids, removed = self.runs["cli, default"]
        self.assertEqual(set(ids.values()) & removed, set())


if __name__ == "__main__":
    unittest.main()
