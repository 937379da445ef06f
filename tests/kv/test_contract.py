"""The KV contract: every test runs against both backends (sqlite, redis) on a FakeClock."""

from __future__ import annotations

import pytest

from stitcher.kv import Absent, Equals, KVValueError, Put

TTL = 10.0


# --------------------------------------------------------------------------- get / put / delete


async def test_get_of_absent_key_is_none(kv):
    assert await kv.get("nothing") is None


async def test_put_then_get_and_overwrite(kv):
    await kv.put("k", {"a": 1})
    assert await kv.get("k") == {"a": 1}
    await kv.put("k", [1, 2])
    assert await kv.get("k") == [1, 2]


@pytest.mark.parametrize(
    "value",
    [
        0,
        -7,
        2**70,
        3.25,
        -0.5,
        1e300,
        "",
        'ünïcödé ☃ \n\t "quoted" \\ |pipe|',
        True,
        False,
        None,
        [],
        {},
        [1, "two", 3.0, None, {"x": [True]}],
        {
            "channelId": "news",
            "eventId": 42,
            "decision": {"podId": "p", "items": [{"id": "a", "duration": 6.0}]},
        },
    ],
    ids=lambda v: repr(v)[:30],
)
async def test_json_round_trip(kv, value):
    await kv.put("v", value)
    got = await kv.get("v")
    assert got == value and type(got) is type(value)
    assert (await kv.list("v")) == {"v": value}


async def test_json_normalises_like_json(kv):
    await kv.put("t", {"b": (1, 2)})
    assert await kv.get("t") == {"b": [1, 2]}
    await kv.put("u", {1280000: "int keys become str, as in json.dumps"})
    assert await kv.get("u") == {"1280000": "int keys become str, as in json.dumps"}


async def test_keys_are_arbitrary_text(kv):
    keys = ["adbreak:news:42", "with space", "ünï:☃", "a|b", "x" * 500, "\\", "%_"]
    for i, key in enumerate(keys):
        await kv.put(key, i)
    for i, key in enumerate(keys):
        assert await kv.get(key) == i
    assert await kv.list("") == dict(sorted((key, i) for i, key in enumerate(keys)))


async def test_put_without_ttl_replaces_a_ttl(kv, clock):
    await kv.put("k", 1, ttl=TTL)
    await kv.put("k", 2)
    clock.advance(TTL * 100)
    assert await kv.get("k") == 2


async def test_put_with_ttl_replaces_the_old_ttl(kv, clock):
    await kv.put("k", 1, ttl=5)
    await kv.put("k", 2, ttl=20)
    clock.advance(10)
    assert await kv.get("k") == 2
    clock.advance(10)
    assert await kv.get("k") is None


async def test_delete(kv, clock):
    await kv.put("k", 1)
    assert await kv.delete("k") is True
    assert await kv.get("k") is None
    assert await kv.delete("k") is False
    await kv.put("e", 1, ttl=TTL)
    clock.advance(TTL)
    assert await kv.delete("e") is False  # expired is not live
    assert await kv.put_if_absent("e", 2) is True


# --------------------------------------------------------------------------- list


async def test_list_by_prefix_sorted(kv):
    for key in [
        "adbreak:news:3",
        "adbreak:news:10",
        "adbreak:sports:1",
        "adbreak:news:1",
        "ledger:news:disc",
        "adbreak:newsroom:1",
    ]:
        await kv.put(key, key.upper())
    listed = await kv.list("adbreak:news:")
    assert list(listed) == ["adbreak:news:1", "adbreak:news:10", "adbreak:news:3"]
    assert listed["adbreak:news:10"] == "ADBREAK:NEWS:10"
    assert list(await kv.list("adbreak:")) == [
        "adbreak:news:1",
        "adbreak:news:10",
        "adbreak:news:3",
        "adbreak:newsroom:1",
        "adbreak:sports:1",
    ]
    assert await kv.list("nothing:") == {}
    assert len(await kv.list("")) == 6


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("a*b:", ["a*b:1", "a*b:2"]),
        ("a*", ["a*b:1", "a*b:2"]),
        ("a?", ["a?c"]),
        ("a[b]", ["a[b]c:1"]),
        ("a[", ["a[b]c:1"]),
        ("ab]", ["ab]c"]),
        ("a\\", ["a\\b"]),
        ("a^", ["a^z"]),
        ("a-", ["a-z"]),
        ("%", ["%_x"]),
        ("_", []),
        ("z\U0010ffff", ["z\U0010ffff", "z\U0010ffff\U0010ffff"]),
        ("\ud7ff", ["\ud7ff!"]),
    ],
)
async def test_list_prefix_is_literal_not_a_pattern(kv, prefix, expected):
    keys = [
        "a*b:1",
        "a*b:2",
        "axb:1",
        "a?c",
        "abc",
        "a[b]c:1",
        "ab]c",
        "abb]c",
        "a\\b",
        "a^z",
        "a-z",
        "b",
        "%_x",
        "z\U0010ffff",
        "z\U0010ffff\U0010ffff",
        "zz",
        "\ud7ff!",
        "\ue000",
    ]
    for key in keys:
        await kv.put(key, 1)
    assert list(await kv.list(prefix)) == expected


