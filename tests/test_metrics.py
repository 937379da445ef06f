"""The stitcher's batched metrics (`stitcher.metrics`): counted in memory, never lost.

- a batch flushed into Prometheus reads exactly as counting in Prometheus directly would have;
- counts wait in memory until a flush, and every exposition flushes this process's first;
- they are flushed every second on the clock and once more at the end, also by the app;
- in multiprocess mode the flushed counts of every worker reach the shared files and are summed.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import textwrap

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from stitcher.app import METRICS, create_app
from stitcher.catalog import Catalog
from stitcher.clock import FakeClock
from stitcher.decision import HouseDecisions
from stitcher.metrics import FLUSH_INTERVAL, LATENCY_BUCKETS, Metrics


def samples(text: bytes | str, prefix: str = "stitcher_") -> dict[str, float]:
    """The samples of an exposition (no `_created` timestamps), by name and labels."""
    if isinstance(text, bytes):
        text = text.decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix) and "_created" not in line
    }


def test_a_flushed_batch_reads_as_counting_in_prometheus_directly():
    metrics, direct = Metrics(), CollectorRegistry()
    requests = Counter("stitcher_requests", "", ["route", "status"], registry=direct)
    latency = Histogram(
        "stitcher_request_seconds", "", ["route"], buckets=LATENCY_BUCKETS, registry=direct
    )
    rng = random.Random(5)
    values = [0.0, *LATENCY_BUCKETS, 99.0] + [rng.expovariate(200) for _ in range(500)]
    for n, seconds in enumerate(values):  # bucket bounds themselves included: le is inclusive
        route, status = ("/a", "/b")[n % 2], (200, 304, 500)[n % 3]
        metrics.answers.observe(route, status, seconds)
        requests.labels(route, str(status)).inc()
        latency.labels(route).observe(seconds)
        if n == 250:
            metrics.flush()
    ours, theirs = samples(generate_latest(metrics.registry)), samples(generate_latest(direct))
    assert ours != theirs  # the rest is still pending
    metrics.flush()
    ours = samples(generate_latest(metrics.registry))
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name  # sums may round another way


def test_counts_wait_in_memory_and_every_exposition_flushes_them_first():
    metrics = Metrics()
    metrics.answers.observe("/x", 200, 0.001)
    metrics.cache_hits.inc("render")
    metrics.cache_hits.inc_each((("origin",), ("render",)))
    assert not any("cache_hits" in name for name in samples(generate_latest(metrics.registry)))
    text, _ = metrics.exposition()
    assert samples(text)['stitcher_cache_hits_total{cache="render"}'] == 2
    assert samples(text)['stitcher_cache_hits_total{cache="origin"}'] == 1
    assert samples(text)['stitcher_requests_total{route="/x",status="200"}'] == 1
    metrics.cache_hits.inc("render")
    text, _ = metrics.exposition()  # added to what was flushed before, never in its place
    assert samples(text)['stitcher_cache_hits_total{cache="render"}'] == 3


async def test_counts_are_flushed_on_the_clock_and_once_more_at_the_end():
    metrics, clock, stop = Metrics(), FakeClock(), asyncio.Event()
    flushing = asyncio.ensure_future(metrics.flush_every(clock, stop))
    await asyncio.sleep(0)
    metrics.renders.inc("ssai")
    renders = 'stitcher_renders_total{mode="ssai"}'
    assert renders not in samples(generate_latest(metrics.registry))
    clock.advance(FLUSH_INTERVAL)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert samples(generate_latest(metrics.registry))[renders] == 1
    metrics.renders.inc("ssai")
    metrics.renders.inc("ssai")
    stop.set()
    await flushing
    assert samples(generate_latest(metrics.registry))[renders] == 3


async def test_the_app_flushes_every_second_and_when_it_stops(aiohttp_client, clock, tmp_path):
    catalog = Catalog(tmp_path / "channels.db")
    client = await aiohttp_client(create_app(catalog, HouseDecisions(catalog, ""), clock))
    metrics = client.server.app[METRICS]
    healthz = 'stitcher_requests_total{route="/healthz",status="200"}'

    def flushed() -> float:
        return samples(generate_latest(metrics.registry)).get(healthz, 0)

    assert (await client.get("/healthz")).status == 200
    assert flushed() == 0  # counted in memory only
    clock.advance(1.0)
    for _ in range(100):  # the flusher's wake-up runs on the loop: let it
        if flushed():
            break
        await asyncio.sleep(0)
    assert flushed() == 1
    await client.get("/healthz")
    await client.close()  # the app's cleanup: one last flush
    assert flushed() == 2
    catalog.close()


WORKER = textwrap.dedent(
    """
    import sys
    from stitcher.metrics import Metrics
    metrics = Metrics()
    for _ in range(int(sys.argv[1])):
        metrics.answers.observe("/x", 200, 0.003)
        metrics.cache_hits.inc("render")
    metrics.flush()
    if sys.argv[2] == "show":
        sys.stdout.write(metrics.exposition()[0].decode())
    """
)


def test_every_workers_flushed_counts_reach_the_shared_files(tmp_path):
    """Multiprocess mode (a fresh interpreter each: prometheus-client chooses it at import)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(count: int, show: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, str(count), show],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    worker(3, "")
    got = samples(worker(4, "show"))
    assert got['stitcher_requests_total{route="/x",status="200"}'] == 7
    assert got['stitcher_cache_hits_total{cache="render"}'] == 7
    assert got['stitcher_request_seconds_bucket{le="0.005",route="/x"}'] == 7
    assert got['stitcher_request_seconds_bucket{le="0.002",route="/x"}'] == 0
    assert got['stitcher_request_seconds_sum{route="/x"}'] == pytest.approx(7 * 0.003)
