"""The stitcher's Prometheus metrics (`GET /metrics`, text format), one registry per app.

With several worker processes (`stitcher serve --workers N`) the parent sets
`PROMETHEUS_MULTIPROC_DIR` before the workers start; every worker then writes its samples there and
any worker's `/metrics` answers the sum over all of them (prometheus-client's multiprocess mode).

Side effects: in multiprocess mode, files under `PROMETHEUS_MULTIPROC_DIR`.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Counters and histograms of one stitcher app (label values are small, fixed sets)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "stitcher_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "stitcher_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.origin_fetches = Counter(
            "stitcher_origin_fetches",
            "Origin playlist fetches by result (ok, error, timeout)",
            ["result"],
            registry=r,
        )
        self.cache_hits = Counter(
            "stitcher_cache_hits",
            "Answers from a shared cache (origin, breaks, vod, render)",
            ["cache"],
            registry=r,
        )
        self.renders = Counter(
            "stitcher_renders",
            "Playlists rendered (not from the render cache)",
            ["mode"],
            registry=r,
        )
        self.breaks_served = Counter(
            "stitcher_break_playlists",
            "Playlists served with at least one ad break in them",
            ["mode"],
            registry=r,
        )
        self.errors = Counter("stitcher_errors", "Faults by kind", ["kind"], registry=r)
        self.kv_degraded = Gauge(
            "stitcher_kv_degraded",
            "1 while a channel passes new breaks through because the break store is down",
            ["channel"],
            registry=r,
            multiprocess_mode="max",
        )

    def exposition(self) -> tuple[bytes, str]:
        """The text to answer `/metrics` with, and its content type."""
        directory = multiprocess_dir()
        if directory:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
