"""The pure SGAI core: interstitial DATERANGEs over the origin's own segments, asset lists, item
playlists.

Hand-built records check the tag byte by byte (ID, attribute order and types, relative asset list,
presence in the window); the asset list adds up to DURATION exactly; and a run over the real
pipeline (origin on a fake clock -> monitor -> ledger on each KV backend -> interleave) feeds every
playlist of three viewers and two variants to the validator, with early returns before and after
an interstitial became visible.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urljoin

import pytest

from rig.validator import Checker, check_master_playlist, check_media_playlist
from stitcher.breaks import BreakError, BreakRecord, Grid, shorten
from stitcher.catalog import Rung
from stitcher.playlist import (
    MediaPlaylist,
    Segment,
    Tag,
    parse_master_playlist,
    parse_media_playlist,
)
from stitcher.pod import Pod, PodItem
from stitcher.sgai import (
    NoInterstitial,
    SgaiError,
    announce_from,
    asset_list,
    interleave,
    interstitial_duration,
    interstitial_id,
    item_master,
)
from tests.driving import random_qa_cues

D = 2.0
T0 = 1_767_312_000.0  # a segment boundary
VARIANTS = (
    (800_000, "http://media.test/ads/a/lo/index.m3u8"),
    (2_000_000, "http://media.test/ads/a/hi/index.m3u8"),
)
ORDER = [
    "ID",
    "CLASS",
    "START-DATE",
    "DURATION",
    "X-ASSET-LIST",
    "X-RESUME-OFFSET",
    "X-PLAYOUT-LIMIT",
    "X-RESTRICT",
    "X-SNAP",
]


def pod(*durations: float, slate: float = 0.0) -> Pod:
    items = [PodItem(f"house-{i}", "ad", d, VARIANTS) for i, d in enumerate(durations)]
    if slate:
        items.append(PodItem("slate", "slate", slate, VARIANTS))
    return Pod("p", tuple(items))


def record(
    event_id="7",
    ad_start=T0 + 20,
    end=T0 + 50,
    announced=None,
    the_pod=None,
    created=T0 + 1.25,
    **kw,
) -> BreakRecord:
    the_pod = the_pod or pod(4, 6, slate=20)
    points = (ad_start, end)
    return BreakRecord(
        "news",
        event_id,
        "scte35",
        ad_start,
        end - ad_start,
        end,
        ad_start,
        the_pod,
        points,
        created,
        created,
        interstitial_end=end if announced is None else announced,
        **kw,
    )


def origin(first: int, count: int = 6, disc_at: int | None = None) -> MediaPlaylist:
    """An origin window of `count` 2 s segments from MSN `first` (segment n starts at T0 + 2n)."""
    segments = []
    for n in range(first, first + count):
        pdt = datetime.fromtimestamp(T0 + D * n, tz=UTC)
        tags = (Tag("EXT-X-CUE-OUT-CONT", "2.000/30"),) if n == first + 1 else ()
        segments.append(Segment(f"seg_{n}.ts", D, "2.000", "", n == disc_at, pdt, tags))
    return MediaPlaylist(
        target_duration=2,
        segments=tuple(segments),
        media_sequence=first,
        discontinuity_sequence=3,
        version=3,
    )


def is_interstitial(tag: Tag) -> bool:
    return (
        tag.name == "EXT-X-DATERANGE"
        and tag.attributes().text("CLASS") == "com.apple.hls.interstitial"
    )


def interstitials(playlist: MediaPlaylist) -> dict[int, list[Tag]]:
    """MSN -> the interstitial DATERANGEs before that segment (the origin's own DATERANGEs left
    out)."""
    found = {msn: [t for t in s.tags if is_interstitial(t)] for msn, _, s in playlist.numbered()}
    return {msn: tags for msn, tags in found.items() if tags}


URL = "http://origin.test/news/hi/index.m3u8"

# --------------------------------------------------------------------------- (a) the playlist


def test_the_tag_byte_by_byte():
    r = record()
    out = interleave(origin(8), URL, [r], D)
    (tag,) = interstitials(out)[8]  # announced long ago: on the window's first segment
    ident = f"ad-7-{round(r.created * 1000)}"
    assert interstitial_id(r) == ident
    assert tag.render() == (
        f'#EXT-X-DATERANGE:ID="{ident}",CLASS="com.apple.hls.interstitial",START-DATE="2026-01-02T00:00:20.000Z",'
        f'DURATION=30.000,X-ASSET-LIST="breaks/7/assets.json?_HLS_interstitial_id={ident}",X-RESUME-OFFSET=30.000,'
        'X-PLAYOUT-LIMIT=30.000,X-RESTRICT="SKIP,JUMP",X-SNAP="OUT,IN"'
    )
    assert tag.attributes().names() == ORDER
    # the asset list is relative: hls.js resolves it against the media playlist URL the app serves
    assert urljoin(
        "http://stitcher.test/sgai/news/hi.m3u8", tag.attributes().text("X-ASSET-LIST")
    ) == (f"http://stitcher.test/sgai/news/breaks/7/assets.json?_HLS_interstitial_id={ident}")
    text = out.render()
    assert (
        check_media_playlist(
            parse_media_playlist(text), "http://stitcher.test/sgai/news/hi.m3u8", text=text
        )
        == []
    )


def test_origin_segments_stay_the_origins():
    source = origin(8, disc_at=11)
    out = interleave(source, URL, [record()], D)
    assert (out.media_sequence, out.discontinuity_sequence, out.target_duration) == (8, 3, 2)
    for before, after in zip(source.segments, out.segments):
        assert after.uri == f"http://origin.test/news/hi/{before.uri}"
        assert (after.extinf, after.discontinuity, after.program_date_time) == (
            before.extinf,
            before.discontinuity,
            before.program_date_time,
        )
        assert (
            after.tags[: len(before.tags)] == before.tags
        )  # the origin's tags first, in their order
    assert [n for n, _, _ in out.numbered()] == [n for n, _, _ in source.numbered()]
    assert [d for _, d, _ in out.numbered()] == [d for _, d, _ in source.numbered()]


def test_presence_follows_the_window():
    """Announced ahead: from the first segment published after the break was recorded (so a player
    loads the asset list before it reaches the break), while that is in the window; then on the
    first segment while the window still overlaps the break (hls.js kills an interstitial whose
    DATERANGE leaves the playlist)."""
    r = record(
        created=T0 + 12.5
    )  # recorded while segment 6 was being produced; adStart = segment 10, end = 25
    assert (
        interstitials(interleave(origin(0), URL, [r], D)) == {}
    )  # window 0..5: segment 6 is not out yet
    assert list(interstitials(interleave(origin(1), URL, [r], D))) == [
        6
    ]  # the newest segment announces it
    tag = interstitials(interleave(origin(1), URL, [r], D))[6]
    assert interstitials(interleave(origin(6), URL, [r], D)) == {6: tag}
    assert interstitials(interleave(origin(7), URL, [r], D)) == {
        7: tag
    }  # the first segment takes it over
    assert interstitials(interleave(origin(24), URL, [r], D)) == {
        24: tag
    }  # the last slot of the break
    assert interstitials(interleave(origin(25), URL, [r], D)) == {}  # the window is past the break


def test_cancelled_breaks_have_no_interstitial_and_ids_are_never_reused():
    cancelled = record(cancelled=True)
    assert interstitials(interleave(origin(8), URL, [cancelled], D)) == {}
    with pytest.raises(NoInterstitial):
        asset_list(cancelled, D, str)
    again = record(
        created=T0 + 3600.5, ad_start=T0 + 3620, end=T0 + 3650
    )  # SCTE-35 reused event id 7
    assert interstitial_id(again) != interstitial_id(record())
    with pytest.raises(SgaiError, match="DATERANGE ID"):
        interleave(origin(8), URL, [record(event_id='7"')], D)


def test_identical_in_every_variant_and_reload():
    r, other = record(), record(event_id="9", ad_start=T0 + 4, end=T0 + 12)
    hi = interleave(origin(5), URL, [other, r], D)
    lo = interleave(origin(5), "http://origin.test/news/lo/index.m3u8", [r, other], D)
    assert interstitials(hi) == interstitials(lo) and sum(map(len, interstitials(hi).values())) == 2
    reload = interleave(origin(6), URL, [r, other], D)
    # the same tag, moved to the new first segment; the other break is behind the window now
    assert interstitials(reload) == {
        6: [t for t in interstitials(hi)[5] if interstitial_id(r) in t.value]
    }


def test_an_early_return_after_it_was_served_keeps_the_duration():
    seen = record(end=T0 + 30, announced=T0 + 50)  # returned early to segment 15; announced to 25
    (tag,) = interstitials(interleave(origin(10), URL, [seen], D))[10]
    assert tag.attributes().raw("DURATION") == "30.000" and interstitial_duration(seen, D) == 30.0
    assert list(interstitials(interleave(origin(20), URL, [seen], D))) == [
        20
    ]  # while the announced range lasts


def test_after_an_earlier_break_the_tag_waits_for_the_segment_after_its_end():
    """hls.js 1.7.4 restarts the primary content after an in-place interstitial it buffered ahead of
    live only if, in the reload whose live edge first passes the resumption point (by more than
    0.5 s), no later interstitial is scheduled yet (`InterstitialsController.onLevelUpdated`:
    `bufferingItem.end === Infinity`). Otherwise playback stops at the end of the asset. So after
    an earlier break a tag waits for the segment starting one segment after that break's end;
    with breaks at least two segments apart it still comes before its break's first segment."""
    b1 = record("1", ad_start=T0 + 20, end=T0 + 32, created=T0 + 1.25)  # segments 10-15
    b2 = record(
        "2", ad_start=T0 + 38, end=T0 + 48, created=T0 + 1.26
    )  # 19-23: three segments after b1
    b3 = record("3", ad_start=T0 + 54, end=T0 + 66, created=T0 + 1.27)  # 27-32
    both = [b3, b1, b2]

    def where(first: int, records=both) -> dict[str, int]:
        return {
            interstitial_id(r).split("-")[1]: msn
            for msn, tags in interstitials(interleave(origin(first), URL, records, D)).items()
            for r in records
            for t in tags
            if interstitial_id(r) in t.value
        }

    assert where(0) == {"1": 0}  # b2 and b3 are not announced with b1
    assert where(11) == {
        "1": 11
    }  # segment 16 (32-34 s) is the first past b1's end: nothing after b1 yet
    assert where(12) == {
        "1": 12,
        "2": 17,
    }  # then segment 17 carries b2, ahead of its first segment (19)
    assert where(17) == {"2": 17}  # b1 is behind the window; b2 stays
    assert where(19) == {"2": 19} and where(20) == {
        "2": 20,
        "3": 25,
    }  # segment 24 (48-50 s) first, then b3 on 25
    for first in range(
        0, 30
    ):  # every reload: a tag once served stays until the window is past its break
        for r, ident in ((b1, "1"), (b2, "2"), (b3, "3")):
            now, later = where(first), where(first + 1)
            if ident in now and T0 + (first + 1) * D < r.sgai_end - D / 2:
                assert ident in later
    # identical in every variant (T2, D9)
    lo = interleave(origin(20), "http://origin.test/news/lo/index.m3u8", both, D)
    assert interstitials(lo) == interstitials(interleave(origin(20), URL, both, D))


