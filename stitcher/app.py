"""The stitcher's HTTP app (aiohttp). Handlers parse, call the core, respond.

How and why: docs/stitcher.md, "`stitcher.app`".
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from aiohttp import web

from stitcher import http
from stitcher.breaks import BreakLedger, Grid, plan_break, shorten
from stitcher.catalog import Catalog, CatalogError, Channel
from stitcher.clock import Clock
from stitcher.decision import DecisionSource
from stitcher.errors import BadRequest, NotFound, RigError
from stitcher.feeds import BreakViews, OriginFeed, VodLibrary
from stitcher.http import Observer
from stitcher.metrics import Metrics
from stitcher.origin import origin_playlist
from stitcher.service import PlaylistService
from stitcher.streams import add_routes

CATALOG = web.AppKey("catalog", Catalog)
DECISIONS = web.AppKey("decisions", DecisionSource)
CLOCK = web.AppKey("clock", Clock)
LEDGER = web.AppKey[BreakLedger | None]("ledger")
SESSION = web.AppKey[aiohttp.ClientSession | None]("session")
TOKEN = web.AppKey("token", str)
METRICS = web.AppKey("metrics", Metrics)
ORIGIN_TIMEOUT = 2.0
MAX_CUE_SECONDS = 3600.0


@dataclass(frozen=True)
class StreamOptions:
    """How the playlist routes read their inputs (from `[stitcher]` and `[ads]` settings)."""

    ads_base_url: str = "http://127.0.0.1:8082"
    origin_timeout: float = ORIGIN_TIMEOUT
    origin_cache: float = 0.5
    kv_cache: float = 0.5
    kv_grace: float = 30.0
    kv_wait: float = 0.5


def _observer(metrics: Metrics) -> Observer:
    """The request metrics, per route (its label: its path pattern) and status."""

    def observe(label: str, status: int, seconds: float) -> None:
        metrics.answers.observe(label, status, seconds)
        if status >= 500:
            metrics.errors.inc(f"http_{status}")

    return observe


async def _flushing(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: flush the batched metrics every second while the app serves, and at the end."""
    stop = asyncio.Event()
    task = asyncio.create_task(app[METRICS].flush_every(app[CLOCK], stop))
    yield
    stop.set()
    await task


async def json_object(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


async def decision(request: web.Request) -> web.Response:
    body = await json_object(request)
    slug, duration, break_id = body.get("channel"), body.get("duration"), body.get("breakId")
    if not isinstance(slug, str):
        raise BadRequest("channel (string) is required")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not math.isfinite(duration)
        or duration <= 0
        or duration > 3600
    ):
        raise BadRequest(f"duration must be a number of seconds in (0, 3600], got {duration!r}")
    if not isinstance(break_id, (str, int)) or isinstance(break_id, bool) or str(break_id) == "":
        raise BadRequest("breakId (string or integer) is required")
    try:
        channel = request.app[CATALOG].channel(slug)
    except CatalogError as exc:
        raise NotFound(str(exc)) from None
    pod = await request.app[DECISIONS].decide(channel, float(duration), str(break_id))
    return web.json_response(pod.to_json())


def authorise(request: web.Request) -> None:
    """Who may change breaks (`http.authorise`, with `stitcher.token`)."""
    http.authorise(request, request.app[TOKEN], "change breaks", "stitcher.token")


def _channel(request: web.Request) -> Channel:
    try:
        return request.app[CATALOG].channel(request.match_info["channel"])
    except CatalogError as exc:
        raise NotFound(str(exc)) from None


def _ledger(request: web.Request) -> BreakLedger:
    ledger = request.app[LEDGER]
    if ledger is None:
        raise RigError("this stitcher has no break store configured")
    return ledger


async def _grid(request: web.Request, channel: Channel) -> Grid:
    session = request.app[SESSION]
    if session is None:
        raise RigError("this stitcher has no HTTP client session: it cannot read the origin")
    playlist, _ = await origin_playlist(session, channel, ORIGIN_TIMEOUT)
    return Grid.of(playlist, channel.segment_duration)


