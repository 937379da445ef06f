"""`rig inspect splices`: the audio and continuity counters at splices, measured from real segment
bytes.

The pure core on real TS bytes: content segments served by the origin emulator's channel (the
rendered loop with its clocks and counters rewritten) and the first segments of ads conditioned by
real ffmpeg (tests/test_ads.py's way, into the shared media cache, so later runs reuse them); broken
cases made with `stitcher.ts.rewrite`. Then the polling shell on a fake clock against the
whole stitcher stack on loopback (tests/stitcher_stack.py), the stand-in ad segments replaced by the
conditioned ones: a /cue break, and the inspector must see the splice in, the change of ad and the
return, each measured as `bridge` measures the same bytes. Last, the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from rig.cli import build_parser
from rig.inspect import (
    Boundary,
    BoundaryTracker,
    continuity_problems,
    execute,
    follow,
    measure,
    table_row,
)
from stitcher.kv import open_kv
from stitcher.playlist import MediaPlaylist, Segment, segment_kind
from stitcher.ts import PAT_PID, av_timing, bridge, rewrite, scan
from tests.driving import drive
from tests.stitcher_stack import ADS, conditioned_ads

BIN = Path(sys.executable).parent
FRAME = 1920  # one AAC frame at 48 kHz, 90 kHz ticks


@pytest.fixture(scope="module")
def conditioned(small_settings, small_content):
    """The stack's ads (house-1 4 s, house-2 6 s, the slate 10 s) conditioned for the small ladder
    by
    real ffmpeg (cached in the media cache after the first run): ad id -> renditions."""
    return conditioned_ads(
        small_settings, small_content, dict(ADS), preset=small_settings.media.preset
    )


@pytest.fixture(scope="module")
def ads(small_settings, conditioned) -> dict[str, dict[str, list[Path]]]:
    """Ad id -> rung -> segment files of the conditioned ads."""
    cache = small_settings.media.cache_dir
    return {
        ad_id: {
            r.rendition: [
                cache / r.path.lstrip("/").rsplit("/", 1)[0] / f"seg_{k:05d}.ts"
                for k in range(r.segments)
            ]
            for r in renditions
        }
        for ad_id, renditions in conditioned.items()
    }


@pytest.fixture
def content(make_channel):
    """The live channel whose served segments the pure tests read (`content.segment(variant,
    n)`)."""
    return make_channel(break_every=0)


# --------------------------------------------------------------------------- the pure core


@pytest.mark.parametrize("n", [40_000, 40_003], ids=["inside-the-loop", "across-the-loop-wrap"])
def test_consecutive_content_segments_are_continuous(content, n):
    report = measure(content.segment("hi", n), content.segment("hi", n + 1), False)
    assert report.error is None and report.bridge == 0
    assert report.ok and report.cc_ok and report.cc_problems == () and report.passed
    assert report.audio_frame == FRAME
    assert report.before.end_offset == av_timing(scan(content.segment("hi", n))).end_offset


def test_content_then_an_ads_first_segment_is_measured_against_each_picture(content, ads):
    before = content.segment("hi", 40_001)
    after = ads["house-1"]["hi"][0].read_bytes()
    report = measure(before, after, True)
    a, b = av_timing(scan(before)), av_timing(scan(after))
    assert report.error is None
    assert report.bridge == bridge(a, b, True) == b.start_offset - a.end_offset
    assert (report.before.end_offset, report.after.start_offset) == (a.end_offset, b.start_offset)
    assert report.ok == (abs(report.bridge) <= FRAME)
    assert report.cc_problems == continuity_problems(scan(before), scan(after))
    # across a discontinuity the timelines are unrelated: moving one changes nothing
    assert measure(before, rewrite(after, 123_456_789, {}), True).bridge == report.bridge
    named = measure(
        before,
        after,
        True,
        Boundary(
            True,
            40_002,
            "http://origin.test/news/hi/seg_40001.ts",
            "http://media.test/ads/house-1/x/hi/seg_00000.ts",
            0,
            1,
        ),
    )
    assert named.bridge == report.bridge and named.to_json()["msn"] == 40_002
    row = table_row(named)
    assert row.split()[:4] == ["40002", "0->1", "seg_40001.ts", "house-1/seg_00000.ts"]


@pytest.mark.parametrize("shift, kind", [(3 * FRAME, "hole"), (-3 * FRAME, "overlap")])
def test_a_shifted_segment_is_a_hole_or_an_overlap_over_one_frame(content, shift, kind):
    before, after = content.segment("hi", 40_001), content.segment("hi", 40_002)
    report = measure(before, rewrite(after, shift, {}), False)  # counters untouched
    assert report.bridge == shift and not report.ok and report.cc_ok and not report.passed
    assert report.to_json()["bridge_kind"] == kind and report.to_json()[
        "bridge_ms"
    ] == pytest.approx(shift / 90, abs=0.05)
    assert measure(before, rewrite(after, FRAME, {}), False).ok  # exactly one frame is still fine


def test_continuity_counters_that_do_not_chain_are_reported_per_pid(content, ads):
    before, after = content.segment("hi", 40_001), content.segment("hi", 40_002)
    last = scan(before).last_cc
    assert PAT_PID not in scan(after).flagged
    broken = rewrite(after, 0, {PAT_PID: last[PAT_PID]})  # the PAT repeats its counter
    report = measure(before, broken, False)
    assert [p.text() for p in report.cc_problems] == [
        f"PAT 0x0000 cc {last[PAT_PID]}->{last[PAT_PID]}"
    ]
    assert not report.cc_ok and not report.passed and report.ok  # the audio is judged apart
    assert f"PAT 0x0000 cc {last[PAT_PID]}->{last[PAT_PID]}" in table_row(report)
    # an ad's second segment after content: each PID that neither chains nor is flagged, by name
    second = ads["house-1"]["hi"][1].read_bytes()
    tail, head = scan(before), scan(second)
    expected = {
        pid
        for pid in tail.last_cc.keys() & head.first_cc.keys()
        if pid not in head.flagged and head.first_cc[pid] != (tail.last_cc[pid] + 1) % 16
    }
    problems = measure(before, second, True).cc_problems
    assert expected and {p.pid for p in problems} == expected
    assert {p.name for p in problems} <= {"PAT", "PSI", "SDT", "video", "audio"} and {
        p.name for p in problems if p.pid == 0x100
    } <= {"video"}
    chained = rewrite(second, 0, {pid: (cc + 1) % 16 for pid, cc in tail.last_cc.items()})
    assert measure(before, chained, True).cc_problems == ()
    # a PID whose first packet sets the discontinuity_indicator may start anywhere
    first = scan(ads["house-1"]["hi"][0].read_bytes())
    assert not {p.pid for p in continuity_problems(tail, first)} & first.flagged


def test_bytes_that_are_not_a_stream_are_an_error_not_a_crash(content):
    report = measure(b"not a transport stream", content.segment("hi", 1), True)
    assert report.error and not report.ok and not report.passed
    assert "error:" in table_row(report)


def _playlist(
    first: int, uris: dict[int, str], discontinuities: set[int], dsn: int = 0
) -> MediaPlaylist:
    segments = tuple(
        Segment(uris.get(m, f"seg_{m}.ts"), 2.0, "2.000", discontinuity=int(m in discontinuities))
        for m in range(first, first + 6)
    )
    return MediaPlaylist(2, segments, media_sequence=first, discontinuity_sequence=dsn)


def test_the_tracker_gives_each_boundary_once_keyed_by_msn():
    tracker = BoundaryTracker()
    base = "http://stitcher.test/ssai/news/hi.m3u8"
    ad = {
        13: "http://ads.test/ads/house-1/x/hi/seg_00000.ts",
        14: "http://ads.test/ads/house-1/x/hi/seg_00001.ts",
    }
    assert tracker.update(_playlist(10, ad, {13}), base) == [
        Boundary(True, 13, "http://stitcher.test/ssai/news/seg_12.ts", ad[13], 0, 1)
    ]
    assert tracker.update(_playlist(10, ad, {13}), base) == []  # the same reload again
    assert tracker.update(_playlist(11, ad, {13, 16}), base) == [
        Boundary(
            True,
            16,
            "http://stitcher.test/ssai/news/seg_15.ts",
            "http://stitcher.test/ssai/news/seg_16.ts",
            1,
            2,
        )
    ]
    # the window moved on by a whole window: the boundary to its first segment is still known
    found = tracker.update(_playlist(17, {}, {17}, dsn=2), base)  # 16 was the last one seen
    assert [(b.msn, b.before_uri.rsplit("/", 1)[1], b.before_dsn, b.after_dsn) for b in found] == [
        (17, "seg_16.ts", 2, 3)
    ]
    assert tracker.missed == []
    tracker.update(_playlist(30, {}, {31}, dsn=3), base)
    assert tracker.missed == [(23, 30)]
    every = BoundaryTracker(every=True)
    assert [(b.msn, b.discontinuity) for b in every.update(_playlist(10, {}, {13}), base)] == [
        (11, False),
        (12, False),
        (13, True),
        (14, False),
        (15, False),
    ]


# --------------------------------------------------------------------------- the shell on the
# stitcher stack


@pytest.fixture
async def spliced(stitcher_stacks, clock, tmp_path, conditioned):
    """The stitcher stack on the fake clock (SQLite KV) serving real conditioned ad segments."""
    kv = open_kv(f"sqlite:///{tmp_path}/kv.db", clock)
    await kv.start()
    try:
        yield await stitcher_stacks(kv, ads=conditioned)
    finally:
        await kv.close()


async def _inspect(stack, clock, *argv: str) -> tuple[int, str, str]:
    """`rig inspect splices <ssai master> argv` on the fake clock after a 10 s /cue break; (status,
    out, err)."""
    assert (await stack.client.post("/v1/channels/news/cue", json={"duration": 10})).status == 201
    url = str(stack.client.make_url("/ssai/news/master.m3u8"))
    args = build_parser().parse_args(["inspect", "splices", url, "--seconds", "120", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = await drive(
        clock, execute(args, clock, stack.session, out=out, err=err), sleepers=clock.sleepers + 1
    )
    return status, out.getvalue(), err.getvalue()


async def test_the_inspector_finds_the_splices_of_a_break_and_measures_their_bytes(spliced, clock):
    start = clock.now()
    status, out, err = await _inspect(spliced, clock, "--json", "--splices", "3")
    assert err == ""
    *lines, last = [json.loads(line) for line in out.splitlines()]
    assert clock.now() - start < 60
    assert [line["type"] for line in lines] == ["boundary"] * 3 and last["type"] == "summary"
    kinds = [
        (
            segment_kind(line["before_uri"])[1] or "content",
            segment_kind(line["after_uri"])[1] or "content",
        )
        for line in lines
    ]
    first, second = (
        kinds[0][1],
        kinds[1][1],
    )  # the pod of a 10 s break: both house ads, in the decision's order
    assert {first, second} == {"house-1", "house-2"} and kinds == [
        ("content", first),
        (first, second),
        (second, "content"),
    ]
    seconds = dict(ADS)
    assert (
        lines[1]["msn"] - lines[0]["msn"] == seconds[first] / 2
    )  # the first ad whole, in 2 s segments
    played = lines[2]["msn"] - lines[1]["msn"]  # then the second, as much as the break leaves
    assert 1 <= played <= seconds[second] / 2 and lines[2]["before_uri"].endswith(
        f"/seg_{played - 1:05d}.ts"
    )
    assert [(line["dsn_after"] - line["dsn_before"]) for line in lines] == [1, 1, 1] and all(
        line["discontinuity"] for line in lines
    )
    async with aiohttp.ClientSession() as session:
        for line in lines:  # the same bytes, measured apart: the same numbers
            before = scan(await (await session.get(line["before_uri"])).read())
            after = scan(await (await session.get(line["after_uri"])).read())
            a, b = av_timing(before), av_timing(after)
            assert line["bridge_ticks"] == bridge(a, b, True)
            assert line["before_end_offset_ms"] == round(a.end_offset / 90, 1) and line[
                "after_start_offset_ms"
            ] == round(b.start_offset / 90, 1)
            assert (
                line["ok"] == (abs(line["bridge_ticks"]) <= FRAME)
                and line["audio_frame_ms"] == 21.3
            )
            assert line["cc_problems"] == [p.text() for p in continuity_problems(before, after)]
            assert line["cc_ok"] == (not line["cc_problems"]) and line["error"] is None
    passed = all(line["ok"] and line["cc_ok"] for line in lines)
    assert last["boundaries"] == 3 and last["discontinuities"] == 3 and last["ok"] == passed
    assert (
        last["over_one_frame"] == sum(not line["ok"] for line in lines)
        and last["missed_msns"] == []
    )
    assert status == (0 if passed else 1)


async def test_the_table_shows_one_row_per_splice_and_a_summary(spliced, clock):
    status, out, _ = await _inspect(spliced, clock, "--splices", "3", "--variant", "lo")
    header, *rows, summary = out.splitlines()
    assert header.split()[:4] == ["MSN", "DSN", "BEFORE", "AFTER"] and len(rows) == 3
    ads = [row.split()[3].split("/")[0] for row in rows[:2]]
    assert sorted(ads) == ["house-1", "house-2"] and rows[2].split()[2].startswith(
        f"{ads[1]}/seg_0000"
    )
    assert (
        summary.startswith("rig inspect: 3 boundaries (3 discontinuities)")
        and "/ssai/news/lo.m3u8" in summary
    )
    assert summary.endswith("; OK" if status == 0 else "; FAILED")
    print(out)  # the example in the report (pytest -s)


async def test_every_boundary_with_all_and_variant_by_index(spliced, clock):
    url = str(spliced.client.make_url("/ssai/news/master.m3u8"))
    summary = await drive(
        clock,
        follow(url, clock=clock, session=spliced.session, seconds=6, variant="1", every=True),
        sleepers=clock.sleepers + 1,
    )
    assert summary.media_url.endswith("/ssai/news/lo.m3u8")
    msns = [r.boundary.msn for r in summary.reports]
    assert len(msns) >= 7 and msns == list(
        range(msns[0], msns[0] + len(msns))
    )  # every boundary once, in order
    assert all(
        not r.boundary.discontinuity and r.bridge == 0 and r.cc_ok for r in summary.reports
    )  # the origin's content: one timeline
    assert summary.exit_code == 0


# --------------------------------------------------------------------------- the command line


def test_help_says_what_is_measured_and_the_exit_codes():
    result = subprocess.run(
        [str(BIN / "rig"), "inspect", "splices", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: rig inspect splices")
    for words in (
        "EXT-X-DISCONTINUITY",
        "hole",
        "overlap",
        "one AAC frame",
        "continuity counters",
        "--json",
        "--all",
        "exit status",
        "  2  ",
    ):
        assert words in result.stdout
    assert (
        subprocess.run(
            [str(BIN / "rig"), "inspect", "--help"], capture_output=True, text=True, timeout=30
        ).returncode
        == 0
    )


def test_an_unreachable_origin_is_exit_2_with_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = subprocess.run(
        [
            str(BIN / "rig"),
            "inspect",
            "splices",
            f"http://127.0.0.1:{port}/news/master.m3u8",
            "--seconds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(
        f"rig inspect: GET http://127.0.0.1:{port}/news/master.m3u8 failed"
    )


@pytest.mark.parametrize(
    "path, message",
    [
        ("/page", "is not an HLS playlist"),
        ("/missing", "returned HTTP 404"),
        ("/master.m3u8", "no variant 'sd'"),
    ],
)
async def test_a_url_that_is_not_a_stream_is_exit_2_with_one_line(
    aiohttp_server, clock, path, message
):
    async def page(request):
        return web.Response(text="<html>hello</html>")

    async def master(request):
        return web.Response(text="#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhi.m3u8\n")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/master.m3u8", master)
    server = await aiohttp_server(app)
    args = build_parser().parse_args(
        ["inspect", "splices", str(server.make_url(path)), "--variant", "sd"]
    )
    out, err = io.StringIO(), io.StringIO()
    assert await execute(args, clock, out=out, err=err) == 2
    assert (
        out.getvalue() == "" and len(err.getvalue().splitlines()) == 1 and message in err.getvalue()
    )


def test_bad_options_are_exit_2():
    args = argparse.Namespace(
        url="http://127.0.0.1:1/x.m3u8",
        seconds=0.0,
        splices=None,
        variant=None,
        every=False,
        json=False,
    )
    err = io.StringIO()
    assert (
        asyncio.run(execute(args, None, out=io.StringIO(), err=err)) == 2
        and "--seconds" in err.getvalue()
    )