def test_what_holds_a_tag_back():
    b1 = record("1", ad_start=T0 + 20, end=T0 + 32, created=T0 + 1.25)
    abutting = record(
        "2", ad_start=T0 + 32, end=T0 + 42, created=T0 + 1.26
    )  # no content between: not held back
    assert announce_from(abutting, [b1, abutting], D) is None
    later = record("2", ad_start=T0 + 38, end=T0 + 48, created=T0 + 1.26)
    assert announce_from(later, [b1, later], D) == T0 + 34
    assert (
        announce_from(later, [replace(b1, cancelled=True), later], D) is None
    )  # a cancelled break has no interstitial
    assert announce_from(b1, [b1, later], D) is None  # only earlier breaks count
    inserted = record(
        "0", ad_start=T0 + 6, end=T0 + 12, created=T0 + 30.5
    )  # recorded after b1, placed before it
    assert (
        announce_from(b1, [inserted, b1], D) is None
    )  # b1's tag may be out already: it never moves
    # an early return after it was announced keeps the interstitial's end, so the next tag keeps its
    # place
    returned = replace(b1, end=T0 + 26, interstitial_end=T0 + 32)
    assert announce_from(later, [returned, later], D) == T0 + 34


def test_no_program_date_time_is_a_clear_error():
    plain = parse_media_playlist(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n#EXTINF:2.000,\nb.ts\n"
    )
    with pytest.raises(SgaiError, match="PROGRAM-DATE-TIME"):
        interleave(plain, URL, [record()], D)


