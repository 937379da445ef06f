"""Seamless sound at every splice, judged on the bytes (T6), on a fake clock.

The whole stack on loopback (tests/stitcher_stack.py) with real media: the origin emulator's
rendered loop and house ads and slate conditioned by real ffmpeg for the channel. Breaks come as
SCTE-35 cues in each of the four formats (the monitor records them) and as /cue breaks, with pods
of one to three ads, with and without slate filler. Every boundary each variant's SSAI playlist
ever shows (content->ad, ad->ad, ad->slate, ad/slate->content, and the continuous ones) is
measured from the two segments' bytes (`rig.inspect.measure`): the sound a player must bridge
is at most one AAC frame, and the continuity counters run on or are flagged. SGAI: the same at
every asset edge of every interstitial (primary -> first asset, asset -> asset, last asset ->
primary at the resume point).

Three channels: the small test config (no B-frames: its sound switches just after the picture
boundary), the same with the shipped default's x264 preset (B-pyramids: two pictures before
it), and a foreign-like origin (29.97 fps, 6.006 s segments, one B-frame).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from urllib.parse import urljoin

import pytest

from origin_emulator.book import SpliceBook
from origin_emulator.channel import LiveChannel
from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from origin_emulator.content import ContentRecipe, build_content
from rig.inspect import SpliceReport, measure
from rig.settings import load_settings
from stitcher.clock import FakeClock
from stitcher.kv import open_kv
from stitcher.playlist import parse_playlist
from stitcher.ts import flag_discontinuity, scan
from tests.conftest import RESOURCES, SMALL_CONFIG
from tests.stitcher_stack import conditioned_ads, make_stack

CONFIGS = ("small", "b-frames", "foreign")
AD_SEGMENTS = {"house-1": 1, "house-2": 2, "house-3": 3}  # ad lengths in segments; the slate 5
# break lengths in segments -> the pod the house decision makes of those ads (most ads, then
# fullest)
PODS = {2: "one ad", 7: "three ads and slate", 4: "two ads", 3: "two ads"}


@pytest.fixture(scope="module", params=CONFIGS)
def channel_media(request, tmp_path_factory):
    """(settings, content, ads) of one channel config, rendered and conditioned by real ffmpeg."""
    state = {"RIG_STATE_DIR": str(tmp_path_factory.mktemp("state"))}
    if request.param == "foreign":
        settings = load_settings(RESOURCES / "config" / "foreign.toml", env=state)
    else:
        settings = load_settings(SMALL_CONFIG, env=state)
        if request.param == "b-frames":
            settings = dataclasses.replace(
                settings, media=dataclasses.replace(settings.media, preset="veryfast")
            )
    settings = dataclasses.replace(
        settings, channels=(dataclasses.replace(settings.channels[0], break_every=0),)
    )
    content = _render(settings)
    segment = settings.media.segment_seconds
    seconds = {ad_id: n * segment - 0.01 for ad_id, n in AD_SEGMENTS.items()}
    ads = conditioned_ads(
        settings, content, {**seconds, "slate": 5 * segment - 0.01}, preset=settings.media.preset
    )
    return request.param, settings, content, ads


def _render(settings):
    recipe = ContentRecipe.for_channel(settings.channels[0], settings.media)
    return asyncio.run(build_content(recipe, settings.media.cache_dir))


@pytest.fixture
async def spliced(channel_media, aiohttp_server, aiohttp_client, tmp_path):
    name, settings, content, ads = channel_media
    clock = FakeClock(settings.origin.epoch + 86_400.5)
    kv = open_kv(f"sqlite:///{tmp_path}/kv.db", clock)
    await kv.start()
    config = settings.channels[0]
    origin = LiveChannel(
        config, content, settings.origin.epoch, settings.origin.window_segments, SpliceBook(None)
    )
    stack = await make_stack(
        aiohttp_server, aiohttp_client, origin, clock, kv, tmp_path, settings, content, ads=ads
    )
    try:
        yield name, stack, clock
    finally:
        await stack.session.close()
        stack.catalog.close()
        await kv.close()


class Seen:
    """Every (URI, discontinuity number) a variant's playlists give each media sequence number, and
    each boundary between two of them measured from the bytes as soon as both are known (segments
    are only available for a while after they leave the window)."""

    def __init__(self, stack):
        self.stack = stack
        self.by_msn: dict[int, tuple[str, int]] = {}
        self.reports: dict[
            int, tuple[str, str, SpliceReport]
        ] = {}  # msn of the later segment -> (before, after, report)
        self.bytes: dict[str, bytes] = {}

    async def observe(self, text: str, url: str) -> None:
        playlist = parse_playlist(text)
        for msn, dsn, segment in playlist.numbered():
            fact = (urljoin(url, segment.uri), dsn)
            assert self.by_msn.setdefault(msn, fact) == fact, (
                msn,
                fact,
                self.by_msn[msn],
            )  # T1, for the bytes judged here
        for msn in sorted(self.by_msn):
            if msn in self.reports or msn - 1 not in self.by_msn:
                continue
            (before, d0), (after, d1) = self.by_msn[msn - 1], self.by_msn[msn]
            report = measure(await self._get(before), await self._get(after), d1 != d0)
            assert report.error is None, (msn, before, after, report.error)
            assert report.ok, (msn, before, after, report.to_json())
            # continuity counters run on, or the segment after a splice flags them: an ad's and the
            # slate's first segment do, and so does the stitcher's copy of the content segment a
            # break returns to (resume.ts)
            assert report.cc_ok, (msn, before, after, [p.text() for p in report.cc_problems])
            if report.boundary.discontinuity and kinds(before, after).endswith("content"):
                assert "/resume.ts?src=" in after, after
            self.reports[msn] = (before, after, report)

    async def _get(self, url: str) -> bytes:
        if url not in self.bytes:
            async with self.stack.session.get(url) as response:
                assert response.status == 200, url
                self.bytes[url] = await response.read()
        return self.bytes[url]

    def splices(self) -> list[tuple[str, str, SpliceReport]]:
        return [found for found in self.reports.values() if found[2].boundary.discontinuity]


def kinds(before: str, after: str) -> str:
    def kind(url: str) -> str:
        return "slate" if "/slate/" in url else "ad" if "/ads/" in url else "content"

    return f"{kind(before)}->{kind(after)}"


async def play(stack, clock, breaks, variants) -> dict[str, Seen]:
    """Run the stream through `breaks` (callables placing one break at the current time, one
    every 40 s of stream) while every variant's SSAI playlist is read each half second."""
    seen = {variant: Seen(stack) for variant in variants}
    segment = stack.channel.segment_duration
    start = clock.now()
    pending = list(breaks)
    spacing = 12 * segment + 8
    end = start + spacing * (len(pending) + 1)
    next_break = start + 2 * segment
    while clock.now() < end:
        clock.advance(0.5)
        if pending and clock.now() >= next_break:
            await pending.pop(0)(stack, clock.now())
            next_break = clock.now() + spacing
        if round(clock.now() * 2) % 2 == 0:
            await stack.monitor.poll(stack.channel)
        for variant in variants:
            url = f"/ssai/news/{variant}.m3u8"
            response = await stack.client.get(url)
            assert response.status == 200, await response.text()
            await seen[variant].observe(await response.text(), str(stack.client.make_url(url)))
    return seen


