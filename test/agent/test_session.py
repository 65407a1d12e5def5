"""A whole session with a real program: hello, welcome, snapshot, deltas, bye."""

import os
import shutil
import sys
import time
import unittest

from test.agent import support

PROGRAM = "nested_tasks.py"


class NestedTasksSession(unittest.TestCase):
    """Runs nested_tasks.py once; the tests look at what the fake extension saw."""

    @classmethod
    def setUpClass(cls):
        cls.ext = support.FakeExtension()
        cls.release = support.release_file()
        env = support.clean_env(RELEASE_FILE=cls.release)
        cls.proc = support.start_agent([PROGRAM, "first", "--second"], connect=cls.ext.address, env=env)
        try:
            cls.conn = cls.ext.wait_connection()
            # Everything is created and waiting once both children wait in hold(), at its
            # asyncio.sleep (child, hold, sleep): a sample may also catch a child as it runs,
            # with a shorter chain.
            cls.ext.wait(lambda: sum(1 for t in cls.conn.tasks.values()
                                     if t["name"].startswith("child-") and len(t.get("awaiting") or ()) >= 3) == 2,
                         what="both children waiting in hold()")
            with cls.ext.cond:
                cls.snapshot = cls.conn.of_type("snapshot")[0]
                cls.picture = dict(cls.conn.tasks)
                cls.loops = dict(cls.conn.loops)
                before = len(cls.conn.messages)
            time.sleep(0.3)  # about 15 samples while nothing changes
            with cls.ext.cond:
                cls.quiet = cls.conn.messages[before:]
            support.release(cls.release)
            cls.out, cls.err = cls.proc.communicate(timeout=20)
            cls.ext.wait(lambda: cls.conn.closed.is_set(), what="connection closed")
        except BaseException:
            cls.proc.kill()
            cls.proc.communicate()
            cls.ext.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ext.close()
        shutil.rmtree(os.path.dirname(cls.release), ignore_errors=True)

    def named(self, name, picture=None):
        found = [t for t in (picture or self.picture).values() if t["name"] == name]
        self.assertEqual(len(found), 1, "one task named %r in %r" % (name, sorted(
            t["name"] for t in (picture or self.picture).values())))
        return found[0]

    def main_task(self, picture=None):
        found = [t for t in (picture or self.picture).values() if t["coro"] == "main"]
        self.assertEqual(len(found), 1)
        return found[0]

    def test_program_ran_normally(self):
        self.assertEqual(self.proc.returncode, 0, self.err)
        self.assertEqual(self.out, "children returned [0, 1]\ndone\n")
        self.assertEqual(self.err, "")

    def test_every_line_the_agent_sent_is_valid(self):
        self.assertEqual(self.conn.invalid, [])

    def test_hello_comes_first_and_describes_the_process(self):
        first = self.conn.messages[0]
        self.assertEqual(first["type"], "hello")
        self.assertEqual(first["protocol"], 1)
        self.assertEqual(first["pid"], self.proc.pid)
        self.assertEqual(first["argv"], [PROGRAM, "first", "--second"])
        self.assertEqual(first["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertEqual(first["cwd"], support.PROGRAMS)
        self.assertEqual(first["title"], PROGRAM)
        self.assertNotIn("token", first)

    def test_one_snapshot_right_after_welcome_then_deltas_and_bye(self):
        kinds = [m["type"] for m in self.conn.messages]
        self.assertEqual(kinds[:2], ["hello", "snapshot"])
        self.assertEqual(kinds.count("snapshot"), 1)
        self.assertEqual(kinds[-1], "bye")
        self.assertEqual(set(kinds[2:-1]), {"delta"})
        self.assertEqual(self.snapshot["seq"], 1)
        self.assertEqual(self.snapshot["dropped"], 0)
        self.assertEqual(self.conn.seqs, list(range(1, len(self.conn.seqs) + 1)))

    def test_bye_carries_the_exit_code(self):
        self.assertEqual(self.conn.messages[-1], {"type": "bye", "exitCode": 0})

    def test_main_task_of_asyncio_run(self):
        main = self.main_task()
        self.assertIsNone(main["parent"])
        self.assertEqual(main["name"], "Task-1")
        self.assertEqual(main["site"], {"file": support.program(PROGRAM), "line": support.site_line(PROGRAM, "main"),
                                        "function": "<module>", "user": True})
        self.assertEqual(main["stack"][-1], main["site"])
        self.assertIn(main["state"], ("pending", "running"))
        self.assertEqual(main["awaiting"][0]["function"], "main")
        # The program's frames of the await chain are marked (the extension opens the
        # innermost of them), asyncio's are not.
        self.assertIs(main["awaiting"][0].get("user"), True)
        self.assertTrue(all(f.get("user") is None for f in main["awaiting"] if f["file"] != support.program(PROGRAM)),
                        main["awaiting"])

    def test_parent_links_and_creation_sites(self):
        main = self.main_task()
        parent = self.named("parent")
        self.assertEqual(parent["coro"], "parent")
        self.assertEqual(parent["parent"], main["id"])
        self.assertEqual(parent["site"]["file"], support.program(PROGRAM))
        self.assertEqual(parent["site"]["line"], support.site_line(PROGRAM, "parent"))
        self.assertEqual(parent["site"]["function"], "main")
        self.assertIs(parent["site"]["user"], True)
        for name in ("child-0", "child-1"):
            with self.subTest(name):
                child = self.named(name)
                self.assertEqual(child["coro"], "child")
                self.assertEqual(child["parent"], parent["id"])
                self.assertEqual(child["site"]["line"], support.site_line(PROGRAM, "children"))
                self.assertEqual(child["loop"], main["loop"])

    def test_awaiting_walks_the_await_chain(self):
        child = self.named("child-0")
        frames = [(f["file"], f["line"], f["function"]) for f in child["awaiting"]]
        self.assertEqual(frames[0], (support.program(PROGRAM), support.site_line(PROGRAM, "child-await"), "child"))
        self.assertEqual(frames[1], (support.program(PROGRAM), support.site_line(PROGRAM, "hold-await"), "hold"))
        self.assertEqual(frames[2][2], "sleep")  # asyncio.sleep's own coroutine
        self.assertIn("waitingSince", child)

    def test_ids_are_unique_and_the_loop_is_described(self):
        # The session may begin before the program has made its loop: the first snapshot
        # can be empty, and the loop then comes with a delta.
        ids = [t["id"] for t in self.snapshot["tasks"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertTrue(all(i.startswith("t") and i[1:].isdigit() for i in self.picture))
        self.assertEqual(len(self.loops), 1)
        (loop,) = self.loops.values()
        self.assertEqual(loop["thread"], "MainThread")
        self.assertEqual(loop["id"], self.main_task()["loop"])

    def test_deltas_report_the_tasks_finishing(self):
        final = self.conn.tasks
        for name in ("child-0", "child-1", "parent"):
            with self.subTest(name):
                task = self.named(name, final)
                self.assertEqual(task["state"], "done")
                self.assertIn("finished", task)
                self.assertGreaterEqual(task["finished"], task["created"])
                self.assertNotIn("awaiting", task)
        self.assertEqual(self.main_task(final)["state"], "done")
        for delta in self.conn.of_type("delta"):
            self.assertTrue(delta["upsert"] or delta["remove"] or delta.get("loops"), "an empty delta was sent")

    def test_nothing_is_sent_while_nothing_changes(self):
        # While the children sit in hold() (same await point at every sample; now and
        # then a sample may catch one of them running), main and parent wait for them.
        self.assertLessEqual(len(self.quiet), 3, self.quiet)
        quiet_ids = {t["id"] for m in self.quiet for t in m.get("upsert", ())}
        self.assertNotIn(self.main_task()["id"], quiet_ids)
        self.assertNotIn(self.named("parent")["id"], quiet_ids)


class FailedTask(unittest.TestCase):
    def failed_run(self, ext):
        """Runs raises.py connected to `ext`; checks what it sent: the failed task, the exit
        code in bye, nothing invalid. Returns the failed task's last record."""
        done = support.run_agent(["raises.py"], connect=ext.address)
        conn = ext.wait_connection()
        ext.wait(lambda: conn.closed.is_set(), what="connection closed")
        self.assertEqual(done.returncode, 1)
        self.assertEqual(conn.invalid, [])
        failing = conn.task_named("failing")
        self.assertIsNotNone(failing, sorted(t["name"] for t in conn.tasks.values()))
        self.assertEqual(failing["state"], "failed")
        self.assertEqual(conn.messages[-1], {"type": "bye", "exitCode": 1})
        return failing

    def test_a_failed_task_reports_its_exception_and_bye_its_exit_code(self):
        with support.FakeExtension() as ext:
            failing = self.failed_run(ext)
        self.assertEqual(failing["exception"]["type"], "ValueError")
        self.assertEqual(failing["exception"]["message"], "boom from the fixture")
        self.assertEqual(failing["exception"]["traceback"][-1]["function"], "fail_deep")

    def test_sys_exit_code_reaches_bye(self):
        with support.FakeExtension() as ext:
            done = support.run_agent(["exits_3.py"], connect=ext.address)
            conn = ext.wait_connection()
            ext.wait(lambda: conn.closed.is_set(), what="connection closed")
            self.assertEqual(done.returncode, 3)
            self.assertEqual(conn.messages[-1], {"type": "bye", "exitCode": 3})
            self.assertEqual(conn.invalid, [])

    def test_a_program_that_ends_while_a_slow_extension_has_not_welcomed_it_still_sends_its_end(self):
        # A busy extension host answers hello late; a short program ends meanwhile. Its
        # tasks, their outcome and its exit code still reach the extension (before, the
        # agent waited 0.5 s for the welcome, then closed: "exited" with no code or tasks).
        with support.FakeExtension(welcome_delay=1.0) as ext:
            self.failed_run(ext)


class TasksCancelledAtTheEnd(unittest.TestCase):
    """asyncio.run cancels the tasks still pending when its main coroutine returns, and
    drops them: they are freed before any sample. Each is still seen ending as it did."""

    ENV = {}

    def test_each_ends_as_it_did_not_done(self):
        with support.FakeExtension() as ext:
            done = support.run_agent(["leaves_tasks.py"], connect=ext.address, env=support.clean_env(**self.ENV))
            conn = ext.wait_connection()
            ext.wait(lambda: conn.closed.is_set(), what="connection closed")
        # How many of the tasks outlive asyncio.run: as many as without the agent (none up
        # to 3.11 and on 3.14; on 3.12 and 3.13 asyncio itself keeps them a while longer).
        plain = support.run_plain(["leaves_tasks.py"], env=support.clean_env(**self.ENV))
        self.assertRegex(plain.stdout, r"^alive after run: \d\n$")
        self.assertEqual((done.returncode, done.stdout), (0, plain.stdout), done.stderr)
        self.assertEqual(conn.invalid, [])
        states = {name: (conn.task_named(name) or {}).get("state")
                  for name in ("sleeper", "waiter", "cleaner", "swallower")}
        self.assertEqual(states, {"sleeper": "cancelled", "waiter": "cancelled", "cleaner": "failed",
                                  "swallower": "done"})
        cleaner = conn.task_named("cleaner")
        self.assertEqual((cleaner["exception"]["type"], cleaner["exception"]["message"]),
                         ("RuntimeError", "failed while cancelled"))
        # asyncio's own report of it, as without the agent.
        self.assertIn("unhandled exception during asyncio.run() shutdown", done.stderr)


@unittest.skipUnless(support.uvloop_available() and sys.version_info >= (3, 11),
                     "needs uvloop and asyncio.Runner (Debian's python3.11 with python3-uvloop)")
class TasksCancelledAtTheEndOnUvloop(TasksCancelledAtTheEnd):
    ENV = {"FIXTURE_LOOP": "uvloop"}


class OverTcp(unittest.TestCase):
    def test_tcp_with_the_token_from_the_command_line_or_the_environment(self):
        with support.FakeExtension(tcp=True) as ext:
            by_option = support.run_agent(["--token", "s3cret", "exits_3.py"], connect=ext.address)
            by_env = support.run_agent(["exits_3.py"], connect=ext.address,
                                       env=support.clean_env(TASKSCOPE_TOKEN="from-env"))
            ext.wait(lambda: len(ext.connections) == 2 and all(c.closed.is_set() for c in ext.connections),
                     what="two finished connections")
        self.assertEqual((by_option.returncode, by_env.returncode), (3, 3))
        tokens = sorted(c.hello.get("token") for c in ext.connections)
        self.assertEqual(tokens, ["from-env", "s3cret"])
        for conn in ext.connections:
            self.assertEqual(conn.invalid, [])
            self.assertEqual(conn.messages[-1], {"type": "bye", "exitCode": 3})

    def test_tcp_to_another_host_needs_the_token(self):
        # A program in a container reaches the editor's machine by another address than
        # loopback (the bridge's gateway): allowed with the token only.
        host = support.non_loopback_address()
        if host is None:
            self.skipTest("this machine has no address but loopback")
        with support.FakeExtension(tcp=host) as ext:
            with_token = support.run_agent(["--token", "s3cret", "exits_3.py"], connect=ext.address)
            without = support.run_agent(["exits_3.py"], connect=ext.address)
            ext.wait(lambda: len(ext.connections) == 1 and ext.connections[0].closed.is_set(),
                     what="one finished connection")
        self.assertEqual(with_token.returncode, 3)
        self.assertEqual(ext.connections[0].hello.get("token"), "s3cret")
        self.assertEqual(without.returncode, 2)  # refused before the program ran
        self.assertIn("token", without.stderr)


if __name__ == "__main__":
    unittest.main()