# --------------------------------------------------------------------------- (b) the asset list


def uri(k: int) -> str:
    return f"http://stitcher.test/sgai/news/breaks/7/items/{k}.m3u8"


def millis(assets: dict) -> int:
    return sum(round(a["DURATION"] * 1000) for a in assets["ASSETS"])


def test_the_assets_add_up_to_the_duration_exactly():
    full = asset_list(record(), D, uri, slate_media=10.0)
    assert full == {
        "ASSETS": [
            {"URI": uri(0), "DURATION": 4.0},
            {"URI": uri(1), "DURATION": 6.0},
            {"URI": uri(2), "DURATION": 10.0},
            {"URI": uri(2), "DURATION": 10.0},
        ]
    }
    late = asset_list(
        record(ad_start=T0 + 26), D, uri, slate_media=10.0
    )  # a late cue: 24 s of the 30 s pod
    assert [a["DURATION"] for a in late["ASSETS"]] == [4.0, 6.0, 10.0, 4.0] and millis(
        late
    ) == 24_000
    odd = asset_list(
        record(the_pod=pod(4, slate=3.3), end=T0 + 30), D, uri, slate_media=10.0
    )  # a remote pod: 7.3 s of 10 s
    assert [(a["URI"], a["DURATION"]) for a in odd["ASSETS"]] == [
        (uri(0), 4.0),
        (uri(1), 3.3),
        (uri(2), 2.7),
    ]  # filler: len(items)
    assert millis(odd) == 10_000 and math.isclose(sum(a["DURATION"] for a in odd["ASSETS"]), 10.0)
    short = asset_list(
        record(end=T0 + 24, announced=T0 + 24), D, uri, slate_media=10.0
    )  # returned early before it was seen
    assert [a["DURATION"] for a in short["ASSETS"]] == [4.0] and millis(short) == 4_000
    kept = asset_list(
        record(end=T0 + 24, announced=T0 + 50), D, uri, slate_media=10.0
    )  # after: the announced 30 s
    assert millis(kept) == 30_000