def scte35_break(fmt: str, segments: int):
    async def place(stack, now):
        stack.origin.post_splice(
            now,
            segments * stack.channel.segment_duration,
            2 * stack.channel.segment_duration,
            fmt,
            CUE_COMMANDS[0],
        )

    return place


def cue_break(segments: int):
    async def place(stack, now):
        response = await stack.client.post(
            "/v1/channels/news/cue", json={"duration": segments * stack.channel.segment_duration}
        )
        assert response.status == 201, await response.text()

    return place


@pytest.mark.parametrize("cue_format", CUE_FORMATS)
async def test_every_ssai_splice_is_seamless_for_each_cue_format(spliced, cue_format):
    name, stack, clock = spliced
    variants = [r.name for r in stack.channel.ladder]
    # in-band cues (all but daterange) are seen when their first segment is published: the two slots
    # already served stay content, so those breaks are two segments longer for the same pods
    late = 0 if cue_format == "daterange" else 2
    seen = await play(stack, clock, [scte35_break(cue_format, n + late) for n in PODS], variants)
    found = set()
    for variant in variants:
        splices = seen[variant].splices()
        found |= {kinds(before, after) for before, after, _ in splices}
        assert len(splices) >= 2 * len(PODS), (
            variant,
            len(splices),
        )  # in and out of every break, at least
        worst = max(abs(r.bridge) for *_, r in seen[variant].reports.values())
        print(
            f"{name} {cue_format} {variant}: {len(seen[variant].reports)} boundaries,"
            f" {len(splices)} splices, worst bridge {worst / 90:.1f} ms"
        )
    assert {"content->ad", "ad->ad", "ad->slate", "slate->content", "ad->content"} <= found, found


async def test_every_ssai_splice_of_cue_breaks_is_seamless(spliced):
    name, stack, clock = spliced
    variants = [r.name for r in stack.channel.ladder]
    seen = await play(stack, clock, [cue_break(n) for n in (7, 2, 4)], variants)
    for variant in variants:
        assert len(seen[variant].splices()) >= 6, variant


