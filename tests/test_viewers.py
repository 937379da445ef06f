"""Simulated viewers (rig.viewers, rig.viewers_cli) against the real stitcher stack on loopback.

The stack (tests/stitcher_stack.py) is the origin emulator, the media server (ad segment files
written below, so viewers really download them), the KV ledger, the SCTE-35 monitor and the
stitcher app, all on one FakeClock. A director task polls the monitor every second and plays a
script (cues through the /cue API, SCTE-35 splices at the origin, the origin going away, viewers
added and removed). The clock moves only while every viewer, the fleet, the director and the
stack's own background tasks (the KV sweeper) wait on it: `idle(clock, n)` counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from rig.playhead import Playhead, _Piece, variant_name
from rig.viewers import Fleet
from rig.viewers_cli import add_arguments, add_parser, execute, run
from stitcher.clock import FakeClock
from stitcher.playlist import segment_kind
from tests.driving import drive
from tests.stitcher_stack import Stack

T = TypeVar("T")
Script = dict[float, Callable[[], Awaitable[Any]]]


@pytest.fixture
def kv_url(tmp_path) -> str:
    """SQLite only: the viewers do not depend on the KV backend (both are covered by the stitcher
    tests)."""
    return f"sqlite://{tmp_path}/kv.db"


@pytest.fixture
async def stack(stack, tmp_path):
    """The shared stack (tests/conftest.py), with the ad segment files written."""
    for playlist in (tmp_path / "media" / "ads").rglob("index.m3u8"):  # the ad segments themselves
        for line in playlist.read_text().splitlines():
            if line.endswith(".ts"):
                (playlist.parent / line).write_bytes(b"\x47" + bytes(187))
    return stack


def idle(clock: FakeClock, tasks: int) -> int:
    """Sleepers on the clock when `tasks` tasks of the test and the stack's background tasks all
    wait."""
    return clock.sleepers + tasks


def url(stack: Stack, path: str) -> str:
    return str(stack.client.make_url(path))


async def director(stack: Stack, clock: FakeClock, done: asyncio.Event, script: Script) -> None:
    """Every second: run the script's due actions, then one monitor poll (while the origin
    answers)."""
    start = clock.now()
    origin_up = True
    while await clock.sleep(1.0, done):
        for at in sorted(script):
            if clock.now() - start >= at:
                result = await script.pop(at)()
                origin_up = origin_up and result != "origin down"
        if origin_up:
            await stack.monitor.poll(stack.channel)


async def with_director(
    stack: Stack, clock: FakeClock, script: Script, work: Coroutine[Any, Any, T]
) -> T:
    done = asyncio.Event()
    task = asyncio.create_task(director(stack, clock, done, script))
    try:
        return await work
    finally:
        done.set()
        await task


def cue(stack: Stack, duration: float) -> Callable[[], Awaitable[Any]]:
    async def post() -> None:
        response = await stack.client.post("/v1/channels/news/cue", json={"duration": duration})
        assert response.status == 201, await response.text()

    return post


def splice(
    stack: Stack, clock: FakeClock, duration: float, fmt: str
) -> Callable[[], Awaitable[Any]]:
    async def post() -> None:
        stack.origin.post_splice(clock.now(), duration, 8, fmt, None)

    return post


def problems(report: dict) -> list:
    return [
        (v["id"], v["stalls"], v["violations_by_rule"], v["last_error"]) for v in report["viewers"]
    ] + report["examples"][:5]


# --------------------------------------------------------------------------- the fleet on the
# stitcher


async def test_ssai_viewers_see_every_break_without_stalls_or_violations(stack, clock):
    """Three minutes, three breaks (two /cue, one SCTE-35 splice at the origin), five viewers
    joining
    over ten seconds and a sixth joining while the first break is in its window."""
    fleet = Fleet(
        stack.session,
        clock,
        url(stack, "/ssai/news/master.m3u8"),
        6,
        join_spread=10,
        join_after=[None] * 5 + [28],
        seed=3,
    )
    script: Script = {
        20: cue(stack, 10),
        70: splice(stack, clock, 12, "cue-out"),
        130: cue(stack, 10),
    }
    report = await drive(
        clock, with_director(stack, clock, script, fleet.run(asyncio.Event(), 180)), idle(clock, 8)
    )
    totals = report["totals"]
    assert report["ok"] and totals["stalls"] == 0 and totals["violations"] == 0, problems(report)
    assert totals["fetch_errors"] == 0 and totals["segments_skipped"] == 0, problems(report)
    for viewer in report["viewers"][:5]:
        assert len(viewer["breaks"]) == 3, viewer["breaks"]
        for item in viewer["breaks"]:
            assert sorted(item["ads"]) == ["house-1", "house-2"] and item["ad_seconds"] >= 6, (
                viewer["breaks"]
            )
        assert viewer["playlists_fetched"] > 80 and viewer["segments_fetched"] > 80
    firsts = {tuple(v["breaks"][0]["ads"]) for v in report["viewers"][:5]}
    assert len(firsts) == 1  # every viewer saw the same pod in the same order
    late = report["viewers"][5]
    assert (
        late["first_segment"] == "ad"
        and late["breaks"][0]["joined_inside"]
        and late["breaks"][0]["ads"]
    )
    assert late["first_playlist_in_break"] is True and late["joined_at"] == pytest.approx(
        clock.now() - 180 + 28, abs=1.5
    )
    assert report["late_joiners"] and report["late_joiners"][-1] == {
        "viewer": "viewer-5",
        "joined_at": late["joined_at"],
        "first_segment": late["first_segment"],
        "stalls": 0,
        "violations": 0,
        "ok": True,
    }
    assert totals["late_joiners_ok"] == totals["late_joiners"] >= 1
    assert totals["ads_seen"]["house-1"] >= 5 and totals["ads_seen"]["house-2"] >= 5
    json.dumps(report)  # JSON-ready


async def test_sgai_viewers_record_the_interstitial(stack, clock):
    fleet = Fleet(
        stack.session, clock, url(stack, "/sgai/news/master.m3u8"), 2, variant="lowest", head=True
    )
    script: Script = {10: cue(stack, 14)}
    report = await drive(
        clock, with_director(stack, clock, script, fleet.run(asyncio.Event(), 60)), idle(clock, 4)
    )
    assert report["ok"], problems(report)
    assert len(report["interstitials"]) == 1
    item = report["interstitials"][0]
    assert 10 <= item["duration"] <= 14 and item["start_date"].startswith("20")
    for viewer in report["viewers"]:
        assert (
            viewer["variant"] == "lo" and viewer["breaks"] == []
        )  # SGAI leaves the segments alone
        assert [i["id"] for i in viewer["interstitials"]] == [item["id"]]
        assert viewer["interstitials"][0]["reached_at"] is not None


async def test_a_failed_segment_fetch_is_counted_and_retried_at_the_next_reload(
    stack, clock, tmp_path
):
    """The ad segments vanish from the media server for three seconds while the break is fetched:
    the
    errors are counted, the segments fetched at a later reload, and the buffer carries the
    playhead."""
    ads, hidden = tmp_path / "media" / "ads", tmp_path / "hidden"

    async def hide() -> None:
        ads.rename(hidden)

    async def restore() -> None:
        hidden.rename(ads)

    fleet = Fleet(stack.session, clock, url(stack, "/ssai/news/master.m3u8"), 3, seed=1)
    script: Script = {10: cue(stack, 10), 17: hide, 20: restore}
    report = await drive(
        clock, with_director(stack, clock, script, fleet.run(asyncio.Event(), 50)), idle(clock, 5)
    )
    totals = report["totals"]
    assert (
        totals["fetch_errors"] >= 3 and totals["stalls"] == 0 and totals["segments_skipped"] == 0
    ), problems(report)
    for viewer in report["viewers"]:
        assert "HTTP 404" in viewer["last_error"] and "/ads/" in viewer["last_error"]
        assert [sorted(b["ads"]) for b in viewer["breaks"]] == [["house-1", "house-2"]]


async def test_origin_gone_makes_viewers_stall_and_the_command_fail(stack, clock, tmp_path):
    """The CLI's engine on the fake clock: the origin server closes at 30 s; viewers drain their
    buffer and stall; the report says so and the exit status is 1."""
    report_file = tmp_path / "report.json"
    args = parse(
        url(stack, "/ssai/news/master.m3u8"),
        "-n",
        "3",
        "--seconds",
        "60",
        "--json",
        str(report_file),
        "--progress",
        "10",
    )
    out = Capture()

    async def close_origin() -> str:
        await stack.origin_server.close()
        return "origin down"

    sleepers = idle(clock, 6)  # 3 viewers, the fleet, progress lines, the director
    code = await drive(
        clock,
        with_director(
            stack, clock, {30: close_origin}, execute(args, clock, stack.session, out=out)
        ),
        sleepers,
    )
    assert code == 1
    report = json.loads(report_file.read_text())
    assert (
        not report["ok"]
        and report["totals"]["stalls"] == 3
        and report["totals"]["stall_seconds"] > 60
    )
    for viewer in report["viewers"]:
        assert (
            viewer["stalls"][-1]["ongoing"]
            and viewer["fetch_errors"] > 0
            and "502" in viewer["last_error"]
        )
        assert (
            viewer["stalls"][0]["start"] - clock.now() > -30 + 2
        )  # after the buffer ran out, not at once
    progress = [line for line in out.lines if line.startswith("t=")]
    assert len(progress) >= 5 and "stalled=3" in progress[-1] and "content=3" in progress[0]
    assert "result: FAILED" in out.text


async def test_viewers_added_and_removed_while_running(stack, clock):
    fleet = Fleet(
        stack.session, clock, url(stack, "/passthrough/news/master.m3u8"), 2, variant="hi"
    )
    seen: dict[str, Any] = {}

    async def add() -> None:
        seen["added"] = fleet.add(2, after=1)

    async def remove() -> None:
        seen["before"] = [s.state for s in fleet.snapshot()]
        seen["removed"] = fleet.remove(1)
        seen["after"] = [s.id for s in fleet.snapshot()]

    script: Script = {10: add, 30: remove}
    work = with_director(stack, clock, script, fleet.run(asyncio.Event(), 50))
    base = idle(clock, 2)  # the fleet and the director
    report = await drive_moving(clock, work, lambda: base + fleet.running)
    assert seen["added"] == ["viewer-2", "viewer-3"] and seen["removed"] == ["viewer-3"]
    assert seen["before"] == ["content"] * 4 and seen["after"] == [
        "viewer-0",
        "viewer-1",
        "viewer-2",
    ]
    assert (
        report["ok"] and report["totals"]["viewers"] == 4 and report["totals"]["watching"] == 3
    ), problems(report)
    gone = report["viewers"][3]
    assert gone["left_at"] is not None and gone["left_at"] - gone["joined_at"] == pytest.approx(
        19, abs=1
    )
    assert all(v["variant"] == "hi" for v in report["viewers"])


async def test_a_stream_that_cannot_be_read_exits_2(stack, clock):
    for path, message in (("/ssai/nope/master.m3u8", "HTTP 404"), ("/healthz", "PlaylistError")):
        err = Capture()
        code = await execute(parse(url(stack, path)), clock, stack.session, out=Capture(), err=err)
        assert code == 2 and "cannot read the stream" in err.text and message in err.text, err.text
    err = Capture()
    code = await execute(
        parse(url(stack, "/ssai/news/master.m3u8"), "--variant", "uhd"),
        clock,
        stack.session,
        out=Capture(),
        err=err,
    )
    assert code == 2 and "no variant 'uhd' (variants: hi, lo)" in err.text


def test_bad_url_exits_2_with_a_clear_message(capsys):
    assert run(parse("http://127.0.0.1:9/ssai/news/master.m3u8", "--timeout", "2")) == 2
    assert (
        "rig viewers: cannot read the stream: http://127.0.0.1:9/ssai/news/master.m3u8: "
        "ClientConnectorError" in capsys.readouterr().err
    )
    assert run(parse("not a url")) == 2
    assert "cannot read the stream: not a url" in capsys.readouterr().err


def test_help_describes_every_option(capsys):
    parser = argparse.ArgumentParser(prog="rig")
    add_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["viewers", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in (
        "URL",
        "--viewers",
        "--seconds",
        "--join-spread",
        "--variant",
        "--head",
        "--json",
        "--progress",
        "--timeout",
        "--seed",
        "Exit 0",
        "2 when the stream cannot be read",
    ):
        assert option in text, option


# --------------------------------------------------------------------------- the pure parts


def test_playhead_stalls_when_the_buffer_runs_out_and_resumes_on_the_next_segment():
    player = Playhead()
    player.append(_Piece(10, 2.0, 100.0, "content", None), 0.0, offset=1.0)
    player.append(_Piece(11, 2.0, 102.0, "ad", "a"), 0.5)
    player.advance(2.0)  # 1 s into segment 11
    assert (
        player.current.msn == 11
        and player.pdt() == pytest.approx(103.0)
        and player.buffered() == pytest.approx(1.0)
    )
    player.advance(4.0)  # the buffer ended at 3.0
    assert player.stalled_since == pytest.approx(3.0) and player.buffered() == 0.0
    player.append(_Piece(12, 2.0, 104.0, "slate", None), 4.5)
    assert player.stalls == [(pytest.approx(3.0), pytest.approx(1.5))] and player.current.msn == 12
    player.append(_Piece(13, 2.0, 106.0, "content", None), 5.0)
    player.advance(7.0)
    assert player.current.msn == 13 and player.stall_count() == 1
    assert [(b.start_msn, b.ads, b.ad_seconds, b.slate_seconds) for b in player.breaks] == [
        (11, ["a"], 2.0, 2.0)
    ]


def test_segment_kinds_and_variant_names():
    assert segment_kind("http://m/ads/house-1/x/hi/seg_00001.ts") == ("ad", "house-1")
    assert segment_kind("http://m/ads/slate/x/hi/seg_00001.ts") == ("slate", None)
    assert segment_kind("http://m/slate/k-1/hi/seg_00001.ts") == ("slate", None)
    assert segment_kind("http://o/news/hi/seg_00001.ts") == ("content", None)
    assert [
        variant_name(u) for u in ("hi.m3u8", "http://o/news/lo/index.m3u8", "/ssai/news/720p.m3u8")
    ] == ["hi", "lo", "720p"]


# --------------------------------------------------------------------------- helpers


class Capture:
    """A text stream that keeps what was printed."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


async def drive_moving(
    clock: FakeClock,
    coroutine: Coroutine[Any, Any, T],
    sleepers: Callable[[], int],
    step: float = 0.25,
) -> T:
    """`tests.driving.drive` for a fleet whose size changes: the clock moves when `sleepers()`
    tasks wait."""
    task = asyncio.ensure_future(coroutine)
    loops = 0
    while not task.done():
        if clock.sleepers >= sleepers():
            clock.advance(step)
        await asyncio.sleep(0)
        loops += 1
        assert loops < 5_000_000, "the run does not finish"
    return task.result()
