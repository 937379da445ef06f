"""Errors of the key-value store (`stitcher.kv`): one small hierarchy shared by every backend.

- `KVError`: the base class; anything the store cannot do.
- `KVUnavailable`: the store cannot be reached or used right now (Redis down or timing out,
  SQLite file that cannot be opened, database locked beyond the busy timeout). Retrying later
  may succeed; HTTP handlers map it to 503.
- `KVValueError`: the caller passed something the store never accepts (empty or non-str key,
  value that is not JSON-serialisable, ttl <= 0 / NaN / infinite, incr on a non-integer value).
  Retrying cannot help; it is also a `ValueError`.
"""

from __future__ import annotations

from stitcher.errors import RigError

__all__ = ["KVError", "KVUnavailable", "KVValueError"]


class KVError(RigError):
    """Base class of every key-value store error."""


class KVUnavailable(KVError):
    """The store cannot be reached or used right now (server down, timeout, database locked)."""

    status = 503
    summary = "the break store is unavailable"


class KVValueError(KVError, ValueError):
    """A key, value, ttl or delta the store does not accept."""
