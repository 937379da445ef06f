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