def test_every_asset_fits_its_media():
    for slate_media, expected in (
        (10.0, [10.0, 10.0]),
        (None, [2.0] * 10),
        (6.0, [6.0, 6.0, 6.0, 2.0]),
    ):
        assets = asset_list(record(), D, uri, slate_media=slate_media)["ASSETS"]
        assert [a["DURATION"] for a in assets[2:]] == expected and millis(
            {"ASSETS": assets}
        ) == 30_000


def test_start_offset():
    """hls.js places assets by their cumulative DURATIONs from the interstitial's start and seeks
    into the one covering the join itself: a late joiner gets the full list; nothing past the
    end."""
    full = asset_list(record(), D, uri, slate_media=10.0)
    for offset in (0, 0.001, 7.5, "12.25", 29.999):
        assert asset_list(record(), D, uri, start_offset=offset, slate_media=10.0) == full
    assert asset_list(record(), D, uri, start_offset=30, slate_media=10.0) == {"ASSETS": []}
    assert asset_list(record(), D, uri, start_offset=4000.5, slate_media=10.0) == {"ASSETS": []}
    for bad in (-0.5, math.nan, math.inf, -math.inf, "abc", "nan", ""):
        with pytest.raises(SgaiError, match="_HLS_start_offset"):
            asset_list(record(), D, uri, start_offset=bad)


# --------------------------------------------------------------------------- item playlists


