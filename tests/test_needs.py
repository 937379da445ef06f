"""tests.needs: a test whose system tool is missing is skipped with its reason and listed loudly
at the end of the run, or fails in CI (run in a pytest of its own, pytester)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests

pytest_plugins = ["pytester"]

SUITE = """
from tests.needs import require

def test_needs_a_missing_tool():
    require(False, "frobnicator is not installed (apt-get install frobnicator)")

def test_needs_a_tool_that_is_there():
    require(True, "never said")
"""

CONFTEST = """
import pytest
from tests.needs import summary

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    yield
    summary(terminalreporter)
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(tests.__file__).parent.parent))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_a_missing_tool_is_listed_at_the_end(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    out = result.stdout.lines
    banner = next(i for i, line in enumerate(out) if "TESTS THAT DID NOT RUN" in line)
    listed = [line.split() for line in out[banner + 1 :] if "test(s):" in line]
    assert listed == [
        [
            "1",
            "test(s):",
            *"frobnicator is not installed (apt-get install frobnicator)".split(),
        ]
    ]
    assert "never said" not in result.stdout.str()


def test_in_ci_a_missing_tool_fails(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "frobnicator is not installed" in result.stdout.str()
    assert "TESTS THAT DID NOT RUN" not in result.stdout.str()
