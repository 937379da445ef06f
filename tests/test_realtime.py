"""Bounded real-time end-to-end tests: the real origin process on the wall clock.

- `rig validate` (a real subprocess) polls the running origin and reports zero violations.
- ffmpeg itself, as an HLS client, reads a variant across a loop wrap with no timestamp errors.
The small config's 8 s loop and 6-segment window guarantee a loop wrap inside every window.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from origin_emulator.ffmpeg import ffmpeg_executable
from tests.conftest import SMALL_CONFIG

pytestmark = pytest.mark.realtime
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float) -> None:
    """Bounded wait for a started process to answer `url` with 200; fails the test with its
    output."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{url} did not come up: {process.stdout.read() if process.stdout else ''}")
        time.sleep(0.1)


@contextlib.contextmanager
def rig_up(config: Path, state: Path, **env: str):
    """`rig up --headless` as a real process on free ports (one house ad): yields (stitcher URL, its
    environment); stopped with SIGTERM afterwards. The first run conditions the house ad and
    slate."""
    ports = {name: free_port() for name in ("ORIGIN", "ADS", "STITCHER")}
    environment = {
        **os.environ,
        "RIG_STATE_DIR": str(state),
        "RIG_ADS_HOUSE_COUNT": "1",
        **{f"RIG_{k}_PORT": str(v) for k, v in ports.items()},
        **env,
    }
    process = subprocess.Popen(
        [str(BIN / "rig"), "up", "--headless", "--config", str(config)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = f"http://127.0.0.1:{ports['STITCHER']}"
    try:
        wait_for(f"{api}/healthz", process, 240)
        yield api, environment
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def running_origin(tmp_path_factory, small_content):
    """`origin-emulator serve` as a real process on a free loopback port (media already cached)."""
    port = free_port()
    env = {**os.environ, "RIG_STATE_DIR": str(tmp_path_factory.mktemp("rt-state"))}
    process = subprocess.Popen(
        [str(BIN / "origin-emulator"), "serve", "--config", str(SMALL_CONFIG), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/healthz", process, 30)
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_rig_validate_on_the_running_origin(running_origin, tmp_path):
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            str(BIN / "rig"),
            "validate",
            f"{running_origin}/news/master.m3u8",
            "--seconds",
            "10",
            "--viewers",
            "2",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(report.read_text())
    assert summary["ok"] is True
    assert summary["violations"] == 0
    assert summary["playlists_checked"] >= 20 and summary["segments_seen"] >= 10


def test_ffmpeg_reads_across_a_loop_wrap(running_origin, tmp_path):
    ffmpeg = ffmpeg_executable()
    out = tmp_path / "out.ts"
    read = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-live_start_index", "0",
         "-i", f"{running_origin}/news/hi/index.m3u8", "-t", "11",
         "-c", "copy", "-f", "mpegts", "-y", str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr
    assert read.stderr.strip() == "", read.stderr  # no warnings: no timestamp or continuity errors
    listing = subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "warning", "-i", str(out),
         "-c", "copy", "-f", "framecrc", "-"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert listing.stderr.strip() == ""
    last: dict[str, int] = {}
    counts: dict[str, int] = {}
    for line in listing.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        stream, dts = (part.strip() for part in line.split(",")[:2])
        assert int(dts) > last.get(stream, -1), (
            f"stream {stream}: DTS {dts} after {last.get(stream)}"
        )
        last[stream] = int(dts)
        counts[stream] = counts.get(stream, 0) + 1
    assert counts["0"] >= 11 * 25 - 1  # 11 s of 25 fps video, across at least one 8 s loop wrap
    assert counts["1"] >= 11 * 48000 / 1024 - 2


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_two_monitor_processes_create_each_break_once(
    running_origin, tmp_path, small_settings, small_content, backend, request
):
    """Two `stitcher monitor` processes, one KV store, a real origin: every cue becomes one
    break."""
    import asyncio as aio
    import dataclasses

    from rig.channels import emulator_channel
    from stitcher.catalog import Catalog
    from stitcher.clock import SystemClock
    from stitcher.kv import open_kv
    from tests.conftest import stock

    kv_url = (
        f"sqlite://{tmp_path}/kv.db"
        if backend == "sqlite"
        else request.getfixturevalue("redis_server").url_for(3)
    )
    catalog = Catalog(tmp_path / "channels.db")
    channel = dataclasses.replace(
        emulator_channel(small_settings.channels[0], small_content, small_settings),
        origin_url=f"{running_origin}/news/master.m3u8",
    )
    catalog.put_channel(channel)
    stock(catalog, catalog.channel("news"))
    catalog.close()
    env = {**os.environ, "RIG_STATE_DIR": str(tmp_path), "RIG_STITCHER_KV_URL": kv_url}
    monitors = [
        subprocess.Popen([str(BIN / "stitcher"), "monitor", "-v",
                          "--config", str(SMALL_CONFIG), "--interval", "0.5"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    try:
        posted, preroll = [], 4
        for fmt in ("daterange", "scte35"):
            # later if it would overlap a break already there (the channel's schedule, the other
            # one)
            while True:
                request_body = json.dumps(
                    {"duration": 10, "preroll": preroll, "format": fmt}
                ).encode()
                try:
                    with urllib.request.urlopen(
                        urllib.request.Request(
                            f"{running_origin}/control/news/splice",
                            data=request_body,
                            method="POST",
                        ),
                        timeout=5,
                    ) as r:
                        posted.append(json.loads(r.read()))
                        break
                except urllib.error.HTTPError as exc:
                    assert exc.code == 409 and preroll < 60
                    preroll += 6
            preroll += 16
        last_start = max(p["start_msn"] for p in posted)
        deadline = time.monotonic() + preroll + 20

        async def records():
            async with open_kv(kv_url, SystemClock()) as kv:
                return await kv.list("adbreak:news:"), await kv.get("ledger:news")

        wanted = {
            f"adbreak:news:splice-{posted[0]['id']}",
            f"adbreak:news:scte35-{posted[1]['id']}",
        }
        found, ledger = {}, None
        while time.monotonic() < deadline:  # bounded: the breaks happen within ~30 s of real time
            found, ledger = aio.run(records())
            if wanted <= set(found):
                break
            time.sleep(0.5)
        assert wanted <= set(found)  # (a scheduled break of the channel may be there too)
        # each break written once: the ledger counts every record's discontinuities exactly once
        assert ledger["total"] == sum(r["discontinuities"] for r in found.values())
        assert len(ledger["breaks"]) == len([r for r in found.values() if r["discontinuities"]])
        assert all(m.poll() is None for m in monitors), [
            m.stderr.read() for m in monitors if m.poll() is not None
        ]
        assert last_start > 0
    finally:
        for m in monitors:
            m.terminate()
        for m in monitors:
            m.wait(timeout=10)
