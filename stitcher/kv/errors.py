"""Errors of the key-value store (`stitcher.kv`): one small hierarchy shared by every backend.

How and why: docs/stitcher.md, "`stitcher.kv.errors`".
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
