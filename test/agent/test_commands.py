"""Commands from the extension run in the live program: cancel really cancels."""

import glob
import os
import shutil
import unittest

from test.agent import support

PROGRAM = "cancel_me.py"


class Commands(unittest.TestCase):
    ENV = {}

    def setUp(self):
        self.ext = support.FakeExtension()
        self.addCleanup(self.ext.close)
        self.release = support.release_file()  # never released: it only turns the timer off
        self.addCleanup(shutil.rmtree, os.path.dirname(self.release), True)
        self.proc = support.start_agent([PROGRAM], connect=self.ext.address,
                                        env=support.clean_env(RELEASE_FILE=self.release, BYSTANDER_SECONDS="20",
                                                              **self.ENV))
        self.addCleanup(self._stop_program)
        self.conn = self.ext.wait_connection()
        self.sleeper = self.ext.wait_task(self.conn, lambda t: t["name"] == "sleeper" and t.get("awaiting"),
                                          what="the sleeper waiting")

    def _stop_program(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def test_cancel_cancels_the_task_in_the_program(self):
        result = self.ext.command(self.conn, "cancel", task=self.sleeper["id"], msg="from the test")
        self.assertEqual(result, {"type": "result", "id": result["id"], "ok": True,
                                  "value": {"cancelled": [self.sleeper["id"]]}})
        first_line = self.proc.stdout.readline()
        self.assertEqual(first_line, "sleeper cancelled: from the test\n")
        self.assertEqual(self.proc.stdout.readline(), "main saw the cancellation\n")
        cancelled = self.ext.wait_task(self.conn, lambda t: t["id"] == self.sleeper["id"] and t["state"] == "cancelled",
                                       what="the sleeper reported cancelled")
        self.assertEqual(cancelled["cancelMessage"], "from the test")
        self.assertIn("finished", cancelled)
        again = self.ext.command(self.conn, "cancel", task=self.sleeper["id"])
        self.assertFalse(again["ok"])
        self.assertIn("already finished", again["error"])
        self.assertEqual(self.conn.invalid, [])

    def test_cancel_without_message(self):
        result = self.ext.command(self.conn, "cancel", task=self.sleeper["id"])
        self.assertTrue(result["ok"])
        self.assertEqual(self.proc.stdout.readline(), "sleeper cancelled: None\n")

    def test_unknown_task_unknown_command_and_invalid_lines(self):
        for path in sorted(glob.glob(os.path.join(support.PROTOCOL_FIXTURES, "from-extension", "invalid", "*"))):
            with open(path, "rb") as f:
                self.conn.send_raw(f.read().rstrip(b"\n") + b"\n")
        missing = self.ext.command(self.conn, "cancel", task="t9999")
        self.assertEqual(missing["ok"], False)
        self.assertEqual(missing["error"], "no task t9999")
        unknown = self.ext.command(self.conn, "teleport", task=self.sleeper["id"])
        self.assertEqual(unknown["ok"], False)
        self.assertIn("teleport", unknown["error"])
        # Still connected, still answering, nothing answered for the invalid lines.
        self.assertFalse(self.conn.closed.is_set())
        results = self.conn.of_type("result")
        self.assertEqual(len(results), 2)
        self.assertIsNone(self.proc.poll())
        self.assertEqual(self.conn.invalid, [])

    def test_stack_and_set_interval(self):
        stack = self.ext.command(self.conn, "stack", task=self.sleeper["id"])
        self.assertTrue(stack["ok"])
        awaiting = stack["value"]["awaiting"]
        self.assertEqual((awaiting[0]["function"], awaiting[0]["line"]),
                         ("sleeper", support.site_line(PROGRAM, "sleeper-await")))
        self.assertEqual(stack["value"]["creation"][-1]["line"], support.site_line(PROGRAM, "sleeper"))
        interval = self.ext.command(self.conn, "setInterval", interval=0.05)
        self.assertEqual(interval["value"], {"interval": 0.05})

    def test_cancel_tree_cancels_the_task_and_what_it_created(self):
        main = self.ext.wait_task(self.conn, lambda t: t["coro"] == "main", what="main")
        bystander = self.ext.wait_task(self.conn, lambda t: t["name"] == "bystander", what="bystander")
        result = self.ext.command(self.conn, "cancelTree", task=main["id"])
        self.assertTrue(result["ok"])
        self.assertEqual(sorted(result["value"]["cancelled"]), sorted([main["id"], self.sleeper["id"], bystander["id"]]))
        out, err = self.proc.communicate(timeout=10)
        self.assertIn("sleeper cancelled: None", out)
        self.assertIn("CancelledError", err)  # asyncio.run's main task was cancelled
        self.assertEqual(self.proc.returncode, 1)
        bye = self.ext.wait_message(self.conn, lambda m: m["type"] == "bye", what="bye")
        self.assertEqual(bye["exitCode"], 1)


class CancelTreeAnswer(unittest.TestCase):
    """cancelTree's answer names every task it cancelled, also when cancelling the first
    one ends the program: the Tasks view's program, whose main task ends as soon as its
    branch is cancelled (and the branch's gather then cancels the other leaf). Cancelled
    one callback per task, the loop could close before the leaf's turn, and the answer
    left the leaf out (a run in four). Ten runs, each must name both."""

    PROGRAM = os.path.join(support.PROGRAMS, os.pardir, "workspace", "nested_tasks.py")
    RUNS = 10

    def test_the_answer_names_the_whole_tree_though_the_program_ends(self):
        for run in range(self.RUNS):
            ext = support.FakeExtension()
            proc = support.start_agent([os.path.abspath(self.PROGRAM)], connect=ext.address)
            try:
                conn = ext.wait_connection()
                branch = ext.wait_task(conn, lambda t: t["name"] == "branch", what="branch")
                leaves = [ext.wait_task(conn, lambda t, n=n: t["name"] == "leaf-%d" % n and t.get("parent") == branch["id"],
                                        what="leaf-%d" % n) for n in range(2)]
                self.assertTrue(ext.command(conn, "cancel", task=leaves[0]["id"])["ok"])
                ext.wait_task(conn, lambda t: t["id"] == leaves[0]["id"] and t["state"] == "cancelled",
                              what="leaf-0 cancelled")
                result = ext.command(conn, "cancelTree", task=branch["id"])
                self.assertEqual(sorted(result["value"]["cancelled"]), sorted([branch["id"], leaves[1]["id"]]),
                                 "run %d" % run)
                out, _ = proc.communicate(timeout=10)
                self.assertIn("leaf-1 cancelled", out)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.communicate()
                ext.close()


@unittest.skipUnless(support.uvloop_available(), "uvloop is not installed for this Python")
class CommandsOnUvloop(Commands):
    """The same commands on a uvloop loop (cancel goes through its call_soon_threadsafe)."""

    ENV = {"FIXTURE_LOOP": "uvloop"}


if __name__ == "__main__":
    unittest.main()
