"""The embedded KV backend: one SQLite file in WAL mode, safe across processes.

How and why: docs/stitcher.md, "`stitcher.kv.sqlite`".
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from stitcher.clock import Clock
from stitcher.kv.base import (
    AtomicResult,
    Check,
    Incr,
    Op,
    PreparedCheck,
    PreparedOp,
    check_delta,
    check_key,
    checked_counter,
    counter_from_text,
    decode,
    encode,
    expires_at,
    prepare,
)
from stitcher.kv.errors import KVError, KVUnavailable, KVValueError

__all__ = ["SqliteKV", "prefix_upper_bound"]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
"""
LIVE = "(expires_at IS NULL OR expires_at > ?)"


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which is code point order, so the keys with a prefix are
    exactly `prefix <= key < prefix_upper_bound(prefix)`: an index range, no LIKE or GLOB.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not encodable: skip them
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


class SqliteKV:
    """The SQLite implementation of `stitcher.kv.KV` (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        clock: Clock,
        *,
        sweep_interval: float = 30.0,
        busy_timeout: float = 5.0,
        before_commit: Callable[[], None] | None = None,
    ):
        """`path`: the database file (its directory must exist). `busy_timeout`: seconds a write
        waits for another process's write lock. `before_commit`: test-only fault-injection hook."""
        if sweep_interval <= 0 or busy_timeout < 0:
            raise KVValueError("sweep_interval must be > 0 and busy_timeout >= 0")
        self.path = str(path)
        self._clock = clock
        self._sweep_interval = float(sweep_interval)
        self._busy_timeout = float(busy_timeout)
        self._before_commit = before_commit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kv-sqlite")
        self._conn: sqlite3.Connection | None = None  # touched on the worker thread only
        self._closed = False
        self._stop: asyncio.Event | None = None
        self._sweeper: asyncio.Task | None = None
        self.sweeps = 0  # completed background sweeps (tests wait on it)

    def __repr__(self) -> str:
        return f"SqliteKV({self.path!r})"

    # ----------------------------------------------------------------- worker-thread plumbing

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
            try:
                self._enable_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL. Several processes opening a new file at once race for this switch, and
        SQLite
        answers "database is locked" at once here instead of waiting: retry until the busy
        timeout."""
        deadline = time.monotonic() + self._busy_timeout
        pause = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)  # on the worker thread, never the event loop
            pause = min(pause * 2, 0.1)

    def _in_worker(self, body: Callable[..., Any], args: tuple) -> Any:
        try:
            return body(self._connection(), *args)
        except sqlite3.OperationalError as exc:
            raise KVUnavailable(f"SQLite KV {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise KVError(f"SQLite KV {self.path}: {exc}") from exc

    async def _run(self, body: Callable[..., Any], *args: Any) -> Any:
        if self._closed:
            raise KVError(f"SQLite KV {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_worker, body, args)

    def _write(self, conn: sqlite3.Connection, body: Callable[..., Any], *args: Any) -> Any:
        """Run `body(conn, *args)` in a BEGIN IMMEDIATE transaction; commit unless it raises."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn, *args)
            if self._before_commit is not None:
                self._before_commit()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    # the original error says more; SQLite rolls back when the connection closes
                    pass
            raise
        return result

    @staticmethod
    def _live_text(conn: sqlite3.Connection, key: str, now: float) -> str | None:
        row = conn.execute(f"SELECT value FROM kv WHERE key = ? AND {LIVE}", (key, now)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _store(conn: sqlite3.Connection, key: str, text: str, expiry: float | None) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES (?, ?, ?)",
            (key, text, expiry),
        )

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the database and start the background sweeper (idempotent)."""
        await self.ping()
        if self._sweeper is None:
            self._stop = asyncio.Event()
            self._sweeper = asyncio.create_task(
                self._sweep_loop(self._stop), name=f"kv-sweeper {self.path}"
            )

    async def __aenter__(self) -> SqliteKV:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the sweeper, close the connection on its thread, end the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._sweeper is not None and self._stop is not None:
            self._stop.set()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=False)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    # ----------------------------------------------------------------- sweeping

    async def sweep(self) -> int:
        """Delete the rows expired at the clock's now; return how many."""
        return await self._run(self._write, self._sweep_body, self._clock.now())

    @staticmethod
    def _sweep_body(conn: sqlite3.Connection, now: float) -> int:
        return conn.execute(
            "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        ).rowcount

    async def _sweep_loop(self, stop: asyncio.Event) -> None:
        delay = self._sweep_interval
        while await self._clock.sleep(delay, stop):
            began = self._clock.now()
            try:
                removed = await self.sweep()
                log.debug("swept %d expired rows from %s", removed, self.path)
            except KVError as exc:
                if self._closed:
                    return
                log.warning("KV sweep failed (will retry): %s", exc)
            self.sweeps += 1
            delay = max(0.0, self._sweep_interval - (self._clock.now() - began))

    # ----------------------------------------------------------------- the KV protocol

    async def get(self, key: str) -> Any | None:
        text = await self._run(self._live_text, check_key(key), self._clock.now())
        return None if text is None else decode(text)

    async def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        check_key(key)
        text = encode(value)
        expiry = expires_at(self._clock.now(), ttl)
        await self._run(self._write, self._store, key, text, expiry)

    async def put_if_absent(self, key: str, value: Any, ttl: float | None = None) -> bool:
        check_key(key)
        text = encode(value)
        now = self._clock.now()
        expiry = expires_at(now, ttl)
        return await self._run(self._write, self._put_if_absent_body, key, text, expiry, now)

    def _put_if_absent_body(
        self, conn: sqlite3.Connection, key: str, text: str, expiry: float | None, now: float
    ) -> bool:
        if self._live_text(conn, key, now) is not None:
            return False
        self._store(conn, key, text, expiry)
        return True

    async def delete(self, key: str) -> bool:
        return await self._run(self._write, self._delete_body, check_key(key), self._clock.now())

    def _delete_body(self, conn: sqlite3.Connection, key: str, now: float) -> bool:
        live = self._live_text(conn, key, now) is not None
        conn.execute("DELETE FROM kv WHERE key = ?", (key,))
        return live

    async def list(self, prefix: str) -> dict[str, Any]:
        if not isinstance(prefix, str):
            raise KVValueError(f"a KV prefix must be a str, not {prefix!r}")
        if prefix:
            check_key(prefix)
        rows = await self._run(self._list_body, prefix, self._clock.now())
        return {key: decode(text) for key, text in rows}

    @staticmethod
    def _list_body(
        conn: sqlite3.Connection, prefix: str, now: float
    ) -> builtins.list[tuple[str, str]]:
        upper = prefix_upper_bound(prefix)
        params: tuple[str | float, ...]
        if upper is None:
            sql, params = f"SELECT key, value FROM kv WHERE key >= ? AND {LIVE}", (prefix, now)
        else:
            sql, params = (
                f"SELECT key, value FROM kv WHERE key >= ? AND key < ? AND {LIVE}",
                (prefix, upper, now),
            )
        rows = conn.execute(sql + " ORDER BY key", params).fetchall()
        return [(key, text) for key, text in rows if key.startswith(prefix)]

    async def incr(self, key: str, delta: int = 1) -> int:
        check_key(key)
        check_delta(delta)
        result = await self.atomic([Incr(key, delta)])
        return result.counters[key]

    async def atomic(self, ops: Sequence[Op], checks: Sequence[Check] = ()) -> AtomicResult:
        prepared_ops, prepared_checks = prepare(ops, checks)
        failed_index, counters = await self._run(
            self._write, self._atomic_body, prepared_ops, prepared_checks, self._clock.now()
        )
        if failed_index is not None:
            return AtomicResult(False, {}, list(checks)[failed_index])
        return AtomicResult(True, counters, None)

    def _atomic_body(
        self,
        conn: sqlite3.Connection,
        ops: builtins.list[PreparedOp],
        checks: builtins.list[PreparedCheck],
        now: float,
    ) -> tuple[int | None, dict[str, int]]:
        for index, check in enumerate(checks):
            text = self._live_text(conn, check[1], now)
            if (check[0] == "absent" and text is not None) or (
                check[0] == "equals" and text != check[2]
            ):
                return index, {}  # nothing written yet: COMMIT of an empty transaction
        counters: dict[str, int] = {}
        for op in ops:
            if op[0] == "put":
                self._store(conn, op[1], op[2], expires_at(now, op[3]))
            elif op[0] == "delete":
                conn.execute("DELETE FROM kv WHERE key = ?", (op[1],))
            else:
                value = checked_counter(
                    op[1], counter_from_text(op[1], self._live_text(conn, op[1], now)) + op[2]
                )
                self._store(conn, op[1], encode(value), None)
                counters[op[1]] = value
        return None, counters
