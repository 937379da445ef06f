"""The TTL key-value store that holds break records and the discontinuity ledger.

How and why: docs/stitcher.md, "`stitcher.kv`".
"""

from __future__ import annotations

from typing import Any

from stitcher.clock import Clock
from stitcher.kv.base import KV, Absent, AtomicResult, Check, Delete, Equals, Incr, Op, Put
from stitcher.kv.errors import KVError, KVUnavailable, KVValueError

__all__ = [
    "KV",
    "Put",
    "Delete",
    "Incr",
    "Op",
    "Absent",
    "Equals",
    "Check",
    "AtomicResult",
    "KVError",
    "KVUnavailable",
    "KVValueError",
    "open_kv",
    "sqlite_path",
]

SCHEMES = (
    "sqlite:///abs/path.db, sqlite:relative/path.db, redis://host:port/db, rediss://host:port/db"
)


def sqlite_path(url: str) -> str:
    """The file path of a `sqlite:` URL (`sqlite:///abs` -> `/abs`, `sqlite:rel` -> `rel`)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite://") :]
    elif url.startswith("sqlite://"):
        raise KVValueError(
            "a sqlite KV URL has no host: use sqlite:///abs/path.db or sqlite:relative/path.db,"
            f" not {url!r}"
        )
    else:
        path = url[len("sqlite:") :]
    if not path or path.endswith("/"):
        raise KVValueError(f"a sqlite KV URL needs a file path: {url!r}")
    return path


def open_kv(url: str, clock: Clock, **options: Any) -> KV:
    """The KV store at `url`, using `clock` for expiry; `options` go to the backend's constructor.

    No I/O happens here. Raises `KVValueError` for an unknown scheme or a malformed URL.
    """
    if not isinstance(url, str):
        raise KVValueError(f"a KV URL must be a str, not {url!r}")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        from stitcher.kv.sqlite import SqliteKV

        return SqliteKV(sqlite_path(url), clock, **options)
    if scheme in ("redis", "rediss"):
        from stitcher.kv.redis import RedisKV  # imports the redis client only when used

        return RedisKV(url, clock, **options)
    raise KVValueError(f"unknown KV URL scheme in {url!r}: expected one of {SCHEMES}")