async def post_cue(request: web.Request) -> web.Response:
    authorise(request)
    channel = _channel(request)
    body = await json_object(request)
    unknown = set(body) - {"duration", "start"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    duration = body.get("duration")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not math.isfinite(duration)
        or duration <= 0
    ):
        raise BadRequest(f"duration must be a positive number of seconds, got {duration!r}")
    if duration > MAX_CUE_SECONDS:
        raise BadRequest(
            f"duration {duration} s is longer than the {MAX_CUE_SECONDS:.0f} s a break may last"
        )
    now = request.app[CLOCK].now()
    start = now
    if body.get("start") is not None:
        try:
            parsed = datetime.fromisoformat(str(body["start"]))
        except ValueError:
            raise BadRequest(f"start {body['start']!r} is not an ISO-8601 date-time") from None
        if parsed.tzinfo is None:
            raise BadRequest("start needs a time zone (e.g. 2026-01-01T12:00:00Z)")
        start = parsed.timestamp()
        if start < now - 0.5:
            raise BadRequest(f"start {body['start']} is in the past")
    ledger = _ledger(request)
    grid = await _grid(request, channel)
    number = await ledger.kv.incr(f"cue:{channel.slug}:next")
    event_id = f"manual-{number}"
    pod = await request.app[DECISIONS].decide(channel, float(duration), event_id)
    record = plan_break(channel.slug, event_id, "manual", start, float(duration), pod, grid, now)
    stored, _ = await ledger.create(record, now)
    return web.json_response(stored.view(now), status=201)


async def delete_break(request: web.Request) -> web.Response:
    authorise(request)
    channel = _channel(request)
    ledger = _ledger(request)
    record = await ledger.get(channel.slug, request.match_info["event"])
    if record is None:
        raise NotFound(f"no break {request.match_info['event']!r} on channel {channel.slug}")
    now = request.app[CLOCK].now()
    changed = shorten(record, await _grid(request, channel), now)
    stored = await ledger.update(record, changed, now)
    return web.json_response(stored.view(now))


async def list_breaks(request: web.Request) -> web.Response:
    channel = _channel(request)
    now = request.app[CLOCK].now()
    records = await _ledger(request).records(channel.slug)
    views = [r.view(now) for r in records if r.state(now) in ("upcoming", "active")]
    return web.json_response({"channel": channel.slug, "breaks": views})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "pid": os.getpid()})


async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


def create_app(
    catalog: Catalog,
    decisions: DecisionSource,
    clock: Clock,
    ledger: BreakLedger | None = None,
    session: aiohttp.ClientSession | None = None,
    token: str = "",
    options: StreamOptions = StreamOptions(),
) -> web.Application:
    """Wire the stitcher: channel catalog, decisions, clock, break ledger (KV) and an HTTP client
    session
    (without a session there are no playlist routes: nothing to read the origin with)."""
    counted = Metrics()
    app = http.serving(_observer(counted))
    app[METRICS] = counted
    app[CATALOG] = catalog
    app[DECISIONS] = decisions
    app[CLOCK] = clock
    app[LEDGER] = ledger
    app[SESSION] = session
    app[TOKEN] = token
    app.cleanup_ctx.append(_flushing)
    http.add(app, "POST", "/v1/channels/{channel}/cue", post_cue)
    http.add(app, "DELETE", "/v1/channels/{channel}/breaks/{event}", delete_break)
    http.get(app, "/v1/channels/{channel}/breaks", list_breaks)
    http.add(app, "POST", "/decision", decision)
    http.get(app, "/healthz", healthz)
    http.get(app, "/metrics", metrics)
    if session is not None:
        feed = OriginFeed(session, clock, counted, options.origin_timeout, options.origin_cache)
        views = BreakViews(
            ledger, clock, counted, options.kv_cache, options.kv_grace, options.kv_wait
        )
        service = PlaylistService(
            catalog,
            clock,
            feed,
            views,
            VodLibrary(session, counted, options.origin_timeout, ads_base_url=options.ads_base_url),
            counted,
            options.ads_base_url,
        )
        add_routes(app, service)
    http.close_routes(app)  # last; the demo page's routes, added by `stitcher serve`, are under
    # /demo, a literal start the router tries before this catch-all
    return app
