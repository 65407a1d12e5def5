"""Every way asyncio creates a task is recorded, with parent and creation site."""

import os
import shutil
import sys
import tempfile
import time
import unittest

from test.agent import support

PROGRAM = "creation_routes.py"
NAMES = ["via-create_task", "via-loop.create_task", "via-ensure_future", "via-Task", "in-thread"]
if sys.version_info >= (3, 11):
    NAMES.append("via-TaskGroup")


@unittest.skipIf(sys.version_info < (3, 11), "TaskGroup is new in 3.11")
class TaskGroupBeforeTheSession(unittest.TestCase):
    def test_a_taskgroups_task_made_before_the_extension_came_has_its_group(self):
        # The extension attaches to a program already running: the session's snapshot
        # must put the task in its TaskGroup (one whose creator ends is an orphan only
        # outside a group).
        folder = tempfile.mkdtemp(prefix="ts-late-")
        self.addCleanup(shutil.rmtree, folder, True)
        os.chmod(folder, 0o700)
        path = os.path.join(folder, "ipc.sock")
        release = support.release_file()
        self.addCleanup(shutil.rmtree, os.path.dirname(release), True)
        proc = support.start_agent([PROGRAM], connect="unix:" + path, env=support.clean_env(RELEASE_FILE=release))
        try:
            time.sleep(1.5)  # it makes its tasks, and samples them, while nobody listens
            with support.FakeExtension(path=path) as ext:
                conn = ext.wait_connection()
                task = ext.wait_task(conn, lambda t: t["name"] == "via-TaskGroup", what="via-TaskGroup")
                self.assertRegex(task.get("group") or "", r"^g\d+$", task)
                support.release(release)
                out, err = proc.communicate(timeout=20)
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        self.assertEqual((proc.returncode, out, err), (0, "all routes done\n", ""))


class CreationRoutes(unittest.TestCase):
    PROGRAM = PROGRAM
    OUTPUT = "all routes done\n"

    @classmethod
    def setUpClass(cls):
        cls.ext = support.FakeExtension()
        cls.release = support.release_file()
        cls.proc = support.start_agent([cls.PROGRAM], connect=cls.ext.address,
                                       env=support.clean_env(RELEASE_FILE=cls.release))
        try:
            cls.conn = cls.ext.wait_connection()

            def all_there():
                names = [t["name"] for t in cls.conn.tasks.values()]
                gathered = [t for t in cls.conn.tasks.values() if t["coro"] == "gathered"]
                regathered = [t for t in cls.conn.tasks.values() if t["coro"] == "regathered"]
                return (all(n in names for n in NAMES + ["after-gather"])
                        and len(gathered) == 2 and len(regathered) == 2)

            cls.ext.wait(all_there, what="a task from every route")
            with cls.ext.cond:
                cls.tasks = dict(cls.conn.tasks)
                cls.loops = dict(cls.conn.loops)
            support.release(cls.release)
            cls.out, cls.err = cls.proc.communicate(timeout=20)
        except BaseException:
            cls.proc.kill()
            cls.proc.communicate()
            cls.ext.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ext.close()
        shutil.rmtree(os.path.dirname(cls.release), ignore_errors=True)

    def named(self, name):
        found = [t for t in self.tasks.values() if t["name"] == name]
        self.assertEqual(len(found), 1, name)
        return found[0]

    def by_coro(self, coro):
        return [t for t in self.tasks.values() if t["coro"] == coro]

    def main(self):
        (main,) = [t for t in self.by_coro("main") if t["parent"] is None]
        return main

    def assert_site(self, task, marker, function="main"):
        self.assertEqual(task["site"], {"file": support.program(self.PROGRAM),
                                        "line": support.site_line(self.PROGRAM, marker),
                                        "function": function, "user": True})

    def test_program_ran_normally(self):
        self.assertEqual((self.proc.returncode, self.out, self.err), (0, self.OUTPUT, ""))
        self.assertEqual(self.conn.invalid, [])

    def test_create_task_routes(self):
        for name, marker in (("via-create_task", "create_task"), ("via-loop.create_task", "loop.create_task"),
                             ("via-ensure_future", "ensure_future")):
            with self.subTest(name):
                task = self.named(name)
                self.assertEqual(task["coro"], "routed")
                self.assertEqual(task["parent"], self.main()["id"])
                self.assert_site(task, marker)

    def test_gather_of_coroutines(self):
        gathered = self.by_coro("gathered")
        self.assertEqual(len(gathered), 2)
        for task in gathered:
            self.assertEqual(task["parent"], self.main()["id"])
            self.assert_site(task, "gather")
            # The creation stack goes through asyncio's own frames down to the site.
            self.assertGreater(len(task["stack"]), 1)
            self.assertIn("gather", [f["function"] for f in task["stack"]])
            self.assertEqual(task["stack"][-1], task["site"])

    def test_routes_right_after_a_gather(self):
        # The hook looks for a task first where the last one was found: gather's frame.
        # Another gather at another line, then create_task from a helper, must each still
        # get their own site.
        regathered = self.by_coro("regathered")
        self.assertEqual(len(regathered), 2)
        for task in regathered:
            self.assertEqual(task["parent"], self.main()["id"])
            self.assert_site(task, "gather-again")
            self.assertEqual([f["function"] for f in task["stack"]][-2:], ["gather", "main"])
        after = self.named("after-gather")
        self.assertEqual(after["parent"], self.main()["id"])
        self.assert_site(after, "after-gather", function="spawn")
        self.assertNotIn("gather", [f["function"] for f in after["stack"]])
        self.assertEqual(after["stack"][-1], after["site"])

    @unittest.skipIf(sys.version_info < (3, 11), "TaskGroup is new in 3.11")
    def test_taskgroup(self):
        task = self.named("via-TaskGroup")
        self.assertEqual(task["coro"], "in_group")
        self.assertEqual(task["parent"], self.main()["id"])
        self.assert_site(task, "TaskGroup")
        self.assertEqual([f["function"] for f in task["stack"]], ["TaskGroup.create_task", "main"])  # no agent frame
        self.assertRegex(task["group"], r"^g\d+$")
        self.assertNotIn("group", self.named("via-create_task"))

    def test_task_made_directly(self):
        task = self.named("via-Task")
        self.assertEqual(task["coro"], "made_directly")
        self.assertEqual(task["loop"], self.main()["loop"])
        if sys.version_info < (3, 14):
            # Seen where asyncio adds it to its set of all tasks: with parent and site.
            self.assert_site(task, "Task")
            self.assertEqual(task["parent"], self.main()["id"])
        else:
            # Found later among the loop's tasks: without parent or site.
            self.assertIsNone(task["site"])
            self.assertIsNone(task["parent"])

    def test_tasks_of_a_second_loop_in_another_thread(self):
        task = self.named("in-thread")
        (thread_main,) = self.by_coro("worker_thread.<locals>.worker_main")
        self.assertEqual(task["parent"], thread_main["id"])
        # Frames name functions by co_qualname, which Python has since 3.11.
        nested = "worker_thread.<locals>.worker_main" if sys.version_info >= (3, 11) else "worker_main"
        self.assert_site(task, "in-thread", function=nested)
        self.assert_site(thread_main, "thread-main", function="worker_thread")
        self.assertIsNone(thread_main["parent"])
        self.assertNotEqual(task["loop"], self.main()["loop"])
        self.assertEqual(thread_main["loop"], task["loop"])
        self.assertEqual(self.loops[task["loop"]]["thread"], "worker")
        self.assertEqual(self.loops[self.main()["loop"]]["thread"], "MainThread")
        self.assertNotEqual(self.loops[task["loop"]]["threadId"], self.loops[self.main()["loop"]]["threadId"])

    def test_ids_are_never_reused(self):
        ids = [t["id"] for m in self.conn.messages for t in m.get("tasks", m.get("upsert", ()))]
        by_id = {}
        for m in self.conn.messages:
            for t in m.get("tasks", m.get("upsert", ())):
                by_id.setdefault(t["id"], set()).add((t["name"], t["created"]))
        self.assertTrue(ids)
        for tid, seen in by_id.items():
            self.assertEqual(len({c for _, c in seen}), 1, "id %s names two tasks: %s" % (tid, seen))


