"""Fixtures of the KV suite: every `kv` test runs once per backend (sqlite, redis), on a FakeClock.

Redis runs as one private `redis-server` per session (rig.redis_server), each test on a freshly
flushed database. Without the binary the Redis tests are skipped with a reason - except in CI
(`CI=true`), where they fail: CI must never silently lose a backend.
"""

from __future__ import annotations

import pytest

from rig.redis_server import RedisServer, running_redis
from stitcher.clock import FakeClock
from stitcher.kv import KV, open_kv
from tests.kv.support import flush, require_redis_server

BACKENDS = ["sqlite", "redis"]


@pytest.fixture(scope="session")
def redis_server() -> RedisServer:
    """A private redis-server for the whole session (fails in CI, skips elsewhere, when missing)."""
    require_redis_server()
    with running_redis() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 2026-01-01T00:00:00Z."""
    return FakeClock()


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
