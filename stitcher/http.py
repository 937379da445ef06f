"""HTTP plumbing shared by the stitcher, the origin emulator and the media server.

`error_middleware` is the one place where errors become JSON answers (`{"error": ...}` with the
status of the `RigError` raised), error answers get `Cache-Control: no-store` (an edge must never
keep them), and every answer gets `Access-Control-Allow-Origin: *`. `start_site` serves an app on a
host and port (or on sockets that are already listening) with a clear error when the port is taken;
`listen` makes such sockets, for a parent process that hands them to its workers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import hdrs, web

from stitcher.errors import RigError
from stitcher.processes import more_files

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Observer = Callable[[web.Request, int, float], None]  # (request, status, seconds taken)
ALLOW_ORIGIN = hdrs.ACCESS_CONTROL_ALLOW_ORIGIN
BACKLOG = 4096  # connections the kernel queues on a socket from `listen` while nobody accepts (the
# kernel caps it at net.core.somaxconn); a crowd of viewers connects at once


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def error_middleware(*, preflight: str = "", observe: Observer | None = None):
    """The middleware of every server. `preflight`: the methods a CORS preflight (OPTIONS) may ask
    for, answered here (empty: OPTIONS is routed like any method). `observe` sees every request's
    final status and duration (the stitcher's metrics)."""

    @web.middleware
    async def errors_and_cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        # One coroutine between aiohttp and the handler: this runs on every request.
        started = time.perf_counter()
        status = 500  # an exception that escapes (a redirect keeps its own status below)
        try:
            try:
                if preflight and request.method == "OPTIONS":
                    response: web.StreamResponse = _preflight(preflight)
                else:
                    response = await handler(request)
            except RigError as exc:
                response = json_error(exc.status, exc.public())
            except web.HTTPException as exc:
                status = exc.status
                response = _http_error(request, exc)
            status = response.status
            if status >= 400:
                response.headers[hdrs.CACHE_CONTROL] = "no-store"
            response.headers[ALLOW_ORIGIN] = "*"
            return response
        finally:
            if observe is not None:
                observe(request, status, time.perf_counter() - started)

    return errors_and_cors


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's error (a 404 of the router, say) as a JSON one; a redirect, or an error that is
    JSON already, is raised on with the CORS header."""
    if exc.status < 400 or exc.content_type == "application/json":
        exc.headers[ALLOW_ORIGIN] = "*"
        raise exc
    message = f"no such resource: {request.path}" if exc.status == 404 else exc.reason
    return json_error(exc.status, message)


def _preflight(methods: str) -> web.Response:
    return web.Response(
        status=204,
        headers={"Access-Control-Allow-Methods": methods, "Access-Control-Max-Age": "600"},
    )


def _cannot_listen(what: str, host: str, port: int, exc: OSError, hint: str) -> RigError:
    return RigError(
        f"{what} cannot listen on {host}:{port}: {exc.strerror or exc}"
        + (f" ({hint})" if hint else "")
    )


def listen(host: str, port: int, what: str, hint: str = "") -> list[socket.socket]:
    """Listening TCP sockets on `host`:`port`, one per address the host resolves to (IPv4 and/or
    IPv6, as aiohttp's own sites bind), with SO_REUSEADDR and a generous backlog (BACKLOG): the
    connections the kernel queues while nobody accepts. Raises RigError if it cannot listen."""
    sockets: list[socket.socket] = []
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        addresses = list(dict.fromkeys((family, address) for family, *_, address in found))
        for family, address in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and len(addresses) > 1:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # IPv4 has its own
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _cannot_listen(what, host, port, exc, hint) from None
    return sockets


async def start_site(
    app: web.Application,
    host: str,
    port: int,
    what: str,
    hint: str = "",
    sockets: Sequence[socket.socket] = (),
) -> web.AppRunner:
    """Serve `app`; returns the runner (call `cleanup()` to stop). Raises RigError if it cannot
    listen. `sockets`: serve on these listening sockets (from `listen`, possibly inherited from a
    parent process) instead of binding `host`:`port`. Raises the process's open-file limit first
    (one descriptor per client connection: `processes.more_files`). A server process then calls
    `processes.server_gc` (not done here: an app served inside another process, a test's, keeps
    that process's collector)."""
    more_files()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        if sockets:
            for sock in sockets:
                await web.SockSite(runner, sock, backlog=BACKLOG).start()  # listens again: keep it
        else:
            await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise _cannot_listen(what, host, port, exc, hint) from None
    return runner
