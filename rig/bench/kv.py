"""`rig bench kv`: a micro-benchmark of the KV backends (`stitcher.kv`) on this machine.

How and why: docs/rig.md, "`rig.bench`".
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from stitcher.clock import SystemClock
from stitcher.errors import RigError
from stitcher.kv import KV, Absent, Incr, KVError, Put, open_kv

__all__ = ["add_parser", "add_arguments", "run", "bench_kv", "OPERATIONS"]

OPERATIONS = ("get", "put", "put_if_absent", "atomic")
BACKENDS = ("sqlite", "redis")
PREFILL = 1000  # keys read by the get benchmark
TTL = 600.0

RECORD = {  # a break record of realistic size
    "channelId": "news",
    "eventId": 0,
    "source": "scte35",
    "startTime": "2026-01-01T00:00:00Z",
    "adStart": "2026-01-01T00:00:12Z",
    "duration": 30.0,
    "endTime": "2026-01-01T00:00:42Z",
    "createdAt": "2026-01-01T00:00:00Z",
    "discontinuities": 2,
    "scte35Data": "/DAlAAAAAAAAAP/wFAUAAAABf+/+AAAAAH4AKTLgAAEAAAAAAAA=",
    "decision": {
        "podId": "pod-1",
        "items": [
            {
                "id": f"ad-{n}",
                "duration": 15.0,
                "variants": {
                    str(bw): f"http://127.0.0.1:8080/ads/ad-{n}/{bw}/index.m3u8"
                    for bw in (800_000, 2_000_000, 4_500_000)
                },
            }
            for n in range(2)
        ],
    },
}


def add_parser(targets) -> None:
    """`rig bench kv`, on `rig bench`'s subparsers."""
    add_arguments(
        targets.add_parser(
            "kv",
            help="ops/s and latency of the KV backends (sqlite, redis)",
            description="Benchmark get, put, put_if_absent and atomic on each KV backend,"
            " sequentially and concurrently; print a table and write the figures as JSON.",
        )
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `rig bench kv`."""
    parser.add_argument(
        "--backend",
        choices=[*BACKENDS, "all"],
        default="all",
        help="which backend(s) (default: all)",
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="seconds per measurement (default: 3)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="coroutines of the concurrent runs (default: 16)",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        default="bench-kv.json",
        help="write the figures here (default: bench-kv.json)",
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help="benchmark this Redis server (keys under bench:<run id>:) instead of a private "
        "redis-server",
    )


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def _measure(
    op: Callable[[int], Awaitable[Any]], seconds: float, concurrency: int
) -> dict[str, float]:
    """Run `op(i)` with unique i from `concurrency` coroutines for `seconds`; ops/s and latency."""
    counter = itertools.count()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while True:  # at least one op per worker
            began = time.perf_counter()
            await op(next(counter))
            ended = time.perf_counter()
            latencies.append(ended - began)
            if ended >= deadline:
                return

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "ops": len(latencies),
        "seconds": round(elapsed, 4),
        "ops_per_s": round(len(latencies) / elapsed, 1),
        "p50_us": round(_percentile(latencies, 0.50) * 1e6, 1),
        "p99_us": round(_percentile(latencies, 0.99) * 1e6, 1),
    }


def _operations(kv: KV, prefix: str) -> dict[str, Callable[[int], Awaitable[Any]]]:
    async def get(i: int) -> Any:
        return await kv.get(f"{prefix}g:{i % PREFILL}")

    async def put(i: int) -> None:
        await kv.put(f"{prefix}p:{i % PREFILL}", RECORD, ttl=TTL)

    async def put_if_absent(i: int) -> bool:
        return await kv.put_if_absent(f"{prefix}pia:{uuid.uuid4().hex}", RECORD, ttl=TTL)

    async def atomic(i: int) -> Any:
        key = f"{prefix}adbreak:{uuid.uuid4().hex}"
        return await kv.atomic(
            [Put(key, RECORD, ttl=TTL), Incr(f"{prefix}disc", 2), Incr(f"{prefix}version")],
            [Absent(key)],
        )

    return {"get": get, "put": put, "put_if_absent": put_if_absent, "atomic": atomic}


async def _bench_store(
    kv: KV, prefix: str, seconds: float, concurrency: int
) -> dict[str, dict[str, dict[str, float]]]:
    for i in range(PREFILL):
        await kv.put(f"{prefix}g:{i}", RECORD, ttl=TTL)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, op in _operations(kv, prefix).items():
        results[name] = {
            "sequential": await _measure(op, seconds, 1),
            "concurrent": await _measure(op, seconds, concurrency),
        }
    return results


async def _redis_version(url: str) -> str:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_timeout=5)
    try:
        return str((await client.info("server")).get("redis_version", "?"))
    finally:
        await client.aclose()


async def _bench_backend(
    backend: str, seconds: float, concurrency: int, redis_url: str | None
) -> dict[str, Any]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rig-bench-") as directory:
            url = f"sqlite://{directory}/kv.db"
            async with open_kv(url, SystemClock()) as kv:
                results = await _bench_store(kv, prefix, seconds, concurrency)
        return {
            "url": "sqlite://<temporary file>",
            "version": sqlite3.sqlite_version,
            "results": results,
        }

    import redis

    from rig.redis_server import start_redis

    server = None if redis_url else await start_redis()
    url = redis_url or server.url
    try:
        async with open_kv(url, SystemClock()) as kv:
            results = await _bench_store(kv, prefix, seconds, concurrency)
            if redis_url:  # leave a shared server as we found it
                for key in await kv.list(prefix):
                    await kv.delete(key)
        version = await _redis_version(url)
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
    return {
        "url": url if redis_url else "redis://<private redis-server>",
        "version": f"redis-server {version}, redis-py {redis.__version__}",
        "results": results,
    }


def machine_info() -> dict[str, Any]:
    """What the figures depend on besides the code."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
    }


