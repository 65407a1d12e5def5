"""Marks test/ as a package so that `python -m unittest discover -s test/agent -t .` can
import test.agent.* ahead of the standard library's own `test` package."""
