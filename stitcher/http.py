"""HTTP plumbing shared by the stitcher, the origin emulator and the media server.

`error_middleware` is the one place where errors become JSON answers (`{"error": ...}` with the
status of the `RigError` raised), error answers get `Cache-Control: no-store` (an edge must never
keep them), and every answer gets `Access-Control-Allow-Origin: *`. `start_site` serves an app on a
host and port with a clear error when the port is taken.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from stitcher.errors import RigError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Observer = Callable[[web.Request, int, float], None]  # (request, status, seconds taken)
ALLOW_ORIGIN = "Access-Control-Allow-Origin"


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def error_middleware(*, preflight: str = "", observe: Observer | None = None):
    """The middleware of every server. `preflight`: the methods a CORS preflight (OPTIONS) may ask
    for, answered here (empty: OPTIONS is routed like any method). `observe` sees every request's
    final status and duration (the stitcher's metrics)."""

    @web.middleware
    async def errors_and_cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500  # an exception that escapes (a redirect keeps its own status below)
        try:
            response = await _answer(request, handler, preflight)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if observe is not None:
                observe(request, status, time.perf_counter() - started)

    return errors_and_cors


async def _answer(request: web.Request, handler: Handler, preflight: str) -> web.StreamResponse:
    try:
        if preflight and request.method == "OPTIONS":
            response: web.StreamResponse = _preflight(preflight)
        else:
            response = await handler(request)
    except RigError as exc:
        response = json_error(exc.status, exc.public())
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            exc.headers[ALLOW_ORIGIN] = "*"
            raise
        message = f"no such resource: {request.path}" if exc.status == 404 else exc.reason
        response = json_error(exc.status, message)
    if response.status >= 400:
        response.headers["Cache-Control"] = "no-store"
    response.headers[ALLOW_ORIGIN] = "*"
    return response


def _preflight(methods: str) -> web.Response:
    return web.Response(
        status=204,
        headers={"Access-Control-Allow-Methods": methods, "Access-Control-Max-Age": "600"},
    )


async def start_site(
    app: web.Application,
    host: str,
    port: int,
    what: str,
    hint: str = "",
    reuse_port: bool = False,
) -> web.AppRunner:
    """Serve `app`; returns the runner (call `cleanup()` to stop). Raises RigError if it cannot
    listen. `reuse_port`: several processes may listen on the port together (the kernel spreads
    connections)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    except OSError as exc:
        await runner.cleanup()
        raise RigError(
            f"{what} cannot listen on {host}:{port}: {exc.strerror or exc}"
            + (f" ({hint})" if hint else "")
        ) from None
    return runner
