"""A whole stitcher stack on loopback under a fake clock, for the app tests.

Real parts: the origin emulator app, the media server over a media cache holding conditioned
playlists, the channel catalog, the KV (SQLite or Redis) with the break ledger, the SCTE-35
monitor, and the stitcher app itself (`stitcher.app.create_app`) with its HTTP client session.
The ad playlists are written in the layout the media server serves (2 s segments; their segment
files are not needed by playlist tests), unless real ones are given: `conditioned_ads` renders
creatives and conditions them with real ffmpeg for a channel (cached in the media cache), and
`make_stack(ads=...)` then serves those, segments and all (the splice tests judge their bytes).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from origin_emulator.app import create_app as create_origin
from rig.ads import house_recipes, render_creative, sized_for, slate_recipe
from rig.channels import emulator_channel
from rig.conditioning import condition
from rig.media_server import create_app as create_media
from stitcher.app import StreamOptions, create_app
from stitcher.breaks import BreakLedger, Retention
from stitcher.catalog import Ad, AdRendition, Catalog, Channel
from stitcher.decision import HouseDecisions
from stitcher.monitor import Monitor

ADS = (("house-1", 4.0), ("house-2", 6.0), ("slate", 10.0))


def write_vod(cache: Path, ad_id: str, rung: str, seconds: float, segment: float = 2.0) -> str:
    """A conditioned VOD playlist in the media cache; returns its media-server path."""
    folder = cache / "ads" / ad_id / "x" / rung
    folder.mkdir(parents=True, exist_ok=True)
    count = int(round(seconds / segment))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{int(segment)}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for k in range(count):
        lines += [f"#EXTINF:{segment:.3f},", f"seg_{k:05d}.ts"]
    (folder / "index.m3u8").write_text("\n".join(lines + ["#EXT-X-ENDLIST", ""]))
    return f"/ads/{ad_id}/x/{rung}/index.m3u8"


def stock(catalog: Catalog, channel: Channel, cache: Path) -> None:
    key = channel.conditioning.key
    for ad_id, seconds in ADS:
        renditions = [
            AdRendition(
                ad_id,
                key,
                r.name,
                r.bandwidth,
                write_vod(cache, ad_id, r.name, seconds),
                seconds,
                int(seconds / 2),
            )
            for r in channel.ladder
        ]
        catalog.put_ad(Ad(ad_id, ad_id, seconds, "house"), renditions)


@dataclass
class Stack:
    origin: object  # LiveChannel
    origin_server: object
    channel: Channel
    catalog: Catalog
    ledger: BreakLedger
    monitor: Monitor
    client: object  # aiohttp test client of the stitcher
    session: aiohttp.ClientSession
    media_url: str
    options: StreamOptions


def conditioned_ads(
    settings, content, seconds: dict[str, float], preset: str = "ultrafast"
) -> dict[str, list[AdRendition]]:
    """Real conditioned ads for the emulator channel of `content`: house creatives of the given
    lengths (ids `house-1`...) and the slate ("slate"), rendered and conditioned by ffmpeg into
    `settings.media.cache_dir` (cached by content, so only the first run pays)."""
    media, cache = settings.media, settings.media.cache_dir
    conditioning = emulator_channel(settings.channels[0], content, settings).conditioning

    async def build() -> dict[str, list[AdRendition]]:
        slate = await render_creative(
            sized_for(media, slate_recipe(seconds["slate"])), cache, preset=preset
        )
        made = {"slate": await condition(slate, "slate", conditioning, cache, slate, preset=preset)}
        for recipe in house_recipes(len(seconds) - 1):
            creative = await render_creative(
                sized_for(media, dataclasses.replace(recipe, seconds=seconds[recipe.id])),
                cache,
                preset=preset,
            )
            made[recipe.id] = await condition(
                creative, recipe.id, conditioning, cache, slate, preset=preset
            )
        return made

    return asyncio.run(build())


async def make_stack(
    aiohttp_server,
    aiohttp_client,
    origin,
    clock,
    kv,
    tmp_path: Path,
    settings,
    content,
    options: StreamOptions | None = None,
    media_faults=None,
    ads: dict[str, list[AdRendition]] | None = None,
    origin_app: web.Application | None = None,
) -> Stack:
    """`media_faults(request)`: called for every media-server request; a status to answer instead,
    "drop" to close the connection unanswered, or None to serve it (ad-media outages,
    tests/test_ad_media_faults.py). `ads` (from `conditioned_ads`): the catalog holds these and the
    media server serves the media cache they are in, instead of stand-in playlists. `origin_app`:
    served as the origin instead of the emulator's app over `origin` (a packager the test
    drives)."""
    origin_server = await aiohttp_server(origin_app or create_origin({"news": origin}, clock))
    cache = settings.media.cache_dir if ads else tmp_path / "media"
    media_app = create_media(cache)
    if media_faults is not None:
        media_app.middlewares.insert(0, _faulty(media_faults))
    media_server = await aiohttp_server(media_app)
    media_url = str(media_server.make_url("")).rstrip("/")
    catalog = Catalog(tmp_path / "channels.db")
    channel = dataclasses.replace(
        emulator_channel(settings.channels[0], content, settings),
        origin_url=str(origin_server.make_url("/news/master.m3u8")),
    )
    catalog.put_channel(channel)
    if ads:
        for ad_id, renditions in ads.items():
            catalog.put_ad(
                Ad(
                    ad_id,
                    ad_id,
                    renditions[0].extra.get("creative_duration", renditions[0].duration),
                    "house",
                ),
                renditions,
            )
    else:
        stock(catalog, channel, cache)
    session = aiohttp.ClientSession()
    ledger = BreakLedger(kv, lambda slug: Retention(window=channel.window_seconds))
    decisions = HouseDecisions(catalog, media_url)
    monitor = Monitor(catalog, ledger, decisions, session, clock)
    options = dataclasses.replace(options or StreamOptions(), ads_base_url=media_url)
    client = await aiohttp_client(
        create_app(catalog, decisions, clock, ledger, session, "", options)
    )
    return Stack(
        origin,
        origin_server,
        catalog.channel("news"),
        catalog,
        ledger,
        monitor,
        client,
        session,
        media_url,
        options,
    )


def _faulty(decide):
    @web.middleware
    async def faults(request, handler):
        verdict = decide(request)
        if verdict == "drop":
            request.transport.close()
            raise ConnectionResetError("dropped by the test's fault")
        if verdict is not None:
            return web.json_response({"error": "injected fault"}, status=verdict)
        return await handler(request)

    return faults


async def replica(stack: Stack, aiohttp_client, clock):
    """Another stitcher app over the same catalog and KV: a second replica, sharing nothing else."""
    return await aiohttp_client(
        create_app(
            stack.catalog,
            stack.monitor.decisions,
            clock,
            stack.ledger,
            stack.session,
            "",
            stack.options,
        )
    )
