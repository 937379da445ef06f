"""HTTP plumbing shared by the stitcher, the origin emulator and the media server.

Every route of the three servers is added through `get` / `add` (or `preflight`), which wrap its
handler in the app's `Guard`: the one place where errors become JSON answers (`{"error": ...}`
with the status of the `RigError` raised), error answers get `Cache-Control: no-store` (an edge
must never keep them), every answer gets `Access-Control-Allow-Origin: *`, and the stitcher's
metrics see each answer. `close_routes` adds the last route, which answers what nothing else
matches with a JSON 404 or 405. A wrapper per route instead of an aiohttp middleware: aiohttp runs
middlewares through two more coroutines a request, a fifth of what the stitcher's busiest answer
costs (docs/stitcher.md, "The cost of an answer").

`start_site` serves an app on a host and port (or on sockets that are already listening) with a
clear error when the port is taken; `listen` makes such sockets, for a parent process that hands
them to its workers.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import hdrs, web

from stitcher.errors import Forbidden, RigError, Unauthorised
from stitcher.processes import more_files

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Observer = Callable[[str, int, float], None]  # (route label, status, seconds taken)
ALLOW_ORIGIN = hdrs.ACCESS_CONTROL_ALLOW_ORIGIN
UNMATCHED = "unmatched"  # the route label of a request no route matched
BACKLOG = 4096  # connections the kernel queues on a socket from `listen` while nobody accepts (the
# kernel caps it at net.core.somaxconn); a crowd of viewers connects at once


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Guard:
    """How every route of one app answers. `observe` sees each answer's route label, final status
    and duration (the stitcher's metrics)."""

    def __init__(self, observe: Observer | None = None) -> None:
        self.observe = observe
        self.catch_all: set[web.AbstractResource] = set()  # not the resource a path names

    def __call__(self, handler: Handler, label: str) -> Handler:
        observe = self.observe

        async def guarded(request: web.Request) -> web.StreamResponse:
            # One coroutine between aiohttp and the handler: this runs on every request.
            started = time.perf_counter()
            status = 500  # an exception that escapes (a redirect keeps its own status below)
            try:
                try:
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
                    observe(label, status, time.perf_counter() - started)

        return guarded


GUARD = web.AppKey("guard", Guard)


def serving(observe: Observer | None = None) -> web.Application:
    """A server's app, its routes guarded (`get`, `add`); `close_routes` once they are added."""
    app = web.Application()
    app[GUARD] = Guard(observe)
    return app


def get(app: web.Application, path: str, handler: Handler, label: str = "") -> None:
    """A GET (and HEAD) route, guarded; `label`: its name in the metrics (default: its path as
    aiohttp spells it, e.g. `/{channel}/master.m3u8`)."""
    _route(app, ("GET", "HEAD"), path, handler, label)


def add(app: web.Application, method: str, path: str, handler: Handler, label: str = "") -> None:
    """A route of `method`, guarded."""
    _route(app, (method,), path, handler, label)


def preflight(app: web.Application, methods: str, headers: str = "") -> None:
    """Answer a CORS preflight (OPTIONS) to any path: 204 with the methods (and request headers)
    a page may use."""
    allowed = {"Access-Control-Allow-Methods": methods, "Access-Control-Max-Age": "600"}
    if headers:
        allowed["Access-Control-Allow-Headers"] = headers

    async def answer(_: web.Request) -> web.Response:
        return web.Response(status=204, headers=allowed)

    app[GUARD].catch_all.add(_route(app, ("OPTIONS",), "/{tail:.*}", answer, "preflight"))


def close_routes(app: web.Application) -> None:
    """The last route: a JSON 404 for a path no route names, a 405 (with `Allow`) for a method
    its route does not take. aiohttp tries resources by the longest literal prefix of their path,
    then in order: a route added later whose path starts with a variable is never reached."""
    guard = app[GUARD]

    async def unmatched(request: web.Request) -> web.Response:
        allowed: set[str] = set()
        for other in app.router.resources():
            if other not in guard.catch_all:
                allowed |= (await other.resolve(request))[1]
        if allowed:
            response = json_error(405, f"{request.method} is not allowed on {request.path}")
            response.headers[hdrs.ALLOW] = ",".join(sorted(allowed))
            return response
        return _not_found(request)

    guard.catch_all.add(_route(app, (hdrs.METH_ANY,), "/{tail:.*}", unmatched, UNMATCHED))


def _route(
    app: web.Application, methods: Sequence[str], path: str, handler: Handler, label: str
) -> web.Resource:
    """`path`'s resource with `handler`, guarded once, for each of `methods`."""
    resource = app.router.add_resource(path)
    guarded = app[GUARD](handler, label or resource.canonical)
    for method in methods:
        resource.add_route(method, guarded)
    return resource


PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def authorise(request: web.Request, token: str, action: str, setting: str) -> None:
    """Who may `action` (a write API's words, e.g. "change breaks"): with a configured `token`
    (the setting named `setting`), whoever sends it as a bearer token (401 otherwise); without
    one, direct loopback clients only (403 otherwise). A request that came through a proxy (it
    names a forwarded client) is never a direct one: behind an edge on the same host every
    request arrives from loopback. An IPv4-mapped IPv6 address counts as the IPv4 address it
    maps."""
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise Unauthorised(f"to {action}, send Authorization: Bearer <{setting}>")
        return
    if any(name in request.headers for name in PROXY_HEADERS):
        raise Forbidden(
            f"this request came through a proxy: without a configured token ({setting}), only"
            f" direct loopback clients may {action}"
        )
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        loopback = False
    else:
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        loopback = (mapped or address).is_loopback
    if not loopback:
        raise Forbidden(
            f"without a configured token ({setting}), only loopback clients may {action}"
        )


def _not_found(request: web.Request) -> web.Response:
    return json_error(404, f"no such resource: {request.path}")


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's error (a handler's `HTTPNotFound`, say) as a JSON one; a redirect, or an error that
    is JSON already, is raised on with the CORS header."""
    if exc.status < 400 or exc.content_type == "application/json":
        exc.headers[ALLOW_ORIGIN] = "*"
        raise exc
    return _not_found(request) if exc.status == 404 else json_error(exc.status, exc.reason)


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
