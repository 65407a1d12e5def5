"""Findings on real programs: each kind on a small program that shows it, and none on
programs without these bugs; on asyncio's own loop, and on uvloop where it is installed.

Each class runs its programs once, a few at a time, in setUpClass; the tests read what the
fake extension received.
"""

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from test.agent import support

FIRE_AND_FORGET = "fire-and-forget"


def events_of(conn, kind):
    return [m for m in conn.messages if m["type"] == "event" and m["kind"] == kind]


def site(program, marker, function):
    return {"file": support.program(program), "line": support.site_line(program, marker), "function": function,
            "user": True}


def first_seq_finished(run, task_id):
    """The seq of the first state message in which the task is no longer pending."""
    for m in run.conn.messages:
        for t in m.get("tasks", m.get("upsert", ())) if m["type"] in ("snapshot", "delta") else ():
            if t["id"] == task_id and t["state"] not in ("pending", "running"):
                return m["seq"]
    return None


class FindingsOnPrograms(unittest.TestCase):
    """Each finding kind on the program that shows it (asyncio's loop; a subclass: uvloop)."""

    ENV = {}
    #: Plain callbacks (not task steps) are only seen blocking on BaseEventLoop loops.
    CALLBACKS_SEEN = True

    @classmethod
    def setUpClass(cls):
        env = dict(cls.ENV)

        def count(kind, n):
            return lambda conn: len(events_of(conn, kind)) >= n

        jobs = {
            "forgets": lambda: support.traced("forgets_tasks.py", until=count(FIRE_AND_FORGET, 2), **env),
            "destroys": lambda: support.traced("destroys_pending_task.py", **env),
            "never_retrieved": lambda: support.traced("exception_handler.py", **env),
            "reused_address": lambda: support.traced("reused_address.py", **env),
            "orphan": lambda: support.traced("orphan_task.py", until=count("orphan", 1), seconds=0.3, **env),
            "stuck": lambda: support.traced("stuck_task.py", until=count("stuck", 1), seconds=0.6,
                                            TASKSCOPE_STUCK_AFTER="0.4", **env),
            "blocks": lambda: support.traced("blocks_loop.py", BLOCK_SECONDS="1.0", **env),
            "joins": lambda: support.traced("joins_queue.py", until=count("stuck", 2), seconds=1.0,
                                            TASKSCOPE_STUCK_AFTER="0.4", **env),
            "stuck_connection": lambda: support.traced("stuck_connection.py", until=count("stuck", 1),
                                                       TASKSCOPE_STUCK_AFTER="0.4", **env),
            "stuck_connection_direct": lambda: support.traced("stuck_connection.py", until=count("stuck", 1),
                                                              TASKSCOPE_STUCK_AFTER="0.4", FIXTURE_RUN="direct",
                                                              **env),
        }
        with ThreadPoolExecutor(3) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
        cls.runs = {name: f.result() for name, f in futures.items()}

    def test_every_program_ran_as_usual_and_sent_valid_lines(self):
        expected = {
            "forgets": "helper started helper-job\ndone\n",
            "destroys": "collected\n",
            "reused_address": "done\n",
            "orphan": "done\n",
            "stuck": "done\n",
            "joins": "done\n",
            "blocks": "done\n",
            "stuck_connection": "done\n",
            "stuck_connection_direct": "done\n",
        }
        for name, run in self.runs.items():
            with self.subTest(name):
                self.assertEqual(run.returncode, 0, run.stderr)
                if name in expected:
                    self.assertEqual(run.stdout, expected[name])
                self.assertEqual(run.conn.invalid, [])

    def test_fire_and_forget_discarded_and_local(self):
        run = self.runs["forgets"]
        found = {e["task"]: e for e in run.events(FIRE_AND_FORGET)}
        self.assertEqual(len(found), 2, run.events())
        poller, helper = run.task_named("poller"), run.task_named("helper-job")
        discarded, local = found[poller["id"]], found[helper["id"]]
        self.assertEqual(discarded["site"], site("forgets_tasks.py", "discarded", "main"))
        self.assertEqual(discarded["evidence"], {"binding": "discarded"})
        self.assertTrue(discarded["message"].startswith(
            "Task 'poller' (poll) was created at forgets_tasks.py:%d and its only reference was dropped"
            % support.site_line("forgets_tasks.py", "discarded")), discarded["message"])
        self.assertEqual(local["site"], site("forgets_tasks.py", "local", "start_helper"))
        self.assertEqual(local["evidence"], {"binding": "local", "variable": "job"})
        self.assertIn("local variable 'job' of start_helper", local["message"])
        for event, task in ((discarded, poller), (local, helper)):
            finished = first_seq_finished(run, task["id"])
            self.assertIsNotNone(finished)
            self.assertLess(event["seq"], finished, "reported after the task had finished")
        self.assertEqual({e["kind"] for e in run.events()}, {FIRE_AND_FORGET})

    def test_destroyed_pending_with_where_it_waited(self):
        run = self.runs["destroys"]
        (event,) = run.events("destroyed-pending")
        self.assertEqual(event["task"], run.task_named("doomed")["id"])
        self.assertEqual(event["site"], site("destroys_pending_task.py", "doomed", "main"))
        awaiting = event["evidence"]["awaiting"]
        self.assertEqual((awaiting[-1]["function"], awaiting[-1]["line"]),
                         ("wait_forever", support.site_line("destroys_pending_task.py", "waits")))
        self.assertIn("destroyed by the garbage collector while still pending", event["message"])
        self.assertIn("Task was destroyed but it is pending!", run.stderr)  # asyncio's own report

    def test_exception_never_retrieved_with_traceback_and_site(self):
        run = self.runs["never_retrieved"]
        events = run.events("exception-never-retrieved")
        self.assertEqual(sorted(run.conn.tasks[e["task"]]["name"] for e in events), ["default-handler", "with-handler"])
        for event in events:
            self.assertEqual(event["site"], site("exception_handler.py", "fails", "hold_then_drop"))
            evidence = event["evidence"]
            self.assertEqual((evidence["type"], evidence["message"]), ("RuntimeError", "nobody retrieves this"))
            self.assertEqual(evidence["traceback"][-1]["function"], "fails")
            self.assertIn("failed with RuntimeError: nobody retrieves this", event["message"])
        # The program's handler ran for the first, asyncio's log for the second.
        self.assertIn("handler: Task exception was never retrieved", run.stdout)
        self.assertIn("Task exception was never retrieved", run.stderr)
        self.assertEqual({e["kind"] for e in run.events()}, {"exception-never-retrieved"})

    def test_exception_never_retrieved_names_the_task_made_where_another_was(self):
        # Addresses are taken again at once: each report names its own task (made where an
        # ended task's record still is, and freed before the sampler handled the report,
        # while a later task took its address), with that task's site.
        run = self.runs["reused_address"]
        events = run.events("exception-never-retrieved")
        rounds = range(8)
        self.assertEqual(sorted(run.conn.tasks[e["task"]]["name"] for e in events),
                         sorted(f"dropped-{n}" for n in rounds), [e["message"] for e in events])
        for event in events:
            name = run.conn.tasks[event["task"]]["name"]
            self.assertTrue(event["message"].startswith(f"Task '{name}' (job), created at reused_address.py:%d"
                                                        % support.site_line("reused_address.py", "dropped")),
                            event["message"])
            self.assertEqual(event["site"], site("reused_address.py", "dropped", "main"))
            self.assertEqual(run.conn.tasks[event["task"]]["state"], "failed")
        kept = [run.task_named(f"kept-{n}") for n in rounds]
        self.assertEqual({t["state"] for t in kept}, {"done"})
        self.assertEqual({e["kind"] for e in run.events()}, {"exception-never-retrieved"})
        self.assertEqual(run.stderr.count("Task exception was never retrieved"), 8)  # asyncio's own

    def test_orphan_but_not_a_taskgroup_task_or_an_awaited_child(self):
        run = self.runs["orphan"]
        (event,) = run.events("orphan")
        orphan = run.task_named("orphan")
        # (Short-lived tasks may end between two samples: on 3.11 their names are not known.)
        (spawner,) = [t for t in run.conn.tasks.values() if t["coro"] == "spawner"]
        self.assertEqual(event["task"], orphan["id"])
        self.assertEqual(event["site"], site("orphan_task.py", "orphan", "spawner"))
        self.assertEqual(event["evidence"], {"parent": spawner["id"], "parentState": "done"})
        if hasattr(asyncio, "TaskGroup"):  # 3.11+ (on 3.10 the program makes no group)
            member = run.task_named("group-member")
            (adder,) = [t for t in run.conn.tasks.values() if t["coro"] == "adder"]
            self.assertEqual(member["parent"], adder["id"])
            self.assertTrue(member["group"].startswith("g"))
        self.assertEqual({e["kind"] for e in run.events()}, {"orphan"})

    def test_stuck_once_per_await_point_and_not_a_busy_consumer_a_sleeper_a_server_or_a_waiter_on_tasks(self):
        run = self.runs["stuck"]
        (event,) = run.events("stuck")
        # The napper has been in asyncio.sleep as long: a sleep ends by itself, not stuck.
        # Nor is a server in serve_forever(), nor a task that waits on other tasks: the
        # stuck one is reported itself.
        self.assertEqual(event["task"], run.task_named("stuck")["id"])
        waits = [("waits-on-stuck", "task", "Task 'stuck'"), ("supervisor", "gather", "gather"),
                 ("serving", "other", "Server.serve_forever")]
        if sys.version_info >= (3, 11):
            waits.append(("deadline", "event", "Event.wait"))  # the event 'stuck' waits on
        # From 3.12, wait_for waits itself; before, on a task of its own, spared too.
        waits.append(("wait_for-deadline", "wait" if sys.version_info >= (3, 12) else "task", "wait_for"))
        for name, kind, label in waits:
            task_id = run.task_named(name)["id"]
            seen = {((t.get("waitingOn") or {}).get("kind"), (t.get("waitingOn") or {}).get("label"))
                    for m in run.conn.messages if m["type"] in ("snapshot", "delta")
                    for t in m.get("tasks", m.get("upsert", ())) if t["id"] == task_id}
            self.assertIn((kind, label), seen, name)  # it did wait so, as long as the stuck task
        evidence = event["evidence"]
        self.assertGreaterEqual(evidence["waitedMs"], 400)
        user = [f for f in evidence["awaiting"] if f["file"] == support.program("stuck_task.py")]
        self.assertEqual(user[-1]["line"], support.site_line("stuck_task.py", "stuck"))
        self.assertEqual(evidence["waitingOn"], {"kind": "event", "label": "Event.wait"})
        self.assertIn("has waited on Event.wait at stuck_task.py:%d" % support.site_line("stuck_task.py", "stuck"),
                      event["message"])
        self.assertEqual({e["kind"] for e in run.events()}, {"stuck"})

    def test_stuck_in_queue_join_once_no_item_is_done_not_while_workers_finish_items(self):
        run = self.runs["joins"]
        events = {run.conn.tasks[e["task"]]["name"]: e for e in run.events("stuck")}
        self.assertEqual(sorted(events), ["hanging-worker", "hung-join"], [e["message"] for e in run.events()])
        hung = events["hung-join"]
        self.assertEqual(hung["evidence"]["waitingOn"], {"kind": "queue", "label": "Queue.join"})
        # Its worker did an item after the join began: the time since then is what counts.
        self.assertRegex(hung["message"], r"^Task 'hung-join' \(hung_join\) has waited on Queue\.join at "
                         r"joins_queue\.py:%d for [\d.]+ s, with no item of the queue done in the last [\d.]+ s "
                         r"\(created at joins_queue\.py:\d+\)$" % support.site_line("joins_queue.py", "hung"))
        hangs = support.site_line("joins_queue.py", "worker hangs")
        self.assertIn("has waited on Event.wait at joins_queue.py:%d" % hangs, events["hanging-worker"]["message"])
        # The busy join waited on Queue.join all along (its queue never emptied), as long.
        busy = run.task_named("busy-join")["id"]
        seen = {(t.get("waitingOn") or {}).get("label") for m in run.conn.messages if m["type"] in ("snapshot", "delta")
                for t in m.get("tasks", m.get("upsert", ())) if t["id"] == busy}
        self.assertIn("Queue.join", seen)
        self.assertEqual({e["kind"] for e in run.events()}, {"stuck"})

    def test_stuck_connection_task_names_the_library_code_that_made_it(self):
        # asyncio's streams made the task in a callback of the event loop: it has no site
        # (not the line that runs the loop, which uvloop's compiled callbacks leave right above
        # the library's frame: asyncio's Runner, or the program's own run_until_complete call),
        # and the finding says which library code made it, from its creation stack.
        for name in ("stuck_connection", "stuck_connection_direct"):
            with self.subTest(name):
                run = self.runs[name]
                (event,) = run.events("stuck")
                task = run.conn.tasks[event["task"]]
                self.assertEqual(task["coro"], "handle")
                self.assertIsNone(task["site"])
                self.assertIsNone(event.get("site"))
                made = task["stack"][0]
                self.assertEqual(os.path.basename(made["file"]), "streams.py")
                self.assertFalse([f for f in task["stack"] if f.get("user")], task["stack"])
                self.assertIn("at stuck_connection.py:%d" % support.site_line("stuck_connection.py", "stuck"),
                              event["message"])
                self.assertIn("(made by library code in %s (streams.py:%d))" % (made["function"], made["line"]),
                              event["message"])
                self.assertEqual({e["kind"] for e in run.events()}, {"stuck"})
                # The program's main task still has the line that started it as its site.
                (main,) = [t for t in run.conn.tasks.values() if t["coro"] == "main"]
                self.assertTrue(main["site"]["user"], main)

    def test_loop_blocked_names_the_task_and_the_blocking_line_while_blocked(self):
        run = self.runs["blocks"]
        events = run.events("loop-blocked")
        expected = [("sleeper", "sleeps", "parse"), ("spinner", "spins", "spin")]
        if self.CALLBACKS_SEEN:
            expected.append((None, "callback", "callback"))
        created = {"sleeper": "makes-sleeper", "spinner": "makes-spinner"}
        self.assertEqual(len(events), len(expected), [e["message"] for e in events])
        loop = [t for t in run.conn.tasks.values() if t["coro"] == "main"][0]["loop"]
        for event, (task, marker, function) in zip(events, expected):
            with self.subTest(marker):
                blocking = site("blocks_loop.py", marker, function)
                self.assertEqual(event.get("task"), run.task_named(task)["id"] if task else None)
                self.assertEqual(event["site"], blocking)
                evidence = event["evidence"]
                self.assertEqual(evidence["blocking"], blocking)
                if task:  # where the running task was created; a plain callback has no such place
                    self.assertEqual({k: evidence["created"][k] for k in ("file", "line", "function")},
                                     {k: v for k, v in site("blocks_loop.py", created[task], "main").items() if k != "user"})
                else:
                    self.assertNotIn("created", evidence)
                self.assertEqual(evidence["stack"][-1], blocking)  # innermost last
                self.assertEqual(evidence["loop"], loop)
                # Told while still blocked: less than the whole 1 s block had passed.
                self.assertGreaterEqual(evidence["blockedMs"], 250)
                self.assertLess(evidence["blockedMs"], 1000)
                self.assertIn("in %s (blocks_loop.py:%d)" % (function, blocking["line"]), event["message"])
        self.assertEqual({e["kind"] for e in run.events()}, {"loop-blocked"})
        # The task step's stack starts at the task's coroutine.
        self.assertEqual([f["function"] for f in events[0]["evidence"]["stack"]], ["sleeper", "parse"])


