"""Who may change breaks, at the HTTP level: POST /cue and DELETE of a break on a real stitcher app
listening on loopback (IPv4, IPv6 and IPv4-mapped IPv6), directly and as a proxy forwards them.

Without a token, direct loopback clients may write and a proxied request (it names a forwarded
client) may not: behind an edge on the same host every request arrives from loopback. With a
token, only the token counts. An authorised DELETE of an unknown break is a 404, so a 404 here
means the request got past the authorisation."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from stitcher.app import create_app

CUE = "/v1/channels/news/cue"
DELETE = "/v1/channels/news/breaks/no-such-break"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
async def serve(rig, clock):
    """Start the stitcher app on a real socket of `host` (dual-stack for "::"); yields a function
    making a request to it and returning the status."""
    runners: list[web.AppRunner] = []

    async def start(host: str, token: str = "") -> int:
        app = create_app(rig.catalog, rig.monitor.decisions, clock, rig.ledger, rig.session, token)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        if host == "::":  # one socket for both: an IPv4 client arrives as ::ffff:127.0.0.1
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", 0))
            await web.SockSite(runner, sock).start()
            return sock.getsockname()[1]
        site = web.TCPSite(runner, host, 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    yield start
    for runner in runners:
        await runner.cleanup()


async def status(url: str, method: str, headers: dict[str, str] | None = None) -> int:
    async with aiohttp.ClientSession() as session:
        body = {"duration": 10} if method == "POST" else None
        async with session.request(method, url, json=body, headers=headers or {}) as response:
            return response.status


@pytest.mark.parametrize("method, path, allowed", [("POST", CUE, 201), ("DELETE", DELETE, 404)])
async def test_direct_loopback_clients_may_write_without_a_token(serve, method, path, allowed):
    port = await serve("127.0.0.1")
    assert await status(f"http://127.0.0.1:{port}{path}", method) == allowed


@pytest.mark.parametrize("method, path, allowed", [("POST", CUE, 201), ("DELETE", DELETE, 404)])
async def test_ipv6_and_ipv4_mapped_loopback_clients_are_loopback(serve, method, path, allowed):
    if not _ipv6_loopback():
        pytest.fail("this machine has no IPv6 loopback: the rule for ::1 cannot be checked")
    port = await serve("::")
    assert await status(f"http://[::1]:{port}{path}", method) == allowed
    # the second cue overlaps the first (409): past the authorisation all the same
    assert await status(f"http://127.0.0.1:{port}{path}", method) in (allowed, 409)


@pytest.mark.parametrize("method, path", [("POST", CUE), ("DELETE", DELETE)])
@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "127.0.0.1"},
        {"X-Forwarded-For": "203.0.113.9, 127.0.0.1"},
        {"Forwarded": "for=127.0.0.1"},
        {"X-Real-IP": "127.0.0.1"},
    ],
)
async def test_a_proxied_request_without_a_token_is_forbidden(serve, method, path, header):
    port = await serve("127.0.0.1")
    assert await status(f"http://127.0.0.1:{port}{path}", method, header) == 403


@pytest.mark.parametrize("method, path, allowed", [("POST", CUE, 201), ("DELETE", DELETE, 404)])
async def test_with_a_token_only_the_token_counts(serve, method, path, allowed):
    port = await serve("127.0.0.1", token="s3cret")
    url = f"http://127.0.0.1:{port}{path}"
    assert await status(url, method) == 401
    assert await status(url, method, {"Authorization": "Bearer nope"}) == 401
    assert await status(url, method, {"X-Forwarded-For": "127.0.0.1"}) == 401
    proxied = {"Authorization": "Bearer s3cret", "X-Forwarded-For": "203.0.113.9"}
    assert await status(url, method, proxied) == allowed


async def test_reading_needs_no_token_even_through_a_proxy(serve):
    port = await serve("127.0.0.1", token="s3cret")
    url = f"http://127.0.0.1:{port}/v1/channels/news/breaks"
    assert await status(url, "GET", {"X-Forwarded-For": "203.0.113.9"}) == 200
