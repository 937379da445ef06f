"""The live source without real time: its ffmpeg command, its segment lists and what it publishes.

Everything here runs on data (segment lists and files written by the test) and the fake clock;
the supervisor is driven with stand-in "ffmpeg" scripts. The real encoder on the wall clock is
tests/test_live_origin.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path

import pytest

from origin_emulator.app import create_app
from origin_emulator.book import SpliceBook
from origin_emulator.cli import build_parser
from origin_emulator.encoder import (
    LIVE_FIRST_PTS,
    ListedSegment,
    accept,
    complete,
    expired,
    live_argv,
    live_timeline,
    live_window,
    parse_segment_list,
    run_directory,
)
from origin_emulator.live_source import EncodedChannel, LiveEncoding
from origin_emulator.splices import SCHEDULE_ID_LIMIT
from rig.settings import load_settings
from stitcher.clock import FakeClock
from stitcher.ts import PTS_MODULO

RUNGS = ("hi", "lo")


def write_segments(
    directory: Path, start: int, numbers: range, rungs=RUNGS, last_end: float | None = None
) -> Path:
    """Append `numbers` to run `start`'s lists (as ffmpeg does) and write their files; `last_end`
    gives the last one a short end time (a stopped run's final segment)."""
    run = run_directory(directory, start)
    for rung in rungs:
        (run / rung).mkdir(parents=True, exist_ok=True)
        with open(run / f"{rung}.csv", "a") as handle:
            for n in numbers:
                (run / rung / f"seg_{n}.ts").write_bytes(f"{rung} {n}".encode())
                end = last_end if last_end is not None and n == numbers[-1] else (n + 1) * 2.0
                handle.write(f"seg_{n}.ts,{n * 2.0:.6f},{end:.6f}\n")
    return run


@pytest.fixture
def timeline(small_settings):
    return live_timeline(small_settings.origin.epoch, 2.0, 6)


@pytest.fixture
def encoded_channel(small_settings, small_content, tmp_path):
    def make(
        directory: Path = tmp_path / "live", ffmpeg: str | None = None, **overrides
    ) -> EncodedChannel:
        config = dataclasses.replace(small_settings.channels[0], **overrides)
        return EncodedChannel(config, small_content, small_settings.origin.epoch, 6,
                              SpliceBook(None), media_settings=small_settings.media,
                              directory=directory, ffmpeg=ffmpeg)  # fmt: skip

    return make


# --------------------------------------------------------------------------- the command


def test_live_argv_is_pure_and_complete(small_settings, tmp_path):
    channel, media = small_settings.channels[0], small_settings.media
    argv = live_argv(channel, media, tmp_path, 1234, "ffmpeg", "/fonts/x.ttf")
    assert argv == live_argv(channel, media, tmp_path, 1234, "ffmpeg", "/fonts/x.ttf")
    joined = " ".join(argv)
    assert (
        argv[0] == "ffmpeg" and "-re" not in argv
    )  # the graph is paced by realtime/arealtime filters
    assert "realtime=limit=86400" in joined and "arealtime=limit=86400" in joined
    assert "duration=" not in joined  # never ends
    assert joined.count("-c:v libx264") == 2 and joined.count("-tune zerolatency") == 2
    assert (
        "-force_key_frames expr:eq(mod(n,50),0)" in joined
        and "-g 50 -keyint_min 50 -sc_threshold 0" in joined
    )
    assert (
        joined.count("-output_ts_offset 2468000000us") == 2
    )  # 1234 segments of 2 s: PTS follow the number
    assert joined.count("-segment_start_number 1234") == 2 and joined.count("-segment_time 2 ") == 2
    assert (
        joined.count("-reset_timestamps 0") == 2
        and joined.count("-individual_header_trailer 0") == 2
    )
    run = tmp_path / "run-1234"
    for rung in RUNGS:
        assert str(run / f"{rung}.csv") in argv and str(run / rung / "seg_%d.ts") in argv
    assert "drawtext=fontfile=/fonts/x.ttf:text='NEWS'" in joined
    assert (
        r"%{gmtime\:%Y-%m-%d %H\\\:%M\\\:%S.%1N} UTC" in joined
    )  # the wall clock, drawn per frame
    assert r"seg %{eif\:floor(t/2)+1234\:d}" in joined  # the segment number, from the frame's time
    assert "drawtext" not in " ".join(live_argv(channel, media, tmp_path, 1234, "ffmpeg", None))


def test_a_live_run_never_starts_at_segment_zero(small_settings, tmp_path):
    with pytest.raises(ValueError, match="segment 1 or later"):
        live_argv(small_settings.channels[0], small_settings.media, tmp_path, 0)


def test_the_live_timeline_is_the_clock(timeline, small_settings):
    epoch = small_settings.origin.epoch
    n = 14_428_448
    assert (
        timeline.start(n) == epoch + 2 * n
        and timeline.duration(n) == 2.0
        and timeline.target_duration == 2
    )
    assert timeline.last_published(epoch + 2 * n + 2.5) == n
    assert (
        timeline.pts(n) == (LIVE_FIRST_PTS + n * 180_000) % PTS_MODULO
    )  # what ffmpeg writes (-output_ts_offset)
    assert not timeline.discontinuity(n)


def test_the_live_source_is_a_setting_and_a_flag(tmp_path):
    assert load_settings(env={}).origin.live is False
    assert load_settings(env={"RIG_ORIGIN_LIVE": "1"}).origin.live is True
    assert build_parser().parse_args(["serve", "--live"]).live is True
    assert build_parser().parse_args(["serve"]).live is False


# --------------------------------------------------------------------------- segment lists


def test_parse_segment_list_leaves_a_line_being_written():
    text = 'seg_5.ts,0.000000,12.000000\n"seg 6.ts",12.0,14.0\nnot a row\nseg_7.ts,14.0,1'
    listed, used = parse_segment_list(text)
    assert listed == [ListedSegment("seg_5.ts", 0.0, 12.0), ListedSegment("seg 6.ts", 12.0, 14.0)]
    assert text[used:] == "seg_7.ts,14.0,1"
    assert [s.number for s in listed] == [5, None]
    assert parse_segment_list("") == ([], 0)


@pytest.mark.parametrize(
    "listed, number",
    [
        (
            ListedSegment("seg_5.ts", 0.0, 12.0),
            5,
        ),  # the first line of a run has start 0: only the end counts
        (ListedSegment("seg_5.ts", 10.0, 12.02), 5),  # within half a frame
        (ListedSegment("seg_5.ts", 10.0, 11.52), None),  # the short last segment of a stopped run
        (ListedSegment("seg_6.ts", 10.0, 12.0), None),  # name and time disagree
        (ListedSegment("other.ts", 10.0, 12.0), None),
    ],
)
def test_accept_takes_whole_segments_whose_time_is_their_number(listed, number):
    assert accept(listed, 2.0, 25) == number


def test_a_segment_is_complete_when_every_rung_lists_it():
    assert complete({"hi": {1, 2, 3}, "lo": {2, 3, 4}}, RUNGS) == {2, 3}
    assert complete({"hi": {1, 2}}, RUNGS) == set()


# --------------------------------------------------------------------------- publishing


def test_the_window_grows_to_its_length_then_slides(timeline):
    end = timeline.end
    assert live_window(timeline, [10, 11], end(11)) == range(0)  # fewer than 3 segments: not yet
    assert live_window(timeline, [10, 11, 12], end(12) - 0.01) == range(
        0
    )  # complete, but the clock has not finished 12
    assert live_window(timeline, [10, 11, 12], end(12)) == range(10, 13)
    assert live_window(timeline, list(range(10, 20)), end(19) + 1) == range(14, 20)
    assert live_window(timeline, list(range(10, 20)), end(15) + 1) == range(
        10, 16
    )  # 16.. are not due yet


def test_after_a_restart_the_old_window_stays_until_the_new_run_holds_three(timeline):
    end = timeline.end
    segments = [*range(10, 20), 22, 23]
    assert live_window(timeline, segments, end(23)) == range(14, 20)  # frozen: 19 ended 8 s ago
    assert live_window(timeline, segments, end(23) + 4.5) == range(
        0
    )  # stale after a window's duration (12 s)
    assert live_window(timeline, [*segments, 24], end(24)) == range(
        22, 25
    )  # MEDIA-SEQUENCE jumps forward
    assert live_window(timeline, [*segments, 24], end(23)) == range(14, 20)  # 24 is not due yet


def test_a_segment_expires_with_its_availability(timeline):
    n = 100
    gone = timeline.end(n + 6) + 2.0 + timeline.window_seconds
    assert timeline.available(n, gone) and not expired(timeline, n, gone, 4.0)
    assert not expired(timeline, n, gone + 4.0, 4.0) and expired(timeline, n, gone + 4.01, 4.0)


# --------------------------------------------------------------------------- the lists on disk


def test_segments_are_published_once_closed_in_every_rung(tmp_path, timeline):
    encoding = LiveEncoding(tmp_path, RUNGS, timeline, 25)
    run = encoding.begin(100)
    write_segments(tmp_path, 100, range(100, 103))
    encoding.refresh(timeline.end(102), 4.0)
    assert encoding.numbers == [
        100,
        101,
    ]  # 102 is listed but its successor is not open: it may still be written
    (run / "hi" / "seg_103.ts").write_bytes(b"")
    encoding.refresh(timeline.end(102), 4.0)
    assert encoding.numbers == [100, 101]  # ... in every rung
    (run / "lo" / "seg_103.ts").write_bytes(b"")
    encoding.refresh(timeline.end(102), 4.0)
    assert encoding.numbers == [100, 101, 102] and encoding.newest(100) == 102
    assert encoding.path("lo", 101).read_bytes() == b"lo 101" and encoding.path("lo", 99) is None
    assert encoding.window(timeline.end(102)) == range(100, 103)


def test_a_list_line_is_read_once_it_is_whole(tmp_path, timeline):
    encoding = LiveEncoding(tmp_path, RUNGS, timeline, 25)
    encoding.begin(100)
    write_segments(tmp_path, 100, range(100, 102))
    for rung in RUNGS:
        with open(run_directory(tmp_path, 100) / f"{rung}.csv", "a") as handle:
            handle.write("seg_102.ts,204.0,2")
    encoding.refresh(timeline.end(102), 4.0)
    assert encoding.numbers == [100] and encoding.runs[100].listed == {
        "hi": {100, 101},
        "lo": {100, 101},
    }
    for rung in RUNGS:
        (run_directory(tmp_path, 100) / rung / "seg_102.ts").write_bytes(b"")
        with open(run_directory(tmp_path, 100) / f"{rung}.csv", "a") as handle:
            handle.write("06.000000\n")
    encoding.refresh(timeline.end(102), 4.0)
    assert encoding.numbers == [100, 101]
    encoding.finish(100)
    assert encoding.numbers == [100, 101, 102]  # a finished run's listed segments are all closed


def test_a_stopped_runs_short_segment_is_never_published_and_old_files_go(tmp_path, timeline):
    old = write_segments(tmp_path, 100, range(100, 106), last_end=211.04)
    encoding = LiveEncoding(tmp_path, RUNGS, timeline, 25)  # a run left by an earlier emulator
    encoding.refresh(timeline.end(104), 4.0)
    assert encoding.numbers == [100, 101, 102, 103, 104]
    encoding.begin(110)
    write_segments(tmp_path, 110, range(110, 114))
    encoding.finish(110)
    gone_100 = timeline.end(106) + 2.0 + timeline.window_seconds + 4.0
    encoding.refresh(gone_100 + 0.01, 4.0)
    assert encoding.numbers == [101, 102, 103, 104, 110, 111, 112, 113]
    assert not (old / "hi" / "seg_100.ts").exists() and (old / "hi" / "seg_101.ts").exists()
    encoding.refresh(timeline.end(110) + 2.0 + timeline.window_seconds + 4.01, 4.0)
    assert encoding.numbers == [110, 111, 112, 113]
    assert not old.exists()  # the whole earlier run, its short last segment included
    assert LiveEncoding(tmp_path, RUNGS, timeline, 25).runs.keys() == {110}


# --------------------------------------------------------------------------- the channel


def test_the_live_playlist_is_the_looped_one_with_the_encoders_segments(
    encoded_channel, make_channel, clock, tmp_path
):
    now = clock.now()
    live = encoded_channel(
        break_offset=86_400 - 10, break_every=3600
    )  # a scheduled break in the window
    last = live.timeline.last_published(now)
    write_segments(
        tmp_path / "live", 43_000, range(last - 20, last + 2)
    )  # 1 ahead: complete, not yet due
    live.encoding.refresh(now, 4.0)
    loop = make_channel(break_offset=86_400 - 10, break_every=3600)
    mine, theirs = live.media("hi", now), loop.media("hi", now)
    assert mine.media_sequence == theirs.media_sequence == last - 5 and mine.target_duration == 2
    assert [(s.uri, s.duration, s.program_date_time) for s in mine.segments] == [
        (s.uri, s.duration, s.program_date_time) for s in theirs.segments
    ]
    tags = [
        (n, t.name, t.attributes().raw("ID"), t.attributes().raw("START-DATE"))
        for n, s in enumerate(mine.segments)
        for t in s.tags
    ]
    assert tags and tags == [
        (n, t.name, t.attributes().raw("ID"), t.attributes().raw("START-DATE"))
        for n, s in enumerate(theirs.segments)
        for t in s.tags
    ]
    (splice,) = [s for s in live.splices(now) if s.event_id < SCHEDULE_ID_LIMIT]
    assert (
        live.timeline.pts(splice.start) == (LIVE_FIRST_PTS + splice.start * 180_000) % PTS_MODULO
    )  # the live segment's real PTS
    assert live.master().render() == loop.master().render()
    assert live.status(now)["source"] == "live" and live.status(now)["last_published"] == last


def test_live_segments_are_served_while_available(encoded_channel, clock, tmp_path):
    from stitcher.errors import NotFound

    now = clock.now()
    live = encoded_channel()
    last = live.timeline.last_published(now)
    write_segments(tmp_path / "live", 43_000, range(last - 20, last + 1))
    live.encoding.refresh(now, 4.0)
    live.check_segment("lo", last - 10, now)  # left the window, still available (R12)
    assert live.segment("lo", last) == f"lo {last}".encode()
    for variant, n in (("hi", last - 30), ("hi", last + 1), ("xx", last)):
        with pytest.raises(NotFound):
            live.check_segment(variant, n, now)
    (tmp_path / "live" / "run-43000" / "hi" / f"seg_{last}.ts").unlink()
    with pytest.raises(NotFound):
        live.segment("hi", last)


def test_a_live_channel_publishes_nothing_before_its_encoder_has(encoded_channel, clock):
    from stitcher.errors import NotFound

    live = encoded_channel()
    with pytest.raises(NotFound, match="no published segment"):
        live.media("hi", clock.now())
    assert (
        live.splices(clock.now()) is not None
    )  # and listing splices does not walk back to the epoch


# --------------------------------------------------------------------------- the supervisor


def stand_in(tmp_path: Path, body: str) -> str:
    """An executable that plays ffmpeg: it records its pid, then runs `body` (sh)."""
    script = tmp_path / "ffmpeg"
    script.write_text(f'#!/bin/sh\necho $$ >> "{tmp_path}/pids"\n{body}\n')
    script.chmod(0o755)
    return str(script)


async def drive(clock: FakeClock, until, seconds: float = 10.0, step: float = 0.05) -> None:
    """Advance the fake clock in steps, letting tasks and children run, until `until()` (bounded in
    real time)."""
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "the condition did not come true"
        clock.advance(step)
        await asyncio.sleep(0.005)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_an_encoder_that_exits_is_restarted_on_a_boundary(encoded_channel, clock, tmp_path):
    live = encoded_channel(ffmpeg=stand_in(tmp_path, "exit 3"))
    stop = asyncio.Event()
    job = asyncio.ensure_future(live.background(clock, stop))
    await drive(clock, lambda: live.restarts >= 2)
    assert live.last_exit == "exited with code 3"
    runs = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "live").iterdir())
    assert len(runs) >= 2 and runs[1] > runs[0]  # each run starts at a later boundary
    stop.set()
    await asyncio.wait_for(job, 5)


async def test_a_stalled_encoder_is_restarted_and_the_app_stops_it(
    encoded_channel, clock, tmp_path, aiohttp_server
):
    live = encoded_channel(ffmpeg=stand_in(tmp_path, "exec sleep 60"))
    server = await aiohttp_server(create_app({"news": live}, clock))
    pids = tmp_path / "pids"
    await drive(clock, lambda: live.restarts >= 1, seconds=15)
    assert live.last_exit.startswith("fell ") and "behind the clock" in live.last_exit
    first = int(pids.read_text().split()[0])
    assert not alive(first)  # stopped before the next run
    await drive(clock, lambda: len(pids.read_text().split()) >= 2, seconds=15)
    second = int(pids.read_text().split()[1])
    await asyncio.sleep(0.1)
    assert alive(second)
    await server.close()  # cleanup_ctx: the encoder is stopped with the app
    assert not alive(second)
