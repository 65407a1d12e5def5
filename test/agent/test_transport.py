"""The connection: reconnecting, reject, back-pressure and sequence numbers."""

import os
import shutil
import tempfile
import time
import unittest

from test.agent import support
from taskscope import protocol
from taskscope.log import log
from taskscope.transport import Transport


def run_for_a_second(ext, log_path=None):
    """Runs nested_tasks.py for about a second against `ext`; returns (outcome, connections)."""
    release = support.release_file()
    try:
        env = support.clean_env(RELEASE_FILE=release, TASKSCOPE_RETRY="0.1", TASKSCOPE_LOG=log_path)
        proc = support.start_agent(["nested_tasks.py"], connect=ext.address, env=env)
        time.sleep(1.0)
        support.release(release)
        out, err = proc.communicate(timeout=20)
        return (proc.returncode, out, err), len(ext.connections)
    finally:
        shutil.rmtree(os.path.dirname(release), ignore_errors=True)


class Reconnecting(unittest.TestCase):
    def test_reject_closes_and_never_reconnects(self):
        folder = tempfile.mkdtemp(prefix="ts-log-")
        self.addCleanup(shutil.rmtree, folder, True)
        log_path = os.path.join(folder, "agent.log")
        with support.FakeExtension(mode="reject") as ext:
            got, connections = run_for_a_second(ext, log_path)
            self.assertTrue(ext.connections[0].closed.wait(5), "the agent kept the connection open")
            self.assertEqual([m["type"] for m in ext.connections[0].messages], ["hello"])
        self.assertEqual(got, (0, "children returned [0, 1]\ndone\n", ""))
        self.assertEqual(connections, 1)
        with open(log_path, encoding="utf-8") as f:
            self.assertIn("protocol mismatch: agent 1, extension 2 (test)", f.read())

    def test_a_lost_connection_is_tried_again_with_a_new_hello(self):
        with support.FakeExtension(mode="hangup") as ext:
            got, connections = run_for_a_second(ext)
        self.assertEqual(got, (0, "children returned [0, 1]\ndone\n", ""))
        self.assertGreaterEqual(connections, 3)
        for conn in ext.connections:
            self.assertEqual(conn.messages[0]["type"], "hello")

    def test_each_new_session_starts_with_hello_and_a_full_snapshot(self):
        with support.FakeExtension() as ext:
            release = support.release_file()
            self.addCleanup(shutil.rmtree, os.path.dirname(release), True)
            proc = support.start_agent(["nested_tasks.py"], connect=ext.address,
                                       env=support.clean_env(RELEASE_FILE=release, TASKSCOPE_RETRY="0.1"))
            try:
                first = ext.wait_connection(0)
                ext.wait_task(first, lambda t: t["name"] == "child-1", what="child-1")
                first.sock.shutdown(2)  # the extension drops the connection
                second = ext.wait_connection(1)
                ext.wait(lambda: second.of_type("snapshot"), what="a snapshot on the new connection")
                snapshot = second.of_type("snapshot")[0]
                self.assertEqual(second.messages[0]["type"], "hello")
                self.assertEqual(snapshot["seq"], 1)
                self.assertEqual({t["name"] for t in snapshot["tasks"]} >= {"parent", "child-0", "child-1"}, True)
                self.assertEqual({t["id"] for t in snapshot["tasks"]} & set(first.tasks), set(first.tasks))
            finally:
                support.release(release)
                out, err = proc.communicate(timeout=20)
            self.assertEqual((proc.returncode, err), (0, ""))


    def test_a_new_session_sees_a_task_that_was_quiet_through_the_time_without_one_move(self):
        # While nobody listens the agent takes samples without looking at tasks; a quiet
        # task's looks that fell due then must be made in the next session.
        program = "moves_later.py"
        folder = tempfile.mkdtemp(prefix="ts-move-")
        self.addCleanup(shutil.rmtree, folder, True)
        move, release = os.path.join(folder, "move"), os.path.join(folder, "release")

        def waits_at(marker):
            line = support.site_line(program, marker)
            return lambda t: t["name"] == "watched" and any(f.get("line") == line for f in t.get("awaiting") or ())

        with support.FakeExtension() as ext:
            proc = support.start_agent([program], connect=ext.address,
                                       env=support.clean_env(MOVE_FILE=move, RELEASE_FILE=release,
                                                             TASKSCOPE_RETRY="1.5"))
            try:
                first = ext.wait_connection(0)
                ext.wait_task(first, waits_at("first"), what="the watched task at its first wait")
                time.sleep(1.0)  # unchanged: looked at less and less often
                first.sock.shutdown(2)  # the extension goes away; the agent is back 1.5 s later
                second = ext.wait_connection(1)
                ext.wait_task(second, waits_at("first"), what="the watched task in the new snapshot")
                support.release(move)
                ext.wait_task(second, waits_at("second"), timeout=5, what="the watched task at its second wait")
            finally:
                support.release(release)
                out, err = proc.communicate(timeout=20)
            self.assertEqual((proc.returncode, out, err), (0, "done\n", ""))


