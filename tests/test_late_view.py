"""A replica that learns of a break late never changes what it has already served (RFC 8216bis
6.2.1, T1; T7: what was served does not depend on which KV read succeeded).

Found by `rig chaos`: `redis:restart` right after a break was recorded (the stitcher's view had
not read it; SGAI: the interstitial's tag was later added to a segment already served), and
`redis:stop` beyond the grace period (SSAI: a break recorded just before the store froze, or
passed through while degraded, got its ads once the store answered again, over slots already
served as content, and DISCONTINUITY-SEQUENCE jumped).

Real parts on the fake clock: the whole stitcher stack (tests/stitcher_stack.py) over a private
redis-server with an append-only file, stopped and started again over that file (the break record
survives, as it does in `rig up --kv redis`); viewers poll both variants every half second through
the project's validator.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rig.validator import Checker
from stitcher.app import StreamOptions
from stitcher.playlist import format_datetime, parse_media_playlist
from tests.kv.support import PrivateRedis
from tests.test_stitcher_app import get

VARIANTS = ("hi", "lo")


async def watch(s, clock, checker: Checker, seconds: float, mode: str = "sgai") -> list[str]:
    """Poll both variants in `mode` every 0.5 s of clock for `seconds`; every answer is a 200.
    Returns the playlists."""
    texts: list[str] = []
    end = clock.now() + seconds
    while clock.now() < end:
        clock.advance(0.5)
        for variant in VARIANTS:
            response, text = await get(s, f"/{mode}/news/{variant}.m3u8")
            assert response.status == 200, text
            url = f"http://stitcher.test/{mode}/news/{variant}.m3u8"
            checker.observe_media(url, text, clock.now(), viewer=variant)
            texts.append(text)
    return texts


async def test_a_break_learnt_of_after_its_announcement_is_announced_with_the_next_segment(
    stitcher_stacks, clock, small_settings, tmp_path
):
    async with PrivateRedis(clock, tmp_path / "redis") as redis:
        s = await stitcher_stacks(redis.kv, StreamOptions(kv_grace=30.0))
        checker = Checker()
        await watch(s, clock, checker, 4.0)
        # just before a segment boundary: the segment the tag belongs on ends 0.1 s after the
        # break is recorded, and the stitcher's view (read at most 0.5 s ago) does not hold it
        segment = small_settings.media.segment_seconds
        to_boundary = segment - (clock.now() - small_settings.origin.epoch) % segment
        clock.advance((to_boundary - 0.1) % segment)
        posted = await s.client.post("/v1/channels/news/cue", json={"duration": 8})
        assert posted.status == 201, await posted.text()
        event = (await posted.json())["eventId"]
        await redis.stop()  # redis-server goes away before the view reads it
        blind = await watch(s, clock, checker, 2.0)  # the tag's segment is served without it
        await redis.start()
        back = await watch(s, clock, checker, 20.0)  # the KV is back, through the break
        violations = [v.line() for v in checker.violations[:10]]
        assert checker.summary()["violations"] == 0, violations
        # the interstitial was announced all the same, once the record could be read, on a
        # segment after every one served while the view could not be read
        assert not any(event in text for text in blind)
        announced = [t for t in back if f"splice-{event}" in t or event in t]
        assert announced, back[-1]
        tagged = parse_media_playlist(announced[0])
        holder = next(seg for seg in tagged.segments if any(event in str(t) for t in seg.tags))
        served = {seg.uri for text in blind for seg in parse_media_playlist(text).segments}
        assert holder.uri not in served
        _, metrics = await get(s, "/metrics")
        assert 'stitcher_errors_total{kind="interstitial_announced_late"}' in metrics


def ad_msns(texts: list[str]) -> dict[int, str]:
    """MSN -> URI of every ad or slate segment in `texts`."""
    return {
        n: seg.uri
        for text in texts
        for n, _, seg in parse_media_playlist(text).numbered()
        if "/ads/" in seg.uri or "/slate/" in seg.uri
    }


def msns(texts: list[str]) -> set[int]:
    return {n for text in texts for n, _, _ in parse_media_playlist(text).numbered()}


def timeline(text: str) -> list[tuple]:
    """(MSN, discontinuity number, PDT, URI path) of every segment: two stacks' playlists compared
    apart from their servers' ports."""
    playlist = parse_media_playlist(text)
    times = playlist.segment_times() or []
    return [(n, d, t, urlsplit(seg.uri).path) for (n, d, seg), t in zip(playlist.numbered(), times)]


