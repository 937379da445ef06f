"""What the tests need from the machine: `require` skips a test whose system tool is missing, or
fails it in CI (`CI=true`), and `summary` lists at the end of the run every test that did not run
for want of one, loudly, with how to get it (conftest.py's pytest_terminal_summary)."""

from __future__ import annotations

import collections
import os

import pytest

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
