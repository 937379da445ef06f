"""The key-value store protocol (`KV`), its atomic-write vocabulary and the rules both backends
share.

How and why: docs/stitcher.md, "`stitcher.kv.base`".
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from stitcher.kv.errors import KVValueError

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
    "COUNTER_LIMIT",
    "encode",
    "decode",
    "check_key",
    "check_delta",
    "expires_at",
    "is_live",
    "counter_from_text",
    "prepare",
]

COUNTER_LIMIT = 2**53  # counters are exact integers strictly inside +/- this bound


# --------------------------------------------------------------------------- ops and checks


@dataclass(frozen=True)
class Put:
    """Write `value` at `key`, with an optional time to live in seconds."""

    key: str
    value: Any
    ttl: float | None = None


@dataclass(frozen=True)
class Delete:
    """Remove `key` (no error if it is absent)."""

    key: str


@dataclass(frozen=True)
class Incr:
    """Add `delta` to the counter at `key` (absent counts as 0); the result has no TTL."""

    key: str
    delta: int = 1


@dataclass(frozen=True)
class Absent:
    """Holds when `key` is absent or expired."""

    key: str


@dataclass(frozen=True)
class Equals:
    """Holds when `key` is live and its value has the same canonical JSON as `value`."""

    key: str
    value: Any


Op = Put | Delete | Incr
Check = Absent | Equals


@dataclass(frozen=True)
class AtomicResult:
    """The outcome of `KV.atomic`: committed or not, the new counter values, the failed check."""

    committed: bool
    counters: dict[str, int] = field(default_factory=dict)
    failed: Check | None = None


# --------------------------------------------------------------------------- the protocol


class KV(Protocol):
    """An async TTL key-value store of JSON values. Every method may raise `KVUnavailable`."""

    async def start(self) -> None:
        """Start background work (the SQLite sweeper); `async with kv:` calls it."""

    async def get(self, key: str) -> Any | None:
        """The JSON value at `key`; None if absent or expired."""

    async def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Write `value` (replacing any previous value and TTL)."""

    async def put_if_absent(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Atomically write `value` unless `key` is live; True when written."""

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if a live key was removed."""

    async def list(self, prefix: str) -> dict[str, Any]:
        """Live keys starting with `prefix` (no glob: `*` is a plain character) -> values, sorted by
        key."""

    async def incr(self, key: str, delta: int = 1) -> int:
        """Atomically add `delta` to a counter (no TTL) and return the new value."""

    async def atomic(self, ops: Sequence[Op], checks: Sequence[Check] = ()) -> AtomicResult:
        """All checks, then all ops, in one transaction: all or nothing."""

    async def ping(self) -> None:
        """Return when the store answers; raise `KVUnavailable` otherwise."""

    async def close(self) -> None:
        """Stop background work and release connections (idempotent)."""

    async def __aenter__(self) -> KV: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


# --------------------------------------------------------------------------- shared rules


def check_key(key: object) -> str:
    """`key` if it is a non-empty str encodable as UTF-8; else `KVValueError`."""
    if not isinstance(key, str) or not key:
        raise KVValueError(f"a KV key must be a non-empty str, not {key!r}")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise KVValueError(f"a KV key must be valid Unicode text: {key!r} ({exc.reason})") from None
    return key


def encode(value: Any) -> str:
    """The canonical JSON text of `value`; `KVValueError` if it is not JSON-serialisable."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise KVValueError(f"a KV value must be JSON-serialisable: {exc}") from None


def decode(text: str | bytes) -> Any:
    """The value of stored JSON text."""
    return json.loads(text)


def expires_at(now: float, ttl: object) -> float | None:
    """The absolute expiry of a write at `now` with `ttl` seconds (None: never)."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise KVValueError(f"a KV ttl must be a number of seconds or None, not {ttl!r}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise KVValueError(f"a KV ttl must be a finite number of seconds > 0, not {ttl!r}")
    return now + float(ttl)


def is_live(expiry: float | None, now: float) -> bool:
    """A key with this absolute expiry is live at `now` (expiry None: forever)."""
    return expiry is None or now < expiry


def check_delta(delta: object) -> int:
    """`delta` if it is an int usable for a counter; else `KVValueError`."""
    if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) >= COUNTER_LIMIT:
        raise KVValueError(f"a KV counter delta must be an int with |delta| < 2**53, not {delta!r}")
    return delta


def counter_from_text(key: str, text: str | None) -> int:
    """The counter value of stored JSON text (None: absent -> 0); `KVValueError` if not an int."""
    if text is None:
        return 0
    value = decode(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise KVValueError(f"cannot increment {key!r}: its value is not an int ({text[:60]})")
    return value


def checked_counter(key: str, value: int) -> int:
    """`value` if it is inside the counter range; else `KVValueError`."""
    if abs(value) >= COUNTER_LIMIT:
        raise KVValueError(f"counter {key!r} would leave the exact range +/- 2**53")
    return value


# A prepared op is ("put", key, text, ttl) | ("delete", key) | ("incr", key, delta);
# a prepared check is ("absent", key) | ("equals", key, text). Values are already canonical JSON.
PreparedOp = tuple
PreparedCheck = tuple


def prepare(
    ops: Sequence[Op], checks: Sequence[Check]
) -> tuple[list[PreparedOp], list[PreparedCheck]]:
    """Validate and encode the arguments of `atomic` (raises `KVValueError` before any I/O)."""
    if isinstance(ops, (Put, Delete, Incr)) or isinstance(checks, (Absent, Equals)):
        raise KVValueError("atomic takes sequences of ops and checks, not a single one")
    prepared_ops: list[PreparedOp] = []
    for op in ops:
        if isinstance(op, Put):
            expires_at(0.0, op.ttl)  # validates the ttl
            prepared_ops.append(("put", check_key(op.key), encode(op.value), op.ttl))
        elif isinstance(op, Delete):
            prepared_ops.append(("delete", check_key(op.key)))
        elif isinstance(op, Incr):
            prepared_ops.append(("incr", check_key(op.key), check_delta(op.delta)))
        else:
            raise KVValueError(f"not a KV op (Put, Delete, Incr): {op!r}")
    prepared_checks: list[PreparedCheck] = []
    for check in checks:
        if isinstance(check, Absent):
            prepared_checks.append(("absent", check_key(check.key)))
        elif isinstance(check, Equals):
            prepared_checks.append(("equals", check_key(check.key), encode(check.value)))
        else:
            raise KVValueError(f"not a KV check (Absent, Equals): {check!r}")
    return prepared_ops, prepared_checks