async def same_as_a_fresh_replica(s, stitcher_stacks, kv) -> None:
    """Once the late break has left the window, the replica serves what a replica started now (which
    renders the shared view) serves: nothing of the late break is left to lose in a restart."""
    fresh = await stitcher_stacks(kv, StreamOptions(kv_grace=30.0))
    for variant in VARIANTS:
        _, mine = await get(s, f"/ssai/news/{variant}.m3u8")
        _, theirs = await get(fresh, f"/ssai/news/{variant}.m3u8")
        assert timeline(mine) == timeline(theirs), (mine, theirs)


async def test_an_ssai_break_learnt_of_after_its_first_slots_plays_from_the_next_one(
    stitcher_stacks, clock, small_settings, tmp_path
):
    """The break is recorded and redis-server goes away before the view reads it; the stitcher
    serves the break's first slots as content meanwhile. Once the KV is back its ads fill only the
    slots not served yet, and nothing served changes (URI, DISCONTINUITY-SEQUENCE)."""
    async with PrivateRedis(clock, tmp_path / "redis") as redis:
        s = await stitcher_stacks(redis.kv, StreamOptions(kv_grace=30.0))
        checker = Checker()
        await watch(s, clock, checker, 4.0, "ssai")
        posted = await s.client.post("/v1/channels/news/cue", json={"duration": 12})
        assert posted.status == 201, await posted.text()
        await redis.stop()
        blind = await watch(s, clock, checker, 7.0, "ssai")
        await redis.start()
        back = await watch(s, clock, checker, 30.0, "ssai")
        assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
        assert not ad_msns(blind)
        ads = ad_msns(back)
        assert ads, back[-1]  # the break was not lost
        assert not set(ads) & msns(blind)  # no slot served as content got an ad
        _, metrics = await get(s, "/metrics")
        assert 'stitcher_errors_total{kind="break_learnt_late"}' in metrics
        await same_as_a_fresh_replica(s, stitcher_stacks, redis.kv)


async def test_a_break_passed_through_while_degraded_keeps_its_served_slots_when_the_kv_is_back(
    stitcher_stacks, clock, small_settings, tmp_path
):
    """A break known before the store went away begins after the grace period: passed through
    (`degrade`). The store comes back in the middle of it: its ads fill only the slots not served
    yet, and DISCONTINUITY-SEQUENCE goes on from what was served (chaos `redis:stop` saw it jump
    by the break's two discontinuities)."""
    async with PrivateRedis(clock, tmp_path / "redis") as redis:
        s = await stitcher_stacks(redis.kv, StreamOptions(kv_grace=10.0))
        checker = Checker()
        await watch(s, clock, checker, 2.0, "ssai")
        start = format_datetime(clock.now() + 16)
        posted = await s.client.post("/v1/channels/news/cue", json={"duration": 12, "start": start})
        assert posted.status == 201, await posted.text()
        await watch(s, clock, checker, 2.0, "ssai")  # the view holds it
        await redis.stop()
        passed = await watch(s, clock, checker, 18.0, "ssai")  # degraded from 10 s on
        await redis.start()
        back = await watch(s, clock, checker, 30.0, "ssai")
        assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
        assert not ad_msns(passed)
        ads = ad_msns(back)
        assert ads and not set(ads) & msns(passed)
        _, metrics = await get(s, "/metrics")
        assert 'stitcher_kv_degraded{channel="news"} 0.0' in metrics
        await same_as_a_fresh_replica(s, stitcher_stacks, redis.kv)
