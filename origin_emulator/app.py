"""The origin emulator's HTTP face (aiohttp): live playlists, segments, the QA splice API and the
faults QA can switch on (`origin_emulator.faults`).

How and why: docs/origin.md, "`origin_emulator.app`".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from origin_emulator.channel import LiveChannel
from origin_emulator.faults import GARBAGE, Faults, OriginFault
from origin_emulator.splices import SpliceError
from stitcher import http
from stitcher.clock import Clock
from stitcher.errors import NotFound

log = logging.getLogger(__name__)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
CHANNELS = web.AppKey("channels", dict)
CLOCK_KEY = web.AppKey("clock", object)
SEGMENTS = web.AppKey("segments", object)
TOKEN = web.AppKey("token", str)
FAULTS = web.AppKey("faults", Faults)
STOP_GRACE = 8.0  # seconds background work may take to stop (an encoder finishing its files)


class SegmentCache:
    """Bounded LRU of rewritten segments with one computation in flight per key."""

    def __init__(self, capacity: int):
        self.capacity = max(1, capacity)
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._pending: dict[tuple, asyncio.Future] = {}
        self.hits = 0
        self.misses = 0

    async def get(self, key: tuple, compute: Callable[[], bytes]) -> bytes:
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]
        if key in self._pending:
            self.hits += 1
            return await asyncio.shield(self._pending[key])
        self.misses += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            data = await asyncio.to_thread(compute)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the caller re-raises it
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(data)
        self._items[key] = data
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return data


def _channel(request: web.Request) -> LiveChannel:
    name = request.match_info["channel"]
    channel = request.app[CHANNELS].get(name)
    if channel is None:
        raise NotFound(
            f"no channel {name!r} (channels: {', '.join(sorted(request.app[CHANNELS]))})"
        )
    return channel


def _now(request: web.Request) -> float:
    return request.app[CLOCK_KEY].now()


def _playlist(text: str, max_age: int) -> web.Response:
    return web.Response(
        text=text,
        content_type=PLAYLIST_TYPE,
        headers={"Cache-Control": f"public, max-age={max_age}"},
    )


async def master(request: web.Request) -> web.Response:
    return _playlist(_channel(request).master().render(), 30)


async def media(request: web.Request) -> web.Response:
    channel = _channel(request)
    now = _now(request)
    fault = request.app[FAULTS].active(channel.name, now)
    if fault is not None:
        answer = await _faulty(request, fault, now)
        if isinstance(answer, web.Response):
            return answer
        now = answer
    playlist = channel.media(request.match_info["variant"], now)
    return _playlist(playlist.render(), max(1, playlist.target_duration // 2))


async def _faulty(request: web.Request, fault: OriginFault, now: float) -> web.Response | float:
    """What a media playlist request meets while `fault` is on (`origin_emulator.faults`): an
    answer that is not the playlist, or the moment whose window it gets."""
    if fault.kind == "error":
        return web.Response(status=fault.status, text=f"origin fault: HTTP {fault.status}\n")
    if fault.kind == "garbage":
        return web.Response(text=GARBAGE, content_type="text/html")
    if fault.kind == "timeout":
        await request.app[CLOCK_KEY].sleep(max(0.0, fault.until - now))
        return _now(request)
    if fault.kind == "rewind":
        return now - fault.back
    return fault.since  # freeze


async def post_fault(request: web.Request) -> web.Response:
    """Switch a fault on for the channel's media playlists (`origin_emulator.faults`)."""
    authorise(request)
    channel = _channel(request)
    now = _now(request)
    segment = max(channel.timeline.durations)
    fault = OriginFault.parse(await _json_body(request), now, segment)
    request.app[FAULTS].set(channel.name, fault)
    log.warning("fault on %s: %s for %g s", channel.name, fault.kind, fault.until - now)
    return web.json_response(fault.to_json(now), status=201)


async def delete_fault(request: web.Request) -> web.Response:
    authorise(request)
    channel = _channel(request)
    fault = request.app[FAULTS].clear(channel.name)
    if fault is None:
        raise NotFound(f"no fault is on for channel {channel.name}")
    log.warning("fault on %s: %s switched off", channel.name, fault.kind)
    return web.json_response(fault.to_json(_now(request)))


async def get_fault(request: web.Request) -> web.Response:
    channel = _channel(request)
    now = _now(request)
    fault = request.app[FAULTS].active(channel.name, now)
    return web.json_response({"fault": fault.to_json(now) if fault is not None else None})


async def segment(request: web.Request) -> web.Response:
    channel = _channel(request)
    variant = request.match_info["variant"]
    try:
        n = int(request.match_info["n"])
    except ValueError:
        raise NotFound(f"bad segment name seg_{request.match_info['n']}.ts") from None
    channel.check_segment(variant, n, _now(request))
    data = await request.app[SEGMENTS].get(
        (channel.name, variant, n), lambda: channel.segment(variant, n)
    )
    return web.Response(
        body=data,
        content_type=SEGMENT_TYPE,
        headers={"Cache-Control": "public, max-age=86400, immutable"},
    )


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SpliceError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise SpliceError("the request body must be a JSON object")
    return body


