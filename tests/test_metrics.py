"""`stitcher.metrics`: counts and timings kept in plain Python and flushed to Prometheus give the
same samples as counting in Prometheus directly, are flushed on the clock, before every
exposition and at the end, and never lost."""

from __future__ import annotations

import asyncio
import random

from prometheus_client import CollectorRegistry, Counter, Histogram

from stitcher.clock import FakeClock
from stitcher.metrics import FLUSH_INTERVAL, LATENCY_BUCKETS, Metrics, Tally, Timings


def samples(registry: CollectorRegistry, name: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        for s in metric.samples
        if s.name.startswith(name) and not s.name.endswith("_created")
    }


def test_a_flushed_tally_and_timings_equal_counting_in_prometheus_directly():
    ours, direct = CollectorRegistry(), CollectorRegistry()
    tally = Tally(Counter("c", "c", ["route", "status"], registry=ours))
    counter = Counter("c", "c", ["route", "status"], registry=direct)
    timings = Timings(
        Histogram("h", "h", ["route"], buckets=LATENCY_BUCKETS, registry=ours), LATENCY_BUCKETS
    )
    histogram = Histogram("h", "h", ["route"], buckets=LATENCY_BUCKETS, registry=direct)
    rng = random.Random(5)
    values = [0.0, *LATENCY_BUCKETS, 99.0] + [rng.expovariate(200) for _ in range(500)]
    for n, seconds in enumerate(values):  # bucket bounds themselves included: le is inclusive
        route, status = ("/a", "/b")[n % 2], (200, 304, 500)[n % 3]
        tally.inc(route, status)
        counter.labels(route, str(status)).inc()
        timings.observe(seconds, route)
        histogram.labels(route).observe(seconds)
        if n == 250:
            tally.flush()
            timings.flush()
    assert samples(ours, "c") != samples(direct, "c")  # the rest is still pending
    tally.flush()
    timings.flush()
    assert samples(ours, "c") == samples(direct, "c")
    ours_h, direct_h = samples(ours, "h"), samples(direct, "h")
    assert ours_h.keys() == direct_h.keys()
    for key, value in direct_h.items():
        assert abs(ours_h[key] - value) < 1e-9, key


def test_the_exposition_flushes_first():
    metrics = Metrics()
    metrics.errors.inc("kv_unavailable")
    metrics.requests.inc("/healthz", 200, amount=3)
    text = metrics.exposition()[0].decode()
    assert 'stitcher_errors_total{kind="kv_unavailable"} 1.0' in text
    assert 'stitcher_requests_total{route="/healthz",status="200"} 3.0' in text


async def test_counts_are_flushed_on_the_clock_and_once_more_at_the_end():
    metrics, clock, stop = Metrics(), FakeClock(), asyncio.Event()
    flushing = asyncio.ensure_future(metrics.flush_every(clock, stop))
    await asyncio.sleep(0)
    metrics.renders.inc("ssai")
    assert samples(metrics.registry, "stitcher_renders_total") == {}
    clock.advance(FLUSH_INTERVAL)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    key = ("stitcher_renders_total", (("mode", "ssai"),))
    assert samples(metrics.registry, "stitcher_renders_total") == {key: 1.0}
    metrics.renders.inc("ssai", amount=2)
    stop.set()
    await flushing
    assert samples(metrics.registry, "stitcher_renders_total") == {key: 3.0}
