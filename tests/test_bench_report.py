"""`rig bench load`'s report (rig.bench.report) from a made-up results dict: the Performance Targets
verdicts, the ratios, the plots as valid PNG files, and every part of the results missing in turn.

The results here are SYNTHETIC TEST DATA (invented figures in the shape of the results JSON,
version 1); no measurement is made and none is asserted.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rig.bench import report
from stitcher.errors import RigError

REPO = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = {  # SYNTHETIC: (target, viewers) -> (req/s, p95 ms)
    ("stitcher", 1000): (500.0, 2.0),
    ("stitcher", 2000): (990.0, 4.0),
    ("edge", 1000): (500.0, 1.0),
    ("edge", 2000): (1000.0, 1.2),
    ("nginx-static", 1000): (500.0, 0.5),
    ("nginx-static", 2000): (1000.0, 0.8),
    ("aiohttp-bare", 1000): (500.0, 1.0),
    ("aiohttp-bare", 2000): (990.0, 2.0),
}


def _synthetic_cell(target: str, viewers: int) -> dict:
    """SYNTHETIC TEST DATA: one open-loop cell with invented figures."""
    rps, p95 = FIGURES[(target, viewers)]
    edge, ours = target == "edge", target in ("stitcher", "edge")
    return {
        "target": target,
        "viewers": viewers,
        "seconds": 20.0,
        "requests": int(rps * 20),
        "requests_per_s": rps,
        "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 2, "max": p95 * 5},
        "cdf": [[p95 / 4, 0.01], [p95 / 2, 0.5], [p95, 0.95], [p95 * 2, 0.99], [p95 * 5, 1.0]],
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
        "errors_total": 0,
        "edge": {"hit_ratio": 0.99, "answers": int(rps * 20), "upstream": 40} if edge else None,
        "upstream_requests_per_viewer_minute": 0.05 if edge else None,
        "origin_requests_per_viewer_minute": 0.003 if ours else None,
        "stitcher_cpu_per_1000_viewers": 0.05 if ours else None,
        "rss_mib": {"stitcher": 80.0, "edge": 12.0, "baseline": 30.0},
        "timeline": [
            {
                "t": float(t),
                "stitcher_requests": 2 if edge else int(rps),
                "edge_answers": int(rps) if edge else None,
                "edge_hits": int(rps) - 2 if edge else None,
                "edge_upstream": 2 if edge else None,
                "origin_requests": 4 if ours else None,
            }
            for t in range(1, 21)
        ],
    }


def synthetic_results() -> dict:
    """SYNTHETIC TEST DATA: a whole results dict, every target met; a fresh copy each call."""
    return {
        "kind": "rig-bench-load",
        "version": 1,
        "started": "2026-12-03T12:00:00Z",
        "finished": "2026-12-03T12:10:00Z",
        "machine": {
            "cpu": "Synthetic CPU",
            "cores": 2,
            "memory_gib": 8.0,
            "system": "Linux test",
            "python": "3.11.7",
            "nginx": "1.22.1",
            "wrk": "4.1.0",
        },
        "pinning": {"servers": [0], "load": [1]},
        "settings": {
            "viewers": [1000, 2000],
            "seconds": 20.0,
            "reload_s": [1.0, 3.0],
            "timeout_s": 2.0,
            "path": "/ssai/news/lo.m3u8",
            "stitcher_workers": 1,
            "fleet": 200,
            "quick": False,
            "targets": ["stitcher", "edge", "nginx-static", "aiohttp-bare"],
        },
        "closed_loop": [
            {
                "target": target,
                "connections": 64,
                "seconds": 10.0,
                "requests_per_s": rps,
                "latency_ms": {"p50": 1.1, "p95": 3.0, "p99": 5.0, "max": 30.0},
                "errors_total": 0,
            }
            for target, rps in (
                ("stitcher", 9000.0),
                ("edge", 20000.0),
                ("nginx-static", 40000.0),
                ("aiohttp-bare", 11000.0),
            )
        ],
        "scaling": [
            {"target": "stitcher", "workers": 1, "cores": [0], "requests_per_s": 9000.0}
            | {"requests_per_cpu_s": 9000.0},
            {"target": "stitcher", "workers": 2, "cores": [0, 1], "requests_per_s": 15000.0}
            | {"requests_per_cpu_s": 8000.0},
            {"target": "aiohttp-bare", "workers": 1, "cores": [0], "requests_per_s": 11000.0},
            {"target": "aiohttp-bare", "workers": 2, "cores": [0, 1], "requests_per_s": 16500.0},
        ],
        "side_by_side": [
            {
                "targets": ["stitcher", "aiohttp-bare"],
                "connections_each": 32,
                "ratio": 0.81,
                "rounds": [
                    {"requests_per_s": [4050.0, 5000.0], "errors": 0, "ratio": r}
                    for r in (0.79, 0.81, 0.83)
                ],
                "errors_total": 0,
            },
            {
                "targets": ["edge", "nginx-static"],
                "connections_each": 32,
                "ratio": 0.7,
                "rounds": [{"requests_per_s": [7000.0, 10000.0], "errors": 0, "ratio": 0.7}],
                "errors_total": 0,
            },
        ],
        "cells": [_synthetic_cell(target, viewers) for target, viewers in FIGURES],
        "fleet": {
            "url": "http://127.0.0.1:8080/ssai/news/master.m3u8",
            "viewers": 200,
            "seconds": 300.0,
            "playlists": 30000,
            "violations": 0,
            "stalls": 0,
            "late_joiners": 12,
            "late_joiners_clean": 12,
            "depletion": 0,
            "breaks": 5,
            "exit": 0,
        },
    }


def _cell(results: dict, target: str, viewers: int) -> dict:
    return next(c for c in results["cells"] if (c["target"], c["viewers"]) == (target, viewers))


def _rows(results: dict) -> dict[str, report.Target]:
    return {t.seed: t for t in report.summary(results)}


LATENCY = "Manifest latency p95 < 100 ms"
HIT = "Edge cache hit rate 80–95 %"
JOINERS = "Late-joiner success > 99 %"
DEPLETION = "Zero segment depletion"
LOAD = "Load testing 1,000+ concurrent viewers"
UPSTREAM = "Origin requests per viewer-minute < 0.1 (edge → stitcher)"
ORIGIN = "Stitcher → origin playlist fetches per viewer-minute (information)"


def test_every_target_is_met_by_the_good_run():
    rows = _rows(synthetic_results())
    assert list(rows) == [LATENCY, HIT, JOINERS, DEPLETION, LOAD, UPSTREAM, ORIGIN]
    assert all(t.met is True for name, t in rows.items() if name != ORIGIN)
    assert rows[ORIGIN].met is None  # not judged: MediaTailor's guidance is the edge's row
    assert rows[LATENCY].measured == "4.00 ms (worst p95: stitcher, 2,000 viewers)"
    assert rows[HIT].measured == "99.0 % (lowest: edge, 1,000 viewers)"
    assert rows[JOINERS].measured == "12 of 12 clean (100.0 %)"
    assert rows[LOAD].measured == "2,000 viewers without errors"


def test_a_p95_above_100_ms_is_not_met_and_the_table_says_so():
    results = synthetic_results()
    _cell(results, "edge", 2000)["latency_ms"]["p95"] = 150.0
    _cell(results, "nginx-static", 2000)["latency_ms"]["p95"] = 500.0  # a baseline: not judged
    assert _rows(results)[LATENCY].met is False
    text = report.markdown(results, {})
    assert f"| {LATENCY} | 150 ms (worst p95: edge, 2,000 viewers) | **no** |" in text
    assert f"| {HIT} | 99.0 % (lowest: edge, 1,000 viewers) | yes |" in text


def test_a_cell_with_errors_lowers_the_load_reached():
    results = synthetic_results()
    cell = _cell(results, "stitcher", 2000)
    cell["errors"]["timeout"], cell["errors_total"] = 5, 7
    _cell(results, "aiohttp-bare", 1000)["errors_total"] = 3  # a baseline: not judged
    row = _rows(results)[LOAD]
    assert (row.measured, row.met) == ("1,000 viewers without errors; errors at 2,000", True)
    assert "| stitcher | 2,000 | 990 | 2.00 | 4.00 | 8.00 | 20.0 | 7 | 5 |" in report.markdown(
        results, {}
    )
    _cell(results, "edge", 1000)["errors_total"] = 1
    row = _rows(results)[LOAD]
    assert (row.measured, row.met) == ("errors at every count (1,000, 2,000)", False)
    assert f"| {LOAD} | errors at every count (1,000, 2,000) | **no** |" in report.markdown(
        results, {}
    )


def test_fewer_than_1000_viewers_is_not_load_testing():
    results = synthetic_results()
    results["cells"] = [c for c in results["cells"] if c["viewers"] == 1000]
    for cell in results["cells"]:
        cell["viewers"] = 500
    assert _rows(results)[LOAD].met is False


@pytest.mark.parametrize(("ratio", "met"), [(0.79, False), (0.80, True), (0.97, True)])
def test_the_edge_hit_ratio_is_met_from_80_percent(ratio, met):
    results = synthetic_results()
    _cell(results, "edge", 2000)["edge"]["hit_ratio"] = ratio
    assert _rows(results)[HIT].met is met


def test_the_fleet_targets():
    results = synthetic_results()
    results["fleet"]["late_joiners_clean"] = 11
    results["fleet"]["stalls"] = 2
    rows = _rows(results)
    assert (rows[JOINERS].measured, rows[JOINERS].met) == ("11 of 12 clean (91.7 %)", False)
    assert (rows[DEPLETION].measured, rows[DEPLETION].met) == ("depletion 0, stalls 2", False)
    results["fleet"]["late_joiners"] = results["fleet"]["late_joiners_clean"] = 0
    assert (_rows(results)[JOINERS].measured, _rows(results)[JOINERS].met) == (
        "no late joiners",
        None,
    )


def test_only_the_edge_leg_of_requests_per_viewer_minute_is_judged():
    results = synthetic_results()
    _cell(results, "edge", 1000)["upstream_requests_per_viewer_minute"] = 0.12
    _cell(results, "stitcher", 1000)["origin_requests_per_viewer_minute"] = 5.0  # not an edge cell
    rows = _rows(results)
    assert (rows[UPSTREAM].measured, rows[UPSTREAM].met) == (
        "0.120 (worst: edge, 1,000 viewers)",
        False,
    )
    assert rows[ORIGIN].met is None and rows[ORIGIN].measured.startswith("0.003 ")


def test_the_headline_ratios():
    text = report.markdown(synthetic_results(), {})
    assert text.index("## Headline") < text.index("## Performance Targets")
    assert (
        "- Side by side on one core (closed loop, at the same moment), stitcher ÷ aiohttp-bare"
        " throughput: **0.81×** (median round; rounds 0.79×, 0.81×, 0.83×)" in text
    )
    assert "edge ÷ nginx-static throughput: **0.70×** (median round; rounds 0.70×)" in text
    assert (
        "- Closed loop one after the other, stitcher ÷ aiohttp-bare throughput: 0.82×"
        " (9,000 ÷ 11,000 req/s)" in text
    )
    assert "edge ÷ nginx-static throughput: 0.50× (20,000 ÷ 40,000 req/s)" in text
    assert (
        "2 workers ÷ 1 worker (closed loop): stitcher **1.67×** throughput, 0.89× answers per"
        " CPU-second; aiohttp-bare **1.50×** throughput, — answers per CPU-second" in text
    )
    assert (
        "| viewers | stitcher ÷ aiohttp-bare req/s | edge ÷ nginx-static req/s"
        " | stitcher ÷ aiohttp-bare p95 | edge ÷ nginx-static p95 |" in text
    )
    assert "| 1,000 | 1.00× | 1.00× | 2.00× | 2.00× |" in text
    assert "| 2,000 | 1.00× | 1.00× | 2.00× | 1.50× |" in text


def test_the_report_says_what_ran_where():
    text = report.markdown(synthetic_results(), {})
    assert text.startswith("# rig bench load: report\n\nRun on this machine: Synthetic CPU (2 ")
    assert "Servers on core 0, the load (wrk and the fleet) on core 1." in text
    assert "viewers 1,000, 2,000; 20 s per cell; reloads every 1–3 s" in text
    assert "| RSS stitcher MiB | RSS edge MiB | RSS baseline MiB |" in text
    assert "| late joiners clean | 12 of 12 |" in text
    assert "## How to read this" in text


def _without_scaling(results: dict) -> None:
    del results["scaling"]


def _without_the_edge(results: dict) -> None:
    results["cells"] = [c for c in results["cells"] if c["target"] != "edge"]
    results["closed_loop"] = [c for c in results["closed_loop"] if c["target"] != "edge"]


def _without_the_fleet(results: dict) -> None:
    del results["fleet"]


def _with_null_fields(results: dict) -> None:
    for cell in results["cells"][:3]:
        for key in list(cell):
            if key not in ("target", "viewers"):
                cell[key] = None
    results["machine"] = results["pinning"] = results["settings"] = None
    results["closed_loop"][0]["requests_per_s"] = None
    results["scaling"][1]["requests_per_s"] = None
    results["side_by_side"][0]["ratio"] = None
    results["side_by_side"][1]["rounds"] = None
    results["side_by_side"].append(None)


def _everything_missing(results: dict) -> None:
    results.clear()


VARIANTS = [_without_scaling, _without_the_edge, _without_the_fleet, _with_null_fields]


@pytest.mark.parametrize("variant", [*VARIANTS, _everything_missing], ids=lambda v: v.__name__)
def test_missing_parts_render_without_crashing(variant, tmp_path):
    results = synthetic_results()
    variant(results)
    drawn = report.plots(results, tmp_path)
    text = report.markdown(results, drawn)
    assert text.startswith("# rig bench load: report") and "## Performance Targets" in text
    assert "None" not in text and "nan" not in text.lower()
    assert all((tmp_path / f).read_bytes().startswith(PNG_MAGIC) for f in drawn.values())


def test_what_is_missing_reads_as_a_dash_or_is_left_out(tmp_path):
    results = synthetic_results()
    _without_scaling(results)
    _without_the_edge(results)
    _without_the_fleet(results)
    text = report.markdown(results, report.plots(results, tmp_path))
    assert "2 workers ÷ 1 worker (closed loop): not measured in this run" in text
    assert f"| {HIT} | — | — |" in text and f"| {JOINERS} | — | — |" in text
    assert "| 1,000 | 1.00× | — | 2.00× | — |" in text
    assert "The fleet did not run." in text
    assert "edge.png" not in text  # no edge cell: no edge plot

    results = synthetic_results()
    _with_null_fields(results)
    text = report.markdown(results, {})
    assert "| stitcher | 1,000 | — | — | — | — | — | — | — | — | — | — | — |" in text
    assert "stitcher ÷ aiohttp-bare throughput: — (— ÷ 11,000 req/s)" in text
    assert "stitcher **—** throughput, 0.89× answers per CPU-second; aiohttp-bare **1.50×**" in text
    assert "Servers unpinned, the load (wrk and the fleet) unpinned. Settings: —." in text

    assert report.plots({}, tmp_path / "none") == {}  # nothing to draw: the directory is untouched


def test_the_plots_are_png_files(tmp_path):
    drawn = report.plots(synthetic_results(), tmp_path)
    assert drawn == {
        "latency-cdf": "latency-cdf.png",
        "latency-p95": "latency-p95.png",
        "throughput": "throughput.png",
        "edge": "edge.png",
    }
    for file in drawn.values():
        data = (tmp_path / file).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_the_plots_need_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(RigError, match=r"pip install -e '\.\[bench\]'"):
        report.plots(synthetic_results(), tmp_path)


def test_write_puts_the_report_the_plots_and_the_results_in_one_directory(tmp_path):
    results = synthetic_results()
    path = report.write(results, tmp_path / "out" / "bench")
    assert path == tmp_path / "out" / "bench" / "report.md"
    text = path.read_text(encoding="utf-8")
    for name in ("latency-cdf.png", "latency-p95.png", "throughput.png", "edge.png"):
        assert f"]({name})" in text and (path.parent / name).is_file()
    written = (path.parent / "results.json").read_text()
    assert json.loads(written) == results and written.startswith('{\n  "kind"')


def test_the_module_loads_without_matplotlib():
    code = "import sys, rig.bench.report; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "False"


def test_the_synthetic_results_are_not_changed_by_the_report(tmp_path):
    results = synthetic_results()
    kept = copy.deepcopy(results)
    report.write(results, tmp_path)
    assert results == kept


def test_the_stitcher_speed_goals():
    results = synthetic_results()
    results["cells"] += [
        _synthetic_cell("stitcher", 1000) | {"viewers": 8000, "requests_per_s": 3500.0},
        _synthetic_cell("aiohttp-bare", 1000) | {"viewers": 8000, "requests_per_s": 3600.0},
        _synthetic_cell("edge", 1000) | {"viewers": 10_000, "requests_per_s": 4500.0},
    ]
    goals = {t.seed.split(" ")[0]: t for t in report.speed(results)}
    assert (goals["Closed"].measured, goals["Closed"].met) == (
        "0.81× (side by side, median round)",
        True,
    )
    assert goals["8,000"].met is True and goals["8,000"].measured.startswith("0 timeouts, 97.2 %")
    # the synthetic edge cell's p99 is 2 ms, its hit ratio 99 %
    assert goals["Through"].met is True
    assert goals["With"].measured == "2 workers ÷ 1: stitcher 1.67×, bare handler 1.50×"
    assert goals["With"].met is True

    results["side_by_side"][0]["ratio"] = 0.7
    results["cells"][-3]["errors"]["timeout"] = 3
    results["cells"][-1]["latency_ms"]["p99"] = 9.6
    goals = {t.seed.split(" ")[0]: t for t in report.speed(results)}
    assert [goals[k].met for k in ("Closed", "8,000", "Through")] == [False, False, False]
    text = report.markdown(results, {})
    assert "## The stitcher's own speed (issue 15's goals)" in text
    assert (
        "| Closed loop ≥ 0.8× the bare aiohttp handler, same core"
        " | 0.70× (side by side, median round) | **no** |" in text
    )

    del results["side_by_side"], results["scaling"]
    goals = {t.seed.split(" ")[0]: t for t in report.speed(results)}
    assert goals["Closed"].met is None and goals["With"].met is None
