"""Who may write, at the HTTP level: POST /cue and DELETE of a break on a real stitcher app, and
POST and DELETE of a splice on a real origin emulator, each listening on loopback (IPv4, IPv6 and
IPv4-mapped IPv6), directly and as a proxy forwards them.

Without a token, direct loopback clients may write and a proxied request (it names a forwarded
client) may not: behind an edge on the same host every request arrives from loopback. With a
token, only the token counts. An authorised DELETE of an unknown break or splice is a 404, so a
404 here means the request got past the authorisation."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket

import aiohttp
import pytest
from aiohttp import web

from origin_emulator.app import create_app as create_origin
from stitcher.app import create_app
from tests.needs import in_namespace, require

CUE = "/v1/channels/news/cue"
DELETE = "/v1/channels/news/breaks/no-such-break"
SPLICE = "/control/news/splice"
UNSPLICE = "/control/news/splice/999999"
FAULT = "/control/news/fault"
# (server, method, path, the status of an authorised request)
WRITES = [
    ("stitcher", "POST", CUE, 201),
    ("stitcher", "DELETE", DELETE, 404),
    ("origin", "POST", SPLICE, 201),
    ("origin", "DELETE", UNSPLICE, 404),
    ("origin", "POST", FAULT, 201),
    ("origin", "DELETE", FAULT, 404),  # no fault is on
]


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
async def serve(rig, clock, make_channel):
    """Start the stitcher app (or the origin emulator's) on a real socket of `host` (dual-stack
    for "::"); yields a function starting one and returning its port."""
    runners: list[web.AppRunner] = []

    async def start(host: str, token: str = "", server: str = "stitcher") -> int:
        if server == "origin":
            app = create_origin({"news": make_channel()}, clock, token=token)
        else:
            app = create_app(
                rig.catalog, rig.monitor.decisions, clock, rig.ledger, rig.session, token
            )
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
        body = None
        if method == "POST":
            body = {"fault": "error", "seconds": 5} if url.endswith(FAULT) else {"duration": 10}
        async with session.request(method, url, json=body, headers=headers or {}) as response:
            return response.status


@pytest.mark.parametrize("server, method, path, allowed", WRITES)
async def test_direct_loopback_clients_may_write_without_a_token(
    serve, server, method, path, allowed
):
    port = await serve("127.0.0.1", server=server)
    assert await status(f"http://127.0.0.1:{port}{path}", method) == allowed


@pytest.mark.parametrize("server, method, path, allowed", WRITES)
async def test_ipv6_and_ipv4_mapped_loopback_clients_are_loopback(
    serve, server, method, path, allowed
):
    if not _ipv6_loopback():
        pytest.fail("this machine has no IPv6 loopback: the rule for ::1 cannot be checked")
    port = await serve("::", server=server)
    assert await status(f"http://[::1]:{port}{path}", method) == allowed
    # the second cue or splice overlaps the first (409): past the authorisation all the same
    assert await status(f"http://127.0.0.1:{port}{path}", method) in (allowed, 409)


@pytest.mark.parametrize("server, method, path", [w[:3] for w in WRITES])
@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "127.0.0.1"},
        {"X-Forwarded-For": "203.0.113.9, 127.0.0.1"},
        {"Forwarded": "for=127.0.0.1"},
        {"X-Real-IP": "127.0.0.1"},
    ],
)
async def test_a_proxied_request_without_a_token_is_forbidden(serve, server, method, path, header):
    port = await serve("127.0.0.1", server=server)
    assert await status(f"http://127.0.0.1:{port}{path}", method, header) == 403


@pytest.mark.parametrize("server, method, path, allowed", WRITES)
async def test_with_a_token_only_the_token_counts(serve, server, method, path, allowed):
    port = await serve("127.0.0.1", token="s3cret", server=server)
    url = f"http://127.0.0.1:{port}{path}"
    assert await status(url, method) == 401
    assert await status(url, method, {"Authorization": "Bearer nope"}) == 401
    assert await status(url, method, {"X-Forwarded-For": "127.0.0.1"}) == 401
    proxied = {"Authorization": "Bearer s3cret", "X-Forwarded-For": "203.0.113.9"}
    assert await status(url, method, proxied) == allowed


@pytest.mark.parametrize(
    "server, path", [("stitcher", "/v1/channels/news/breaks"), ("origin", "/control/news/splices")]
)
async def test_reading_needs_no_token_even_through_a_proxy(serve, server, path):
    port = await serve("127.0.0.1", token="s3cret", server=server)
    url = f"http://127.0.0.1:{port}{path}"
    assert await status(url, "GET", {"X-Forwarded-For": "203.0.113.9"}) == 200


# ------------------------------------------------- clients beyond loopback (a network namespace)

NETNS = "SSAI_RIG_WRITE_AUTH_NETNS"  # set inside the namespace: the test below is collected there
ADDRESSES = ("192.0.2.1/32", "2001:db8::1/128")  # documentation prefixes, on the namespace's lo


def test_clients_beyond_loopback_need_the_token():
    """Run `test_beyond_loopback` in a network namespace of its own (`unshare -rn`: nothing of the
    machine's network is touched), whose loopback interface also holds a non-loopback IPv4 and
    IPv6 address: a client connecting from them is not a loopback client."""
    require(shutil.which("ip") is not None, "ip is not installed (apt-get install iproute2)")
    setup = " && ".join(
        ["ip link set lo up"]
        + [f"ip addr add {a} dev lo" + (" nodad" * (":" in a)) for a in ADDRESSES]
    )
    passed = in_namespace("-rn", setup, f"{__file__}::test_beyond_loopback", {NETNS: "1"})
    assert passed >= len(WRITES)  # every case ran, none skipped


if os.environ.get(NETNS) == "1":

    @pytest.mark.parametrize("server, method, path, allowed", WRITES)
    async def test_beyond_loopback(serve, server, method, path, allowed):
        port = await serve("::", server=server)
        for client in ("192.0.2.1", "[2001:db8::1]"):  # the IPv4 one arrives IPv4-mapped
            assert await status(f"http://{client}:{port}{path}", method) == 403
        assert await status(f"http://127.0.0.1:{port}{path}", method) == allowed
        port = await serve("::", token="s3cret", server=server)
        for client in ("192.0.2.1", "[2001:db8::1]"):
            url = f"http://{client}:{port}{path}"
            assert await status(url, method) == 401
            assert await status(url, method, {"Authorization": "Bearer s3cret"}) in (allowed, 409)


# ------------------------------------------------------------ the rig's own writers send tokens


async def test_the_tui_sends_each_servers_token_with_its_writes(serve):
    from tui.sources import ApiError, RigApi

    origin = await serve("127.0.0.1", token="o-token", server="origin")
    stitcher = await serve("127.0.0.1", token="s-token")
    urls = (f"http://127.0.0.1:{origin}", f"http://127.0.0.1:{stitcher}")
    async with aiohttp.ClientSession() as session:
        api = RigApi(session, *urls, origin_token="o-token", stitcher_token="s-token")
        assert (await api.splice("news", 10, 8, "daterange", "splice_insert"))["duration"] == 10
        assert (await api.cue("news", 10))["duration"] == 10
        with pytest.raises(ApiError) as gone:
            await api.end_break("news", "no-such-break")
        assert gone.value.status == 404  # past the authorisation
        tokenless = RigApi(session, *urls)
        for write in (
            tokenless.splice("news", 10, 8, "daterange", "splice_insert"),
            tokenless.cue("news", 10),
        ):
            with pytest.raises(ApiError) as refused:
                await write
            assert refused.value.status == 401 and "token" in str(refused.value)


async def test_rig_splice_sends_origin_token(serve, small_settings):
    import dataclasses

    from rig import cues_cli
    from stitcher.errors import RigError

    port = await serve("127.0.0.1", token="o-token", server="origin")
    settings = dataclasses.replace(
        small_settings, origin=dataclasses.replace(small_settings.origin, token="o-token")
    )
    args = argparse.Namespace(
        command="splice",
        channel="news",
        duration=10.0,
        preroll=None,
        format=None,
        scte35_command=None,
        url=f"http://127.0.0.1:{port}",
        token=None,
    )
    assert await asyncio.to_thread(cues_cli.run, args, settings) == 0  # origin.token was sent
    args.token = "wrong"
    with pytest.raises(RigError, match="HTTP 401"):
        await asyncio.to_thread(cues_cli.run, args, settings)
