"""The shared KV backend: Redis through `redis.asyncio`, for rigs spanning more than one machine.

How and why: docs/stitcher.md, "`stitcher.kv.redis`".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stitcher.clock import Clock
from stitcher.kv.base import (
    AtomicResult,
    Check,
    Incr,
    Op,
    check_delta,
    check_key,
    decode,
    encode,
    expires_at,
    is_live,
    prepare,
)
from stitcher.kv.errors import KVError, KVUnavailable, KVValueError

__all__ = ["RedisKV", "glob_escape", "redact_url"]

MGET_CHUNK = 500

LUA_LIVE = """
local now = tonumber(ARGV[1])
local function live(key)
  local raw = redis.call('GET', key)
  if not raw then return nil end
  local bar = string.find(raw, '|', 1, true)
  if not bar then error('KVFORMAT: key ' .. key .. ' was not written by stitcher.kv') end
  if bar > 1 and tonumber(string.sub(raw, 1, bar - 1)) <= now then return nil end
  return string.sub(raw, bar + 1)
end
"""

# KEYS[1]; ARGV: now, stored string, PX milliseconds ('' for none) -> 1 written, 0 live key present
LUA_PUT_IF_ABSENT = (
    LUA_LIVE
    + """
if live(KEYS[1]) then return 0 end
if ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""
)

# KEYS[1]; ARGV: now -> 1 if a live key was removed
LUA_DELETE = (
    LUA_LIVE
    + """
local was_live = live(KEYS[1])
redis.call('DEL', KEYS[1])
if was_live then return 1 end
return 0
"""
)

# KEYS: check keys, then op keys. ARGV: now, #checks, #ops, then per check (kind A|E, expected
# JSON), then per op (kind P|D|I, JSON or delta, expires_at repr or '', PX ms or '').
# -> {1, counter values...} committed | {0, failed check index} | {-1, message} invalid counter
LUA_ATOMIC = (
    LUA_LIVE
    + """
local nchecks = tonumber(ARGV[2])
local nops = tonumber(ARGV[3])
for i = 1, nchecks do
  local kind, expected = ARGV[2 + 2 * i], ARGV[3 + 2 * i]
  local text = live(KEYS[i])
  if (kind == 'A' and text) or (kind == 'E' and text ~= expected) then return {0, i - 1} end
end
local overlay, writes, counters = {}, {}, {}
local base = 3 + 2 * nchecks
for j = 1, nops do
  local key = KEYS[nchecks + j]
  local kind, arg, expiry, px = ARGV[base + 4 * j - 3], ARGV[base + 4 * j - 2],\
 ARGV[base + 4 * j - 1], ARGV[base + 4 * j]
  if kind == 'P' then
    overlay[key] = arg
    writes[#writes + 1] = {key, expiry .. '|' .. arg, px}
  elseif kind == 'D' then
    overlay[key] = false
    writes[#writes + 1] = {key, false, ''}
  else
    local text = overlay[key]
    if text == nil then text = live(key) elseif text == false then text = nil end
    local n = 0
    if text then
      if not string.match(text, '^%-?%d+$') then
        return {-1, 'cannot increment ' .. key .. ': its value is not an int (' ..\
 string.sub(text, 1, 60) .. ')'}
      end
      n = tonumber(text)
    end
    n = n + tonumber(arg)
    if n >= 2 ^ 53 or n <= -(2 ^ 53) then
      return {-1, 'counter ' .. key .. ' would leave the exact range +/- 2**53'}
    end
    local s = string.format('%.0f', n)
    overlay[key] = s
    writes[#writes + 1] = {key, '|' .. s, ''}
    counters[#counters + 1] = s
  end
end
for _, w in ipairs(writes) do
  if w[2] == false then redis.call('DEL', w[1])
  elseif w[3] ~= '' then redis.call('SET', w[1], w[2], 'PX', w[3])
  else redis.call('SET', w[1], w[2]) end
end
local reply = {1}
for _, s in ipairs(counters) do reply[#reply + 1] = s end
return reply
"""
)


def glob_escape(text: str) -> str:
    """`text` with Redis glob characters escaped, so `MATCH glob_escape(p) + '*'` means "starts with
    p"."""
    return "".join("\\" + ch if ch in "\\*?[]" else ch for ch in text)


