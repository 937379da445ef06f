"""The live source on the wall clock: real ffmpeg encoding the small config, served by the origin
app.

One bounded run (about 20 s): the app starts the encoder in its cleanup context; once the first
window is published, a QA splice is posted, the validator watches the master with two viewers
while ffmpeg reads the stream as an HLS client; then the playlists, the PDTs against the wall
clock, the splice's SCTE-35 time against the segment's real PTS, the segments themselves and
the burned-in clock are checked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta

import aiohttp
import pytest

from origin_emulator.app import create_app
from origin_emulator.cli import live_channels
from origin_emulator.content import find_font
from origin_emulator.encoder import live_argv
from origin_emulator.ffmpeg import ffmpeg_executable
from rig.validate import validate
from stitcher.clock import SystemClock
from stitcher.playlist import parse_master_playlist, parse_media_playlist
from stitcher.scte35 import decode
from stitcher.ts import scan

pytestmark = pytest.mark.realtime


async def first_window(session: aiohttp.ClientSession, url: str, seconds: float) -> str:
    """The first media playlist the origin answers with 200 (bounded wait)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            if response.status == 200:
                return await response.text()
        await asyncio.sleep(0.2)
    pytest.fail(f"{url} published no window within {seconds} s")


async def read_as_hls_client(url: str, seconds: float, out) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "warning", "-i", url,
        "-t", f"{seconds:g}", "-c", "copy", "-f", "mpegts", "-y", str(out),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, stderr.decode()


async def test_the_live_origin_in_real_time(
    aiohttp_server, small_settings, small_content, tmp_path
):
    settings = dataclasses.replace(
        small_settings,
        state_dir=tmp_path,
        origin=dataclasses.replace(small_settings.origin, live=True),
        channels=(
            dataclasses.replace(small_settings.channels[0], break_every=0),
        ),  # the QA splice may go anywhere
    )
    channels = live_channels(settings, {"news": small_content})
    channel = channels["news"]
    server = await aiohttp_server(create_app(channels, SystemClock()))
    master_url = str(server.make_url("/news/master.m3u8"))
    hi_url = str(server.make_url("/news/hi/index.m3u8"))
    async with aiohttp.ClientSession() as session:
        await first_window(session, hi_url, 15)  # ≤ 2 s to a boundary, then 3 segments
        async with session.post(
            server.make_url("/control/news/splice"), json={"duration": 4, "preroll": 2}
        ) as response:
            assert response.status == 201, await response.text()
            splice = await response.json()
        watching = asyncio.create_task(
            validate(master_url, seconds=8, viewers=2, clock=SystemClock(), session=session)
        )
        code, errors = await read_as_hls_client(hi_url, 6, tmp_path / "client.ts")
        checker = await watching
        async with session.get(hi_url) as response:
            text, fetched = await response.text(), time.time()
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        async with session.get(master_url) as response:
            master = parse_master_playlist(await response.text())

    summary = checker.summary()
    assert summary["violations"] == 0, [v.line() for v in checker.violations]
    assert summary["playlists_checked"] >= 20 and summary["segments_seen"] >= 6

    # PDT is the wall clock: the newest segment ended less than ~3 s before the fetch
    playlist = parse_media_playlist(text)
    newest = playlist.segments[-1]
    assert (
        0
        <= fetched - (newest.program_date_time + timedelta(seconds=newest.duration)).timestamp()
        < 3
    )
    due = channel.timeline.last_published(
        fetched
    )  # published when the clock has passed its end, as in the loop
    assert playlist.media_sequence + len(playlist.segments) - 1 in (due - 1, due)

    # the splice's SCTE-35 time is the real PTS of its first segment's first frame, in every rung
    out = next(
        t
        for s in playlist.segments
        for t in s.tags
        if t.name == "EXT-X-DATERANGE" and "SCTE35-OUT" in t.value
    )
    event = decode(out.attributes().raw("SCTE35-OUT"))
    assert event.event_id == splice["id"] and event.duration == 4
    for variant in ("hi", "lo"):
        info = scan(channel.segment(variant, splice["start_msn"]))
        assert (
            info.stream("video").first_pts == event.pts == channel.timeline.pts(splice["start_msn"])
        )
        assert info.stream("video").frames == 50  # one closed GOP of exactly one segment
        codecs = next(
            v for v in master.variants if v.uri == f"{variant}/index.m3u8"
        ).attributes.text("CODECS")
        assert codecs == f"{info.codec},mp4a.40.2"  # the master's ladder describes the live stream

    # ffmpeg as a player: 6 s read without a warning, continuous timestamps
    assert code == 0 and errors.strip() == "", errors
    read = scan((tmp_path / "client.ts").read_bytes())
    assert read.stream("video").frames >= 6 * 25 - 1
    assert read.stream("audio").frames >= 6 * 48000 / 1024 - 2

    # the wall clock is burned in (DejaVu is installed here; drawtext expands %{gmtime} per frame)
    argv = live_argv(
        channel.config, settings.media, tmp_path, 1, "ffmpeg", find_font() or "/fonts/x.ttf"
    )
    assert "%{gmtime" in " ".join(argv) and "drawtext" in " ".join(argv)
    assert channel.restarts == 0, channel.last_exit