async def test_every_sgai_asset_edge_is_seamless(spliced):
    """Each interstitial's assets, in order, between the primary's segment before its START-DATE
    and the primary's segment at its resume point (START-DATE + DURATION = X-RESUME-OFFSET)."""
    name, stack, clock = spliced
    variant = stack.channel.ladder[0].name
    dateranges, primary = {}, {}
    url = f"/sgai/news/{variant}.m3u8"
    pending = [cue_break(7), cue_break(4)]
    segment = stack.channel.segment_duration
    start, next_break = clock.now(), clock.now()
    while clock.now() < start + 3 * (12 * segment + 8):
        clock.advance(0.5)
        if pending and clock.now() >= next_break:
            await pending.pop(0)(stack, clock.now())
            next_break = clock.now() + 12 * segment + 8
        playlist = parse_playlist(await (await stack.client.get(url)).text())
        for msn, _, segment_ in playlist.numbered():
            when = segment_.program_date_time.timestamp()
            if when not in primary:  # its bytes now: content segments are only kept a while
                async with stack.session.get(
                    urljoin(str(stack.client.make_url(url)), segment_.uri)
                ) as response:
                    primary[when] = await response.read()
        for daterange in playlist.dateranges:
            if (
                daterange.attributes.text("CLASS") == "com.apple.hls.interstitial"
                and daterange.id not in dateranges
            ):
                listing = await stack.client.get(
                    urljoin(url, daterange.attributes.text("X-ASSET-LIST"))
                )
                assert listing.status == 200, await listing.text()
                assets = []  # each asset's first and last segment, while the break is on record
                for asset in json.loads(await listing.text())["ASSETS"]:
                    media = await _variant_segments(
                        stack, urljoin(str(stack.client.make_url(url)), asset["URI"]), variant
                    )
                    assets += [await _get(stack, media[0]), await _get(stack, media[-1])]
                dateranges[daterange.id] = (daterange, assets)
    assert len(dateranges) == 2, dateranges
    checked = 0
    for daterange, assets in dateranges.values():
        start = daterange.start_date.timestamp()
        resume = start + daterange.attributes.number("X-RESUME-OFFSET")
        chain = [_nearest_before(primary, start), *assets, _at(primary, resume)]
        edges = [(chain[0], chain[1])] + [
            (chain[k], chain[k + 1]) for k in range(2, len(chain) - 1, 2)
        ]
        for before, after in edges:
            report = measure(before, after, True)
            assert report.ok, report.to_json()
            checked += 1
    assert checked >= 2 + 3 + 2  # both breaks' edges: in, between the assets, out


def _nearest_before(primary: dict[float, bytes], start: float) -> bytes:
    return primary[max(t for t in primary if t < start - 1e-3)]


def _at(primary: dict[float, bytes], when: float) -> bytes:
    found = min(primary, key=lambda t: abs(t - when))
    assert abs(found - when) < 0.01, (found, when)
    return primary[found]


async def _get(stack, url: str) -> bytes:
    async with stack.session.get(url) as response:
        assert response.status == 200, url
        return await response.read()


async def _variant_segments(stack, uri: str, variant: str) -> list[str]:
    master = parse_playlist(await (await stack.session.get(uri)).text())
    chosen = next(
        (v.uri for v in master.variants if f"/{variant}/" in urljoin(uri, v.uri)),
        master.variants[0].uri,
    )
    media_url = urljoin(uri, chosen)
    media = parse_playlist(await (await stack.session.get(media_url)).text())
    return [urljoin(media_url, s.uri) for s in media.segments]


# --------------------------------------------------------------------------- the return segment


async def test_the_return_segment_is_the_origins_with_its_first_packets_flagged(stack, clock):
    origin = stack.channel.origin_url.rsplit("/", 1)[0]
    n = stack.origin.window_range(clock.now())[-1]
    src = f"{origin}/hi/seg_{n}.ts"
    async with stack.session.get(src) as response:
        original = await response.read()
    response = await stack.client.get("/ssai/news/hi/resume.ts", params={"src": src})
    assert response.status == 200 and response.content_type == "video/mp2t"
    assert (
        "immutable" in response.headers["Cache-Control"]
        and response.headers["Access-Control-Allow-Origin"] == "*"
    )
    flagged = await response.read()
    assert flagged == flag_discontinuity(original) and scan(flagged).flagged == set(
        scan(original).first_cc
    )


@pytest.mark.parametrize(
    "query,status,says",
    [
        ({}, 400, "needs ?src="),
        ({"src": "http://example.test/hi/seg_1.ts"}, 404, "not a segment of channel news's origin"),
        (
            {"src": "hi/seg_1.ts"},
            404,
            "not a segment of channel news's origin",
        ),  # only absolute URLs of the origin
        ({"src": "{origin}/hi/seg_999999999.ts"}, 404, "not (or no longer) at the origin"),
    ],
)
async def test_a_return_segment_that_is_not_the_origins_is_a_clear_error(
    stack, query, status, says
):
    origin = stack.channel.origin_url.rsplit("/", 1)[0]
    response = await stack.client.get(
        "/ssai/news/hi/resume.ts", params={k: v.format(origin=origin) for k, v in query.items()}
    )
    assert response.status == status and says in (await response.json())["error"]
