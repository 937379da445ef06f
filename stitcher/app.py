"""The stitcher's HTTP app (aiohttp). Handlers parse, call the core, respond.

Routes so far (DESIGN.md's contract grows with the next issues):
  POST /decision   {"channel": "news", "duration": 30, "breakId": "42"} -> the pod JSON
  GET  /healthz
Errors are JSON `{"error": ...}` with the status of the `StitcherError` raised; every response
carries `Access-Control-Allow-Origin: *`.
"""

from __future__ import annotations

import json
import math
from typing import Awaitable, Callable

from aiohttp import web

from stitcher.catalog import Catalog, CatalogError
from stitcher.clock import Clock
from stitcher.decision import DecisionError, DecisionSource
from stitcher.errors import BadRequest, NotFound, StitcherError

CATALOG = web.AppKey("catalog", Catalog)
DECISIONS = web.AppKey("decisions", object)
CLOCK = web.AppKey("clock", object)


@web.middleware
async def errors_and_cors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        response = await handler(request)
    except StitcherError as exc:
        response = web.json_response({"error": str(exc)}, status=exc.status)
    except DecisionError as exc:
        response = web.json_response({"error": str(exc)}, status=503)
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers["Access-Control-Allow-Origin"] = "*"
            raise
        response = web.json_response({"error": exc.reason}, status=exc.status)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


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
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration <= 0 or duration > 3600:
        raise BadRequest(f"duration must be a number of seconds in (0, 3600], got {duration!r}")
    if not isinstance(break_id, (str, int)) or isinstance(break_id, bool) or str(break_id) == "":
        raise BadRequest("breakId (string or integer) is required")
    try:
        channel = request.app[CATALOG].channel(slug)
    except CatalogError as exc:
        raise NotFound(str(exc)) from None
    pod = await request.app[DECISIONS].decide(channel, float(duration), str(break_id))
    return web.json_response(pod.to_json())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app(catalog: Catalog, decisions: DecisionSource, clock: Clock) -> web.Application:
    app = web.Application(middlewares=[errors_and_cors])
    app[CATALOG] = catalog
    app[DECISIONS] = decisions
    app[CLOCK] = clock
    app.router.add_post("/decision", decision)
    app.router.add_get("/healthz", healthz)
    return app
