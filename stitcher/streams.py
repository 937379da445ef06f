"""The stitcher's playlist routes (aiohttp handlers): parse the request, ask the service, respond.

Side effects: through the service (HTTP, KV), metrics.
How and why: docs/stitcher.md, "`stitcher.streams`".
"""

from __future__ import annotations

import asyncio
import functools
import math
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict

from stitcher import http
from stitcher.catalog import MODES
from stitcher.errors import BadRequest, NotFound
from stitcher.service import RESUME_NAME, PlaylistService, Rendered, resume_segment
from stitcher.sessions import Sessions
from stitcher.sgai import asset_list, interstitial_id, item_master

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SERVICE = web.AppKey("service", PlaylistService)
SESSIONS = web.AppKey("sessions", Sessions)
ITEM_MAX_AGE = 60  # an item playlist's URL names its break instance; a minute of caching is plenty
SEGMENT_MAX_AGE = 86_400  # a flagged copy of an origin segment never changes


def max_age(target_duration: int) -> int:
    """Whole seconds, at most half the target duration (a cached copy is never older than a
    reload)."""
    return max(0, int(target_duration // 2))


@functools.cache  # a few target durations, asked on every playlist request
def live_cache_control(target_duration: int) -> str:
    """Cache-Control of a live answer (playlists, asset lists): fresh for `max_age`; while the
    stitcher fails, a cache may serve its copy for the rest of one target duration (stale-if-error,
    which nginx honours). No stale-while-revalidate: a copy older than half a target duration plus
    a segment being produced would already look like a player drifting from live (T3)."""
    fresh = max_age(target_duration)
    return f"public, max-age={fresh}, stale-if-error={max(1, target_duration - fresh)}"


def playlist_response(request: web.Request, rendered: Rendered) -> web.Response:
    """The playlist, or 304 Not Modified to a matching If-None-Match. Its headers are made once
    per rendered playlist (most answers are one of the same few)."""
    match = request.headers.get("If-None-Match")
    if match is not None and rendered.etag in {tag.strip() for tag in match.split(",")}:
        return web.Response(status=304, headers=_caching_headers(rendered))
    headers = rendered.served.get("headers")
    if headers is None:
        headers = rendered.served["headers"] = CIMultiDict(_caching_headers(rendered))
        headers["Content-Type"] = PLAYLIST_TYPE
    return web.Response(body=rendered.body, headers=headers)


def _caching_headers(rendered: Rendered) -> dict[str, str]:
    return {  # spelt as sent (aiohttp's hdrs.ETAG is "Etag")
        "ETag": rendered.etag,
        "Cache-Control": live_cache_control(rendered.target_duration),
    }


def session_query(request: web.Request) -> str:
    session = request.query.get("session", "")
    return urlencode({"session": session}) if session else ""


async def master(service: PlaylistService, mode: str, request: web.Request) -> web.Response:
    return playlist_response(
        request, await service.master(request.match_info["channel"], mode, session_query(request))
    )


async def media(
    service: PlaylistService, viewers: Sessions, mode: str, request: web.Request
) -> web.Response:
    """A media playlist (routed with its app's service, sessions view and mode bound: it answers
    most of the requests a stitcher gets)."""
    info = request.match_info
    channel, variant = info["channel"], info["variant"]
    rendered = service.cached_media(channel, variant, mode)
    if rendered is None:
        rendered = await service.media(channel, variant, mode)
    if rendered.breaks:
        service.metrics.breaks_served.inc(mode)
    client = request.remote or "?"
    session = (request.query_string and request.query.get("session")) or (
        f"{client} {request.headers.get('User-Agent', '')[:60]}".strip()
    )
    viewers.seen(session, client, channel, mode, variant, rendered, service.clock.now())
    return playlist_response(request, rendered)


async def sessions(request: web.Request) -> web.Response:
    """The players this stitcher served lately, with their estimated positions
    (`stitcher.sessions`)."""
    return web.json_response(
        {"sessions": request.app[SESSIONS].snapshot(request.app[SERVICE].clock.now())}
    )


async def channels(request: web.Request) -> web.Response:
    """The channels this stitcher serves, with their variants and the URL of each mode."""
    catalog = request.app[SERVICE].catalog
    found = await asyncio.to_thread(catalog.channels)
    return web.json_response(
        {
            "channels": [
                {
                    "slug": c.slug,
                    "status": c.status,
                    "default_mode": c.default_mode,
                    "origin_url": c.origin_url,
                    "segment_duration": c.segment_duration,
                    "cue_formats": list(c.cue_formats),
                    "variants": [
                        {
                            "name": r.name,
                            "bandwidth": r.bandwidth,
                            "resolution": f"{r.width}x{r.height}",
                        }
                        for r in c.ladder
                    ],
                    "masters": {mode: f"/{mode}/{c.slug}/master.m3u8" for mode in MODES},
                }
                for c in found
            ]
        }
    )


async def _record(request: web.Request):
    """The break named in the path (and by `_HLS_interstitial_id`, when given: event ids come
    back)."""
    service = request.app[SERVICE]
    channel, view = await service.view(request.match_info["channel"])
    event, wanted = request.match_info["event"], request.query.get("_HLS_interstitial_id")
    for record in view.value.records:
        if (
            record.event_id == event
            and not record.cancelled
            and wanted in (None, interstitial_id(record))
        ):
            return service, channel, record
    raise NotFound(
        f"no break {event!r} on channel {channel.slug}"
        + (f" with interstitial {wanted}" if wanted else "")
    )


async def assets(request: web.Request) -> web.Response:
    service, channel, record = await _record(request)
    slate = await service.slate(channel)
    base = request.url.origin().join(
        request.url.with_path(f"/sgai/{channel.slug}/breaks/{record.event_id}/items/").with_query(
            None
        )
    )
    ident = urlencode({"_HLS_interstitial_id": interstitial_id(record)})
    body = asset_list(
        record,
        channel.segment_duration,
        lambda k: f"{base}{k}.m3u8?{ident}",
        request.query.get("_HLS_start_offset"),
        slate.seconds,
    )
    return web.json_response(
        body,
        headers={"Cache-Control": live_cache_control(math.ceil(channel.segment_duration))},
    )


async def item(request: web.Request) -> web.Response:
    service, channel, record = await _record(request)
    items = record.pod.items
    try:
        k = int(request.match_info["item"])
        chosen = items[k] if k < len(items) else (await service.slate(channel)).item()
    except (ValueError, IndexError):
        chosen = None
    if chosen is None or k < 0 or k > len(items) or not chosen.variants:
        raise NotFound(f"break {record.event_id} has no item {request.match_info['item']!r}")
    return playlist_response(
        request, Rendered.of(item_master(channel.ladder, chosen).render(), 0, ITEM_MAX_AGE * 2)
    )


async def resume(request: web.Request) -> web.Response:
    src = request.query.get("src", "")
    if not src:
        raise BadRequest("resume.ts needs ?src=<the URL of the origin segment>")
    data = await resume_segment(request.app[SERVICE], request.match_info["channel"], src)
    return web.Response(
        body=data,
        content_type="video/mp2t",
        headers={"Cache-Control": f"public, max-age={SEGMENT_MAX_AGE}, immutable"},
    )


def add_routes(app: web.Application, service: PlaylistService) -> None:
    """The playlist routes on `app` (a `stitcher.http.serving` app). One media and one master
    route per mode: aiohttp finds a route by the literal start of its path (`/ssai`), where a
    `{mode}` variable first would have it try every route in turn."""
    app[SERVICE] = service
    app[SESSIONS] = viewers = Sessions()
    http.get(app, "/v1/channels", channels)
    http.get(app, "/v1/sessions", sessions)
    for mode in MODES:
        # Media playlists before masters: the router tries them first (`variant` is never "master").
        http.get(
            app,
            f"/{mode}/{{channel}}/{{variant:(?!master\\.m3u8$)[^{{}}/]+}}.m3u8",
            functools.partial(media, service, viewers, mode),
            "/{mode}/{channel}/{variant}.m3u8",
        )
        http.get(
            app,
            f"/{mode}/{{channel}}/master.m3u8",
            functools.partial(master, service, mode),
            "/{mode}/{channel}/master.m3u8",
        )
    http.get(app, f"/ssai/{{channel}}/{{variant}}/{RESUME_NAME}", resume)
    http.get(app, "/sgai/{channel}/breaks/{event}/assets.json", assets)
    http.get(app, "/sgai/{channel}/breaks/{event}/items/{item}.m3u8", item)