def test_item_master_has_a_variant_per_rung():
    ladder = (
        Rung("hi", 2_000_000, 1280, 720, frame_rate=25.0),
        Rung("mid", 1_200_000, 960, 540),
        Rung("lo", 800_000, 640, 360, "avc1.42c01e,mp4a.40.2"),
    )
    master = item_master(ladder, PodItem("house-1", "ad", 4.0, VARIANTS))
    text = master.render()
    parsed = parse_master_playlist(text)
    assert check_master_playlist(parsed) == [] and not parsed.notes
    assert [v.uri for v in parsed.variants] == [
        VARIANTS[1][1],
        VARIANTS[0][1],
        VARIANTS[0][1],
    ]  # mid: the nearest
    first = parsed.variants[0].attributes
    assert first.names() == ["BANDWIDTH", "RESOLUTION", "CODECS", "FRAME-RATE"]
    assert (
        first.raw("BANDWIDTH"),
        first.raw("RESOLUTION"),
        first.raw("CODECS"),
        first.raw("FRAME-RATE"),
    ) == ("2000000", "1280x720", '"avc1.4d401f,mp4a.40.2"', "25.000")
    assert parsed.variants[2].codecs == "avc1.42c01e,mp4a.40.2"
    with pytest.raises(SgaiError):
        item_master(ladder, PodItem("x", "ad", 4.0, ()))


# --------------------------------------------------------------------------- (c) the real pipeline


def media_seconds(catalog, channel) -> dict[str, float]:
    """The conditioned length of each creative (and the slate) for the channel's ladder."""
    return {r.ad_id: r.duration for r in catalog.ad_renditions(channel.conditioning.key)}


async def render(rig, variant: str, now: float) -> MediaPlaylist:
    records = await rig.ledger.records("news")
    return interleave(
        rig.origin.media(variant, now),
        f"http://origin.test/news/{variant}/index.m3u8",
        records,
        rig.channel.segment_duration,
    )


def check_assets(
    record: BreakRecord, lengths: dict[str, float], offset: float | None = None
) -> None:
    """The asset list adds up to DURATION, no asset is longer than its media, a late joiner gets it
    all."""
    item_uri = lambda k: f"http://stitcher.test/sgai/news/items/{k}.m3u8"  # noqa: E731
    assets = asset_list(record, D, item_uri, None, lengths["slate"])["ASSETS"]
    assert sum(round(a["DURATION"] * 1000) for a in assets) == round(
        interstitial_duration(record, D) * 1000
    )
    items = record.pod.items
    for a in assets:
        k = int(a["URI"].rsplit("/", 1)[1].split(".")[0])
        assert a["DURATION"] <= lengths["slate" if k == len(items) else items[k].id] + 1e-9
    if offset is not None:
        late = asset_list(record, D, item_uri, offset, lengths["slate"])["ASSETS"]
        assert late == (assets if offset < interstitial_duration(record, D) else [])


async def test_interleaved_playlists_keep_the_timeline_for_every_viewer(rig, clock):
    lengths = media_seconds(rig.catalog, rig.channel)
    rng = random.Random(11)
    checker = Checker()
    posted, durations, records = [], {}, {}
    start, round_id = clock.now(), 0
    while clock.now() - start < 20 * 60:  # twenty minutes of stream
        clock.advance(0.5)
        now = clock.now()
        random_qa_cues(
            rng, rig.origin, now, posted, return_rate=1 / 100
        )  # returns: the origin's CUE-IN or a cancel
        if (
            rng.random() < 1 / 40
        ):  # QA returns a break early through the ledger, at a random time or at once
            live = [r for r in await rig.ledger.records("news") if not r.cancelled and r.end > now]
            upcoming = [
                r for r in live if r.ad_start > now + 2 * D
            ]  # announced by a pre-roll, not yet published
            if live:
                target = rng.choice(upcoming or live)
                grid = Grid.of(rig.origin.media("hi", now), D)
                try:
                    await rig.ledger.update(
                        target,
                        shorten(
                            target,
                            grid,
                            now,
                            rng.choice([None, target.ad_start + rng.choice([2, 4, 6])]),
                        ),
                        now,
                    )
                except BreakError:
                    pass  # it ends by then anyway, or it changed meanwhile
        if round(now * 2) % 2 == 0:
            await rig.monitor.poll(rig.channel)
        viewer = int(now * 2) % 3
        round_id += 1
        for r in await rig.ledger.records("news"):
            records[interstitial_id(r)] = r
        for variant in ("hi", "lo"):
            playlist = await render(rig, variant, now)
            for tag in (t for s in playlist.segments for t in s.tags if is_interstitial(t)):
                ident, duration = tag.attributes().text("ID"), tag.attributes().raw("DURATION")
                durations.setdefault(ident, duration)
                joined = (
                    now - records[ident].ad_start
                )  # a player joining now starts this far into it (none before it)
                check_assets(records[ident], lengths, joined if joined >= 0 else None)
            checker.observe_media(
                f"http://stitcher.test/sgai/news/{variant}.m3u8",
                playlist.render(),
                now,
                viewer=f"v{viewer}",
                round_id=round_id,
            )
    assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
    assert len(durations) >= 8, durations  # interstitials really happened
    kept = shortened = 0
    for (
        ident,
        duration,
    ) in durations.items():  # the DURATION first served is the record's announced one, for good
        final = records[ident]
        assert duration == f"{final.sgai_end - final.ad_start:.3f}"
        kept += (
            final.sgai_end > final.end + 1e-3
        )  # returned early after it was served: DURATION unchanged
        shortened += (
            final.sgai_end < final.start + final.duration - D / 2
        )  # returned early before: the shorter DURATION
    assert kept >= 1 and shortened >= 1, (kept, shortened)


