"""Shared fixtures: a small rig configuration, its rendered media (built once, cached), live
channels, and a KV store of each backend (`kv`, `kv_url`: every test using them runs on SQLite and
on Redis).

Redis runs as one private `redis-server` per session (rig.redis_server), each test on a freshly
flushed database. Without the binary the Redis tests are skipped with a reason and listed at the
end of the run (tests.needs) - except in CI (`CI=true`), where they fail: CI must never silently
lose a backend.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp
import pytest

from origin_emulator.app import create_app as create_origin
from origin_emulator.book import SpliceBook
from origin_emulator.channel import LiveChannel
from origin_emulator.content import ContentMedia, ContentRecipe, build_content
from rig.channels import emulator_channel
from rig.redis_server import RedisServer, running_redis
from rig.settings import Settings, load_settings
from stitcher.breaks import BreakLedger, Retention
from stitcher.catalog import Ad, AdRendition, Catalog
from stitcher.clock import FakeClock
from stitcher.decision import HouseDecisions
from stitcher.kv import KV, open_kv
from stitcher.monitor import Monitor
from tests.kv.support import flush, require_redis_server
from tests.needs import summary

RESOURCES = Path(__file__).parent / "resources"
SMALL_CONFIG = RESOURCES / "config" / "small.toml"


@pytest.fixture(scope="session")
def small_settings(tmp_path_factory) -> Settings:
    """The small test rig: 8 s loop, two tiny renditions, one `news` channel (daterange cues)."""
    return load_settings(SMALL_CONFIG, env={"RIG_STATE_DIR": str(tmp_path_factory.mktemp("state"))})


@pytest.fixture(scope="session")
def small_content(small_settings) -> ContentMedia:
    """The small channel's rendered loop (rendered by real ffmpeg on first use, then cached)."""
    recipe = ContentRecipe.for_channel(small_settings.channels[0], small_settings.media)
    return asyncio.run(build_content(recipe, small_settings.media.cache_dir))


@pytest.fixture
def clock(small_settings) -> FakeClock:
    """A fake clock one day after the configured epoch, on a segment boundary plus 0.5 s."""
    return FakeClock(small_settings.origin.epoch + 86_400.5)


@pytest.fixture
def make_channel(small_settings, small_content):
    """Build a LiveChannel over the small media with config overrides:
    make_channel(cue_format=...)."""
    import dataclasses

    def make(book: SpliceBook | None = None, window: int | None = None, **overrides) -> LiveChannel:
        config = dataclasses.replace(small_settings.channels[0], **overrides)
        config.check()
        return LiveChannel(
            config,
            small_content,
            small_settings.origin.epoch,
            window or small_settings.origin.window_segments,
            book or SpliceBook(None),
        )

    return make


BACKENDS = ["sqlite", "redis"]


@pytest.fixture(scope="session")
def redis_server() -> RedisServer:
    """A private redis-server for the whole session (fails in CI, skips elsewhere, when missing)."""
    require_redis_server()
    with running_redis() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def kv_url(request, tmp_path) -> str:
    """The URL of an empty store: a fresh SQLite file, or the flushed private Redis database 0."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/kv.db"
    server = request.getfixturevalue("redis_server")
    flush(server.url)
    return server.url


@pytest.fixture
async def kv(kv_url, clock) -> KV:
    """An open (started), empty store of each backend on the fake `clock`."""
    store = open_kv(kv_url, clock)
    await store.start()
    yield store
    await store.close()


MEDIA = "http://127.0.0.1:8082"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    """Say loudly, last, which tests did not run for want of a system tool (tests.needs)."""
    yield
    summary(terminalreporter)


def stock(catalog: Catalog, channel) -> None:
    """House ads and slate rows for the channel's ladder (the conditioning itself is tested in
    test_ads)."""
    key = channel.conditioning.key
    for ad_id, seconds in (("house-1", 4.0), ("house-2", 6.0), ("slate", 10.0)):
        renditions = [
            AdRendition(
                ad_id,
                key,
                r.name,
                r.bandwidth,
                f"/ads/{ad_id}/x/{r.name}/index.m3u8",
                seconds,
                int(seconds / 2),
            )
            for r in channel.ladder
        ]
        catalog.put_ad(Ad(ad_id, ad_id, seconds, "house"), renditions)


@pytest.fixture
async def rig(aiohttp_server, make_channel, clock, kv, tmp_path, small_settings, small_content):
    """A stack on the fake clock: origin app (news), catalog with stocked ads, KV ledger,
    monitor."""
    origin = make_channel(break_every=0)
    server = await aiohttp_server(create_origin({"news": origin}, clock))
    catalog = Catalog(tmp_path / "channels.db")
    channel = dataclasses.replace(
        emulator_channel(small_settings.channels[0], small_content, small_settings),
        origin_url=str(server.make_url("/news/master.m3u8")),
    )
    catalog.put_channel(channel)
    stock(catalog, channel)
    session = aiohttp.ClientSession()
    ledger = BreakLedger(kv, lambda slug: Retention(window=channel.window_seconds))
    monitor = Monitor(catalog, ledger, HouseDecisions(catalog, MEDIA), session, clock)
    yield dataclasses.make_dataclass(
        "Rig", ["origin", "channel", "catalog", "ledger", "monitor", "server", "session"]
    )(origin, catalog.channel("news"), catalog, ledger, monitor, server, session)
    await session.close()
    catalog.close()


@pytest.fixture
async def stitcher_stacks(
    aiohttp_server, aiohttp_client, make_channel, clock, tmp_path, small_settings, small_content
):
    """Make whole stitcher stacks on loopback on the fake clock (tests/stitcher_stack.py): the news
    channel without scheduled breaks, over the KV given; `options`, `ads` and `origin_app` as
    `make_stack` takes them. Every stack made is closed at the end."""
    from tests.stitcher_stack import make_stack

    made = []

    async def make(kv, options=None, ads=None, origin_app=None):
        s = await make_stack(
            aiohttp_server,
            aiohttp_client,
            make_channel(break_every=0),
            clock,
            kv,
            tmp_path,
            small_settings,
            small_content,
            options,
            ads=ads,
            origin_app=origin_app,
        )
        made.append(s)
        return s

    yield make
    for s in made:
        await s.session.close()
        s.catalog.close()


@pytest.fixture
async def stack(stitcher_stacks, kv):
    """The whole stitcher stack on loopback on the fake clock (tests/stitcher_stack.py), over
    `kv`."""
    return await stitcher_stacks(kv)
