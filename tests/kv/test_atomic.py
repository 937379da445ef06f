"""The KV contract, part 2: atomic multi-key writes and the input every call refuses (both
backends)."""

from __future__ import annotations

import math

import pytest

from stitcher.kv import (
    Absent,
    AtomicResult,
    Delete,
    Equals,
    Incr,
    KVError,
    KVUnavailable,
    KVValueError,
    Put,
)

# --------------------------------------------------------------------------- atomic


async def test_atomic_ledger_write(kv):
    record = {"channelId": "news", "eventId": 42, "duration": 30.0}
    await kv.put("ledger:news:version", 7)
    result = await kv.atomic(
        [
            Put("adbreak:news:42", record, ttl=600),
            Incr("ledger:news:disc", 2),
            Incr("ledger:news:version"),
        ],
        checks=[Absent("adbreak:news:42"), Equals("ledger:news:version", 7)],
    )
    assert result == AtomicResult(True, {"ledger:news:disc": 2, "ledger:news:version": 8}, None)
    assert await kv.get("adbreak:news:42") == record
    assert await kv.get("ledger:news:disc") == 2
    again = await kv.atomic(
        [
            Put("adbreak:news:42", {"other": 1}),
            Incr("ledger:news:disc", 2),
            Incr("ledger:news:version"),
        ],
        checks=[Absent("adbreak:news:42"), Equals("ledger:news:version", 8)],
    )
    assert again == AtomicResult(False, {}, Absent("adbreak:news:42"))
    assert await kv.get("adbreak:news:42") == record
    assert await kv.get("ledger:news:disc") == 2 and await kv.get("ledger:news:version") == 8


async def test_failed_check_writes_nothing(kv):
    await kv.put("v", 1)
    await kv.put("gone", "stays")
    ops = [Put("a", 1), Delete("gone"), Incr("n", 3)]
    stale = Equals("v", 2)
    result = await kv.atomic(ops, [Absent("a"), stale, Absent("never")])
    assert result.committed is False and result.failed is stale and result.counters == {}
    assert await kv.list("") == {"v": 1, "gone": "stays"}


@pytest.mark.parametrize(
    "stored, check, holds",
    [
        ({"a": [1, 2], "b": None}, {"b": None, "a": [1, 2]}, True),  # key order does not matter
        ({"a": 1}, {"a": 2}, False),
        (7, 7, True),
        (7, 7.0, False),  # canonical JSON text: 7 and 7.0 differ
        (1, True, False),
        ("x", "x", True),
        (None, None, True),
    ],
)
async def test_equals_compares_canonical_json(kv, stored, check, holds):
    await kv.put("k", stored)
    assert (await kv.atomic([Put("done", 1)], [Equals("k", check)])).committed is holds
    assert (await kv.get("done") == 1) is holds


async def test_equals_on_absent_key_fails_even_for_none(kv):
    assert (await kv.atomic([], [Equals("k", None)])).committed is False


async def test_equals_on_counter(kv):
    await kv.incr("c", 3)
    assert (await kv.atomic([Incr("c")], [Equals("c", 3)])).counters == {"c": 4}
    assert (await kv.atomic([Incr("c")], [Equals("c", 3)])).committed is False


async def test_ops_apply_in_order(kv):
    result = await kv.atomic(
        [
            Put("n", 10),
            Incr("n"),
            Incr("n", 5),
            Incr("m"),
            Delete("m"),
            Incr("m", 7),
            Put("p", "x"),
            Delete("p"),
        ]
    )
    assert result.committed and result.counters == {"n": 16, "m": 7}
    assert await kv.list("") == {"m": 7, "n": 16}


async def test_checks_see_the_state_before_the_ops(kv):
    result = await kv.atomic([Put("k", 1)], [Absent("k")])
    assert result.committed
    assert (await kv.atomic([Delete("k"), Put("k", 2)], [Equals("k", 1)])).committed
    assert await kv.get("k") == 2


async def test_empty_atomic_commits(kv):
    assert await kv.atomic([]) == AtomicResult(True, {}, None)


async def test_atomic_counter_error_writes_nothing(kv):
    await kv.put("text", "not a number")
    with pytest.raises(KVValueError):
        await kv.atomic([Put("a", 1), Incr("n"), Incr("text"), Put("b", 1)])
    assert await kv.list("") == {"text": "not a number"}


async def test_atomic_invalid_op_writes_nothing(kv):
    with pytest.raises(KVValueError):
        await kv.atomic([Put("a", 1), Put("b", object())])
    with pytest.raises(KVValueError):
        await kv.atomic([Put("a", 1), Put("b", 1, ttl=-1)])
    with pytest.raises(KVValueError):
        await kv.atomic([Put("a", 1)], [Equals("b", {1, 2})])
    with pytest.raises(KVValueError):
        await kv.atomic([Put("a", 1), "not an op"])
    with pytest.raises(KVValueError):
        await kv.atomic(Put("a", 1))
    assert await kv.list("") == {}


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("key", ["", 7, None, b"bytes", "\ud800"])
async def test_bad_keys(kv, key):
    for call in (
        kv.get(key),
        kv.put(key, 1),
        kv.put_if_absent(key, 1),
        kv.delete(key),
        kv.incr(key),
    ):
        with pytest.raises(KVValueError):
            await call
    with pytest.raises(KVValueError):
        await kv.atomic([Put(key, 1)])
    with pytest.raises(KVValueError):
        await kv.atomic([], [Absent(key)])


@pytest.mark.parametrize(
    "value",
    [object(), {1, 2}, math.nan, math.inf, -math.inf, b"bytes", {"k": math.nan}, {(1, 2): 3}],
)
async def test_bad_values(kv, value):
    with pytest.raises(KVValueError):
        await kv.put("k", value)
    with pytest.raises(KVValueError):
        await kv.put_if_absent("k", value)
    assert await kv.get("k") is None


@pytest.mark.parametrize("ttl", [0, -1, -0.001, math.nan, math.inf, "10", True])
async def test_bad_ttls(kv, ttl):
    with pytest.raises(KVValueError):
        await kv.put("k", 1, ttl=ttl)
    with pytest.raises(KVValueError):
        await kv.put_if_absent("k", 1, ttl=ttl)
    assert await kv.get("k") is None


@pytest.mark.parametrize("delta", [1.5, 1.0, True, "1", None, 2**53])
async def test_bad_deltas(kv, delta):
    with pytest.raises(KVValueError):
        await kv.incr("n", delta)
    with pytest.raises(KVValueError):
        await kv.atomic([Incr("n", delta)])
    assert await kv.get("n") is None


async def test_bad_prefix(kv):
    with pytest.raises(KVValueError):
        await kv.list(None)


def test_value_error_is_a_value_error_and_a_kv_error():
    assert issubclass(KVValueError, ValueError) and issubclass(KVValueError, KVError)
    assert issubclass(KVUnavailable, KVError) and not issubclass(KVUnavailable, ValueError)