async def test_list_many_keys(kv):
    for i in range(1200):  # several SCAN pages and MGET chunks
        await kv.put(f"many:{i:05d}", i)
    await kv.put("other", 1)
    listed = await kv.list("many:")
    assert list(listed) == [f"many:{i:05d}" for i in range(1200)]
    assert listed["many:00777"] == 777


# ---------------------------------------------------------------------- expiry is exact, everywhere


async def test_expiry_is_exact_for_every_read(kv, clock):
    start = clock.now()
    await kv.put("news:k", {"v": 1}, ttl=TTL)
    clock.set(start + 9.999)
    assert await kv.get("news:k") == {"v": 1}
    assert await kv.list("news:") == {"news:k": {"v": 1}}
    assert await kv.put_if_absent("news:k", "other") is False
    assert (await kv.atomic([], [Absent("news:k")])).committed is False
    assert (await kv.atomic([], [Equals("news:k", {"v": 1})])).committed is True
    clock.set(start + TTL)
    assert await kv.get("news:k") is None
    assert await kv.list("news:") == {}
    assert (await kv.atomic([], [Absent("news:k")])).committed is True
    assert (await kv.atomic([], [Equals("news:k", {"v": 1})])).committed is False
    assert await kv.put_if_absent("news:k", "new") is True
    assert await kv.get("news:k") == "new"


async def test_fractional_ttl(kv, clock):
    start = clock.now()
    await kv.put("k", 1, ttl=0.25)
    clock.set(start + 0.249)
    assert await kv.get("k") == 1
    clock.set(start + 0.25)
    assert await kv.get("k") is None


async def test_atomic_put_ttl_expires(kv, clock):
    start = clock.now()
    await kv.atomic([Put("k", 1, ttl=TTL)])
    clock.set(start + 9.999)
    assert await kv.get("k") == 1
    clock.set(start + TTL)
    assert await kv.get("k") is None


# --------------------------------------------------------------------------- put_if_absent


async def test_put_if_absent(kv, clock):
    assert await kv.put_if_absent("k", "first", ttl=TTL) is True
    assert await kv.put_if_absent("k", "second") is False
    assert await kv.get("k") == "first"
    clock.advance(TTL)
    assert await kv.put_if_absent("k", "third", ttl=5) is True
    assert await kv.get("k") == "third"
    clock.advance(5)
    assert await kv.get("k") is None


async def test_put_if_absent_does_not_extend_ttl(kv, clock):
    start = clock.now()
    await kv.put("k", 1, ttl=TTL)
    clock.set(start + 5)
    assert await kv.put_if_absent("k", 2, ttl=100) is False
    clock.set(start + TTL)
    assert await kv.get("k") is None


async def test_put_if_absent_none_value_still_occupies(kv):
    assert await kv.put_if_absent("k", None) is True
    assert await kv.put_if_absent("k", 1) is False
    assert await kv.list("k") == {"k": None}


# --------------------------------------------------------------------------- incr


async def test_incr(kv):
    assert await kv.incr("n") == 1
    assert await kv.incr("n", 5) == 6
    assert await kv.incr("n", -10) == -4
    assert await kv.get("n") == -4
    assert await kv.incr("n", 0) == -4
    assert await kv.list("n") == {"n": -4}


async def test_incr_on_a_put_int_and_clears_ttl(kv, clock):
    await kv.put("n", 40, ttl=TTL)
    assert await kv.incr("n", 2) == 42
    clock.advance(TTL * 10)
    assert await kv.get("n") == 42


async def test_incr_on_expired_starts_from_zero(kv, clock):
    await kv.put("n", 40, ttl=TTL)
    clock.advance(TTL)
    assert await kv.incr("n") == 1


@pytest.mark.parametrize("value", ["5", 1.5, 2.0, True, None, [1], {"n": 1}])
async def test_incr_on_a_non_int_fails_and_changes_nothing(kv, value):
    await kv.put("n", value)
    with pytest.raises(KVValueError):
        await kv.incr("n")
    assert await kv.get("n") == value


async def test_incr_range(kv):
    assert await kv.incr("n", 2**53 - 1) == 2**53 - 1
    with pytest.raises(KVValueError):
        await kv.incr("n")
    assert await kv.get("n") == 2**53 - 1
    assert await kv.incr("m", -(2**53 - 1)) == -(2**53 - 1)
