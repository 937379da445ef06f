"""What only the SQLite backend has: the expiry sweeper, the worker thread, the fault-injection
hook."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from stitcher.clock import FakeClock
from stitcher.kv import Incr, KVUnavailable, Put
from stitcher.kv.sqlite import SqliteKV, prefix_upper_bound
from tests.kv.support import until


def rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM kv").fetchone()[0]


async def test_sweeper_removes_expired_rows(tmp_path):
    clock = FakeClock()
    path = tmp_path / "kv.db"
    async with SqliteKV(path, clock, sweep_interval=30) as kv:
        await until(lambda: clock.sleepers == 1)  # the sweeper waits on the clock
        await kv.put("short", 1, ttl=10)
        await kv.put("long", 1, ttl=100)
        await kv.put("forever", 1)
        clock.advance(20)
        assert await kv.get("short") is None  # expired on read already...
        assert rows(path) == 3  # ...but still stored: no sweep yet
        clock.advance(10)
        await until(lambda: kv.sweeps == 1)
        assert rows(path) == 2
        clock.advance(50)  # t=80: past the next sweep (60), before "long" expires (100)
        await until(lambda: kv.sweeps == 2)
        assert rows(path) == 2  # "long" is live until 100
        clock.advance(30)
        await until(lambda: kv.sweeps == 3)
        assert rows(path) == 1
        assert await kv.list("") == {"forever": 1}
    assert clock.sleepers == 0  # close() stopped the sweeper


async def test_sweep_on_demand(tmp_path):
    clock = FakeClock()
    kv = SqliteKV(tmp_path / "kv.db", clock)
    try:
        for i in range(10):
            await kv.put(f"k{i}", i, ttl=i + 1)
        clock.advance(5)
        assert await kv.sweep() == 5
        assert rows(tmp_path / "kv.db") == 5
    finally:
        await kv.close()


async def test_all_sqlite_work_runs_on_one_worker_thread(tmp_path):
    seen: set[int] = set()

    def hook() -> None:
        seen.add(threading.get_ident())

    kv = SqliteKV(tmp_path / "kv.db", FakeClock(), before_commit=hook)
    try:
        for i in range(5):
            await kv.put(f"k{i}", i)
        await kv.atomic([Incr("n")])
        assert len(seen) == 1 and threading.get_ident() not in seen
    finally:
        await kv.close()


async def test_a_failing_commit_hook_rolls_the_transaction_back(tmp_path):
    armed = threading.Event()

    def hook() -> None:
        if armed.is_set():
            raise RuntimeError("injected fault")

    kv = SqliteKV(tmp_path / "kv.db", FakeClock(), before_commit=hook)
    try:
        await kv.put("kept", 1)
        armed.set()
        with pytest.raises(RuntimeError, match="injected"):
            await kv.atomic([Put("a", 1), Put("b", 2), Incr("kept")])
        armed.clear()
        assert await kv.list("") == {"kept": 1}
        assert await kv.incr("kept") == 2  # the connection is still usable
    finally:
        await kv.close()


async def test_wal_mode(tmp_path):
    kv = SqliteKV(tmp_path / "kv.db", FakeClock())
    try:
        await kv.ping()
        with sqlite3.connect(tmp_path / "kv.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await kv.close()


async def test_closed_store_refuses_work(tmp_path):
    kv = SqliteKV(tmp_path / "kv.db", FakeClock())
    await kv.close()
    with pytest.raises(Exception, match="closed"):
        await kv.get("k")


async def test_unwritable_file_is_unavailable(tmp_path):
    path = tmp_path / "kv.db"
    path.mkdir()  # a directory where the database file should be
    kv = SqliteKV(path, FakeClock())
    try:
        with pytest.raises(KVUnavailable, match=str(path)):
            await kv.get("k")
    finally:
        await kv.close()


@pytest.mark.parametrize(
    "prefix, upper",
    [
        ("abc", "abd"),
        ("a", "b"),
        ("", None),
        ("a\U0010ffff", "b"),
        ("\U0010ffff", None),
        ("\ud7ff", "\ue000"),
        ("x:", "x;"),
    ],
)
def test_prefix_upper_bound(prefix, upper):
    assert prefix_upper_bound(prefix) == upper
