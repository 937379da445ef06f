"""The KV contract, part 3: URLs, several instances on one store, and stores that cannot be
reached."""

from __future__ import annotations

import pytest

from stitcher.kv import Incr, KVUnavailable, KVValueError, open_kv
from tests.kv.support import require_redis_server

# -------------------------------------------------------------------- instances, URLs, availability


async def test_two_instances_share_the_store(kv_url, clock):
    async with open_kv(kv_url, clock) as one, open_kv(kv_url, clock) as two:
        await one.put("k", 1)
        assert await two.get("k") == 1
        assert await two.put_if_absent("k", 2) is False
        await two.incr("n")
        assert await one.incr("n") == 2


async def test_ping_and_close_is_idempotent(kv_url, clock):
    store = open_kv(kv_url, clock)
    await store.ping()
    await store.close()
    await store.close()


@pytest.mark.parametrize(
    "url", ["memcached://x:1", "kv.db", "", "sqlite://host/kv.db", "sqlite:", "sqlite:///dir/"]
)
def test_bad_urls(url, clock):
    with pytest.raises(KVValueError) as info:
        open_kv(url, clock)
    assert repr(url) in str(info.value)


def test_unknown_scheme_names_the_known_ones(clock):
    with pytest.raises(KVValueError, match=r"sqlite:///.*redis://"):
        open_kv("mongodb://localhost/", clock)


async def test_sqlite_relative_url(tmp_path, monkeypatch, clock):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state").mkdir()
    async with open_kv("sqlite:state/kv.db", clock) as store:
        await store.put("k", 1)
    assert (tmp_path / "state" / "kv.db").exists()


async def test_sqlite_in_missing_directory_is_unavailable(tmp_path, clock):
    path = tmp_path / "no" / "such" / "dir" / "kv.db"
    store = open_kv(f"sqlite://{path}", clock)
    try:
        with pytest.raises(KVUnavailable, match=str(path.parent)):
            await store.put("k", 1)
        with pytest.raises(KVUnavailable):
            await store.ping()
    finally:
        await store.close()


async def test_redis_server_gone_is_unavailable(clock):
    from rig.redis_server import start_redis

    require_redis_server()
    server = await start_redis()
    store = open_kv(server.url, clock, command_timeout=2.0)
    try:
        await store.put("k", 1)
        server.stop()
        for call in (
            store.get("k"),
            store.put("k", 2),
            store.atomic([Incr("n")]),
            store.ping(),
            store.list(""),
        ):
            with pytest.raises(KVUnavailable, match=f"redis://127.0.0.1:{server.port}/0"):
                await call
    finally:
        await store.close()
        server.stop()


async def test_redis_unreachable_url_is_unavailable(clock):
    from rig.redis_server import free_port

    store = open_kv(f"redis://127.0.0.1:{free_port()}/0", clock, command_timeout=1.0)
    try:
        with pytest.raises(KVUnavailable, match="unavailable"):
            await store.get("k")
    finally:
        await store.close()


def test_redis_url_password_is_not_shown(clock):
    store = open_kv("redis://user:s3cret@127.0.0.1:1/0", clock)
    assert "s3cret" not in repr(store) and "***" in store.url
