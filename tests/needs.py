"""What the tests need from the machine: `require` skips a test whose system tool is missing, or
fails it in CI (`CI=true`), and `summary` lists at the end of the run every test that did not run
for want of one, loudly, with how to get it (conftest.py's pytest_terminal_summary).
`in_namespace` runs a test in Linux namespaces of its own (a network or a disk nothing else sees).
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

NOT_RUN = "not run here: "  # how a skip reason of `require` starts (summary finds them by it)


def require(
    condition: bool,
    missing: str,
    why: str = "CI must run these tests (.ci/run installs what they need)",
) -> None:
    """Skip the calling test with `missing` as the reason - or fail it in CI, where a missing
    system tool must never hide a test. `missing` says what is missing and how to install it."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing} - {why}", pytrace=False)
    pytest.skip(NOT_RUN + missing)


def not_run(skipped: list) -> collections.Counter[str]:
    """How many of the skipped reports were skipped by `require`, per reason."""
    counts: collections.Counter[str] = collections.Counter()
    for report in skipped:
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(NOT_RUN):
            counts[reason.removeprefix(NOT_RUN)] += 1
    return counts


def summary(terminalreporter) -> None:
    counts = not_run(terminalreporter.stats.get("skipped", []))
    if not counts:
        return
    terminalreporter.section("TESTS THAT DID NOT RUN: this machine lacks what they need", "!")
    for reason, count in sorted(counts.items()):
        terminalreporter.write_line(f"{count:5d} test(s): {reason}", red=True, bold=True)
    terminalreporter.write_line(
        "Install what is named above (or run .ci/run, which installs all of it) and run make test"
        " again; with CI=true these tests fail instead of skipping.",
        bold=True,
    )


def in_namespace(flags: str, setup: str, test: str, env: dict[str, str]) -> int:
    """Run the pytest node `test` under `unshare flags` (e.g. "-rn": a user and a network
    namespace, so no privilege and nothing of the machine touched), after the shell commands
    `setup`, with `env` added; fail with its output unless it passed. Returns how many passed."""
    require(shutil.which("unshare") is not None, "unshare is not installed (util-linux)")
    inner = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    result = subprocess.run(
        ["unshare", flags, "sh", "-c", f'{setup} && exec "$@"', "sh", *inner],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"unshare {flags} failed or the test in it did:\n{out[-4000:]}"
    passed = re.search(r"^(\d+) passed in", result.stdout, re.MULTILINE)
    assert passed, out[-4000:]
    return int(passed[1])
