"""Record mode: ``--record FILE`` writes the stream the extension would receive."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from test.agent import support
from taskscope import protocol


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    return data, [line for line in data.split(b"\n") if line]


class Recording(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="ts-record-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.path = os.path.join(self.folder, "run.ndjson")

    def messages(self):
        data, lines = read_lines(self.path)
        self.assertTrue(data.endswith(b"\n"))
        return [protocol.parse_agent_line(line) for line in lines]  # each line valid on its own

    def assert_stream(self, messages, exit_code):
        kinds = [m["type"] for m in messages]
        self.assertEqual(kinds[:2], ["hello", "snapshot"])
        self.assertEqual(kinds[-1], "bye")
        self.assertEqual(messages[-1]["exitCode"], exit_code)
        self.assertEqual(set(kinds[2:-1]) - {"delta", "event", "snapshot"}, set())
        seqs = [m["seq"] for m in messages if m["type"] in protocol.SEQUENCED_TYPES]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        self.assertNotIn("token", messages[0])

    def test_without_a_connection(self):
        traced = support.run_agent(["--record", self.path, "forgets_tasks.py"])
        plain = support.run_plain(["forgets_tasks.py"])
        self.assertEqual((traced.returncode, traced.stdout, traced.stderr),
                         (plain.returncode, plain.stdout, plain.stderr))
        messages = self.messages()
        self.assert_stream(messages, 0)
        self.assertEqual(messages[0]["argv"], ["forgets_tasks.py"])
        events = [m for m in messages if m["type"] == "event"]
        self.assertEqual(sorted(e["kind"] for e in events), ["fire-and-forget", "fire-and-forget"])
        # The events name tasks that the state messages before them described.
        known = set()
        for m in messages:
            if m["type"] in ("snapshot", "delta"):
                known.update(t["id"] for t in m.get("tasks", m.get("upsert", ())))
            if m["type"] == "event":
                self.assertIn(m["task"], known)

    def test_alongside_a_live_connection(self):
        with support.FakeExtension() as ext:
            done = support.run_agent(["--record", self.path, "--token", "secret", "exception_handler.py"],
                                     connect=ext.address)
            conn = ext.wait_connection()
            ext.wait(lambda: conn.closed.is_set(), what="the connection closed")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(conn.hello["token"], "secret")
        recorded = self.messages()
        self.assert_stream(recorded, 0)

        def events(messages):
            return sorted((m["kind"], m["task"], m["message"]) for m in messages if m["type"] == "event")

        self.assertEqual(len(events(recorded)), 2)
        self.assertEqual(events(recorded), events(conn.messages))
        final = {}
        for m in recorded:
            if m["type"] == "snapshot":
                final = {t["id"]: t for t in m["tasks"]}
            elif m["type"] == "delta":
                final.update({t["id"]: t for t in m["upsert"]})
                for tid in m["remove"]:
                    final.pop(tid, None)
        self.assertEqual({k: v["state"] for k, v in final.items()}, {k: v["state"] for k, v in conn.tasks.items()})

    def test_a_program_killed_mid_stream_leaves_whole_valid_lines(self):
        release = support.release_file()  # never released: the program waits until killed
        self.addCleanup(shutil.rmtree, os.path.dirname(release), True)
        proc = subprocess.Popen(support.agent_command(["--record", self.path, "waits_on_things.py"]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=support.clean_env(RELEASE_FILE=release),
                                cwd=support.PROGRAMS)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if os.path.exists(self.path) and len(read_lines(self.path)[1]) >= 3:
                    break
                time.sleep(0.02)
            time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        messages = self.messages()
        self.assertGreaterEqual(len(messages), 3)
        self.assertEqual([m["type"] for m in messages[:2]], ["hello", "snapshot"])
        self.assertNotIn("bye", [m["type"] for m in messages])

    def test_from_the_environment_and_through_the_bootstrap(self):
        env = support.clean_env(PYTHONPATH=support.BOOTSTRAP, TASKSCOPE_RECORD=self.path)
        done = subprocess.run([sys.executable, "exits_3.py"], capture_output=True, text=True, env=env,
                              cwd=support.PROGRAMS, timeout=30)
        self.assertEqual((done.returncode, done.stdout), (3, "leaving with 3\n"))
        messages = self.messages()
        self.assert_stream(messages, None)  # only the command line knows the exit status
        self.assertIn("main", [t["coro"] for m in messages for t in m.get("tasks", m.get("upsert", ()))])

    def test_a_recording_that_cannot_be_written_stops_before_the_program_runs(self):
        bad = os.path.join(self.folder, "no such folder", "run.ndjson")
        done = support.run_agent(["--record", bad, "echo_environment.py"])
        self.assertEqual(done.returncode, 2)
        self.assertEqual(done.stdout, "")
        self.assertIn("--record", done.stderr)
        self.assertIn(repr(bad), done.stderr)


if __name__ == "__main__":
    unittest.main()
