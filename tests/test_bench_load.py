"""`rig bench load --quick` end to end, for real and bounded: it starts a rig (small config, edge,
redis), loads each target with wrk, runs the validating fleet alongside, and writes its results
and report. What must hold: every target measured, zero errors and timeouts, a clean fleet, the
edge answering from its cache, and a report with its tables and plots. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.bench.load import TARGETS
from tests.conftest import SMALL_CONFIG
from tests.test_realtime import free_port

pytestmark = pytest.mark.realtime
BIN = Path(sys.executable).parent
PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_bench_measures_every_target_without_an_error(tmp_path, small_content):
    env = {
        **os.environ,
        "RIG_STATE_DIR": str(tmp_path / "state"),
        "RIG_ADS_HOUSE_COUNT": "1",
        **{f"RIG_{name}_PORT": str(free_port()) for name in ("ORIGIN", "ADS", "STITCHER")},
        "RIG_EDGE_PORT": str(free_port()),
        "RIG_REDIS_PORT": str(free_port()),
    }
    results, report = tmp_path / "bench.json", tmp_path / "report"
    done = subprocess.run(
        [str(BIN / "rig"), "bench", "load", "--quick", "--config", str(SMALL_CONFIG)]
        + ["--channel", "news", "--json", str(results), "--report", str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(results.read_text())

    assert data["kind"] == "rig-bench-load" and data["settings"]["quick"]
    assert data["settings"]["rig"] == "started by the bench"
    assert [c["target"] for c in data["closed_loop"]] == list(TARGETS)
    assert sorted((c["target"], c["viewers"]) for c in data["cells"]) == sorted(
        (t, 300) for t in TARGETS
    )
    # the production path last, the fleet watching, with nginx-static beside it
    assert [c["target"] for c in data["cells"]][-2:] == ["edge", "nginx-static"]
    for figures in data["closed_loop"] + data["cells"]:
        assert figures["errors_total"] == 0, figures
        assert figures["requests_per_s"] > 0
        lat = figures["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert [row["targets"] for row in data["side_by_side"]] == [
        ["stitcher", "aiohttp-bare"],
        ["edge", "nginx-static"],
    ]
    for row in data["side_by_side"]:
        assert row["errors_total"] == 0 and row["ratio"] > 0 and len(row["rounds"]) == 1
    # 1 worker on the servers' core, then one per core on every core, each beside the bare handler
    cores = len(os.sched_getaffinity(0))
    assert [(r["target"], r["workers"]) for r in data["scaling"]] == [
        (target, workers)
        for workers in ([1, cores] if cores > 1 else [1])
        for target in ("stitcher", "aiohttp-bare")
    ]
    for row in data["scaling"]:
        assert len(row["cores"]) == row["workers"]
        assert row["errors_total"] == 0 and row["requests_per_s"] > 0
    cells = {c["target"]: c for c in data["cells"]}
    for cell in data["cells"]:
        assert cell["errors"]["timeout"] == 0
        fractions = [f for _, f in cell["cdf"]]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert cell["rss_mib"]["stitcher"] > 0 and cell["rss_mib"]["edge"] > 0
        assert cell["timeline"], "nothing sampled during the cell"
    edge = cells["edge"]
    # the cell's answers in the edge's log: wrk's and the fleet's, not the closed loop's
    assert edge["requests"] <= edge["edge"]["answers"] < edge["requests"] * 1.5
    assert edge["edge"]["hit_ratio"] > 0.9
    assert edge["upstream_requests_per_viewer_minute"] is not None
    assert 0 < edge["fleet_viewers"] <= 20  # the fleet's viewers watching through the edge count
    assert cells["nginx-static"]["fleet_viewers"] == 0
    assert cells["stitcher"]["stitcher_cpu_per_1000_viewers"] > 0
    assert cells["stitcher"]["origin_requests_per_viewer_minute"] > 0
    assert cells["nginx-static"]["stitcher_cpu_per_1000_viewers"] is None
    assert cells["aiohttp-bare"]["rss_mib"]["baseline"] > 0

    fleet = data["fleet"]
    assert fleet["playlists"] > 0 and fleet["exit"] == 0
    assert fleet["violations"] == 0 and fleet["stalls"] == 0 and fleet["depletion"] == 0
    assert fleet["late_joiners_clean"] == fleet["late_joiners"]
    assert data["cues"], "the bench asked for no break:\n" + done.stdout[-3000:]

    text = (report / "report.md").read_text()
    assert "Performance targets" in text or "Performance Targets" in text
    for png in report.glob("*.png"):
        assert png.read_bytes()[:8] == PNG
    assert {p.name for p in report.glob("*.png")} >= {"latency-cdf.png", "edge.png"}
