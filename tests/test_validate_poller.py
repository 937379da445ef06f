"""Tests of the validator's polling shell (rig.validate) against a synthetic live server on a
FakeClock.

The server below computes a live stream from the fake clock (2 s segments, a 6-segment window, an
ad break every minute with DISCONTINUITY in and out and a DATERANGE, PDT on every segment) and
renders
it with the project's playlist model. A driver task advances the clock only while every simulated
viewer is asleep on it, so tens of minutes of stream run in about a second without real sleeping and
without fake time passing during an HTTP exchange. The clean server must give zero violations; each
broken server (a fault switched on at some point) must give the right ones.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpServer

from rig.validate import MasterUnavailable, add_arguments, run, validate
from rig.validator import Checker, Violation
from stitcher.clock import FakeClock
from stitcher.playlist import (
    AttributeList,
    MasterPlaylist,
    MediaPlaylist,
    Segment,
    Tag,
    Variant,
    format_datetime,
)
from tests.driving import drive

SEG = 2.0
WINDOW = 6
BREAK_EVERY = 30  # segments: an ad break every minute ...
AD_AT, AD_LENGTH = 10, 3  # ... over MSNs 30k+10 .. 30k+12
VARIANTS = ("720p", "360p")
STEP = 0.25  # fake seconds per driver step


@dataclass(frozen=True)
class Faults:
    """What the server gets wrong; times are fake seconds after the start."""

    uri_change_after: float | None = None  # segment URIs change (T1)
    error_between: tuple[float, float] | None = None  # 360p answers 500 (HTTP)
    stall_between: tuple[float, float] | None = None  # no new segment (R10, T3)
    no_cors: bool = False  # no Access-Control-Allow-Origin (CORS)
    missing_segments: bool = False  # every 7th content segment is 404 (HTTP, R12)
    early_delete: bool = False  # segments are deleted as soon as they leave the window (R12)
    flapping_discontinuities: bool = (
        False  # DISCONTINUITY-SEQUENCE off by one every other request (T1)
    )
    quoted_duration: bool = False  # DATERANGE DURATION="6.0" (D5)
    daterange_only_in_720p: bool = False  # 360p has no DATERANGE (D9)


class Origin:
    """The synthetic live stream: a pure function of (fake time, faults), plus a request counter."""

    def __init__(self, clock: FakeClock, faults: Faults, segment_seconds: float = SEG):
        self.clock = clock
        self.faults = faults
        self.seg = segment_seconds
        self.start = clock.now()
        self.epoch = self.start - 600.0  # PDT of MSN 0
        self.requests: dict[str, int] = {}

    def elapsed(self) -> float:
        return self.clock.now() - self.start

    def last_msn(self) -> int:
        now = self.clock.now()
        stall = self.faults.stall_between
        if stall is not None and stall[0] <= self.elapsed() < stall[1]:
            now = self.start + stall[0]
        return math.floor((now - self.epoch) / self.seg) - 1

    @staticmethod
    def ad_slot(msn: int) -> tuple[int, int] | None:
        """(break number, index in the break) when `msn` is an ad segment."""
        k, offset = divmod(msn, BREAK_EVERY)
        return (k, offset - AD_AT) if AD_AT <= offset < AD_AT + AD_LENGTH else None

    @staticmethod
    def discontinuities_up_to(msn: int) -> int:
        """DISCONTINUITY tags at MSNs ≤ msn (one at each break start and one after each break)."""
        ins = max(0, (msn - AD_AT) // BREAK_EVERY + 1)
        outs = max(0, (msn - AD_AT - AD_LENGTH) // BREAK_EVERY + 1)
        return ins + outs

    def segment(self, variant: str, msn: int) -> Segment:
        slot = self.ad_slot(msn)
        tags: tuple[Tag, ...] = ()
        if slot is None:
            changed = (
                self.faults.uri_change_after is not None
                and self.elapsed() >= self.faults.uri_change_after
            )
            uri = f"seg{msn}-b.ts" if changed else f"seg{msn}.ts"
        else:
            uri = f"/ads/{slot[0]}/{variant}/a{slot[1]}.ts"
            if slot[1] == 0 and not (self.faults.daterange_only_in_720p and variant != "720p"):
                duration = '"6.0"' if self.faults.quoted_duration else "6.0"
                start = format_datetime(self.epoch + msn * self.seg)
                tags = (
                    Tag(
                        "EXT-X-DATERANGE",
                        f'ID="break-{slot[0]}",START-DATE="{start}",DURATION={duration},'
                        f"SCTE35-OUT=0xFC302500{slot[0]:04X}",
                    ),
                )
        offset = msn % BREAK_EVERY
        return Segment(
            uri=uri,
            duration=self.seg,
            duration_text=f"{self.seg:.3f}",
            discontinuity=offset in (AD_AT, AD_AT + AD_LENGTH),
            program_date_time=datetime.fromtimestamp(self.epoch + msn * self.seg, tz=UTC),
            tags=tags,
        )

    def playlist(self, variant: str) -> MediaPlaylist:
        last = self.last_msn()
        first = last - WINDOW + 1
        self.requests[variant] = self.requests.get(variant, 0) + 1
        flap = self.faults.flapping_discontinuities and self.requests[variant] % 2 == 0
        return MediaPlaylist(
            target_duration=math.ceil(self.seg),
            segments=tuple(self.segment(variant, m) for m in range(first, last + 1)),
            media_sequence=first,
            discontinuity_sequence=self.discontinuities_up_to(first - 1) + (1 if flap else 0),
            version=6,
        )

    def segment_exists(self, msn: int) -> bool:
        if self.faults.missing_segments and msn % 7 == 0 and self.ad_slot(msn) is None:
            return False
        if self.faults.early_delete and msn < self.last_msn() - WINDOW + 1:
            return False
        return msn <= self.last_msn()


ORIGIN = web.AppKey("origin", Origin)
PLAYLIST = "application/vnd.apple.mpegurl"


def create_app(origin: Origin) -> web.Application:
    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if not origin.faults.no_cors:
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    async def master(request: web.Request) -> web.Response:
        variants = tuple(
            Variant(
                f"{name}/index.m3u8", AttributeList.of(("BANDWIDTH", str(bw)), ("RESOLUTION", res))
            )
            for name, bw, res in (("720p", 2_000_000, "1280x720"), ("360p", 800_000, "640x360"))
        )
        return web.Response(
            text=MasterPlaylist(variants, version=6).render(), content_type=PLAYLIST
        )

    async def media(request: web.Request) -> web.Response:
        variant = request.match_info["variant"]
        errors = origin.faults.error_between
        if variant == "360p" and errors is not None and errors[0] <= origin.elapsed() < errors[1]:
            return web.Response(status=500, text="origin unavailable")
        return web.Response(text=origin.playlist(variant).render(), content_type=PLAYLIST)

    async def content_segment(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        msn = int(name.removeprefix("seg").split(".")[0].split("-")[0])
        return segment_response(msn)

    async def ad_segment(request: web.Request) -> web.Response:
        msn = (
            int(request.match_info["brk"]) * BREAK_EVERY + AD_AT + int(request.match_info["index"])
        )
        return segment_response(msn)

    def segment_response(msn: int) -> web.Response:
        if not origin.segment_exists(msn):
            return web.Response(status=404, text="no such segment")
        return web.Response(body=b"\x47" * 188, content_type="video/mp2t")

    app = web.Application(middlewares=[cors])
    app[ORIGIN] = origin
    app.router.add_get("/live/master.m3u8", master)
    app.router.add_get("/live/{variant}/index.m3u8", media)
    app.router.add_get("/live/{variant}/{name}", content_segment)
    app.router.add_get("/ads/{brk}/{variant}/a{index}.ts", ad_segment)
    return app


async def watch(
    aiohttp_server: AiohttpServer,
    faults: Faults,
    *,
    seconds: float,
    viewers: int = 3,
    segment_seconds: float = SEG,
    **options: Any,
) -> Checker:
    """Serve the synthetic stream with `faults` and run `validate` on it for `seconds` of fake
    time."""
    clock = FakeClock()
    server = await aiohttp_server(create_app(Origin(clock, faults, segment_seconds)))
    url = str(server.make_url("/live/master.m3u8"))
    return await asyncio.wait_for(
        drive(
            clock,
            validate(url, seconds=seconds, viewers=viewers, clock=clock, **options),
            viewers,
            STEP,
        ),
        timeout=60,
    )


# --------------------------------------------------------------------------- tests


async def test_clean_server_twenty_minutes_three_viewers(aiohttp_server: AiohttpServer) -> None:
    """Twenty minutes of 6 s segments (an ad break every 3 minutes): not a single violation."""
    checker = await watch(aiohttp_server, Faults(), seconds=1200, segment_seconds=6.0)
    summary = checker.summary()
    assert summary["ok"], [v.line() for v in checker.violations[:10]]
    assert summary["violations"] == 0
    # viewer k joins at 6k s; each reloads both variants every TD/2 = 3 s
    assert summary["reloads_per_viewer"] == {"viewer-0": 800, "viewer-1": 796, "viewer-2": 792}
    assert summary["segments_seen"] == 2 * (200 + WINDOW - 1)
    assert len(summary["variants"]) == 2
    assert summary["observed_seconds"] == pytest.approx(1200, abs=3)


async def test_clean_server_two_second_segments(aiohttp_server: AiohttpServer) -> None:
    checker = await watch(aiohttp_server, Faults(), seconds=240)
    assert checker.ok, [v.line() for v in checker.violations[:10]]
    assert checker.summary()["reloads_per_viewer"] == {
        "viewer-0": 480,
        "viewer-1": 476,
        "viewer-2": 472,
    }


BROKEN = [
    (Faults(uri_change_after=40), {"T1"}),
    (Faults(error_between=(40, 50)), {"HTTP"}),
    (Faults(stall_between=(40, 50)), {"R10", "T3"}),
    (Faults(no_cors=True), {"CORS"}),
    (Faults(missing_segments=True), {"HTTP", "R12"}),
    (Faults(early_delete=True), {"R12"}),
    (Faults(flapping_discontinuities=True), {"T1"}),
    (Faults(quoted_duration=True), {"D5"}),
    (Faults(daterange_only_in_720p=True), {"D9"}),
]


@pytest.mark.parametrize(
    "faults, expected", BROKEN, ids=[next(k for k, v in vars(f).items() if v) for f, _ in BROKEN]
)
async def test_broken_server(
    aiohttp_server: AiohttpServer, faults: Faults, expected: set[str]
) -> None:
    checker = await watch(aiohttp_server, faults, seconds=120)
    found = set(checker.counts)
    if faults.flapping_discontinuities:  # the variants may also disagree with each other
        found.discard("T2")
    assert found == expected, [v.line() for v in checker.violations[:10]]


async def test_http_error_is_reported_with_its_status(aiohttp_server: AiohttpServer) -> None:
    checker = await watch(aiohttp_server, Faults(error_between=(40, 50)), seconds=60)
    assert all("returned 500" in v.message and "360p" in v.variant for v in checker.violations)
    assert 20 <= checker.counts["HTTP"] <= 40  # 3 viewers × one reload a second for 10 s


async def test_uri_change_names_both_uris(aiohttp_server: AiohttpServer) -> None:
    checker = await watch(aiohttp_server, Faults(uri_change_after=40), seconds=60, viewers=1)
    messages = [v.message for v in checker.violations]
    assert any("-b.ts now" in m and ".ts earlier" in m for m in messages)
    # each MSN still in the window once, in each variant (the window slides as the URIs change)
    assert 2 * (WINDOW - 1) <= checker.counts["T1"] <= 2 * WINDOW


async def test_cors_reported_once_per_kind(aiohttp_server: AiohttpServer) -> None:
    checker = await watch(aiohttp_server, Faults(no_cors=True), seconds=30)
    assert (
        checker.counts["CORS"] == 5
    )  # master, playlist GET × 2 variants, segment HEAD × 2 variants


async def test_without_segment_checks_nothing_is_headed(aiohttp_server: AiohttpServer) -> None:
    checker = await watch(
        aiohttp_server, Faults(early_delete=True), seconds=60, check_segments=False
    )
    assert checker.ok


async def test_media_playlist_url_and_violation_callback(aiohttp_server: AiohttpServer) -> None:
    clock = FakeClock()
    server = await aiohttp_server(create_app(Origin(clock, Faults(quoted_duration=True))))
    seen: list[Violation] = []
    checker = await drive(
        clock,
        validate(
            str(server.make_url("/live/720p/index.m3u8")),
            seconds=90,
            viewers=2,
            clock=clock,
            on_violation=seen.append,
        ),
        2,
    )
    assert checker.variants == [str(server.make_url("/live/720p/index.m3u8"))]
    assert seen and seen == checker.violations and {v.rule for v in seen} == {"D5"}


async def test_unreachable_master_raises(aiohttp_server: AiohttpServer) -> None:
    clock = FakeClock()
    server = await aiohttp_server(create_app(Origin(clock, Faults())))
    with pytest.raises(MasterUnavailable, match="404"):
        await validate(str(server.make_url("/nothing.m3u8")), seconds=10, viewers=1, clock=clock)


def test_cli_arguments_and_unreachable_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["http://127.0.0.1:9/master.m3u8", "--seconds", "1", "--no-segments"])
    assert (args.seconds, args.viewers, args.check_segments, args.json) == (1.0, 3, False, None)
    assert run(args) == 2
    assert "cannot fetch" in capsys.readouterr().err


async def test_not_a_playlist_is_a_parse_violation(aiohttp_server: AiohttpServer) -> None:
    async def junk(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", headers={"Access-Control-Allow-Origin": "*"})

    app = web.Application()
    app.router.add_get("/junk.m3u8", junk)
    server = await aiohttp_server(app)
    checker = await validate(
        str(server.make_url("/junk.m3u8")), seconds=10, viewers=1, clock=FakeClock()
    )
    assert set(checker.counts) == {"PARSE"}