class FakeConnection:
    def __init__(self):
        self.lines = []

    def send(self, data):
        self.lines.append(data)


def delta(n):
    return protocol.delta(n, [], ["t%d" % n])


class BackPressure(unittest.TestCase):
    """The queue policy, without threads or sockets."""

    def setUp(self):
        self.transport = Transport(protocol.parse_address("unix:/nowhere"), lambda: None, queue_max=3)
        self.transport._active = True  # as after welcome

    def written(self, conn):
        while self.transport._queue:
            self.transport._write(conn, self.transport._queue.popleft())
        return [protocol.parse_agent_line(line) for line in conn.lines]

    def test_a_full_queue_drops_counts_and_asks_for_a_snapshot(self):
        t = self.transport
        self.assertFalse(t.take_snapshot_request())
        self.assertEqual([t.send_state(delta(i)) for i in range(5)], [True, True, True, False, False])
        self.assertTrue(t.take_snapshot_request())
        self.assertFalse(t.take_snapshot_request())
        self.assertTrue(t.send_result(protocol.result_ok(1, None)))  # answers are never dropped
        t._queue.popleft()  # the sender thread took one: there is room again...
        self.assertFalse(t.send_state(delta(9)))  # ...but no delta may overtake the snapshot
        self.assertTrue(t.send_snapshot(protocol.snapshot(10, [], [])))
        self.assertTrue(t.send_state(delta(11)))
        messages = self.written(FakeConnection())
        self.assertEqual([m["type"] for m in messages], ["result", "snapshot", "delta"])
        snapshot = messages[1]
        self.assertEqual(snapshot["dropped"], 3)
        self.assertEqual([m.get("seq") for m in messages], [None, 1, 2])

    def test_seq_counts_only_what_is_written_and_invalid_messages_are_not_sent(self):
        t = self.transport
        conn = FakeConnection()
        t.send_state(delta(1))
        t.send_state({"type": "delta", "time": 2, "upsert": []})  # broken: no "remove"
        t.send_state(delta(3))
        messages = self.written(conn)
        self.assertEqual([m["seq"] for m in messages], [1, 2])
        self.assertEqual(len(conn.lines), 2)

    def test_in_debug_mode_task_records_are_checked_too(self):
        broken = {"type": "delta", "time": 2, "upsert": [{"id": 3}], "remove": []}
        conn = FakeConnection()
        saved = log.path
        log.path = os.devnull  # the refusal is logged
        try:
            self.transport.validate_records = True
            self.assertFalse(self.transport._write(conn, dict(broken)))
            self.transport.validate_records = False
            self.assertTrue(self.transport._write(conn, dict(broken)))  # records are trusted
        finally:
            log.path = saved

    def test_nothing_is_queued_without_a_session(self):
        t = self.transport
        t._active = False
        self.assertFalse(t.send_state(delta(1)))
        self.assertFalse(t.send_snapshot(protocol.snapshot(1, [], [])))
        self.assertFalse(t.send_result(protocol.result_ok(1, None)))
        self.assertEqual(len(t._queue), 0)


if __name__ == "__main__":
    unittest.main()
