"""The command line itself: version, help, argument splitting, bad addresses."""

import subprocess
import sys
import unittest

from test.agent import support
from taskscope import __version__
from taskscope.cli import UsageError, parse_run_args


def taskscope(*args, env=None):
    return subprocess.run([sys.executable, "-m", "taskscope", *args], capture_output=True, text=True,
                          env=env or support.clean_env(), cwd=support.PROGRAMS, timeout=30)


class CommandLine(unittest.TestCase):
    def test_version(self):
        done = taskscope("--version")
        self.assertEqual((done.returncode, done.stdout), (0, "taskscope %s\n" % __version__))

    def test_run_help_names_the_forms_options_and_environment(self):
        done = taskscope("run", "--help")
        self.assertEqual(done.returncode, 0)
        for text in ("script.py [args ...]", "-m module [args ...]", "--connect ADDRESS", "--token TOKEN",
                     "unix:/path/to/socket", "tcp:127.0.0.1:PORT", "pipe:\\\\.\\pipe\\NAME",
                     "TASKSCOPE_CONNECT", "TASKSCOPE_TOKEN", "TASKSCOPE_INTERVAL", "TASKSCOPE_LOG", "TASKSCOPE_DEBUG",
                     "--record FILE", "TASKSCOPE_RECORD", "TASKSCOPE_STUCK_AFTER", "TASKSCOPE_BLOCKED_AFTER",
                     "TASKSCOPE_HISTORY_SECONDS", "TASKSCOPE_HISTORY_MAX"):
            self.assertIn(text, done.stdout)

    def test_no_command_is_a_usage_error(self):
        cases = [(), ("walk",), ("run",), ("run", "--connect"), ("run", "--bogus", "x.py")]
        for args, done in zip(cases, support.parallel(lambda args: taskscope(*args), cases)):
            with self.subTest(args=args):
                self.assertEqual(done.returncode, 2)
                self.assertIn("usage:", done.stderr)
                self.assertEqual(done.stdout, "")

    def test_a_malformed_address_stops_before_the_program_runs(self):
        addresses = ["unix", "tcp:example.com:80", "tcp:127.0.0.1:99999", "http://x"]
        runs = support.parallel(lambda a: taskscope("run", "--connect", a, "echo_environment.py"), addresses)
        for address, done in zip(addresses, runs):
            with self.subTest(address=address):
                self.assertEqual(done.returncode, 2)
                self.assertEqual(done.stdout, "")  # the program did not run
                self.assertIn(repr(address), done.stderr)
                self.assertIn("--connect", done.stderr)

    def test_a_malformed_address_in_the_environment_is_named_too(self):
        done = taskscope("run", "echo_environment.py", env=support.clean_env(TASKSCOPE_CONNECT="nowhere"))
        self.assertEqual(done.returncode, 2)
        self.assertEqual(done.stdout, "")
        self.assertIn("TASKSCOPE_CONNECT", done.stderr)
        self.assertIn("'nowhere'", done.stderr)

    def test_without_any_address_the_program_runs_plainly(self):
        done = support.run_agent(["echo_environment.py", "x"])
        self.assertEqual((done.returncode, done.stdout, done.stderr),
                         tuple(getattr(support.run_plain(["echo_environment.py", "x"]), k)
                               for k in ("returncode", "stdout", "stderr")))

    @unittest.skipIf(sys.platform == "win32", "pipes are the Windows transport")
    def test_a_pipe_address_elsewhere_than_windows_runs_the_program_plainly(self):
        args = ["echo_environment.py"]
        plain, traced = support.parallel(lambda run: run(), [
            lambda: support.run_plain(args),
            lambda: support.run_agent(args, connect="pipe:\\\\.\\pipe\\taskscope-test"),
        ])
        self.assertEqual((traced.returncode, traced.stdout, traced.stderr),
                         (plain.returncode, plain.stdout, plain.stderr))

    def test_options_after_the_script_belong_to_the_program(self):
        done = support.run_agent(["echo_environment.py", "--connect", "nonsense", "-h", "--", "-m", "x"])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("argv ['echo_environment.py', '--connect', 'nonsense', '-h', '--', '-m', 'x']", done.stdout)


class Splitting(unittest.TestCase):
    def test_forms(self):
        self.assertEqual(parse_run_args(["app.py", "-v"]),
                         ({"connect": None, "token": None, "record": None, "help": False}, "app.py", False, ["-v"]))
        self.assertEqual(parse_run_args(["--connect", "unix:/s", "--token=abc", "-m", "pkg.mod", "--x"]),
                         ({"connect": "unix:/s", "token": "abc", "record": None, "help": False}, "pkg.mod", True,
                          ["--x"]))
        self.assertEqual(parse_run_args(["--record", "out.ndjson", "app.py"])[0]["record"], "out.ndjson")
        self.assertEqual(parse_run_args(["--record=x", "app.py", "--record", "y"])[0]["record"], "x")
        self.assertEqual(parse_run_args(["-mpkg", "a"])[1:], ("pkg", True, ["a"]))
        self.assertEqual(parse_run_args(["--connect=tcp:127.0.0.1:1", "--", "-weird.py", "a"])[1:],
                         ("-weird.py", False, ["a"]))
        self.assertTrue(parse_run_args(["-h", "app.py"])[0]["help"])

    def test_errors(self):
        for args in ([], ["--connect"], ["-m"], ["--nope", "app.py"], ["-"], ["--"]):
            with self.subTest(args=args), self.assertRaises(UsageError):
                parse_run_args(args)


if __name__ == "__main__":
    unittest.main()
