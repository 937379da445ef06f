"""The pure SSAI core over the real pipeline: origin (fake clock) -> monitor -> ledger (KV) -> stitch.

Every stitched playlist, for every viewer and variant, goes through the validator (T1-T4, R1-R14):
slots keep the origin's numbers and times, splices and returns carry DISCONTINUITY, and the
DISCONTINUITY-SEQUENCE keeps every segment's number across reloads while breaks come and go.
"""

from __future__ import annotations

import random

import pytest

from rig.settings import CUE_COMMANDS, CUE_FORMATS
from rig.validator import Checker
from stitcher.playlist import Segment
from stitcher.ssai import SsaiError, VodMedia, stitch
from tests.conftest import MEDIA


def vod_media(catalog, channel) -> tuple[dict[str, VodMedia], dict[int, str]]:
    """Stand-ins for the conditioned playlists the shell would fetch: 2 s segments under each path."""
    media, slate = {}, {}
    for rendition in catalog.ad_renditions(channel.conditioning.key):
        url = MEDIA + rendition.path
        folder = url.rsplit("/", 1)[0]
        segments = tuple(Segment(f"{folder}/seg_{k:05d}.ts", 2.0, "2.000") for k in range(rendition.segments))
        media[url] = VodMedia(url, segments)
        if rendition.ad_id == "slate":
            slate[rendition.bandwidth] = url
    return media, slate


async def render(rig, variant, now, media, slate):
    rung = next(r for r in rig.channel.ladder if r.name == variant)
    origin = rig.origin.media(variant, now)
    records = await rig.ledger.records("news")
    ledger = await rig.ledger.ledger("news")
    url = f"http://origin.test/news/{variant}/index.m3u8"
    return stitch(origin, url, records, ledger, 2.0, rung.bandwidth, media, slate[rung.bandwidth])


async def test_stitched_playlists_keep_the_timeline_for_every_viewer(rig, clock):
    media, slate = vod_media(rig.catalog, rig.channel)
    rng = random.Random(7)
    checker = Checker()
    posted, ads_seen, discontinuities = [], set(), 0
    start = clock.now()
    round_id = 0
    while clock.now() - start < 20 * 60:  # twenty minutes of stream
        clock.advance(0.5)
        now = clock.now()
        if rng.random() < 1 / 50:
            try:
                splice = rig.origin.post_splice(now, rng.choice([8, 12, 20]), rng.choice([0, 4, 8, 12]), rng.choice(CUE_FORMATS), rng.choice(CUE_COMMANDS))
                posted.append(splice.event_id)
            except ValueError:
                pass  # an overlap: refused by the origin
        if posted and rng.random() < 1 / 120:
            try:
                rig.origin.delete_splice(rng.choice(posted), now)
            except (ValueError, LookupError):
                pass
        if round(now * 2) % 2 == 0:
            await rig.monitor.poll(rig.channel)
        viewer = int(now * 2) % 3
        round_id += 1
        for variant in ("hi", "lo"):
            playlist = await render(rig, variant, now, media, slate)
            ads_seen |= {s.uri.split("/ads/")[1].split("/")[0] for s in playlist.segments if "/ads/" in s.uri}
            discontinuities = max(discontinuities, playlist.discontinuity_sequence)
            checker.observe_media(f"http://stitcher.test/ssai/news/{variant}.m3u8", playlist.render(), now, viewer=f"v{viewer}", round_id=round_id)
    assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
    assert (await rig.ledger.ledger("news")).total >= 20 and len(posted) >= 8  # breaks really happened (old records have expired)
    assert ads_seen >= {"house-1", "house-2"} and discontinuities >= 10


async def test_slots_splices_and_returns(rig, clock):
    media, slate = vod_media(rig.catalog, rig.channel)
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 8, 8, "daterange", "splice_insert")
    while tl.last_published(clock.now()) < splice.end:  # the 6-segment window holds the whole break and the return
        clock.advance(1.0)
        await rig.monitor.poll(rig.channel)
    (record,) = await rig.ledger.records("news")
    playlist = await render(rig, "hi", clock.now(), media, slate)
    by_msn = {n: s for n, _, s in playlist.numbered()}
    first, back = splice.start, splice.end
    assert by_msn[first].discontinuity and "/ads/" in by_msn[first].uri
    assert by_msn[back].discontinuity and by_msn[back].uri == f"http://origin.test/news/hi/seg_{back}.ts"
    origin = {n: s for n, _, s in rig.origin.media("hi", clock.now()).numbered()}
    for n in range(first, back):
        assert by_msn[n].extinf == origin[n].extinf and by_msn[n].program_date_time == origin[n].program_date_time
        assert "/ads/" in by_msn[n].uri or "/slate/" in by_msn[n].uri
    assert sum(s.discontinuity for s in playlist.segments) + playlist.discontinuity_sequence == record.ledger_after


def test_no_pdt_is_a_clear_error():
    from stitcher.breaks import Ledger
    from stitcher.playlist import parse_media_playlist

    origin = parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n#EXTINF:2.000,\nb.ts\n#EXTINF:2.000,\nc.ts\n")
    with pytest.raises(SsaiError, match="PROGRAM-DATE-TIME"):
        stitch(origin, "http://o/x.m3u8", [], Ledger(), 2.0, 1000, {}, "http://s/slate.m3u8")
