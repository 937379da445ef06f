"""The stitcher app over HTTP: every mode for every viewer, caching, faults, metrics.

The whole stack is real and on loopback (tests/stitcher_stack.py): origin emulator -> monitor ->
ledger in the KV (SQLite and Redis) -> stitcher app -> the project's validator, on a fake clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from urllib.parse import urljoin

from aiohttp import web

from rig.validator import Checker
from stitcher.app import StreamOptions, create_app
from stitcher.catalog import MODES
from stitcher.playlist import parse_datetime, parse_master_playlist, parse_media_playlist
from stitcher.streams import SERVICE
from tests.driving import random_qa_cues
from tests.kv.support import PrivateRedis
from tests.stitcher_stack import replica


async def get(target, path: str, **headers):
    """GET through a stack's client or a given (replica's) client."""
    client = getattr(target, "client", target)
    response = await client.get(path, headers=headers)
    return response, await response.text()


async def test_every_mode_keeps_the_timeline_for_every_viewer_on_every_replica(
    stack, clock, aiohttp_client
):
    """Eight minutes of stream with random SCTE-35 cues in every format and /cue breaks; three
    viewers per mode, each reload answered by one of two replicas at random, every playlist into the
    validator (one per mode: T1 and T2 across viewers, variants and replicas)."""
    rng = random.Random(11)
    replicas = [stack.client, await replica(stack, aiohttp_client, clock)]
    checkers = {mode: Checker() for mode in MODES}  # T2 compares the variants of one master
    origin = stack.origin
    seen = {mode: set() for mode in MODES}
    cues, posted = 0, []
    start = clock.now()
    while clock.now() - start < 8 * 60:
        clock.advance(0.5)
        now = clock.now()
        random_qa_cues(
            rng, origin, now, posted, 1 / 40, 1 / 150, durations=(8, 12), prerolls=(0, 4, 8)
        )
        if rng.random() < 1 / 60:
            response = await stack.client.post(
                "/v1/channels/news/cue", json={"duration": rng.choice([6, 10])}
            )
            assert response.status in (201, 409), await response.text()
            cues += response.status == 201
        if round(now * 2) % 2 == 0:
            await stack.monitor.poll(stack.channel)
        viewer = f"v{int(now * 2) % 3}"
        for mode in MODES:
            client = rng.choice(replicas)
            response, text = await get(client, f"/{mode}/news/master.m3u8")
            assert response.status == 200, text
            checkers[mode].observe_master(
                f"http://stitcher.test/{mode}/news/master.m3u8",
                text,
                now,
                viewer=f"{mode}-{viewer}",
            )
            for variant in ("hi", "lo"):
                response, text = await get(client, f"/{mode}/news/{variant}.m3u8")
                assert response.status == 200, text
                checkers[mode].observe_media(
                    f"http://stitcher.test/{mode}/news/{variant}.m3u8",
                    text,
                    now,
                    viewer=f"{mode}-{viewer}",
                )
                seen[mode] |= {
                    line.split("/")[4]
                    for line in text.splitlines()
                    if "/ads/" in line and not line.startswith("#")
                }
                if "com.apple.hls.interstitial" in text:
                    seen[mode].add("interstitial")
    for mode, checker in checkers.items():
        assert checker.summary()["violations"] == 0, (
            mode,
            [v.line() for v in checker.violations[:10]],
        )
        assert checker.summary()["playlists_checked"] > 1500
    assert cues >= 2 and len(posted) >= 6
    assert (
        {"house-1", "house-2"} <= seen["ssai"]
        and seen["sgai"] == {"interstitial"}
        and seen["passthrough"] == set()
    )


async def test_master_keeps_the_mode_and_playlists_are_cacheable(stack, clock):
    response, text = await get(stack, "/sgai/news/master.m3u8")
    master = parse_master_playlist(text)
    assert [v.uri for v in master.variants] == ["hi.m3u8", "lo.m3u8"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    response, text = await get(stack, "/ssai/news/hi.m3u8")
    assert response.headers["Cache-Control"] == (  # target duration 2 s: at most 2 s old anywhere
        "public, max-age=1, stale-if-error=1"
    )
    assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    etag = response.headers["ETag"]
    again, body = await get(stack, "/ssai/news/hi.m3u8", **{"If-None-Match": etag})
    assert again.status == 304 and body == "" and again.headers["ETag"] == etag
    clock.advance(2.0)  # a new origin segment: a new body and tag
    later, _ = await get(stack, "/ssai/news/hi.m3u8", **{"If-None-Match": etag})
    assert later.status == 200 and later.headers["ETag"] != etag


async def test_many_viewers_cost_one_origin_fetch_and_one_render(stack, clock):
    clock.advance(2.0)
    results = await asyncio.gather(*(get(stack, "/ssai/news/hi.m3u8") for _ in range(200)))
    assert len({text for _, text in results}) == 1
    _, metrics = await get(stack, "/metrics")
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['stitcher_origin_fetches_total{result="ok"}'] == 1
    assert samples['stitcher_renders_total{mode="ssai"}'] == 1
    assert (
        samples['stitcher_cache_hits_total{cache="flight"}']
        + samples.get('stitcher_cache_hits_total{cache="render"}', 0)
        == 199
    )
    assert (
        samples['stitcher_requests_total{route="/{mode}/{channel}/{variant}.m3u8",status="200"}']
        == 200
    )


async def test_the_fast_path_answers_what_the_full_pass_would_and_only_while_it_is_fresh(
    stack, clock
):
    """`cached_media` (no task, no wait) answers the bytes the full pass would answer, through a
    /cue break and the window moving, and stops the moment an input is due for a new read (the
    origin copy or the break view, `origin_cache` and `kv_cache` after they were read)."""
    service = stack.client.server.app[SERVICE]
    fresh = min(stack.options.origin_cache, stack.options.kv_cache)
    used = 0
    for step in range(120):  # 30 s in quarter seconds, a /cue break from the 20th step
        clock.advance(0.25)
        if step == 20:
            response = await stack.client.post("/v1/channels/news/cue", json={"duration": 6})
            assert response.status == 201, await response.text()
        for mode in MODES:
            fast = service.cached_media("news", "hi", mode)
            full = await service.media("news", "hi", mode)
            if fast is not None:
                used += 1
                assert fast.body == full.body and fast.etag == full.etag, (step, mode)
            _, text = await get(stack, f"/{mode}/news/hi.m3u8")
            assert text == full.body.decode()
            assert service.cached_media("news", "hi", mode) is full
    assert used > 100  # most steps, each mode
    clock.advance(fresh)
    assert all(service.cached_media("news", "hi", mode) is None for mode in MODES)
    _, text = await get(stack, "/ssai/news/hi.m3u8")  # a full pass again, then fast once more
    assert service.cached_media("news", "hi", "ssai").body.decode() == text


async def test_unknown_channel_variant_and_mode(stack):
    for path, status in (
        ("/ssai/nope/hi.m3u8", 404),
        ("/ssai/news/nope.m3u8", 404),
        ("/vod/news/hi.m3u8", 404),
        ("/sgai/news/breaks/none/assets.json", 404),
    ):
        response, text = await get(stack, path)
        assert response.status == status, (path, text)
        assert (
            "error" in (await response.json()) and response.headers["Cache-Control"] == "no-store"
        )


async def test_origin_down_serves_the_last_good_copy_then_502(stack, clock):
    _, first = await get(stack, "/ssai/news/hi.m3u8")
    await stack.origin_server.close()
    clock.advance(1.0)  # past the shared cache, within 1.5 target durations
    response, text = await get(stack, "/ssai/news/hi.m3u8")
    assert response.status == 200 and text == first
    clock.advance(3.0)
    response, text = await get(stack, "/ssai/news/hi.m3u8")
    assert response.status == 502 and "origin" in (await response.json())["error"]
    _, metrics = await get(stack, "/metrics")
    assert 'stitcher_errors_total{kind="origin_stale_served"} 1.0' in metrics


async def test_origin_garbage_and_timeout(
    aiohttp_server, aiohttp_client, clock, kv, stitcher_stacks
):
    """A hanging origin is a 504 after origin_timeout (real seconds: aiohttp's timeout is the wall
    clock, bounded at 0.3 s); garbage is a 502 naming the problem."""
    behaviour = {"mode": "hang"}

    async def origin(request):
        if behaviour["mode"] == "hang":
            await asyncio.Event().wait()
        return web.Response(text="this is not a playlist")

    app = web.Application()
    app.router.add_get("/{tail:.*}", origin)
    broken = await aiohttp_server(app)
    s = await stitcher_stacks(kv)
    s.catalog.put_channel(
        dataclasses.replace(s.channel, origin_url=str(broken.make_url("/news/master.m3u8")))
    )
    options = dataclasses.replace(s.options, origin_timeout=0.3)
    client = await aiohttp_client(
        create_app(s.catalog, s.monitor.decisions, clock, s.ledger, s.session, "", options)
    )
    response = await client.get("/ssai/news/hi.m3u8")
    assert response.status == 504 and "did not answer" in (await response.json())["error"]
    behaviour["mode"] = "garbage"
    clock.advance(1.0)
    response = await client.get("/passthrough/news/hi.m3u8")
    assert response.status == 502 and "#EXTM3U" in (await response.json())["error"]


async def test_kv_down_keeps_the_last_view_then_passes_new_breaks_through(
    stitcher_stacks, clock, small_settings, caplog
):
    """The break store goes away (a real redis-server, stopped): the breaks already known keep their
    slots, a break that would begin after the grace period is passed through, and every playlist
    served stays valid (T1: segment numbers never jump)."""
    async with PrivateRedis(clock) as redis:
        s = await stitcher_stacks(redis.kv, StreamOptions(kv_grace=10.0))
        from stitcher.playlist import format_datetime

        soon = (await s.client.post("/v1/channels/news/cue", json={"duration": 10})).status
        later = await s.client.post(
            "/v1/channels/news/cue",
            json={"duration": 10, "start": format_datetime(clock.now() + 40)},
        )
        assert soon == 201 and later.status == 201
        checker = Checker()
        ads_at: set[int] = set()

        async def watch(seconds: float) -> None:
            end = clock.now() + seconds
            while clock.now() < end:
                clock.advance(0.5)
                for variant in ("hi", "lo"):
                    response, text = await get(s, f"/ssai/news/{variant}.m3u8")
                    assert response.status == 200, text
                    checker.observe_media(
                        f"http://stitcher.test/ssai/news/{variant}.m3u8",
                        text,
                        clock.now(),
                        viewer="v",
                    )
                    ads_at.update(
                        n
                        for n, _, seg in parse_media_playlist(text).numbered()
                        if "/ads/" in seg.uri
                    )

        await watch(6.0)
        await redis.stop()  # the KV is gone from here on
        await watch(60.0)
        assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
        first_msn = int((clock.now() - 66 - small_settings.origin.epoch) // 2)
        assert any(n < first_msn + 12 for n in ads_at)  # the first break kept its ads
        assert not any(n >= first_msn + 20 for n in ads_at)  # the later one was passed through
        _, metrics = await get(s, "/metrics")
        assert 'stitcher_kv_degraded{channel="news"} 1.0' in metrics
        assert "break store unreachable" in caplog.text


async def test_sgai_asset_lists_and_item_playlists_over_http(stack, clock):
    response = await stack.client.post("/v1/channels/news/cue", json={"duration": 14})
    assert response.status == 201
    record = await response.json()
    daterange = None
    for _ in range(40):
        clock.advance(0.5)
        _, text = await get(stack, "/sgai/news/lo.m3u8")
        found = [
            d
            for d in parse_media_playlist(text).dateranges
            if d.klass == "com.apple.hls.interstitial"
        ]
        if found:
            daterange = found[0]
            break
    assert daterange is not None and daterange.attributes.text("START-DATE") == record["adStart"]
    _, hi = await get(stack, "/sgai/news/hi.m3u8")
    assert daterange.to_tag().render() in hi  # identical in every variant
    target = urljoin(
        "http://stitcher.test/sgai/news/lo.m3u8", daterange.attributes.text("X-ASSET-LIST")
    )
    path = target.removeprefix("http://stitcher.test")
    response = await stack.client.get(path)
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    assets = (await response.json())["ASSETS"]
    planned = (
        parse_datetime(record["endTime"]).timestamp()
        - parse_datetime(record["adStart"]).timestamp()
    )
    assert round(sum(a["DURATION"] for a in assets), 3) == daterange.duration == planned > 10
    for asset in assets:
        assert asset["URI"].startswith("http://127.0.0.1:")  # absolute (I3)
        item = await stack.client.get(
            asset["URI"].split(str(stack.client.make_url("")).rstrip("/"))[-1]
        )
        assert item.status == 200, await item.text()
        master = parse_master_playlist(await item.text())
        assert {v.attributes.text("RESOLUTION") for v in master.variants} == {"320x180", "192x108"}
        for (
            variant
        ) in master.variants:  # the conditioned playlists really exist on the media server
            async with stack.session.get(variant.uri) as vod:
                assert vod.status == 200 and "/ads/" in variant.uri
    late = await stack.client.get(path + "&_HLS_start_offset=5.5")
    assert (await late.json())["ASSETS"] == assets  # the full list: hls.js places the join itself
    bad = await stack.client.get(path + "&_HLS_start_offset=-1")
    assert bad.status == 400 and "_HLS_start_offset" in (await bad.json())["error"]
    gone = await stack.client.get(path.replace("_HLS_interstitial_id=", "_HLS_interstitial_id=x"))
    assert gone.status == 404


async def test_channels_and_where_real_players_are(stack, clock):
    _, text = await get(stack, "/v1/channels")
    (news,) = json.loads(text)["channels"]
    assert news["slug"] == "news" and [v["name"] for v in news["variants"]] == ["hi", "lo"]
    assert news["masters"]["sgai"] == "/sgai/news/master.m3u8"
    _, master = await get(stack, "/ssai/news/master.m3u8?session=p1")
    assert [v.uri for v in parse_master_playlist(master).variants] == [
        "hi.m3u8?session=p1",
        "lo.m3u8?session=p1",
    ]
    _, plain = await get(stack, "/ssai/news/master.m3u8")
    assert "session" not in plain  # the shared copy never carries anyone's session
    response = await stack.client.post("/v1/channels/news/cue", json={"duration": 10})
    record = await response.json()
    ad_start = parse_datetime(record["adStart"]).timestamp()
    while (
        clock.now() < ad_start + 3 * 2 + 1
    ):  # the playhead (3 targets behind live) reaches the break
        clock.advance(0.5)
        await get(stack, "/ssai/news/lo.m3u8?session=p1")
        await get(stack, "/sgai/news/hi.m3u8")
    _, text = await get(stack, "/v1/sessions")
    sessions = {s["id"]: s for s in json.loads(text)["sessions"]}
    p1 = sessions["p1"]
    assert (p1["channel"], p1["mode"], p1["variant"], p1["kind"]) == (
        "news",
        "ssai",
        "lo",
        "ad",
    ) and p1["ad"].startswith("house-")
    (other,) = [s for s in sessions.values() if s["id"] != "p1"]
    assert other["mode"] == "sgai" and other["kind"] == "content" and other["client"] == "127.0.0.1"
    clock.advance(61)
    _, text = await get(stack, "/v1/sessions")
    assert json.loads(text)["sessions"] == []  # forgotten after a minute of silence


async def test_a_frozen_kv_costs_a_request_no_more_than_kv_wait(stitcher_stacks, clock):
    """redis-server frozen (SIGSTOP): a read would wait for the client's 5 s command timeout, and
    every playlist request with it (chaos `redis:stop` saw viewers stall 6 s and drift from live).
    A request waits `kv_wait` for the read, then is answered from the last view; the read under
    way is not waited for again."""
    import os
    import signal
    import time

    async with PrivateRedis(clock, command_timeout=5.0) as redis:
        s = await stitcher_stacks(redis.kv, StreamOptions(kv_wait=0.2))
        assert (await s.client.post("/v1/channels/news/cue", json={"duration": 10})).status == 201
        clock.advance(0.5)
        before, _ = await get(s, "/ssai/news/hi.m3u8")
        assert before.status == 200
        os.kill(redis.server.process.pid, signal.SIGSTOP)
        try:
            took = []
            for _ in range(4):
                clock.advance(0.5)
                started = time.monotonic()
                response, text = await get(s, "/ssai/news/hi.m3u8")
                took.append(time.monotonic() - started)
                assert response.status == 200, text
            assert max(took) < 2.0, took  # far from the 5 s a read would take
            assert sum(t > 0.15 for t in took) <= 1, took  # only the first request waits
        finally:
            os.kill(redis.server.process.pid, signal.SIGCONT)
        _, metrics = await get(s, "/metrics")
        assert 'stitcher_errors_total{kind="kv_late"}' in metrics


async def test_a_stitcher_that_never_read_the_kv_answers_503_not_a_passthrough(
    stitcher_stacks, clock
):
    """A replica starting while the break store is down has no view: rendering none would put
    content in slots other replicas fill with ads (chaos `overlap:redis+worker`: T1). It answers
    503 until the store can be read."""
    async with PrivateRedis(clock) as redis:
        await redis.stop()
        s = await stitcher_stacks(redis.kv, StreamOptions())
        response, text = await get(s, "/ssai/news/hi.m3u8")
        assert response.status == 503, text
        assert "the break store is unavailable and this stitcher has not read it yet" in text
        await redis.start()
        clock.advance(1.0)
        response, text = await get(s, "/ssai/news/hi.m3u8")
        assert response.status == 200, text
