"""The stitcher's Prometheus metrics (`GET /metrics`, text format), one registry per app.

Counts and timings are kept in plain Python first (`Tally`, `Answers`: a dict update per event)
and added to the Prometheus metrics by `Metrics.flush`: every `FLUSH_INTERVAL` seconds
(`flush_every`), before every exposition and when the app stops. A request never pays for a
Prometheus lock or, in multiprocess mode, a write to a shared file.

With several worker processes (`stitcher serve --workers N`) the parent sets
`PROMETHEUS_MULTIPROC_DIR` before the workers start; every worker then writes its samples there and
any worker's `/metrics` answers the sum over all of them (prometheus-client's multiprocess mode),
the other workers' counts as of their last flush.

Side effects: in multiprocess mode, files under `PROMETHEUS_MULTIPROC_DIR`.
How and why: docs/stitcher.md, "`stitcher.metrics`".
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from stitcher.clock import Clock

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FLUSH_INTERVAL = 1.0  # seconds: how late a count may reach the shared files (other workers)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Tally:
    """A Prometheus counter counted in memory until `flush` adds the counts to it."""

    def __init__(self, counter: Counter):
        self.counter = counter
        self._pending: dict[tuple, float] = {}
        self._each: dict[tuple[tuple, ...], int] = {}  # for inc_each: spread out by flush

    def inc(self, *labels: object) -> None:
        """Count one for the label values (any values: Prometheus makes them strings)."""
        self._pending[labels] = self._pending.get(labels, 0) + 1

    def inc_each(self, keys: tuple[tuple, ...]) -> None:
        """Count one for each tuple of label values (one dict update for all of them)."""
        self._each[keys] = self._each.get(keys, 0) + 1

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        each, self._each = self._each, {}
        for keys, times in each.items():
            for labels in keys:
                pending[labels] = pending.get(labels, 0) + times
        for labels, amount in pending.items():
            self.counter.labels(*labels).inc(amount)


class Answers:
    """The request counter and the latency histogram, per route and status, observed together in
    memory (one dict update per request) until `flush`."""

    def __init__(self, requests: Counter, latency: Histogram, buckets: tuple[float, ...]):
        self.requests, self.latency, self.buckets = requests, latency, buckets
        self._pending: dict[tuple[str, int], list[float]] = {}  # count per bucket (+Inf last), sum

    def observe(self, route: str, status: int, seconds: float) -> None:
        row = self._pending.get((route, status))
        if row is None:
            row = self._pending[(route, status)] = [0.0] * (len(self.buckets) + 2)
        row[bisect_left(self.buckets, seconds)] += 1  # the first bucket with seconds <= bound
        row[-1] += seconds

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (route, status), row in pending.items():
            self.requests.labels(route, status).inc(sum(row[:-1]))
            child = self.latency.labels(route)
            # What `observe` does, for many observations at once (prometheus-client keeps one
            # value per bucket, not cumulative, and the sum: tests/test_metrics.py holds it to it).
            child._sum.inc(row[-1])
            for bucket, count in zip(child._buckets, row[:-1]):
                if count:
                    bucket.inc(count)


class Metrics:
    """Counters and histograms of one stitcher app (label values are small, fixed sets)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.answers = Answers(
            Counter("stitcher_requests", "HTTP requests answered", ["route", "status"], registry=r),
            Histogram(
                "stitcher_request_seconds",
                "Time to answer a request",
                ["route"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            LATENCY_BUCKETS,
        )
        self.origin_fetches = Tally(
            Counter(
                "stitcher_origin_fetches",
                "Origin playlist fetches by result (ok, error, timeout)",
                ["result"],
                registry=r,
            )
        )
        self.cache_hits = Tally(
            Counter(
                "stitcher_cache_hits",
                "Answers from a shared cache (origin, breaks, vod, render)",
                ["cache"],
                registry=r,
            )
        )
        self.renders = Tally(
            Counter(
                "stitcher_renders",
                "Playlists rendered (not from the render cache)",
                ["mode"],
                registry=r,
            )
        )
        self.breaks_served = Tally(
            Counter(
                "stitcher_break_playlists",
                "Playlists served with at least one ad break in them",
                ["mode"],
                registry=r,
            )
        )
        self.errors = Tally(Counter("stitcher_errors", "Faults by kind", ["kind"], registry=r))
        self.kv_degraded = Gauge(  # set when the state changes (rarely): not batched
            "stitcher_kv_degraded",
            "1 while a channel passes new breaks through because the break store is down",
            ["channel"],
            registry=r,
            multiprocess_mode="max",
        )
        self._batched = (
            self.answers,
            self.origin_fetches,
            self.cache_hits,
            self.renders,
            self.breaks_served,
            self.errors,
        )

    def flush(self) -> None:
        """Add everything counted since the last flush to the Prometheus metrics."""
        for batched in self._batched:
            batched.flush()

    async def flush_every(self, clock: Clock, stop: asyncio.Event) -> None:
        """Flush every FLUSH_INTERVAL seconds until `stop` is set, and once more then."""
        while await clock.sleep(FLUSH_INTERVAL, stop):
            self.flush()
        self.flush()

    def exposition(self) -> tuple[bytes, str]:
        """The text to answer `/metrics` with (this process's counts flushed first), and its
        content type."""
        self.flush()
        directory = multiprocess_dir()
        if directory:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