async def poll_until(rig, clock, condition, limit: float = 120.0) -> None:
    start = clock.now()
    while not await condition():
        assert clock.now() - start < limit, "the condition never came true"
        clock.advance(0.5)
        await rig.monitor.poll(rig.channel)


def only_tag(playlist: MediaPlaylist) -> Tag:
    (tags,) = interstitials(playlist).values()
    (tag,) = tags
    return tag


async def test_an_early_return_keeps_the_duration_once_visible(rig, clock):
    lengths = media_seconds(rig.catalog, rig.channel)
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 20, 4, "daterange", "splice_insert")

    async def created():
        return bool(await rig.ledger.records("news"))

    await poll_until(rig, clock, created)
    (first,) = await rig.ledger.records("news")
    event = first.event_id
    assert (
        interstitials(await render(rig, "hi", clock.now())) == {}
    )  # its start slot is not published yet

    async def served():  # the start slot and two more are out
        return tl.start(tl.last_published(clock.now())) >= first.ad_start + 2 * D

    await poll_until(rig, clock, served)
    tag = only_tag(await render(rig, "hi", clock.now()))
    assert (
        tag.attributes().text("ID") == interstitial_id(first)
        and tag.attributes().raw("DURATION") == "20.000"
    )
    rig.origin.delete_splice(
        splice.event_id, clock.now()
    )  # the origin returns to the network early (CUE-IN)

    async def returned():
        return (await rig.ledger.get("news", event)).end < first.end

    await poll_until(rig, clock, returned)
    record = await rig.ledger.get("news", event)
    assert (
        record.end < record.sgai_end == first.end
    )  # SSAI returns early; the interstitial keeps its 20 s
    assert only_tag(await render(rig, "lo", clock.now())) == tag
    check_assets(record, lengths)


async def test_an_early_return_before_it_is_visible_shortens_the_duration(rig, clock):
    lengths = media_seconds(rig.catalog, rig.channel)
    tl = rig.origin.timeline
    rig.origin.post_splice(clock.now(), 20, 12, "daterange", "time_signal")

    async def created():
        return bool(await rig.ledger.records("news"))

    await poll_until(rig, clock, created)
    (first,) = await rig.ledger.records("news")
    grid = Grid.of(rig.origin.media("hi", clock.now()), D)
    assert first.ad_start >= grid.earliest  # announced, not yet published
    record = await rig.ledger.update(
        first, shorten(first, grid, clock.now(), at=first.ad_start + 6), clock.now()
    )
    assert record.end == record.sgai_end == first.ad_start + 6

    async def served():
        return tl.start(tl.last_published(clock.now())) >= first.ad_start

    await poll_until(rig, clock, served)
    tag = only_tag(await render(rig, "hi", clock.now()))
    assert tag.attributes().raw("DURATION") == "6.000" == tag.attributes().raw("X-PLAYOUT-LIMIT")
    check_assets(record, lengths)
