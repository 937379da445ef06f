"""`rig soak`: a long watch of a real rig through breaks of every kind, with its memory and file
descriptors sampled.

- The real run (marked realtime, about three and a half minutes): `rig soak` as a process, with
  the small config (the origin's segment cache small, so that it is full before the samples that
  count), 40 validating viewers, five breaks of five kinds (an origin splice_insert, an origin
  early return, a cancel in the pre-roll, the /cue API with an early return by DELETE, an
  Elemental OATCLS cue), late joiners in each. Exit 0, and the report says why.
- Without a rig: the schedule of breaks, and the growth bound on samples made up here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rig.soak import summary
from rig.soak.plan import KINDS, kinds, schedule
from rig.soak.run import FD_SLACK, RSS_SLACK_MIB, Resources, Usage
from tests.conftest import SMALL_CONFIG

SUITE_KINDS = ["scte35-insert", "early-return", "cancelled", "api-early-return", "oatcls"]


@pytest.mark.realtime
def test_rig_soak_runs_clean_through_breaks_of_every_kind(tmp_path):
    report_path = tmp_path / "soak.json"
    env = {**os.environ, "RIG_ORIGIN_CACHE_SEGMENTS": "24"}
    result = subprocess.run(
        [sys.executable, "-m", "rig.cli", "soak", "--config", str(SMALL_CONFIG)]
        + ["--state-dir", str(tmp_path / "state"), "--minutes", "3", "--viewers", "40"]
        + ["--breaks", "5", "--kinds", ",".join(SUITE_KINDS), "--warm-up", "15"]
        + ["--json", str(report_path)],
        capture_output=True,
        text=True,
        timeout=420,
        env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    report = json.loads(report_path.read_text())
    assert report["ok"], output
    assert report["failed_requests"] == report["violations"] == report["stalls"] == 0
    assert [b["kind"] for b in report["breaks"]] == SUITE_KINDS
    assert report["made"] == report["planned"] == 5 and report["not_made"] == []
    early = [b for b in report["breaks"] if b["kind"] in ("early-return", "api-early-return")]
    assert all(b["ended"] == 200 for b in early), report["breaks"]
    cancelled = next(b for b in report["breaks"] if b["kind"] == "cancelled")
    assert cancelled["ended"] == 200 and "joiners" not in cancelled
    splices = report["splices"]
    assert splices["announced"] >= 4 and not splices["lost"] and not splices["duplicated"]
    joiners = report["late_joiners"]
    assert joiners["count"] == report["joiners_sent"] >= 8  # two per mode into each break played
    assert joiners["ok"] == joiners["count"] and joiners["in_break"] >= 1
    resources = report["resources"]
    assert resources["ok"] and not resources["restarts"]
    assert set(resources["components"]) == {"origin", "media", "stitcher", "monitor", "redis"}
    for role, usage in resources["components"].items():
        assert usage["start"]["rss_mib"] > 5 and usage["end"]["fds"] > 3, (role, usage)
    assert "late joiners:" in result.stdout and "stitcher" in result.stdout


def test_the_schedule_takes_every_kind_in_turn_and_refuses_what_cannot_fit():
    plan = schedule(30, 3600.0, 60.0, 30.0)
    assert len(plan) == 30 and plan[0][0] == 60.0
    assert [k for _, k in plan[: len(KINDS)]] == list(KINDS)  # every kind, in turn
    gaps = {round(b[0] - a[0], 6) for a, b in zip(plan, plan[1:])}
    assert gaps == {round((3600.0 - 90.0) / 30, 6)}
    assert schedule(0, 60.0, 10.0, 10.0) == []
    chosen = kinds(["cancelled", "api-cue"])
    assert [k.name for k in chosen] == ["cancelled", "api-cue"]
    assert [k.name for _, k in schedule(3, 200.0, 10.0, 30.0, chosen)] == [
        "cancelled",
        "api-cue",
        "cancelled",
    ]
    with pytest.raises(ValueError, match="do not fit"):
        schedule(10, 180.0, 15.0, 30.0)
    with pytest.raises(ValueError, match="unknown break kind.*nope"):
        kinds(["nope"])
    assert {k.via for k in KINDS} == {"origin", "api"}
    assert {k.format for k in KINDS if k.via == "origin"} == {
        "scte35",
        "daterange",
        "cue-out",
        "oatcls",
    }
    assert {k.command for k in KINDS if k.via == "origin"} == {"splice_insert", "time_signal"}


def _samples(resources: Resources, rss, fds, pids=(1, 2)) -> None:
    for t, (r, f) in enumerate(zip(rss, fds)):
        resources.note({"stitcher": Usage(list(pids), r, f)}, float(t * 10))


def test_growth_is_judged_on_medians_after_the_baseline():
    steady = Resources(baseline_after=30.0)
    # caches filling before the baseline; connections coming and going after it
    _samples(
        steady,
        [50, 80, 100, 100, 101, 100, 102, 101, 100, 101, 102, 101],
        [20, 30, 40, 55, 41, 40, 70, 42, 40, 43, 41, 60],
    )
    report = steady.report()
    usage = report["components"]["stitcher"]
    assert report["ok"] and usage["ok"], usage
    assert usage["start"]["rss_mib"] == 100 and usage["peak_rss_mib"] == 102  # from t = 30 s
    assert usage["peak_fds"] == 70 and usage["fd_bound"] == usage["start"]["fds"] + FD_SLACK

    leaking = Resources(baseline_after=0.0)
    _samples(leaking, [100 + 3 * i for i in range(12)], [20 + 3 * i for i in range(12)])
    usage = leaking.report()["components"]["stitcher"]
    assert not usage["ok"]
    assert usage["end"]["rss_mib"] > usage["start"]["rss_mib"] + RSS_SLACK_MIB
    assert usage["end"]["fds"] > usage["fd_bound"]


def test_a_restart_fails_the_run_even_when_memory_looks_flat():
    resources = Resources(baseline_after=0.0)
    _samples(resources, [100] * 3, [20] * 3, pids=(1, 2))
    _samples(resources, [100] * 3, [20] * 3, pids=(1, 3))
    report = resources.report()
    assert report["components"]["stitcher"]["ok"] and not report["ok"]
    assert [(r["role"], r["before"], r["after"]) for r in report["restarts"]] == [
        ("stitcher", [1, 2], [1, 3])
    ]


def test_the_summary_names_every_component_and_the_verdict():
    resources = Resources(baseline_after=0.0)
    _samples(resources, [100] * 4, [20] * 4)
    report = {
        "seconds": 180.0,
        "viewers": 40,
        "failed_requests": 0,
        "violations": 0,
        "stalls": 0,
        "planned": 1,
        "breaks": [{"kind": "api-cue", "start": 1.0}],
        "splices": {"announced": 2, "lost": [], "duplicated": [], "unexplained": []},
        "late_joiners": {"count": 2, "in_break": 1, "ok": 2},
        "joiners_sent": 2,
        "resources": resources.report(),
        "ok": True,
    }
    lines = summary(report)
    assert lines[0].startswith("soak: 3.0 min, 40 viewers: 0 failed requests")
    assert "1 made of 1 planned" in lines[1] and "late joiners: 2 sent, 1 saw" in lines[2]
    assert any(line.startswith("stitcher ") and line.endswith("ok") for line in lines)
    assert lines[-1] == "ok"
