"""What the stitcher will read upstream: only its channels' origin servers and the ads server, and
no answer longer than its limit (stitcher.origin.fetch_bytes). Real servers on loopback: a
"foreign" one on another port stands for any other host, and counts what it is asked."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest
from aiohttp import web

from stitcher.app import CATALOG
from stitcher.feeds import VodLibrary
from stitcher.metrics import Metrics
from stitcher.origin import OriginUnavailable, fetch_bytes
from tests.test_origin_faults import Viewer
from tests.test_origin_faults import rig as rig  # noqa: F401 (the fixture)

VOD = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n"


@pytest.fixture
async def foreign(aiohttp_server):
    """A server on another port: `asked` lists the paths it was asked for."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(text=VOD)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    server = await aiohttp_server(app)
    server.asked = asked
    return server


async def test_an_ad_playlist_off_the_ads_server_is_never_read(foreign, aiohttp_server):
    ads = await aiohttp_server(web.Application())
    metrics = Metrics()
    async with aiohttp.ClientSession() as session:
        library = VodLibrary(session, metrics, ads_base_url=str(ads.make_url("/")))
        assert await library.get(str(foreign.make_url("/evil/ad.m3u8"))) is None  # slate there
        assert foreign.asked == []
        metrics.flush()
        samples = metrics.errors.counter.collect()[0].samples
        kinds = {s.labels["kind"]: s.value for s in samples if s.name.endswith("_total")}
        assert kinds["ad_playlist_foreign"] == 1
        on_site = VodLibrary(session, metrics, ads_base_url=str(foreign.make_url("/")))
        media = await on_site.get(str(foreign.make_url("/house/ad.m3u8")))
        assert media is not None and [s.uri for s in media.segments] == [
            str(foreign.make_url("/house/a.ts"))
        ]


async def test_a_variant_off_the_origin_server_is_a_502_and_never_read(rig, clock, foreign):
    catalog = rig.client.app[CATALOG]
    channel = catalog.channel("news")
    moved = tuple(
        dataclasses.replace(r, uri=str(foreign.make_url(f"/cdn/{r.name}.m3u8")))
        if r.name == "lo"
        else r
        for r in channel.ladder
    )
    catalog.put_channel(dataclasses.replace(channel, ladder=moved))
    clock.advance(60)  # past the stitcher's catalog cache
    hi, lo = (Viewer(rig.client, clock, "ssai", v) for v in ("hi", "lo"))
    assert await hi.poll() == 200
    response = await rig.client.get("/ssai/news/lo.m3u8")
    assert response.status == 502
    assert "not on the channel's origin server" in (await response.json())["error"]
    assert foreign.asked == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_longer_than_the_limit_is_refused(aiohttp_server, chunked):
    async def answer(request: web.Request) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=b"#" * 5000)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(5):
            await response.write(b"#" * 1000)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/big", answer)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        url = str(server.make_url("/big"))
        with pytest.raises(OriginUnavailable, match="more than 4,096 bytes"):
            await fetch_bytes(session, url, 2.0, limit=4096)
        assert len(await fetch_bytes(session, url, 2.0, limit=5000)) == 5000
