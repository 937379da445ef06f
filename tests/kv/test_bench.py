"""`rig bench kv` runs end to end (briefly) and writes positive figures; speed is never asserted."""

from __future__ import annotations

import argparse
import json
import os
import shutil

from rig.bench import kv as bench
from tests.kv.support import require_redis_server


def test_bench_kv_writes_positive_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "PREFILL", 50)
    if shutil.which("redis-server") is None and os.environ.get("CI") == "true":
        require_redis_server()  # fails: CI must bench both backends
    backends = ["sqlite", "redis"] if shutil.which("redis-server") else ["sqlite"]
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    out = tmp_path / "bench-kv.json"
    args = parser.parse_args(
        [
            "--backend",
            "all" if len(backends) == 2 else "sqlite",
            "--seconds",
            "0.2",
            "--concurrency",
            "4",
            "--json",
            str(out),
        ]
    )
    assert bench.run(args) == 0
    report = json.loads(out.read_text())
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["python"]
    assert sorted(report["backends"]) == sorted(backends)
    for data in report["backends"].values():
        assert data["version"]
        assert set(data["results"]) == set(bench.OPERATIONS)
        for runs in data["results"].values():
            for mode in ("sequential", "concurrent"):
                assert (
                    runs[mode]["ops"] > 0
                    and runs[mode]["ops_per_s"] > 0
                    and runs[mode]["p99_us"] > 0
                )
    printed = capsys.readouterr().out
    assert "put_if_absent" in printed and "ops/s" in printed