#: An eager task that ends within its first step never joins asyncio's set of tasks, where
#: the agent sees tasks on 3.12 and 3.13; on 3.14 it wraps create_task and sees it.
EAGER_DONE_SEEN = sys.version_info >= (3, 14)


@unittest.skipIf(sys.version_info < (3, 12), "eager tasks are new in 3.12")
class EagerTasks(unittest.TestCase):
    PROGRAM = "eager_tasks.py"

    @classmethod
    def setUpClass(cls):
        names = ("eager-waiting", "eager-child") + (("eager-done",) if EAGER_DONE_SEEN else ())
        cls.result = support.traced(cls.PROGRAM, until=lambda conn: all(conn.task_named(n) for n in names))
        cls.plain = support.run_plain([cls.PROGRAM])

    def task(self, name):
        return self.result.conn.task_named(name)

    def test_the_program_and_its_factory_are_unchanged(self):
        self.assertEqual(self.result.outcome, (0, "finished in its first step: True 42\nfactory kept: True\n", ""))
        self.assertEqual(self.result.outcome[:2], (self.plain.returncode, self.plain.stdout))
        self.assertEqual(self.result.conn.invalid, [])

    def test_sites_and_parents(self):
        main = [t for t in self.result.conn.tasks.values() if t["coro"] == "main"][0]
        for name, marker, function, parent in (("eager-done", "eager-done", "main", main),
                                               ("eager-waiting", "eager-waiting", "main", main),
                                               ("eager-child", "eager-child", "waiting", self.task("eager-waiting"))):
            if name == "eager-done" and not EAGER_DONE_SEEN:
                self.assertIsNone(self.task(name))
                continue
            with self.subTest(name):
                task = self.task(name)
                self.assertEqual(task["site"], {"file": support.program(self.PROGRAM),
                                                "line": support.site_line(self.PROGRAM, marker),
                                                "function": function, "user": True})
                self.assertEqual(task["parent"], parent["id"])
        if EAGER_DONE_SEEN:
            self.assertEqual(self.task("eager-done")["state"], "done")
        self.assertEqual([e["message"] for e in self.result.events()], [])


@unittest.skipUnless(support.uvloop_available(), "uvloop is not installed for this Python")
class UvloopCreationRoutes(CreationRoutes):
    """The same routes on uvloop loops, one of them with the program's own task factory."""

    PROGRAM = "uvloop_routes.py"
    OUTPUT = "loop: uvloop factory is ours: True tasks made by it: 9\nall routes done\n"


if __name__ == "__main__":
    unittest.main()
