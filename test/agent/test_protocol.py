"""The protocol module against the shared example messages, both directions, and its
address parsing, line framing and size limit."""

import glob
import json
import os
import unittest

from test.agent import support
from taskscope import protocol
from taskscope.transport import LineReader


def fixture_files(direction, validity):
    pattern = os.path.join(support.PROTOCOL_FIXTURES, direction, validity, "*")
    files = sorted(glob.glob(pattern))
    assert files, "no fixtures in " + pattern
    return files


def read(path):
    with open(path, "rb") as f:
        return f.read()


class AgentMessageFixtures(unittest.TestCase):
    def test_accepts_every_valid_agent_message(self):
        for path in fixture_files("from-agent", "valid"):
            with self.subTest(os.path.basename(path)):
                message = protocol.parse_agent_line(read(path))
                self.assertIn(message["type"], protocol.AGENT_TYPES)

    def test_rejects_every_invalid_agent_line(self):
        for path in fixture_files("from-agent", "invalid"):
            with self.subTest(os.path.basename(path)):
                with self.assertRaises(protocol.ProtocolError):
                    protocol.parse_agent_line(read(path))

    def test_valid_agent_messages_survive_encoding(self):
        for path in fixture_files("from-agent", "valid"):
            with self.subTest(os.path.basename(path)):
                message = json.loads(read(path))
                line = protocol.encode(message)
                self.assertTrue(line.endswith(b"\n"))
                self.assertEqual(line.count(b"\n"), 1)
                self.assertEqual(protocol.parse_agent_line(line), message)


class ExtensionMessageFixtures(unittest.TestCase):
    def test_accepts_every_valid_extension_message(self):
        for path in fixture_files("from-extension", "valid"):
            with self.subTest(os.path.basename(path)):
                message = protocol.parse_extension_line(read(path))
                self.assertIn(message["type"], protocol.EXTENSION_TYPES)

    def test_rejects_every_invalid_extension_line(self):
        for path in fixture_files("from-extension", "invalid"):
            with self.subTest(os.path.basename(path)):
                with self.assertRaises(protocol.ProtocolError):
                    protocol.parse_extension_line(read(path))

    def test_the_agent_does_not_accept_its_own_messages_as_the_extensions(self):
        with self.assertRaises(protocol.ProtocolError):
            protocol.parse_extension_line(read(os.path.join(support.PROTOCOL_FIXTURES, "from-agent", "valid",
                                                            "hello.json")))


class Details(unittest.TestCase):
    def test_integers_are_not_booleans_or_floats(self):
        base = {"type": "result", "ok": True, "value": None}
        for bad in (True, 3.0, "3", None):
            with self.subTest(bad=bad), self.assertRaises(protocol.ProtocolError):
                protocol.validate_agent_message(dict(base, id=bad))
        protocol.validate_agent_message(dict(base, id=3))

    def test_not_a_number_is_not_json(self):
        with self.assertRaises(protocol.ProtocolError):
            protocol.decode_line(b'{"type":"welcome","protocol":NaN,"extension":"x"}')

    def test_error_names_the_field(self):
        line = b'{"type":"snapshot","seq":1,"time":1,"loops":[],"tasks":[{"id":"t1"}]}'
        with self.assertRaises(protocol.ProtocolError) as caught:
            protocol.parse_agent_line(line)
        self.assertIn("snapshot.tasks[0].name", str(caught.exception))

    def test_encode_refuses_a_line_over_8_mib(self):
        message = {"type": "event", "seq": 1, "time": 1, "kind": "x", "message": "y" * protocol.MAX_LINE_BYTES}
        with self.assertRaises(protocol.ProtocolError):
            protocol.encode(message)

    def test_the_agents_own_builders_make_valid_messages(self):
        for message in (
            protocol.hello(["app.py"], 1, token="abc", title="app"),
            dict(protocol.snapshot(1, [], []), seq=1),
            dict(protocol.delta(1, [], ["t1"], [{"id": "l1", "thread": "MainThread", "threadId": 1}]), seq=2),
            protocol.result_ok(1, {"cancelled": ["t1"]}),
            protocol.result_error(2, "no task t9"),
            protocol.bye(0),
            protocol.bye(None),
        ):
            with self.subTest(message["type"]):
                protocol.validate_agent_message(message)


class Addresses(unittest.TestCase):
    def test_good_addresses(self):
        self.assertEqual(protocol.parse_address("unix:/tmp/x/ipc.sock"),
                         ("unix", "/tmp/x/ipc.sock", "unix:/tmp/x/ipc.sock"))
        self.assertEqual(protocol.parse_address("tcp:127.0.0.1:4711").target, ("127.0.0.1", 4711))
        self.assertEqual(protocol.parse_address("tcp:localhost:1").target, ("localhost", 1))
        self.assertEqual(protocol.parse_address("tcp:[::1]:65535").target, ("::1", 65535))
        self.assertEqual(protocol.parse_address("pipe:\\\\.\\pipe\\taskscope-1").target, "\\\\.\\pipe\\taskscope-1")
        # Another host (a container's way to the editor's machine) only with a token.
        self.assertEqual(protocol.parse_address("tcp:host.docker.internal:4711", "a-token").target,
                         ("host.docker.internal", 4711))
        with self.assertRaises(protocol.AddressError) as caught:
            protocol.parse_address("tcp:host.docker.internal:4711")
        self.assertIn("token", str(caught.exception))

    def test_bad_addresses_name_the_value(self):
        for bad in ("", "nonsense", "unix:", "tcp:127.0.0.1", "tcp:127.0.0.1:0", "tcp:127.0.0.1:70000",
                    "tcp:10.1.2.3:80", "tcp:example.com:80", "pipe:taskscope", "http://127.0.0.1:80"):
            with self.subTest(bad=bad):
                with self.assertRaises(protocol.AddressError) as caught:
                    protocol.parse_address(bad)
                if bad:
                    self.assertIn(repr(bad), str(caught.exception))


class Framing(unittest.TestCase):
    def test_lines_split_across_reads(self):
        reader = LineReader()
        self.assertEqual(reader.feed(b'{"a":1}\n{"b"'), [b'{"a":1}'])
        self.assertEqual(reader.feed(b':2}\r\n\n'), [b'{"b":2}'])

    def test_a_line_over_the_limit_is_dropped_whole(self):
        reader = LineReader(limit=16)
        self.assertEqual(reader.feed(b"x" * 10), [])
        self.assertEqual(reader.feed(b"y" * 10), [])
        self.assertEqual(reader.feed(b"z\nnext\n"), [b"next"])
        self.assertEqual(reader.oversized, 1)
        self.assertEqual(reader.feed(b"a" * 15 + b"\n"), [b"a" * 15])  # exactly the limit
        self.assertEqual(reader.feed(b"a" * 16 + b"\n"), [])


if __name__ == "__main__":
    unittest.main()
