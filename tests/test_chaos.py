"""`rig chaos`: faults injected into a real rig while validating viewers watch.

- The real run (marked realtime, bounded): `rig chaos` as a process, with the small config, starts
  its own rig (`rig up --headless --kv redis`, free ports) and injects faults whose target is no
  failed viewer request: the stitcher's worker killed with SIGKILL, redis-server restarted, and
  the stitcher's worker, the monitor and the media server's worker killed at once. The report must
  say, for each, 0 failed requests, 0 violations, no break lost or duplicated (each phase's break
  matched in the KV), the component back, and the exit status 0.
- Without a rig: choosing faults (unknown names, components the rig lacks), the report table, and
  the audit that matches the origin's splices with the break records in a real SQLite KV.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rig.chaos import table
from rig.chaos.audit import BreakAudit, Splice
from rig.chaos.faults import FAULTS, choose
from stitcher.breaks import BreakLedger, BreakRecord, Retention
from stitcher.breaks.store import record_key
from stitcher.errors import RigError
from stitcher.kv import open_kv
from stitcher.pod import Pod
from tests.conftest import SMALL_CONFIG

ZERO_FAILURES = [  # the suite's share of them: the three kills at once stand for each alone
    "stitcher-worker:kill",
    "redis:restart",
    "overlap:kill",
]


@pytest.mark.realtime
def test_rig_chaos_kills_and_restarts_cost_the_viewers_nothing(tmp_path):
    report_path = tmp_path / "chaos.json"
    result = subprocess.run(
        [sys.executable, "-m", "rig.cli", "chaos", "--config", str(SMALL_CONFIG)]
        + ["--state-dir", str(tmp_path / "state"), "--viewers", "10", "--break-seconds", "4"]
        + ["--faults", ",".join(ZERO_FAILURES), "--json", str(report_path)],
        capture_output=True,
        text=True,
        timeout=420,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    report = json.loads(report_path.read_text())
    assert report["ok"] and report["unexplained_breaks"] == []
    assert [p["fault"] for p in report["faults"]] == ZERO_FAILURES
    for phase in report["faults"]:
        assert phase["ok"], phase
        assert phase["failed_requests"] == 0 and phase["violations"] == 0, phase
        assert phase["breaks"] >= 1 and phase["lost"] == 0 and phase["duplicated"] == 0, phase
        assert all(len(s["records"]) == 1 for s in phase["splices"]), phase
        assert phase["recovery_seconds"] is not None and phase["recovery_seconds"] < 30, phase
        assert all(phase["injected"][role] for role in phase["injected"]), phase
    assert set(report["faults"][-1]["injected"]) == {"stitcher-worker", "monitor", "media-worker"}
    assert "stitcher-worker:kill   ok" in result.stdout  # the table


def test_choosing_faults():
    every = choose(None, 30.0, {"redis", "edge", "sqlite"})
    assert [f.name for f in every] == FAULTS
    without = [f.name for f in choose(None, 30.0, set())]
    assert "redis:restart" not in without and "edge:kill" not in without
    assert "kv:disk-full" not in without and "origin:rewind" in without
    assert "stitcher-worker:kill" in without
    assert choose(["redis:stop"], 12.0, {"redis"})[0].hold == 17.0  # beyond the grace
    with pytest.raises(RigError, match="unknown fault.*nope"):
        choose(["nope"], 30.0, set())
    with pytest.raises(RigError, match="edge:kill needs edge"):
        choose(["edge:kill"], 30.0, {"redis"})


def test_the_table_marks_failures_and_targets():
    row = {
        "fault": "monitor:kill",
        "ok": False,
        "failed_requests": 3,
        "violations": 0,
        "stalls": 0,
        "breaks": 1,
        "lost": 0,
        "duplicated": 0,
        "recovery_seconds": 1.25,
        "target_failed_requests": 0,
    }
    lines = table(
        [row, {**row, "fault": "origin:kill", "ok": True, "target_failed_requests": None}]
    )
    assert lines[1].split() == ["monitor:kill", "FAIL", "3*", "0", "0", "1", "0", "0", "1.2", "s"]
    assert lines[2].split()[:3] == ["origin:kill", "ok", "3"]


def _record(event: str, start: float, source: str = "scte35") -> BreakRecord:
    return BreakRecord(
        channel="news",
        event_id=event,
        source=source,
        start=start,
        duration=10.0,
        end=start + 10,
        ad_start=start,
        pod=Pod("pod", ()),
        points=(start, start + 10),
        created=start - 8,
        updated=start - 8,
        scte35=None,
    )


async def test_the_audit_finds_lost_duplicated_and_unexplained_breaks(tmp_path, clock):
    url = f"sqlite://{tmp_path}/kv.db"
    async with open_kv(url, clock) as kv:
        ledger = BreakLedger(kv, lambda _: Retention(window=3600.0))
        for record in (
            _record("a", 1000.0),  # splice 1: one record
            _record("b1", 1100.0),  # splice 2: two records (a duplicate)
            _record("x", 1300.0),  # no splice explains it
            _record("m", 1400.0, source="manual"),  # a /cue break: not the origin's
        ):
            await ledger.create(record, record.created)
        # the ledger refuses an overlapping break; a writer that went around it is what the
        # audit is there to catch
        await kv.put(record_key("news", "b2"), _record("b2", 1100.4).to_json())
    audit = BreakAudit("http://origin.test", ["news"], url, clock)
    for n, start in enumerate((1000.0, 1100.0, 1200.0), 1):  # splice 3: nothing recorded
        audit.splices[("news", n)] = Splice("news", n, start - 8, start)
    audit.splices[("news", 9)] = Splice("news", 9, 1492.0, 1500.0, cancelled=True)
    async with open_kv(url, clock) as kv:
        await audit.read_records(BreakLedger(kv, lambda _: Retention(window=3600.0)), "news")
    found = audit.settle(900.0, 1600.0)
    assert [(s.id, sorted(s.records)) for s in found] == [(1, ["a"]), (2, ["b1", "b2"]), (3, [])]
    assert [u["eventId"] for u in audit.unexplained] == ["x"]
