"""Helpers of the KV tests that test modules import (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable

from tests.needs import require

MISSING = "redis-server is not installed (apt-get install redis-server): Redis KV tests not run"


def require_redis_server() -> None:
    """Fail (in CI: `CI=true`) or skip (elsewhere) the calling test when redis-server is not
    installed."""
    require(shutil.which("redis-server") is not None, MISSING)


def flush(url: str) -> None:
    """Empty the Redis database at `url` (sync: used from sync fixtures and tests)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded, real time) until `condition()` holds - for work on other threads."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


class PrivateRedis:
    """A redis-server of the test's own and a KV client of it on the test's clock
    (`async with`). With a `directory` it keeps an append-only file there, so that one started
    again over it (`start` after `stop`) has what was written, as `rig up --kv redis` does."""

    def __init__(self, clock, directory=None, command_timeout: float = 1.0):
        self.clock, self.directory, self.command_timeout = clock, directory, command_timeout
        self.server = None
        self.kv = None

    async def __aenter__(self) -> PrivateRedis:
        from rig.redis_server import start_redis
        from stitcher.kv import open_kv

        require_redis_server()
        self.server = await start_redis(
            directory=self.directory, persistent=self.directory is not None
        )
        self.kv = open_kv(self.server.url, self.clock, command_timeout=self.command_timeout)
        await self.kv.start()
        return self

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start(self) -> None:
        from rig.redis_server import start_redis

        self.server = await start_redis(
            self.server.port, self.directory, persistent=self.directory is not None
        )

    async def __aexit__(self, *exc_info) -> None:
        await self.kv.close()
        await asyncio.to_thread(self.server.stop)
