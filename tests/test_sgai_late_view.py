"""An SGAI replica that learns of a break late never adds its interstitial's tag before a segment it
has already served (RFC 8216bis 6.2.1; T7: what was served does not depend on which KV read
succeeded).

Found by `rig chaos` (fault `redis:restart`): the break was recorded, then redis-server restarted
before the stitcher's view had read it; the stitcher served the segment the tag belongs on without
it, and once the KV answered again put the tag there, behind the viewers' backs.

Real parts on the fake clock: the whole stitcher stack (tests/stitcher_stack.py) over a private
redis-server with an append-only file, stopped and started again over that file (the break record
survives, as it does in `rig up --kv redis`); viewers poll both variants every half second through
the project's validator.
"""

from __future__ import annotations

import asyncio

from rig.redis_server import start_redis
from rig.validator import Checker
from stitcher.app import StreamOptions
from stitcher.kv import open_kv
from stitcher.playlist import parse_media_playlist
from tests.kv.support import require_redis_server
from tests.test_stitcher_app import get

VARIANTS = ("hi", "lo")


async def watch(s, clock, checker: Checker, seconds: float) -> list[str]:
    """Poll both SGAI variants every 0.5 s of clock for `seconds`; every answer is a 200. Returns
    the playlists."""
    texts: list[str] = []
    end = clock.now() + seconds
    while clock.now() < end:
        clock.advance(0.5)
        for variant in VARIANTS:
            response, text = await get(s, f"/sgai/news/{variant}.m3u8")
            assert response.status == 200, text
            url = f"http://stitcher.test/sgai/news/{variant}.m3u8"
            checker.observe_media(url, text, clock.now(), viewer=variant)
            texts.append(text)
    return texts


async def test_a_break_learnt_of_after_its_announcement_is_announced_with_the_next_segment(
    stitcher_stacks, clock, small_settings, tmp_path
):
    require_redis_server()
    directory = tmp_path / "redis"
    server = await start_redis(directory=directory, persistent=True)
    kv = open_kv(server.url, clock, command_timeout=1.0)
    await kv.start()
    s = await stitcher_stacks(kv, StreamOptions(kv_grace=30.0))
    checker = Checker()
    try:
        await watch(s, clock, checker, 4.0)
        # just before a segment boundary: the segment the tag belongs on ends 0.1 s after the
        # break is recorded, and the stitcher's view (read at most 0.5 s ago) does not hold it
        segment = small_settings.media.segment_seconds
        to_boundary = segment - (clock.now() - small_settings.origin.epoch) % segment
        clock.advance((to_boundary - 0.1) % segment)
        posted = await s.client.post("/v1/channels/news/cue", json={"duration": 8})
        assert posted.status == 201, await posted.text()
        event = (await posted.json())["eventId"]
        await asyncio.to_thread(server.stop)  # redis-server goes away before the view reads it
        blind = await watch(s, clock, checker, 2.0)  # the tag's segment is served without it
        server = await start_redis(server.port, directory, persistent=True)
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
    finally:
        await kv.close()
        await asyncio.to_thread(server.stop)