@unittest.skipUnless(support.uvloop_available(), "uvloop is not installed for this Python")
class FindingsOnUvloop(FindingsOnPrograms):
    ENV = {"FIXTURE_LOOP": "uvloop"}
    CALLBACKS_SEEN = False


#: The demo crawler needs asyncio.TaskGroup.
CRAWLER_RUNS = sys.version_info >= (3, 11)


def crawler_without_fire_and_forget(folder):
    """demo/crawler.py with its fire-and-forget line removed, written into `folder`."""
    source = os.path.join(support.REPO, "demo", "crawler.py")
    with open(source, encoding="utf-8") as f:
        lines = f.read().splitlines(True)
    kept = [line for line in lines if "# fire-and-forget" not in line]
    assert len(kept) == len(lines) - 1, "the demo's fire-and-forget line moved"
    path = os.path.join(folder, "crawler.py")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(kept)
    return path


class NoFindingsOnCleanPrograms(unittest.TestCase):
    """Programs without these bugs: not a single event (default thresholds)."""

    PROGRAMS = ["keeps_tasks.py", "nested_tasks.py", "creation_routes.py", "waits_on_things.py", "task_factory.py",
                "echo_environment.py"]

    @classmethod
    def setUpClass(cls):
        with ThreadPoolExecutor(3) as pool:
            futures = {p: pool.submit(support.traced, p, seconds=1.5) for p in cls.PROGRAMS}
            futures["cancel_me.py"] = pool.submit(cls._cancel_me)
            if CRAWLER_RUNS:
                futures["demo crawler"] = pool.submit(cls._crawler)
        cls.runs = {p: f.result() for p, f in futures.items()}

    @staticmethod
    def _cancel_me():
        # Without RELEASE_FILE: a timer cancels the sleeper, as in the transparency tests.
        with support.FakeExtension() as ext:
            done = support.run_agent(["cancel_me.py"], connect=ext.address)
            conn = ext.wait_connection()
            ext.wait(lambda: conn.closed.is_set(), what="the connection closed")
        return support.TracedRun(done.returncode, done.stdout, done.stderr, conn)

    @staticmethod
    def _crawler():
        folder = tempfile.mkdtemp(prefix="ts-crawler-")
        try:
            path = crawler_without_fire_and_forget(folder)
            with support.FakeExtension() as ext:
                proc = support.start_agent([path], connect=ext.address, cwd=folder)
                conn = ext.wait_connection()
                time.sleep(4.0)  # a few hundred pages fetched, in tasks of their own
                proc.send_signal(signal.SIGINT)  # the demo ends on Ctrl-C
                out, err = proc.communicate(timeout=30)
                ext.wait(lambda: conn.closed.is_set(), what="the connection closed")
            return support.TracedRun(proc.returncode, out, err, conn)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def test_no_events(self):
        for name, run in self.runs.items():
            with self.subTest(name):
                self.assertEqual(run.conn.invalid, [])
                self.assertEqual([e["message"] for e in run.events()], [])
                self.assertEqual(run.returncode, 0, run.stderr)

    @unittest.skipUnless(CRAWLER_RUNS, "the demo crawler uses asyncio.TaskGroup (Python 3.11+)")
    def test_the_crawler_did_crawl(self):
        run = self.runs["demo crawler"]
        self.assertIn("serving the demo site", run.stdout)
        fetched = [t for t in run.conn.tasks.values() if t["name"].startswith("fetch /page/")]
        self.assertGreater(len(fetched), 5)
        self.assertTrue(any(t.get("group") for t in run.conn.tasks.values() if t["name"].startswith("worker-")))


