"""The private redis-server helper (rig.redis_server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.redis_server import (
    RedisServerError,
    RedisServerMissing,
    redis_server_argv,
    running_redis,
    start_redis,
    start_redis_sync,
)
from stitcher.clock import FakeClock
from stitcher.errors import RigError
from stitcher.kv import open_kv
from tests.kv.support import require_redis_server


def test_argv_is_private_and_not_persistent():
    argv = redis_server_argv("/usr/bin/redis-server", 7001, Path("/tmp/x"))
    assert argv[0] == "/usr/bin/redis-server"
    pairs = dict(zip(argv[1::2], argv[2::2]))
    assert pairs == {
        "--port": "7001",
        "--bind": "127.0.0.1",
        "--save": "",
        "--appendonly": "no",
        "--dir": "/tmp/x",
        "--daemonize": "no",
        "--protected-mode": "yes",
        "--loglevel": "warning",
    }


def test_missing_binary_is_a_clear_rig_error(tmp_path):
    with pytest.raises(RedisServerMissing, match="apt-get install redis-server") as info:
        start_redis_sync(binary="no-such-redis-server-binary")
    assert isinstance(info.value, RigError)
    with pytest.raises(RedisServerMissing):
        with running_redis(binary="no-such-redis-server-binary"):
            pass


async def test_start_answers_and_stop_cleans_up():
    require_redis_server()
    server = await start_redis()
    try:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        async with open_kv(server.url_for(3), FakeClock()) as kv:
            await kv.put("k", 1)
            assert await kv.get("k") == 1
    finally:
        server.stop()
    assert not server.running and not server.directory.exists()
    server.stop()  # idempotent


def test_given_directory_is_kept_and_busy_port_is_an_error(tmp_path):
    require_redis_server()
    with running_redis(directory=tmp_path / "redis") as server:
        assert server.running and (tmp_path / "redis" / "redis.log").exists()
        with pytest.raises(RedisServerError, match=str(server.port)):
            start_redis_sync(port=server.port, directory=tmp_path / "second", timeout=5)
    assert (tmp_path / "redis").is_dir()


def test_the_rigs_own_server_keeps_its_records_in_an_append_only_file():
    argv = redis_server_argv(
        "/usr/bin/redis-server", 6390, Path("/tmp/s"), persistent=True, host="127.0.0.1"
    )
    pairs = dict(zip(argv[1::2], argv[2::2], strict=True))
    assert pairs["--appendonly"] == "yes" and pairs["--appendfsync"] == "everysec"
    assert pairs["--dir"] == "/tmp/s" and pairs["--bind"] == "127.0.0.1"
