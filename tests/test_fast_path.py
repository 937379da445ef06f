"""The playlist service's fast path (`PlaylistService.cached_media`), on the fake clock.

While the channel row, the origin copy and the break view a media playlist was made from are all
fresh, the service answers what it answered last without a pass; it stops the moment any of them
is stale (each on its own window), and the pass that follows sees whatever changed. Its bytes are
what a replica that has never answered before (a pass from scratch) serves at the same moment.
"""

from __future__ import annotations

import pytest

from stitcher.app import StreamOptions
from stitcher.catalog import MODES
from stitcher.playlist import parse_datetime
from stitcher.service.playlists import CATALOG_TTL
from stitcher.streams import SERVICE
from tests.stitcher_stack import replica


@pytest.fixture
def make(stitcher_stacks, kv):
    async def stack(**options):
        return await stitcher_stacks(kv, StreamOptions(**options))

    return stack


async def body(client, path: str) -> bytes:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.read()


def head(response) -> list[tuple[bytes, bytes]]:
    """The response's header lines as sent (names spelt as on the wire), but its Date."""
    return [(name, value) for name, value in response.raw_headers if name != b"Date"]


@pytest.mark.parametrize("mode", MODES)
async def test_the_fast_path_answers_a_passes_bytes_until_an_input_is_stale(
    make, mode, clock, aiohttp_client
):
    stack = await make()  # the shipped windows: origin copy and break view fresh for 0.5 s
    service = stack.client.server.app[SERVICE]
    path = f"/{mode}/news/hi.m3u8"
    assert service.cached_media("news", "hi", mode) is None  # nothing made yet
    first = await body(stack.client, path)  # a pass: catalog, origin, KV, render
    cached = service.cached_media("news", "hi", mode)
    assert cached is not None and cached.body == first
    other = await replica(stack, aiohttp_client, clock)
    assert await body(other, path) == first
    clock.advance(0.49)
    assert service.cached_media("news", "hi", mode) is cached
    fast = await stack.client.get(path)
    assert await fast.read() == first
    assert head(fast) == head(await other.get(path))  # the same headers as a pass's
    assert (b"ETag", cached.etag.encode()) in head(fast)
    clock.advance(0.01)  # the origin copy (and the break view) are 0.5 s old
    assert service.cached_media("news", "hi", mode) is None
    assert await body(stack.client, path) == first  # the same origin playlist: the same bytes
    assert service.cached_media("news", "hi", mode) is not None  # fresh inputs again
    await stack.session.close()
    stack.catalog.close()


@pytest.mark.parametrize(
    "stale,options,after",
    [
        ("origin", {"origin_cache": 0.5, "kv_cache": 4.0}, 0.5),
        ("breaks", {"origin_cache": 4.0, "kv_cache": 0.5}, 0.5),
        ("channel", {"origin_cache": 60.0, "kv_cache": 60.0}, CATALOG_TTL),
    ],
)
async def test_each_input_going_stale_ends_the_fast_path(make, clock, stale, options, after):
    stack = await make(**options)
    service = stack.client.server.app[SERVICE]
    await body(stack.client, "/ssai/news/hi.m3u8")
    clock.advance(after - 0.01)
    assert service.cached_media("news", "hi", "ssai") is not None
    clock.advance(0.01)
    assert service.cached_media("news", "hi", "ssai") is None, stale
    await stack.session.close()
    stack.catalog.close()


async def renders(stack) -> float:
    text = await (await stack.client.get("/metrics")).text()
    return sum(
        float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith('stitcher_renders_total{mode="ssai"}')
    )


async def test_a_new_break_is_rendered_as_soon_as_the_break_view_is_read_again(
    make, clock, aiohttp_client
):
    stack = await make()
    other = await replica(stack, aiohttp_client, clock)
    path = "/ssai/news/hi.m3u8"
    before = await body(stack.client, path)
    made = await renders(stack)
    response = await stack.client.post("/v1/channels/news/cue", json={"duration": 10})
    assert response.status == 201, await response.text()
    ad_start = parse_datetime((await response.json())["adStart"]).timestamp()
    assert await body(stack.client, path) == before and await renders(stack) == made
    clock.advance(0.5)  # the break view is read again: a new version, a new render
    assert await body(stack.client, path) == await body(other, path)
    assert await renders(stack) == made + 1
    clock.set(ad_start + 2.0)  # the origin has published the break's first slot
    now = await body(stack.client, path)
    assert b"/ads/" in now and now == await body(other, path)
    assert stack.client.server.app[SERVICE].cached_media("news", "hi", "ssai").body == now
    await stack.session.close()
    stack.catalog.close()
