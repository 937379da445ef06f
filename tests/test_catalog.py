"""The channel database, probing a live origin, seeding from the config, `rig channels`."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from origin_emulator.app import create_app as create_origin
from rig.channels import emulator_channel, seed
from stitcher.catalog import Ad, AdRendition, Catalog, CatalogError, Channel, Rung
from stitcher.probe import ProbeError, probe

BIN = Path(sys.executable).parent
LADDER = (Rung("hd", 2_000_000, 1280, 720, "avc1.640028,mp4a.40.2", 25.0, "hd.m3u8"),)


@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog(tmp_path / "channels.db")
    yield catalog
    catalog.close()


def test_channels_round_trip(catalog):
    stored = catalog.put_channel(
        Channel("news", "http://o.test/news/master.m3u8", LADDER, 2.0, cue_formats=("cue-out",))
    )
    assert catalog.channel("news") == stored
    assert stored.created_at and stored.updated_at
    again = catalog.put_channel(dataclasses.replace(stored, default_mode="sgai"))
    assert again.created_at == stored.created_at and again.default_mode == "sgai"
    assert [c.slug for c in catalog.channels()] == ["news"]
    with pytest.raises(CatalogError, match="already exists"):
        catalog.put_channel(stored, replace_existing=False)
    catalog.remove_channel("news")
    with pytest.raises(CatalogError, match="no channel 'news'"):
        catalog.channel("news")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"slug": "News"}, "lower-case"),
        ({"origin_url": "ftp://x"}, "http"),
        ({"default_mode": "magic"}, "default mode"),
        ({"ladder": ()}, "no variants"),
        ({"segment_duration": 0}, "plausible"),
        ({"status": "gone"}, "status"),
    ],
)
def test_bad_channels_are_refused(catalog, change, message):
    with pytest.raises(CatalogError, match=message):
        catalog.put_channel(
            dataclasses.replace(Channel("news", "http://o.test/m.m3u8", LADDER, 2.0), **change)
        )


def test_ads_and_their_renditions(catalog):
    key = Channel("news", "http://o.test/m.m3u8", LADDER, 2.0).conditioning.key
    rendition = AdRendition(
        "ad-1",
        key,
        "hd",
        2_000_000,
        f"/ads/ad-1/{key}/hd/index.m3u8",
        16.0,
        8,
        {"source_sha": "abc"},
    )
    catalog.put_ad(Ad("ad-1", "First", 15.0, "/tmp/ad.mp4"), [rendition])
    assert catalog.find_ad("ad-1").title == "First"
    assert catalog.ad_renditions(key) == [rendition]
    assert catalog.ad_renditions(key)[0].extra == {"source_sha": "abc"}
    assert catalog.ad_renditions("other-ladder") == []
    catalog.remove_ad("ad-1")
    assert catalog.ads() == [] and catalog.ad_renditions(key) == []
    with pytest.raises(CatalogError):
        catalog.remove_ad("ad-1")


def test_conditioning_key_depends_on_what_ads_must_match():
    base = Channel("a", "http://o.test/m.m3u8", LADDER, 2.0)
    assert (
        base.conditioning.key
        == dataclasses.replace(base, slug="b", origin_url="http://x/y.m3u8").conditioning.key
    )
    assert base.conditioning.key != dataclasses.replace(base, segment_duration=6.0).conditioning.key
    assert base.conditioning.key != dataclasses.replace(base, audio_rate=44100).conditioning.key


async def test_probe_the_origin_emulator(
    aiohttp_server, make_channel, clock, small_settings, small_content
):
    channel = make_channel(cue_format="cue-out")
    server = await aiohttp_server(create_origin({"news": channel}, clock))
    splice = channel.post_splice(clock.now(), 10, 0, None, None)
    clock.set(channel.timeline.end(splice.start + 1) + 0.1)  # a break is in the window
    result = await probe(str(server.make_url("/news/master.m3u8")))
    seeded = emulator_channel(small_settings.channels[0], small_content, small_settings)
    assert result.ladder == seeded.ladder  # probing measures what the rendered media says
    assert result.segment_duration == 2.0 and result.frame_rate == 25.0
    assert (result.audio_rate, result.audio_channels) == (48000, 2)
    assert result.cue_formats_seen == ("cue-out",)
    assert result.channel("x").conditioning.key == seeded.conditioning.key
    # 2 s is 93.75 AAC frames: the boundaries read show the sound switching at several points, the
    # stored interleave is the middle of them, and hls.js's in-place limit is reported
    assert len(set(result.boundary_offsets)) > 1
    assert result.audio_offset == round(
        (min(result.boundary_offsets) + max(result.boundary_offsets)) / 2, 5
    )
    assert max(abs(o) for o in result.boundary_offsets) > 0.010
    assert len(result.warnings()) == 1 and "hls.js" in result.warnings()[0]


def serve(routes: dict[str, tuple[int, str | bytes]]) -> web.Application:
    app = web.Application()

    async def handle(request):
        status, body = routes.get(request.path, (404, "nope"))
        return web.Response(status=status, body=body if isinstance(body, bytes) else body.encode())

    app.router.add_get("/{tail:.*}", handle)
    return app


MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360\nv.m3u8\n"


@pytest.mark.parametrize(
    "routes, message",
    [
        ({}, "HTTP 404"),
        ({"/m.m3u8": (200, "<html>hello</html>")}, "not an HLS playlist"),
        (
            {"/m.m3u8": (200, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n")},
            "media playlist; give the master",
        ),
        (
            {"/m.m3u8": (200, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nv.m3u8\n")},
            "no RESOLUTION",
        ),
        (
            {
                "/m.m3u8": (200, MASTER),
                "/v.m3u8": (
                    200,
                    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n",
                ),
            },
            "not live",
        ),
        (
            {
                "/m.m3u8": (200, MASTER),
                "/v.m3u8": (
                    200,
                    '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="i.mp4"\n#EXTINF:2,\na.m4s\n',
                ),
            },
            "fragmented MP4",
        ),
        (
            {
                "/m.m3u8": (200, MASTER),
                "/v.m3u8": (200, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n"),
                "/a.ts": (200, b"not ts"),
            },
            "not MPEG-TS",
        ),
        ({"/m.m3u8": (200, MASTER), "/v.m3u8": (500, "")}, "HTTP 500"),
        (
            {
                "/m.m3u8": (
                    200,
                    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360\n"
                    "http://169.254.169.254/latest/v.m3u8\n",
                )
            },
            "not on the server of",  # and never asked for
        ),
    ],
)
async def test_probe_errors_are_clear(aiohttp_server, routes, message):
    server = await aiohttp_server(serve(routes))
    with pytest.raises(ProbeError, match=message):
        await probe(str(server.make_url("/m.m3u8")))


async def test_probe_an_origin_that_does_not_answer(aiohttp_server):
    async def slow(request):
        await asyncio.Event().wait()

    app = web.Application()
    app.router.add_get("/m.m3u8", slow)
    server = await aiohttp_server(app)
    with pytest.raises(ProbeError, match="TimeoutError|cannot be fetched"):
        await probe(str(server.make_url("/m.m3u8")), timeout=0.3)


def test_seed_keeps_the_users_choices(catalog, small_settings, small_content):
    (news,) = seed(catalog, small_settings, {"news": small_content})
    assert news.origin_url == "http://127.0.0.1:8081/news/master.m3u8"
    assert news.cue_formats == ("daterange",)
    catalog.put_channel(dataclasses.replace(news, default_mode="sgai", status="paused"))
    (again,) = seed(catalog, small_settings, {"news": small_content})
    assert (again.default_mode, again.status) == ("sgai", "paused")


async def test_rig_channels_add_list_remove(aiohttp_server, make_channel, clock, tmp_path):
    server = await aiohttp_server(create_origin({"news": make_channel()}, clock))
    env = {"RIG_STATE_DIR": str(tmp_path), "PATH": ""}

    def rig(*argv):
        return subprocess.run(
            [str(BIN / "rig"), "channels", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    added = await asyncio.to_thread(
        rig,
        "add",
        "ext",
        "--origin-url",
        str(server.make_url("/news/master.m3u8")),
        "--mode",
        "sgai",
    )
    assert added.returncode == 0, added.stderr
    assert "added ext: 2 variants, 2 s segments, 25 fps, 48000 Hz/2 ch" in added.stdout
    duplicate = await asyncio.to_thread(
        rig, "add", "ext", "--origin-url", str(server.make_url("/news/master.m3u8"))
    )
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    listed = await asyncio.to_thread(rig, "list")
    assert (
        listed.stdout.startswith("ext ")
        and "sgai" in listed.stdout
        and "hi 320x180" in listed.stdout
    )
    removed = await asyncio.to_thread(rig, "remove", "ext")
    assert removed.returncode == 0
    assert (await asyncio.to_thread(rig, "remove", "ext")).returncode == 2
