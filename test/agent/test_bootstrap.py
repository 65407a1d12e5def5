"""Injection without the command line: the bootstrap folder's sitecustomize."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from test.agent import support

PROBE = "\n".join([
    "import sys, threading",
    "import sitecustomize",
    "print('sitecustomize:', getattr(sitecustomize, 'MARK', 'not the user one'))",
    "print('bootstrap on path:', any('bootstrap' in p for p in sys.path))",
    "print('agent imported:', 'taskscope.agent' in sys.modules)",
    "print('threads:', sorted(t.name for t in threading.enumerate()))",
])


def run_python(args, pythonpath, **env):
    environment = support.clean_env(PYTHONPATH=os.pathsep.join(pythonpath), **env)
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environment,
                          cwd=support.PROGRAMS, timeout=30)
    return done.returncode, done.stdout, done.stderr


class Bootstrap(unittest.TestCase):
    def setUp(self):
        self.user_site = tempfile.mkdtemp(prefix="ts-usersite-")
        self.addCleanup(shutil.rmtree, self.user_site, True)

    def user_sitecustomize(self, body):
        with open(os.path.join(self.user_site, "sitecustomize.py"), "w") as f:
            f.write(body)

    def test_the_folder_holds_only_sitecustomize(self):
        names = [n for n in os.listdir(support.BOOTSTRAP) if n != "__pycache__"]
        self.assertEqual(names, ["sitecustomize.py"])

    def test_injected_agent_traces_the_program(self):
        with support.FakeExtension() as ext:
            got = run_python(["nested_tasks.py", "x"], [support.BOOTSTRAP], TASKSCOPE_CONNECT=ext.address)
            conn = ext.wait_connection()
            ext.wait(lambda: conn.closed.is_set(), what="connection closed")
        self.assertEqual(got, run_python(["nested_tasks.py", "x"], []))
        self.assertEqual(conn.invalid, [])
        self.assertEqual(conn.hello["argv"], ["nested_tasks.py", "x"])
        self.assertEqual([m["type"] for m in conn.messages][:2], ["hello", "snapshot"])
        main = [t for t in conn.tasks.values() if t["coro"] == "main"]
        self.assertEqual(len(main), 1)
        self.assertEqual(main[0]["site"]["line"], support.site_line("nested_tasks.py", "main"))
        self.assertEqual(conn.task_named("parent")["parent"], main[0]["id"])
        # Only the command line knows the exit status.
        self.assertEqual(conn.messages[-1], {"type": "bye", "exitCode": None})

    def test_chains_to_the_programs_own_sitecustomize(self):
        self.user_sitecustomize("MARK = 'the user one'\nprint('user sitecustomize ran')\n")
        with support.FakeExtension() as ext:
            got = run_python(["-c", PROBE], [support.BOOTSTRAP, self.user_site], TASKSCOPE_CONNECT=ext.address)
            ext.wait_connection()
        code, out, err = got
        self.assertEqual((code, err), (0, ""))
        self.assertIn("user sitecustomize ran\n", out)
        self.assertIn("sitecustomize: the user one\n", out)
        self.assertIn("bootstrap on path: False\n", out)
        self.assertIn("agent imported: True\n", out)
        self.assertIn("taskscope-sampler", out)

    def test_without_an_address_only_the_chain_runs(self):
        self.user_sitecustomize("MARK = 'the user one'\n")
        code, out, err = run_python(["-c", PROBE], [support.BOOTSTRAP, self.user_site])
        self.assertEqual((code, err), (0, ""))
        self.assertIn("sitecustomize: the user one\n", out)
        self.assertIn("agent imported: False\n", out)
        self.assertIn("threads: ['MainThread']\n", out)

    def test_errors_in_the_chained_sitecustomize_are_reported_as_python_does(self):
        for body in ("raise ValueError('bad site')\n", "import no_such_module_for_site\n", "1/0\n"):
            with self.subTest(body=body):
                self.user_sitecustomize(body)
                expected = run_python(["nested_tasks.py"], [self.user_site])
                self.assertIn("Error in sitecustomize", expected[2])
                with support.FakeExtension() as ext:
                    got = run_python(["nested_tasks.py"], [support.BOOTSTRAP, self.user_site],
                                     TASKSCOPE_CONNECT=ext.address)
                    ext.wait_connection()
                self.assertEqual(got, expected)

    def test_a_bad_address_never_disturbs_the_program(self):
        expected = run_python(["echo_environment.py"], [])
        for address in ("nonsense", "tcp:example.com:1"):
            with self.subTest(address=address):
                self.assertEqual(run_python(["echo_environment.py"], [support.BOOTSTRAP], TASKSCOPE_CONNECT=address),
                                 expected)

    def test_the_agent_is_appended_so_program_modules_win(self):
        shadow = os.path.join(self.user_site, "taskscope")
        os.mkdir(shadow)
        with open(os.path.join(shadow, "__init__.py"), "w") as f:
            f.write("WHOSE = 'the program'\n")
        code, out, err = run_python(
            ["-c", "import sys, taskscope; print(taskscope.WHOSE, sys.path[-1] == %r)" % support.PYTHON_DIR],
            [support.BOOTSTRAP, self.user_site])
        self.assertEqual((code, out, err), (0, "the program True\n", ""))


if __name__ == "__main__":
    unittest.main()