async def bench_kv(
    backends: list[str],
    seconds: float,
    concurrency: int,
    redis_url: str | None = None,
    skip_missing_redis: bool = False,
) -> dict[str, Any]:
    """Benchmark `backends`; the report (also what `--json` holds). Raises RigError on failure."""
    from rig.redis_server import RedisServerMissing

    report: dict[str, Any] = {
        "machine": machine_info(),
        "seconds": seconds,
        "concurrency": concurrency,
        "backends": {},
    }
    for backend in backends:
        try:
            report["backends"][backend] = await _bench_backend(
                backend, seconds, concurrency, redis_url
            )
        except RedisServerMissing as exc:
            if not skip_missing_redis:
                raise
            report["backends"][backend] = {"skipped": str(exc)}
        except KVError as exc:
            raise RigError(f"bench of the {backend} KV failed: {exc}") from exc
    return report


def table(report: dict[str, Any]) -> str:
    """The report as a text table."""
    n = report["concurrency"]
    lines = [
        f"{'backend':<8} {'operation':<14} {'ops/s':>10} {'p50 us':>8} {'p99 us':>8}   "
        f"{f'ops/s x{n}':>10} {'p50 us':>8} {'p99 us':>8}"
    ]
    for backend, data in report["backends"].items():
        if "skipped" in data:
            lines.append(f"{backend:<8} skipped: {data['skipped']}")
            continue
        for op, runs in data["results"].items():
            seq, conc = runs["sequential"], runs["concurrent"]
            lines.append(
                f"{backend:<8} {op:<14} {seq['ops_per_s']:>10,.0f} {seq['p50_us']:>8,.0f} "
                f"{seq['p99_us']:>8,.0f}   "
                f"{conc['ops_per_s']:>10,.0f} {conc['p50_us']:>8,.0f} {conc['p99_us']:>8,.0f}"
            )
    machine = report["machine"]
    lines.append(
        f"({machine['cpu_count']} CPUs, {machine['platform']}, Python {machine['python']}; "
        + "; ".join(f"{b}: {d['version']}" for b, d in report["backends"].items() if "version" in d)
        + ")"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run `rig bench kv`: print the table, write the JSON. Exit status 0, or 2 (RigError) from the
    CLI."""
    if args.seconds <= 0 or args.concurrency < 1:
        raise RigError("--seconds must be > 0 and --concurrency >= 1")
    backends = list(BACKENDS) if args.backend == "all" else [args.backend]
    report = asyncio.run(
        bench_kv(
            backends,
            args.seconds,
            args.concurrency,
            args.redis_url,
            skip_missing_redis=args.backend == "all",
        )
    )
    print(table(report))
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {args.json}")
    return 0