@unittest.skipUnless(support.uvloop_available(), "uvloop is not installed for this Python")
class NoFindingsOnCleanUvloopPrograms(unittest.TestCase):
    def test_no_events(self):
        programs = ["keeps_tasks.py", "waits_on_things.py", "uvloop_routes.py"]
        with ThreadPoolExecutor(3) as pool:
            runs = list(pool.map(lambda p: support.traced(p, seconds=1.5, FIXTURE_LOOP="uvloop"), programs))
        for name, run in zip(programs, runs):
            with self.subTest(name):
                self.assertEqual((run.returncode, run.conn.invalid), (0, []), run.stderr)
                self.assertEqual([e["message"] for e in run.events()], [])


def aiohttp_available():
    import importlib.util

    return importlib.util.find_spec("aiohttp") is not None


@unittest.skipUnless(aiohttp_available(), "aiohttp is not installed for this Python (Debian: python3-aiohttp)")
class NoFindingsOnAnAiohttpServer(unittest.TestCase):
    """A real server answering a thousand requests: aiohttp's own tasks are no findings."""

    def test_no_events(self):
        loops = [{}] + ([{"FIXTURE_LOOP": "uvloop"}] if support.uvloop_available() else [])
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda env: support.traced("aiohttp_app.py", **env), loops))
        for env, run in zip(loops, runs):
            with self.subTest(loop=env.get("FIXTURE_LOOP", "asyncio")):
                self.assertEqual((run.returncode, run.stdout), (0, "answered 1000\n"), run.stderr)
                self.assertEqual(run.conn.invalid, [])
                self.assertGreater(len(run.conn.tasks), 20)
                self.assertEqual([e["message"] for e in run.events()], [])
                # aiohttp's tasks for each connection and request are made by its own code in
                # callbacks of the loop: made by library code, never "created" at the line
                # that runs the loop (which uvloop's compiled callbacks leave above them).
                runs_loop = [t for t in run.conn.tasks.values()
                             if t["site"] and os.path.basename(t["site"]["file"]) == "loop_choice.py" and t["coro"] != "main"]
                self.assertEqual(runs_loop, [])
                by_aiohttp = [t for t in run.conn.tasks.values()
                              if not t["site"] and t.get("stack") and "aiohttp" in t["stack"][0]["file"]]
                self.assertTrue(by_aiohttp, [(t["coro"], t["site"], t.get("stack")) for t in run.conn.tasks.values()])


if __name__ == "__main__":
    unittest.main()