def redact_url(url: str) -> str:
    """`url` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _parse(key: str, raw: str, now: float) -> tuple[bool, str]:
    """(live, JSON text) of a stored `"<expires_at>|<json>"` string."""
    stamp, bar, text = raw.partition("|")
    if not bar:
        raise KVError(f"key {key!r} was not written by stitcher.kv")
    return is_live(float(stamp) if stamp else None, now), text


class RedisKV:
    """The Redis implementation of `stitcher.kv.KV` (see the module docstring)."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        command_timeout: float = 5.0,
        native_ttl_margin: float = 300.0,
    ):
        """`url`: `redis://[user:password@]host:port/db` (or `rediss://`); `command_timeout`:
        seconds for connecting and for each command; `native_ttl_margin`: seconds added to the
        native TTL."""
        self.url = redact_url(url)
        self._clock = clock
        self._margin = float(native_ttl_margin)
        try:
            self._redis = aioredis.Redis.from_url(
                url,
                decode_responses=True,
                socket_timeout=command_timeout,
                socket_connect_timeout=command_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise KVValueError(f"bad Redis KV URL {self.url}: {exc}") from None
        self._put_if_absent = self._redis.register_script(LUA_PUT_IF_ABSENT)
        self._delete = self._redis.register_script(LUA_DELETE)
        self._atomic = self._redis.register_script(LUA_ATOMIC)

    def __repr__(self) -> str:
        return f"RedisKV({self.url!r})"

    async def _do(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise KVUnavailable(f"Redis KV {self.url} is unavailable: {exc}") from exc
        except ResponseError as exc:
            raise KVError(f"Redis KV {self.url}: {exc}") from exc
        except RedisError as exc:
            raise KVError(f"Redis KV {self.url}: {exc}") from exc

    def _px(self, ttl: float | None) -> str:
        return "" if ttl is None else str(math.ceil((float(ttl) + self._margin) * 1000))

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Nothing runs in the background (Redis expires keys itself)."""

    async def __aenter__(self) -> RedisKV:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except RedisError:
            pass

    async def ping(self) -> None:
        await self._do(self._redis.ping())

    # ----------------------------------------------------------------- the KV protocol

    async def get(self, key: str) -> Any | None:
        raw = await self._do(self._redis.get(check_key(key)))
        if raw is None:
            return None
        live, text = _parse(key, raw, self._clock.now())
        return decode(text) if live else None

    async def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        check_key(key)
        text = encode(value)
        expiry = expires_at(self._clock.now(), ttl)
        stored = f"{'' if expiry is None else repr(expiry)}|{text}"
        if ttl is None:
            await self._do(self._redis.set(key, stored))
        else:
            await self._do(self._redis.set(key, stored, px=int(self._px(ttl))))

    async def put_if_absent(self, key: str, value: Any, ttl: float | None = None) -> bool:
        check_key(key)
        text = encode(value)
        now = self._clock.now()
        expiry = expires_at(now, ttl)
        stored = f"{'' if expiry is None else repr(expiry)}|{text}"
        return bool(
            await self._do(self._put_if_absent(keys=[key], args=[repr(now), stored, self._px(ttl)]))
        )

    async def delete(self, key: str) -> bool:
        check_key(key)
        return bool(await self._do(self._delete(keys=[key], args=[repr(self._clock.now())])))

    async def list(self, prefix: str) -> dict[str, Any]:
        if not isinstance(prefix, str):
            raise KVValueError(f"a KV prefix must be a str, not {prefix!r}")
        if prefix:
            check_key(prefix)
        keys = sorted(await self._do(self._scan(glob_escape(prefix) + "*")))
        keys = [key for key in keys if key.startswith(prefix)]
        now = self._clock.now()
        result: dict[str, Any] = {}
        for start in range(0, len(keys), MGET_CHUNK):
            chunk = keys[start : start + MGET_CHUNK]
            for key, raw in zip(chunk, await self._do(self._redis.mget(chunk))):
                if raw is None:
                    continue  # deleted or natively expired since the SCAN
                live, text = _parse(key, raw, now)
                if live:
                    result[key] = decode(text)
        return result

    async def _scan(self, pattern: str) -> set[str]:
        return {key async for key in self._redis.scan_iter(match=pattern, count=1000)}

    async def incr(self, key: str, delta: int = 1) -> int:
        check_key(key)
        check_delta(delta)
        return (await self.atomic([Incr(key, delta)])).counters[key]

    async def atomic(self, ops: Sequence[Op], checks: Sequence[Check] = ()) -> AtomicResult:
        prepared_ops, prepared_checks = prepare(ops, checks)
        now = self._clock.now()
        keys = [check[1] for check in prepared_checks] + [op[1] for op in prepared_ops]
        args: list[str] = [repr(now), str(len(prepared_checks)), str(len(prepared_ops))]
        for check in prepared_checks:
            args += ["A", ""] if check[0] == "absent" else ["E", check[2]]
        for op in prepared_ops:
            if op[0] == "put":
                expiry = expires_at(now, op[3])
                args += ["P", op[2], "" if expiry is None else repr(expiry), self._px(op[3])]
            elif op[0] == "delete":
                args += ["D", "", "", ""]
            else:
                args += ["I", str(op[2]), "", ""]
        reply = await self._do(self._atomic(keys=keys, args=args))
        status = int(reply[0])
        if status == 0:
            return AtomicResult(False, {}, list(checks)[int(reply[1])])
        if status < 0:
            raise KVValueError(str(reply[1]))
        incr_keys = [op[1] for op in prepared_ops if op[0] == "incr"]
        return AtomicResult(
            True, {key: int(value) for key, value in zip(incr_keys, reply[1:])}, None
        )