def _number(body: dict, name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpliceError(f"{name} must be a number of seconds, got {value!r}")
    return float(value)


def authorise(request: web.Request) -> None:
    """Who may post or cancel splices (`http.authorise`, with `origin.token`): the control API's
    reads are open, as the playlists are."""
    http.authorise(request, request.app[TOKEN], "post or cancel splices or faults", "origin.token")


async def post_splice(request: web.Request) -> web.Response:
    authorise(request)
    channel = _channel(request)
    body = await _json_body(request)
    unknown = set(body) - {"duration", "preroll", "format", "command"}
    if unknown:
        raise SpliceError(f"unknown field(s): {', '.join(sorted(unknown))}")
    duration = _number(body, "duration", None)
    if duration is None:
        raise SpliceError("duration (seconds) is required")
    now = _now(request)
    splice = channel.post_splice(
        now, duration, _number(body, "preroll", None), body.get("format"), body.get("command")
    )
    log.info(
        "splice %s on %s: segments %s-%s, %s/%s",
        splice.event_id,
        channel.name,
        splice.start,
        splice.end - 1,
        splice.format,
        splice.command,
    )
    return web.json_response(splice.to_json(channel.timeline, now), status=201)


async def delete_splice(request: web.Request) -> web.Response:
    authorise(request)
    channel = _channel(request)
    try:
        event_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound(f"bad splice id {request.match_info['id']!r}") from None
    now = _now(request)
    splice = channel.delete_splice(event_id, now)
    log.info(
        "splice %s on %s: %s",
        event_id,
        channel.name,
        "cancelled" if splice.cancelled else f"returns at {splice.stop}",
    )
    return web.json_response(splice.to_json(channel.timeline, now))


async def list_splices(request: web.Request) -> web.Response:
    channel = _channel(request)
    now = _now(request)
    timeline = channel.timeline
    upcoming = [s for s in channel.splices(now) if timeline.start(s.start) - now < 3600]
    upcoming += [
        s for s in channel.splices(now, since=now) if s not in upcoming
    ]  # the next scheduled one
    return web.json_response(
        {"channel": channel.name, "splices": [s.to_json(timeline, now) for s in upcoming]}
    )


async def list_channels(request: web.Request) -> web.Response:
    now = _now(request)
    return web.json_response(
        {"channels": [channel.status(now) for channel in request.app[CHANNELS].values()]}
    )


async def healthz(request: web.Request) -> web.Response:
    cache = request.app[SEGMENTS]
    return web.json_response(
        {
            "ok": True,
            "channels": sorted(request.app[CHANNELS]),
            "segment_cache": {"hits": cache.hits, "misses": cache.misses},
        }
    )


async def _run(name: str, job: Awaitable[None]) -> None:
    try:
        await job
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background work of channel %s failed", name)


async def background(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run each channel's background work (a live encoder) while the app serves."""
    stop = asyncio.Event()
    tasks = []
    for channel in app[CHANNELS].values():
        job = channel.background(app[CLOCK_KEY], stop)
        if job is not None:
            tasks.append(asyncio.create_task(_run(channel.name, job)))
    yield
    stop.set()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def create_app(
    channels: dict[str, LiveChannel], clock: Clock, cache_segments: int = 256, token: str = ""
) -> web.Application:
    """Wire the origin: channels (with their segment source and splice book) and a clock; each
    channel's background work (a live encoder) runs from start-up to cleanup. `token`: what
    splice writes need (`authorise`)."""
    app = http.serving()
    app[TOKEN] = token
    app.cleanup_ctx.append(background)
    app[CHANNELS] = channels
    app[CLOCK_KEY] = clock
    app[SEGMENTS] = SegmentCache(cache_segments)
    app[FAULTS] = Faults()
    http.get(app, "/healthz", healthz)
    http.get(app, "/control/channels", list_channels)
    http.add(app, "POST", "/control/{channel}/splice", post_splice)
    http.add(app, "DELETE", "/control/{channel}/splice/{id}", delete_splice)
    http.get(app, "/control/{channel}/splices", list_splices)
    http.add(app, "POST", "/control/{channel}/fault", post_fault)
    http.add(app, "DELETE", "/control/{channel}/fault", delete_fault)
    http.get(app, "/control/{channel}/fault", get_fault)
    http.preflight(app, "GET, HEAD, POST, DELETE, OPTIONS", "Content-Type, Authorization")
    http.get(app, "/{channel}/master.m3u8", master)
    http.get(app, "/{channel}/{variant}/index.m3u8", media)
    http.get(app, r"/{channel}/{variant}/seg_{n}.ts", segment)
    http.close_routes(app)
    return app
