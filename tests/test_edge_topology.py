"""The production shape on a laptop, for real and bounded: `rig up --edge --kv redis
--stitcher-workers 2` (a real nginx in front, a private redis-server behind, two stitcher
workers on one port), watched through the edge by the project's validator across a /cue break and
a SCTE-35 break while one worker is SIGKILLed.

What must hold: 0 violations on /ssai/ and /sgai/, ads in the stitched stream, no failed request
through the edge during the kill, repeated GETs answered from the edge's cache, and no write
through the edge without a token. The small config without scheduled breaks keeps it short."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rig.edge import EdgeLog
from tests.test_players import small_config_without_scheduled_breaks
from tests.test_realtime import free_port, rig_up

pytestmark = pytest.mark.realtime
BIN = Path(sys.executable).parent
WATCH = 30  # seconds the validators watch the edge


def request(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, method=method, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def workers(state: Path) -> list[int]:
    """The stitcher workers the rig's stitcher started, newest last, from its log."""
    log = (state / "logs" / "stitcher.log").read_text()
    return [int(pid) for pid in re.findall(r"stitcher worker (\d+) on", log)]


def test_edge_redis_and_two_workers(tmp_path, small_content):
    config = small_config_without_scheduled_breaks(tmp_path)
    edge_port, origin_port = free_port(), free_port()
    env = {
        "RIG_EDGE_ENABLED": "true",
        "RIG_EDGE_PORT": str(edge_port),
        "RIG_REDIS_ENABLED": "true",
        "RIG_REDIS_PORT": str(free_port()),
        "RIG_STITCHER_WORKERS": "2",
        "RIG_ORIGIN_PORT": str(origin_port),
    }
    state = tmp_path / "state"
    with rig_up(config, state, **env) as (api, _):
        edge = f"http://127.0.0.1:{edge_port}"
        origin = f"http://127.0.0.1:{origin_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(f"{edge}/edge/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the edge did not come up"
            time.sleep(0.2)
        assert "KV: redis://" in (state / "logs" / "stitcher.log").read_text()

        # writes: never through the edge without a token; directly from loopback they work
        status, _, body = request(f"{edge}/v1/channels/news/cue", "POST", {"duration": 8})
        assert status == 403 and "proxy" in body
        status, _, body = request(f"{api}/v1/channels/news/cue", "POST", {"duration": 12})
        assert status == 201, body
        cue_end = json.loads(body)["endTime"]
        status, _, body = request(
            f"{origin}/control/news/splice", "POST", {"duration": 6, "preroll": 20}
        )
        assert status in (200, 201), body

        reports = {mode: tmp_path / f"{mode}.json" for mode in ("ssai", "sgai")}
        validators = [
            subprocess.Popen(
                [
                    str(BIN / "rig"),
                    "validate",
                    f"{edge}/{mode}/news/master.m3u8",
                    "--seconds",
                    str(WATCH),
                    "--viewers",
                    "2",
                    "--json",
                    str(report),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            for mode, report in reports.items()
        ]
        before = workers(state)
        assert len(before) == 2
        failed, answered, cache, ads, interstitial = 0, 0, [], False, False
        started, killed = time.monotonic(), None
        while time.monotonic() - started < WATCH:
            if killed is None and time.monotonic() - started > 8:
                killed = before[0]
                os.kill(killed, signal.SIGKILL)
            try:
                status, headers, text = request(f"{edge}/ssai/news/hi.m3u8")
            except OSError:
                status, headers, text = 0, {}, ""
            if status != 200:
                failed += 1
            answered += 1
            cache.append(headers.get("X-Cache-Status"))
            ads = ads or "/ads/" in text
            if not interstitial:
                try:
                    sgai = request(f"{edge}/sgai/news/hi.m3u8")[2]
                except OSError:
                    sgai = ""
                interstitial = "com.apple.hls.interstitial" in sgai
            time.sleep(0.05)
        outputs = [v.communicate(timeout=60)[0] for v in validators]
        assert all(v.returncode == 0 for v in validators), outputs
        for mode, report in reports.items():
            summary = json.loads(report.read_text())
            assert summary["ok"] and summary["violations"] == 0, (mode, summary)
        assert failed == 0, f"{failed} of {answered} requests through the edge failed"
        assert ads, f"no ad segment seen through the edge (the /cue break ended {cue_end})"
        assert len(workers(state)) == 3, "the killed worker was not replaced"
        assert cache.count("HIT") + cache.count("UPDATING") + cache.count("STALE") > answered / 2
        log = EdgeLog(state / "logs" / "edge-access.log").read()
        assert log.hit_ratio is not None and log.hit_ratio > 0.5, log.statuses
        assert interstitial, "no interstitial seen in the SGAI playlist through the edge"
