"""The media server: conditioned ads and slate over HTTP, headers, JSON errors, no path
traversal."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from origin_emulator.ffmpeg import ffmpeg_executable
from rig.ads import render_creative, sized_for, slate_recipe
from rig.channels import emulator_channel
from rig.conditioning import condition
from rig.media_server import create_app, resolve, start_media_server
from stitcher.errors import RigError
from tests.test_ads import make_creative


@pytest.fixture(scope="module")
def library(tmp_path_factory, small_settings, small_content):
    """A media cache holding one conditioned 3.3 s ad and the conditioned slate (small ladder)."""
    work = tmp_path_factory.mktemp("media-server")
    cache = work / "cache"
    conditioning = emulator_channel(
        small_settings.channels[0], small_content, small_settings
    ).conditioning

    async def build():
        slate = await render_creative(
            sized_for(small_settings.media, slate_recipe(4.0)), cache, preset="ultrafast"
        )
        ad = await condition(
            make_creative(work / "spot.mp4", 3.3),
            "spot",
            conditioning,
            cache,
            slate,
            preset="ultrafast",
        )
        slates = await condition(slate, "slate", conditioning, cache, slate, preset="ultrafast")
        return ad, slates

    ad, slates = asyncio.run(build())
    for secret in (
        cache / "secret" / "hi" / "seg_00000.ts",
        cache / "secret" / "seg_00000.ts",
        cache / "seg_00000.ts",
    ):
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_bytes(
            b"SECRET" * 10
        )  # outside ads/ and slate/, with servable names: never served
    return cache, ad, slates


async def test_serves_playlists_and_segments_with_the_right_headers(aiohttp_client, library):
    cache, ad, slates = library
    client = await aiohttp_client(create_app(cache))
    for rendition in (ad[0], ad[1], slates[0]):
        response = await client.get(rendition.path)
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert response.headers["Cache-Control"] == "public, max-age=86400"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        text = await response.text()
        assert text == (cache / rendition.path.lstrip("/")).read_text() and "#EXT-X-ENDLIST" in text
        segment_path = rendition.path.replace("index.m3u8", "seg_00001.ts")
        response = await client.get(segment_path)
        assert response.status == 200 and response.headers["Content-Type"] == "video/mp2t"
        assert (
            response.headers["Cache-Control"] == "public, max-age=86400"
            and response.headers["Access-Control-Allow-Origin"] == "*"
        )
        body = await response.read()
        assert body == (cache / segment_path.lstrip("/")).read_bytes()
        head = await client.head(segment_path)
        assert (
            head.status == 200
            and int(head.headers["Content-Length"]) == len(body)
            and await head.read() == b""
        )
        assert head.headers["Access-Control-Allow-Origin"] == "*"
    assert "/ads/" in ad[0].path and "/slate/" in slates[0].path
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["ok"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/ads/nope/abc/hi/index.m3u8",
        "/ads/spot/abc/hi/seg_99999.ts",
        "/ads/spot/abc/hi/conditioned.json",
        "/slate/abc/hi/index.m3u8",
        "/nothing/here",
        "/ads/spot",
    ],
)
async def test_unknown_paths_are_json_404s(aiohttp_client, library, path):
    cache, _, _ = library
    client = await aiohttp_client(create_app(cache))
    response = await client.get(path)
    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.content_type == "application/json" and "error" in await response.json()


async def _raw_get(host: str, port: int, path: str) -> tuple[int, bytes]:
    """Send the request line exactly as given (no client-side normalisation of `..` or `%2f`)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data


TRAVERSALS = [
    "/ads/%2e%2e/secret/hi/seg_00000.ts",
    "/ads/..%2fsecret/x/hi/seg_00000.ts",
    "/slate/%2e%2e/secret/seg_00000.ts",
    "/slate/..%2f..%2fsecret/hi/seg_00000.ts",
    "/slate/../secret/seg_00000.ts",
    "/slate/x/..%2f..%2f..%2f/seg_00000.ts",
    "/ads/..%2f..%2fetc/passwd",
    "/ads/..%2f..%2f..%2fetc/x/y/passwd",
    "/ads/..%2F..%2F/x/y/secret.ts",
    "/slate/..%2f../x/secret.ts",
    "/slate/%2e%2e/%2e%2e/secret.ts",
    "/slate/../../secret.ts",
    "/ads/../../x/secret.ts",
    "/ads/spot/..%2f..%2f..%2f/hi/seg_00000.ts",
    "/ads/%2e%2e/%2e%2e/%2e%2e/seg_00000.ts",
    "/slate/..%5c..%5c/hi/seg_00000.ts",
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_no_path_traversal(aiohttp_server, library, path):
    cache, _, _ = library
    server = await aiohttp_server(create_app(cache))
    status, data = await _raw_get(server.host, server.port, path)
    assert status in (400, 404), data[:200]
    assert b"SECRET" not in data and b"root:" not in data
    if status == 404:
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"access-control-allow-origin: *" in head.lower() and "error" in json.loads(body)


def test_resolve_refuses_anything_but_playlists_and_segments_inside_the_cache(library):
    cache, ad, _ = library
    _, _, _, version, rendition, _ = ad[0].path.split("/")  # /ads/spot/<version>/hi/index.m3u8
    path, kind = resolve(cache, "ads", ["spot", version, rendition], "index.m3u8")
    assert path.is_file() and kind == "application/vnd.apple.mpegurl"
    for parts, name in [(["..", version, rendition], "index.m3u8"),
                        (["spot", "..", rendition], "index.m3u8"),
                        (["spot", version, rendition], "../index.m3u8"),
                        (["spot", version, "HI"], "index.m3u8"),
                        (["spot", version, rendition], "conditioned.json"),
                        (["spot", version, "."], "seg_00000.ts")]:  # fmt: skip
        with pytest.raises(Exception, match="bad path component|not a playlist|no "):
            resolve(cache, "ads", parts, name)


async def test_ffmpeg_plays_an_ad_over_http(aiohttp_server, library):
    cache, ad, _ = library
    server = await aiohttp_server(create_app(cache))
    url = f"http://{server.host}:{server.port}{ad[1].path}"
    process = await asyncio.create_subprocess_exec(
        ffmpeg_executable(), "-hide_banner", "-nostdin", "-i", url,
        "-map", "0:v", "-map", "0:a", "-f", "framecrc", "-",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-500:]
    assert "192x108" in err.decode() and "48000 Hz, stereo" in err.decode()
    frames = [line for line in out.decode().splitlines() if line.startswith("0,")]
    samples = sum(
        int(line.split(",")[3]) for line in out.decode().splitlines() if line.startswith("1,")
    )
    assert len(frames) == 100  # 3.3 s -> two 2 s segments at 25 fps
    assert abs(samples / 48000 - 4.0) <= 1024 / 48000


async def test_preflight_and_port_in_use(library):
    cache, _, _ = library
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await start_media_server(cache, "127.0.0.1", port)
    runner = await start_media_server(cache, "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:
            async with session.options(f"http://127.0.0.1:{port}/ads/x/y/z/index.m3u8") as response:
                assert (
                    response.status == 204
                    and response.headers["Access-Control-Allow-Origin"] == "*"
                )
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
    finally:
        await runner.cleanup()


def test_media_server_is_independent_of_settings(tmp_path):
    app = create_app(tmp_path)
    assert [r.resource.canonical for r in app.router.routes() if r.method == "GET"] == [
        "/healthz", "/ads/{ad}/{version}/{rendition}/{file}", "/slate/{version}/{rendition}/{file}",
    ]  # fmt: skip
