"""What each waiting task waits on (``waitingOn``), on a program with one task waiting on
each kind of thing; on asyncio's loop and on uvloop where it is installed."""

import asyncio
import sys
import unittest

from test.agent import support

#: task name -> (kind, label, names of the tasks it waits on, or None)
EXPECTED = {
    "on-lock": ("lock", "Lock.acquire", None),
    "on-semaphore": ("semaphore", "Semaphore.acquire", None),
    "on-event": ("event", "Event.wait", None),
    "on-condition": ("condition", "Condition.wait", None),
    "on-queue-get": ("queue", "Queue.get", None),
    "on-queue-put": ("queue", "Queue.put", None),
    "on-queue-join": ("queue", "Queue.join", None),
    "on-sleep": ("sleep", "sleep", None),
    "on-future": ("future", "Future", None),
    "on-task": ("task", "Task 'target'", ["target"]),
    "on-gather": ("gather", "gather", ["gathered-1", "gathered-2"]),
    "on-wait": ("wait", "wait", ["waited-1", "waited-2"]),
    "on-wait_for": ("task", "wait_for", ["timed"]),
    "on-taskgroup": ("taskgroup", "TaskGroup", ["member-1", "member-2"]),
    "target": ("event", "Event.wait", None),
}
if not hasattr(asyncio, "TaskGroup"):  # 3.10: the program waits on no TaskGroup
    del EXPECTED["on-taskgroup"]


def all_waiting(conn):
    """Every task waits, and every wait names the tasks it waits on: the agent makes a task's
    record a sample after the task appears, so a wait on a task it has no record of yet is
    sent without it at first, and completed at a later look."""
    names = {t["name"]: t for t in conn.tasks.values()}
    for name, (_kind, _label, awaited) in EXPECTED.items():
        target = names.get(name, {}).get("waitingOn")
        if target is None or len(target.get("tasks", ())) != len(awaited or ()):
            return False
    members = ("member-1", "member-2") if "on-taskgroup" in EXPECTED else ()
    return all(name in names for name in (*members, "gathered-1"))


class WaitingOn(unittest.TestCase):
    ENV = {}

    @classmethod
    def setUpClass(cls):
        cls.result = support.traced("waits_on_things.py", until=all_waiting, **cls.ENV)

    def test_the_program_ran_as_usual(self):
        self.assertEqual((self.result.returncode, self.result.stdout), (0, "released\n"), self.result.stderr)
        self.assertEqual(self.result.conn.invalid, [])

    def test_each_kind_of_wait(self):
        tasks = self.result.picture
        by_name = {t["name"]: t for t in tasks.values()}
        for name, (kind, label, awaited) in EXPECTED.items():
            with self.subTest(name):
                target = by_name[name]["waitingOn"]
                self.assertEqual((target["kind"], target.get("label")), (kind, label))
                if awaited is None:
                    self.assertNotIn("tasks", target)
                elif kind in ("gather", "taskgroup"):
                    # In the order they were made (a TaskGroup keeps its tasks in a set).
                    self.assertEqual([tasks[i]["name"] for i in target["tasks"]], awaited)
                else:
                    self.assertEqual(sorted(tasks[i]["name"] for i in target["tasks"]), awaited)

    @unittest.skipUnless(hasattr(asyncio, "TaskGroup"), "TaskGroup is Python 3.11+")
    def test_taskgroup_members_carry_their_group(self):
        by_name = {t["name"]: t for t in self.result.picture.values()}
        groups = {by_name["member-1"].get("group"), by_name["member-2"].get("group")}
        self.assertEqual(len(groups), 1)
        self.assertRegex(groups.pop(), r"^g\d+$")
        self.assertNotIn("group", by_name["gathered-1"])

    def test_waiting_since_is_when_the_wait_began(self):
        for task in self.result.picture.values():
            if "waitingOn" in task:
                self.assertGreaterEqual(task["waitingSince"], task["created"])


@unittest.skipUnless(support.uvloop_available(), "uvloop is not installed for this Python")
class WaitingOnUvloop(WaitingOn):
    ENV = {"FIXTURE_LOOP": "uvloop"}


if __name__ == "__main__":
    unittest.main()


class Deadlines(unittest.TestCase):
    """`WaitClassifier.under_deadline`: a wait that a deadline ends by itself (the stuck
    finding spares it), read from the coroutines down a task's await chain."""

    def test_timeouts_and_wait_for_have_a_deadline_plain_waits_and_timeout_none_do_not(self):
        self.check(asyncio.run)

    @unittest.skipUnless(support.uvloop_available() and hasattr(asyncio, "Runner"),
                         "needs uvloop and asyncio.Runner (Debian's python3.11 with python3-uvloop)")
    def test_on_uvloop_whose_timers_are_not_asyncios(self):
        import uvloop

        def run(main):
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(main)

        self.check(run)

    def check(self, run):
        from taskscope.waits import WaitClassifier

        async def plain(event):
            await event.wait()

        async def nested(event):
            await plain(event)

        async def under_timeout(event):
            async with asyncio.timeout(60):
                await nested(event)  # the deadline is two coroutines up

        async def under_timeout_as(event):
            async with asyncio.timeout(60) as scope:
                await event.wait()
            return scope

        async def without_time(event):
            async with asyncio.timeout(None):
                await event.wait()

        async def with_wait_for(event):
            await asyncio.wait_for(event.wait(), 60)

        async def main():
            event = asyncio.Event()
            cases = {"plain": (plain, False), "with_wait_for": (with_wait_for, True)}
            if hasattr(asyncio, "timeout"):
                cases.update(under_timeout=(under_timeout, True), under_timeout_as=(under_timeout_as, True),
                             without_time=(without_time, False))
            tasks = {name: asyncio.create_task(fn(event)) for name, (fn, _) in cases.items()}
            await asyncio.sleep(0.01)
            seen = {name: WaitClassifier.under_deadline(task.get_coro()) for name, task in tasks.items()}
            if sys.version_info < (3, 12):  # wait_for waits for a task of its own, with its timer
                inner = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Event.wait"]
                seen["task of wait_for"] = [WaitClassifier.wait_for_with_deadline(tasks["with_wait_for"].get_coro(), t)
                                            for t in inner]
                seen["another task"] = WaitClassifier.wait_for_with_deadline(tasks["with_wait_for"].get_coro(),
                                                                             tasks["plain"])
            event.set()
            await asyncio.gather(*tasks.values())
            expected = {name: expected for name, (_, expected) in cases.items()}
            if sys.version_info < (3, 12):
                expected.update({"task of wait_for": [True], "another task": False})
            return seen, expected

        seen, expected = run(main())
        self.assertEqual(seen, expected)
