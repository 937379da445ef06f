"""An interoperability oracle: the `m3u8` package reads every playlist the project serves as our
parser (`stitcher.playlist`) does.

Every kind of playlist the rig serves is parsed by both `m3u8.loads` and `parse_playlist`:
- the origin emulator's master and live media playlists through breaks in each cue format
  (daterange, cue-out, scte35, oatcls) and command, an early return among them, and over an origin
  with its own discontinuities (a real aiohttp server on loopback, fake clock);
- the stitcher's SSAI, SGAI and passthrough masters and media playlists through a /cue break, with
  really conditioned ads (tests/stitcher_stack.py, ffmpeg, cached), and the item playlists of the
  SGAI asset lists;
- the conditioned ad and slate VOD playlists, as the media server serves them;
- the golden files (tests/resources/golden/*/origin.m3u8 and expected.m3u8, tests/test_golden.py).
Both readings must give the same segment URIs and durations, discontinuity positions, media
sequence and discontinuity sequence, program date-times, CUE-OUT/CUE-IN positions, DATERANGE ids
and attributes (for SGAI the interstitial's CLASS, START-DATE, DURATION and X-ASSET-LIST,
X-RESUME-OFFSET, X-RESTRICT...), playlist type and end, and for masters the same variants.

One disagreement, where our parser follows RFC 8216 and m3u8 does not: m3u8 models
EXT-X-DISCONTINUITY as one flag per segment, so two tags before one segment (the stitcher's splice
or return on an origin discontinuity writes the origin's tag and its own) read as one. RFC 8216
numbers segments by counting the tags: a segment's discontinuity sequence number is the
EXT-X-DISCONTINUITY-SEQUENCE plus the tags before it (§4.3.3.3), and a server that removes a tag
increments EXT-X-DISCONTINUITY-SEQUENCE (§6.2.2), once per tag. The numbers m3u8's model implies
therefore fall one short per extra tag from that segment on (and change once the pair has left the
window), and its `dumps()` writes one tag. The comparison allows exactly that difference and no
other; `test_m3u8_reads_two_discontinuity_tags_before_a_segment_as_one` pins it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import m3u8
import pytest

from origin_emulator.app import create_app as create_origin
from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from stitcher.catalog import MODES
from stitcher.playlist import (
    DateRange,
    MasterPlaylist,
    MediaPlaylist,
    parse_datetime,
    parse_media_playlist,
    parse_playlist,
)
from tests.stitcher_stack import ADS, conditioned_ads, make_stack

GOLDEN = Path(__file__).parent / "resources" / "golden"
INTERSTITIAL = "com.apple.hls.interstitial"


@dataclass
class Seen:
    """What the compared playlists held, summed: a test shows that it compared what it meant to."""

    kinds: Counter = field(default_factory=Counter)  # "master", "media", "vod"
    segments: int = 0
    discontinuities: int = 0  # segments with at least one EXT-X-DISCONTINUITY
    collapsed: int = 0  # EXT-X-DISCONTINUITY tags beyond the first before one segment
    tags: set[str] = field(default_factory=set)  # the other tags before segments
    dateranges: set[str] = field(default_factory=set)  # DATERANGE ids
    interstitials: dict[str, DateRange] = field(default_factory=dict)  # by id


# --------------------------------------------------------------------------- the comparison


def agree(text: str, where: str, seen: Seen) -> MediaPlaylist | MasterPlaylist:
    """Parse `text` with both parsers and assert they read the same playlist; ours is returned."""
    ours = parse_playlist(text)
    theirs = m3u8.loads(text)
    if isinstance(ours, MasterPlaylist):
        _agree_master(ours, theirs, where)
        seen.kinds["master"] += 1
    else:
        _agree_media(ours, theirs, where, seen)
        seen.kinds["vod" if ours.endlist else "media"] += 1
    return ours


def _agree_master(ours: MasterPlaylist, theirs: m3u8.M3U8, where: str) -> None:
    assert theirs.is_variant, where
    assert (theirs.version, theirs.is_independent_segments) == (
        ours.version,
        ours.independent_segments,
    ), where

    def variant(uri, bandwidth, average, codecs, resolution, frame_rate):
        return uri, bandwidth, average, codecs, resolution, frame_rate

    mine = [
        variant(
            v.uri,
            v.bandwidth,
            v.attributes.number("AVERAGE-BANDWIDTH"),
            v.codecs,
            v.resolution,
            v.attributes.number("FRAME-RATE"),
        )
        for v in ours.variants
    ]
    other = [
        variant(
            p.uri,
            p.stream_info.bandwidth,
            p.stream_info.average_bandwidth,
            p.stream_info.codecs,
            p.stream_info.resolution,
            p.stream_info.frame_rate,
        )
        for p in theirs.playlists
    ]
    assert other == mine, where


def _agree_media(ours: MediaPlaylist, theirs: m3u8.M3U8, where: str, seen: Seen) -> None:
    assert not theirs.is_variant, where
    assert theirs.target_duration == ours.target_duration, where
    assert (theirs.media_sequence or 0) == ours.media_sequence, where
    assert (theirs.discontinuity_sequence or 0) == ours.discontinuity_sequence, where
    assert theirs.version == ours.version, where
    playlist_type = ours.playlist_type.lower() if ours.playlist_type else None  # m3u8 lowers it
    assert theirs.playlist_type == playlist_type, where
    assert theirs.is_independent_segments == ours.independent_segments, where
    assert theirs.is_endlist == ours.endlist, where
    segments, other = ours.segments, list(theirs.segments)
    assert [s.uri for s in other] == [s.uri for s in segments], where
    assert [s.duration for s in other] == [s.duration for s in segments], where
    assert [s.program_date_time for s in other] == [s.program_date_time for s in segments], where
    assert [s.discontinuity for s in other] == [s.discontinuity > 0 for s in segments], where
    # Discontinuity sequence numbers: RFC 8216 counts the tags (ours); m3u8 keeps one flag per
    # segment, so it falls short by exactly the tags beyond the first before one segment.
    mine = [dsn for _, dsn, _ in ours.numbered()]
    implied = list(
        itertools.accumulate(
            (int(s.discontinuity) for s in other), initial=theirs.discontinuity_sequence or 0
        )
    )[1:]
    extra = list(itertools.accumulate(max(0, s.discontinuity - 1) for s in segments))
    assert [m - i for m, i in zip(mine, implied, strict=True)] == extra, where
    for n, (segment, their) in enumerate(zip(segments, other, strict=True)):
        at = f"{where}, segment {n} ({segment.uri})"
        assert bool(their.cue_out_start) == segment.has_tag("EXT-X-CUE-OUT"), at
        assert bool(their.cue_in) == segment.has_tag("EXT-X-CUE-IN"), at
        if segment.has_tag("EXT-OATCLS-SCTE35"):
            assert their.oatcls_scte35 == segment.tag_values("EXT-OATCLS-SCTE35")[0], at
        assert [_theirs(d) for d in their.dateranges or ()] == [
            _ours(d) for d in segment.dateranges
        ], at
        seen.tags |= {t.name for t in segment.tags}
        seen.dateranges |= {d.id for d in segment.dateranges}
        seen.interstitials |= {d.id: d for d in segment.dateranges if d.klass == INTERSTITIAL}
    # m3u8 keeps a DATERANGE only with the segment after it: none may come after the last one
    assert not [t for t in ours.trailing_tags if t.name == "EXT-X-DATERANGE"], where
    seen.segments += len(segments)
    seen.discontinuities += sum(s.discontinuity > 0 for s in segments)
    seen.collapsed += extra[-1] if extra else 0


def _ours(d: DateRange) -> dict:
    """A DATERANGE as our parser reads it, in m3u8's terms (its attribute names, its value types:
    quoted-strings unquoted, DURATION and PLANNED-DURATION as floats, the rest raw)."""
    a = d.attributes
    return {
        "id": d.id,
        "class": d.klass,
        "start_date": a.text("START-DATE"),
        "end_date": a.text("END-DATE"),
        "duration": d.duration,
        "planned_duration": d.planned_duration,
        "scte35_cmd": a.raw("SCTE35-CMD"),
        "scte35_out": a.raw("SCTE35-OUT"),
        "scte35_in": a.raw("SCTE35-IN"),
        "end_on_next": a.raw("END-ON-NEXT"),
        "x": {n.lower().replace("-", "_"): a.raw(n) for n in a.names() if n.startswith("X-")},
    }


def _theirs(d: m3u8.model.DateRange) -> dict:
    return {
        "id": d.id,
        "class": d.class_,
        "start_date": d.start_date,
        "end_date": d.end_date,
        "duration": d.duration,
        "planned_duration": d.planned_duration,
        "scte35_cmd": d.scte35_cmd,
        "scte35_out": d.scte35_out,
        "scte35_in": d.scte35_in,
        "end_on_next": d.end_on_next,
        "x": dict(d.x_client_attrs),
    }


# --------------------------------------------------------------------------- the origin emulator


async def origin_playlists(origin, where: str, seen: Seen) -> None:
    """The origin's master and both variants' media playlists now, compared."""
    for path in ("/news/master.m3u8", "/news/hi/index.m3u8", "/news/lo/index.m3u8"):
        response = await origin.get(path)
        assert response.status == 200, path
        agree(await response.text(), f"{where}: {path}", seen)


@pytest.mark.parametrize(
    "fmt, command",
    [pytest.param(f, c, id=f"{f}-{c}") for f, c in itertools.product(CUE_FORMATS, CUE_COMMANDS)],
)
async def test_origin_playlists_through_breaks_in_every_cue_format(
    aiohttp_client, make_channel, clock, fmt, command
):
    """A 12 s break announced 8 s ahead, then a 20 s one returned to network early: one format."""
    channel = make_channel(break_every=0)
    origin = await aiohttp_client(create_origin({"news": channel}, clock))
    timeline, seen = channel.timeline, Seen()
    first = channel.post_splice(clock.now(), 12, 8, fmt, command)
    second = None
    while timeline.last_published(clock.now()) < (second or first).end + 8:
        clock.advance(1.0)
        published = timeline.last_published(clock.now())
        if second is None and published > first.end + 2:
            second = channel.post_splice(clock.now(), 20, 4, fmt, command)
        elif second is not None and second.returned is None and published >= second.start + 2:
            second = channel.delete_splice(second.event_id, clock.now())  # back to network early
        await origin_playlists(origin, f"{fmt}/{command} at {clock.now()}", seen)
    assert second.returned is not None and second.stop < second.end
    assert seen.kinds["master"] and seen.kinds["media"] > 50
    cues = {
        "daterange": {"EXT-X-DATERANGE"},
        "cue-out": {"EXT-X-CUE-OUT", "EXT-X-CUE-OUT-CONT", "EXT-X-CUE-IN"},
        "scte35": {"EXT-X-SCTE35"},
        "oatcls": {"EXT-OATCLS-SCTE35", "EXT-X-CUE-OUT", "EXT-X-CUE-OUT-CONT", "EXT-X-CUE-IN"},
    }[fmt]
    assert cues <= seen.tags, seen.tags  # the breaks really were in the compared playlists
    if fmt == "daterange":
        ids = {first.range_id, second.range_id}
        assert ids <= seen.dateranges, seen.dateranges


async def test_origin_playlists_with_the_origins_own_discontinuities(
    aiohttp_client, make_channel, clock
):
    channel = make_channel(break_every=0, discontinuity_every=3)
    origin = await aiohttp_client(create_origin({"news": channel}, clock))
    seen = Seen()
    channel.post_splice(clock.now(), 12, 8, "daterange", "splice_insert")
    for _ in range(40):
        clock.advance(1.0)
        await origin_playlists(origin, f"discontinuity_every=3 at {clock.now()}", seen)
    assert seen.discontinuities > 10 and seen.dateranges


# --------------------------------------------------------------------------- the stitcher


@pytest.fixture
def kv_url(tmp_path) -> str:
    """SQLite only: this is about the playlists (the KV backends have their own contract suite)."""
    return f"sqlite://{tmp_path}/kv.db"


@pytest.fixture(scope="module")
def conditioned(small_settings, small_content):
    """The stack's ads (house-1 4 s, house-2 6 s, the slate 10 s) really conditioned for the small
    ladder by ffmpeg (cached in the media cache after the first run)."""
    return conditioned_ads(
        small_settings, small_content, dict(ADS), preset=small_settings.media.preset
    )


@pytest.fixture(params=[0, 2], ids=["plain-origin", "origin-discontinuities"])
async def live(
    request,
    aiohttp_server,
    aiohttp_client,
    make_channel,
    clock,
    kv,
    tmp_path,
    small_settings,
    small_content,
    conditioned,
):
    """The whole stitcher stack over conditioned ads, on an origin with (every 2 segments) or
    without discontinuities of its own."""
    stack = await make_stack(
        aiohttp_server,
        aiohttp_client,
        make_channel(break_every=0, discontinuity_every=request.param),
        clock,
        kv,
        tmp_path,
        small_settings,
        small_content,
        ads=conditioned,
    )
    yield stack
    await stack.session.close()
    stack.catalog.close()


async def stitched(stack, path: str, where: str, seen: Seen):
    response = await stack.client.get(path)
    assert response.status == 200, (path, await response.text())
    return agree(await response.text(), f"{where}: {path}", seen)


async def test_stitched_playlists_through_a_break_in_every_mode(live, clock):
    stack, seen = live, Seen()
    for mode in MODES:
        master = await stitched(stack, f"/{mode}/news/master.m3u8", "master", seen)
        assert [v.uri for v in master.variants] == ["hi.m3u8", "lo.m3u8"]
    response = await stack.client.post("/v1/channels/news/cue", json={"duration": 14})
    assert response.status == 201
    end = parse_datetime((await response.json())["endTime"]).timestamp()
    ads, asset_lists = set(), set()
    while clock.now() < end + 14:  # until the return has left the 6-segment window
        clock.advance(1.0)
        for mode, variant in itertools.product(MODES, ("hi", "lo")):
            path = f"/{mode}/news/{variant}.m3u8"
            playlist = await stitched(stack, path, f"at {clock.now()}", seen)
            if mode == "ssai":
                ads |= {s.uri for s in playlist.segments if "/ads/" in s.uri}
            for daterange in playlist.dateranges:
                if daterange.klass == INTERSTITIAL:
                    asset_lists.add(urljoin(path, daterange.attributes.text("X-ASSET-LIST")))
    assert ads and asset_lists and seen.interstitials, "the break was never in a playlist"
    assert all(
        {"X-ASSET-LIST", "X-RESUME-OFFSET", "X-RESTRICT"} <= set(d.attributes.names())
        for d in seen.interstitials.values()
    )
    items = set()
    for url in asset_lists:  # the SGAI items: a master per pod item, over the conditioned playlists
        response = await stack.client.get(url)
        assert response.status == 200, url
        for asset in (await response.json())["ASSETS"]:
            parts = urlsplit(asset["URI"])
            items.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    for item in sorted(items):
        master = await stitched(stack, item, "SGAI item", seen)
        for variant in master.variants:
            async with stack.session.get(variant.uri) as response:
                assert response.status == 200, variant.uri
                agree(await response.text(), f"SGAI item {item}: {variant.uri}", seen)
    assert len(items) >= 3 and seen.kinds["vod"] >= 2 * len(items)  # two ads and the slate
    if stack.origin.timeline.discontinuity_every:  # every 2nd segment, and the break's splice
        assert seen.collapsed  # points and return (7 segments apart) fall on both parities


async def test_conditioned_ad_and_slate_playlists(live):
    stack, seen = live, Seen()
    renditions = stack.catalog.ad_renditions(stack.channel.conditioning.key)
    for rendition in renditions:
        async with stack.session.get(stack.media_url + rendition.path) as response:
            assert response.status == 200, rendition.path
            playlist = agree(await response.text(), rendition.path, seen)
        assert playlist.endlist and len(playlist.segments) == rendition.segments
    assert {r.ad_id for r in renditions} == {ad_id for ad_id, _ in ADS}
    assert seen.kinds["vod"] == len(renditions) == len(ADS) * len(stack.channel.ladder)


# --------------------------------------------------------------------------- the golden files


GOLDEN_FILES = sorted(
    f"{case.name}/{name}"
    for case in GOLDEN.iterdir()
    if case.is_dir()
    for name in ("origin.m3u8", "expected.m3u8")
)


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_files(name):
    seen = Seen()
    agree((GOLDEN / name).read_text(), name, seen)
    assert seen.kinds["media"] == 1 and seen.segments >= 6
    if name.startswith("origin-discontinuity-") and name.endswith("expected.m3u8"):
        assert seen.collapsed, "the splice or return on the origin discontinuity is gone"


def test_m3u8_reads_two_discontinuity_tags_before_a_segment_as_one():
    """The one disagreement (see the module's docstring): m3u8 is lossy where RFC 8216 counts tags.

    Should m3u8 ever count the tags, this fails: then drop the allowance in `_agree_media`."""
    text = (GOLDEN / "origin-discontinuity-inside" / "expected.m3u8").read_text()
    ours, theirs = parse_media_playlist(text), m3u8.loads(text)
    doubled = [n for n, s in enumerate(ours.segments) if s.discontinuity == 2]
    assert doubled, "no segment with two EXT-X-DISCONTINUITY tags in the golden case"
    n = doubled[0]
    assert theirs.segments[n].discontinuity is True  # one flag for two tags
    numbers = [dsn for _, dsn, _ in ours.numbered()]
    flags = [int(s.discontinuity) for s in theirs.segments]
    implied = [
        (theirs.discontinuity_sequence or 0) + sum(flags[: k + 1]) for k in range(len(flags))
    ]
    assert numbers[:n] == implied[:n]
    assert all(m == i + 1 for m, i in zip(numbers[n:], implied[n:], strict=True))
    again = parse_media_playlist(theirs.dumps())  # m3u8's own rendering keeps one tag
    assert again.segments[n].discontinuity == 1
    assert [dsn for _, dsn, _ in again.numbered()][n:] == implied[n:] != numbers[n:]


def test_a_daterange_after_the_last_segment_is_lost_by_m3u8_and_fails_the_comparison():
    """m3u8 keeps a DATERANGE only with the segment after it, so one after the last segment is
    dropped: `agree` refuses such a playlist (none of the compared ones has one)."""
    text = (GOLDEN / "daterange-inside" / "expected.m3u8").read_text()
    late = '#EXT-X-DATERANGE:ID="late",START-DATE="2026-01-02T00:10:00.000Z",PLANNED-DURATION=10\n'
    ours, theirs = parse_media_playlist(text + late), m3u8.loads(text + late)
    assert [DateRange.from_tag(t).id for t in ours.trailing_tags] == ["late"]
    assert "late" not in {d.id for s in theirs.segments for d in s.dateranges or ()}
    with pytest.raises(AssertionError):
        agree(text + late, "a trailing DATERANGE", Seen())
    agree(text, "the golden case", Seen())
