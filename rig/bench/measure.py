"""The measurements of `rig bench load`: a closed loop, an open-loop cell (with what the stitcher,
the edge and /proc say meanwhile) and the scaling runs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rig import procs
from rig.bench.baselines import Snapshot, bare_aiohttp
from rig.bench.fleet import Joining
from rig.bench.plan import Plan
from rig.bench.under_load import Rig, stitcher_clone
from rig.bench.wrk import Pacing, WrkResult, run_wrk
from rig.children import http_get
from rig.edge import EdgeLog, EdgePaths

WARM_UP = 1.0  # seconds of load before a closed loop is measured
EDGE_LOG_FLUSH = 1.2  # seconds: the edge writes its access log every second (rig.edge)


def progress(text: str) -> None:
    print(f"bench [{datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


def summary_line(figures: dict[str, Any]) -> str:
    lat = figures["latency_ms"]
    return (
        f"{figures['requests_per_s']:,.0f} req/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms,"
        f" max {lat['max']} ms, {figures['errors_total']} errors"
    )


def metric_sum(text: str, name: str) -> float:
    """The sum of every sample of a Prometheus counter in exposition text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in "{ "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def stitcher_counts(rig: Rig) -> dict[str, float]:
    """The stitcher's request and origin-fetch counters (every worker's, from /metrics)."""
    try:
        _, _, body = http_get(f"{rig.stitcher}/metrics", 2.0)
    except OSError:
        return {"requests": 0.0, "origin": 0.0}
    text = body.decode(errors="replace")
    return {
        "requests": metric_sum(text, "stitcher_requests_total"),
        "origin": metric_sum(text, "stitcher_origin_fetches_total"),
    }


@dataclass
class Sampler:
    """Per-second readings during one cell: edge answers (hits, upstream) and the stitcher's
    origin fetches."""

    rig: Rig
    edge_log: EdgeLog | None
    timeline: list[dict[str, float]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        last = await asyncio.to_thread(self._read)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            now = await asyncio.to_thread(self._read)
            self.timeline.append(
                {
                    "t": round(time.monotonic() - started, 2),
                    **{k: now[k] - last[k] for k in now},
                }
            )
            last = now

    def _read(self) -> dict[str, float]:
        counts = stitcher_counts(self.rig)
        reading = {"stitcher_requests": counts["requests"], "origin_requests": counts["origin"]}
        if self.edge_log is not None:
            self.edge_log.read()
            reading["edge_answers"] = self.edge_log.cacheable
            reading["edge_hits"] = self.edge_log.hits
            reading["edge_upstream"] = self.edge_log.cacheable - self.edge_log.hits
        return reading


def _edge_log(rig: Rig) -> EdgeLog:
    """The edge's access log from its end now: what the cell adds to it."""
    log = EdgeLog(EdgePaths(rig.settings.state_dir).access_log).read()
    log.statuses.clear()
    return log


async def cell(
    rig: Rig,
    target: str,
    url: str,
    viewers: int,
    plan: Plan,
    load: list[int],
    baseline_pids,
    fleet: Joining | None = None,
) -> dict[str, Any]:
    """One open-loop measurement: `viewers` connections at the player cadence on `url`. `fleet`:
    the validating fleet watches through this target too; its viewers count in the per
    viewer-minute figures, as many as were watching on average."""
    stitcher_pids = procs.family(rig.pids["stitcher"])
    if target == "edge":
        await asyncio.sleep(EDGE_LOG_FLUSH)  # the lines of the run before reach the log first
    edge_log = _edge_log(rig) if target == "edge" else None
    sampler = Sampler(rig, edge_log)
    before = await asyncio.to_thread(stitcher_counts, rig)
    cpu_before, wall = procs.cpu_seconds(stitcher_pids), time.monotonic()
    stop = asyncio.Event()
    sampling = asyncio.ensure_future(sampler.run(stop))
    try:
        result = await run_wrk(url, viewers, plan.seconds, plan.reload, plan.timeout, load)
    finally:
        stop.set()
        await sampling
    cpu = procs.cpu_seconds(stitcher_pids) - cpu_before
    elapsed = time.monotonic() - wall
    await asyncio.sleep(EDGE_LOG_FLUSH)
    after = await asyncio.to_thread(stitcher_counts, rig)
    beside = round(fleet.average(wall, wall + elapsed), 1) if fleet is not None else 0.0
    minutes = (viewers + beside) * result.seconds / 60
    out = _figures(target, result)
    out["viewers"] = viewers
    out["fleet_viewers"] = beside
    out["edge"] = None
    out["upstream_requests_per_viewer_minute"] = None
    if edge_log is not None:
        edge_log.read()
        upstream = edge_log.cacheable - edge_log.hits
        out["edge"] = {
            "hit_ratio": edge_log.hit_ratio,
            "answers": edge_log.cacheable,
            "upstream": upstream,
        }
        out["upstream_requests_per_viewer_minute"] = round(upstream / minutes, 5)
    on_stitcher = target in ("stitcher", "edge")
    out["origin_requests_per_viewer_minute"] = (
        round((after["origin"] - before["origin"]) / minutes, 5) if on_stitcher else None
    )
    out["stitcher_cpu_per_1000_viewers"] = (
        round(cpu / elapsed / (viewers / 1000), 4) if on_stitcher else None
    )
    out["rss_mib"] = {
        name: round(procs.rss_mib(procs.family(pids)), 1) for name, pids in rig.pids.items()
    }
    if baseline_pids:
        out["rss_mib"]["baseline"] = round(procs.rss_mib(procs.family(baseline_pids)), 1)
    out["timeline"] = sampler.timeline
    return out


def _figures(target: str, result: WrkResult) -> dict[str, Any]:
    return {
        "target": target,
        "seconds": round(result.seconds, 2),
        "requests": result.requests,
        "requests_per_s": round(result.requests_per_s, 1),
        "latency_ms": {k: result.latency_ms[k] for k in ("p50", "p95", "p99", "max")},
        "cdf": [list(point) for point in result.cdf],
        "errors": result.errors,
        "errors_total": result.errors_total,
    }


async def closed_loop(
    target: str, url: str, plan: Plan, load: list[int], pids: list[int] = ()
) -> dict[str, Any]:
    """wrk as fast as `url` answers (after a one-second warm-up); with `pids`, the cores their
    processes kept busy and the answers per CPU-second."""
    await run_wrk(url, plan.connections, WARM_UP, Pacing(), plan.timeout, load)
    family = procs.family(pids)
    before = procs.cpu_seconds(family)
    result = await run_wrk(url, plan.connections, plan.closed_seconds, Pacing(), plan.timeout, load)
    if family:
        busy = (procs.cpu_seconds(family) - before) / result.seconds
        extra = {"cores_busy": round(busy, 3)}
        extra["requests_per_cpu_s"] = round(result.requests_per_s / busy, 1) if busy else None
    else:
        extra = {}
    out = _figures(target, result)
    del out["cdf"], out["requests"], out["errors"]
    out["connections"] = plan.connections
    return out | extra


async def side_by_side(
    pair: tuple[str, str],
    urls: tuple[str, str],
    plan: Plan,
    load: list[int],
    same_bytes: Callable[[], int],
) -> dict[str, Any]:
    """Two targets on the servers' core at the same moment, each loaded by its own wrk with half
    of the closed loop's connections, `plan.rounds` times: the kernel shares the core between
    them, so the ratio of their throughputs is the ratio of what an answer costs each, measured
    under the same conditions (a ratio of runs taken one after another carries this machine's
    drift, tens of percent from one minute to the next). Before each round `same_bytes()` gives
    the baselines the stitcher's bytes of that moment (a break makes them longer) and says how
    many. The median round's ratio counts."""
    connections = max(1, plan.connections // 2)
    both = list(zip(pair, urls, strict=True))

    async def together(seconds: float) -> list[WrkResult]:
        return list(
            await asyncio.gather(
                *(run_wrk(u, connections, seconds, Pacing(), plan.timeout, load) for _, u in both)
            )
        )

    rounds = []
    for _ in range(plan.rounds):
        size = await asyncio.to_thread(same_bytes)
        await together(WARM_UP)
        first, second = await together(plan.closed_seconds)
        rounds.append(
            {
                "bytes": size,
                "requests_per_s": [round(first.requests_per_s, 1), round(second.requests_per_s, 1)],
                "errors": first.errors_total + second.errors_total,
                "ratio": round(first.requests_per_s / second.requests_per_s, 4)
                if second.requests_per_s
                else None,
            }
        )
    ratios = sorted(r["ratio"] for r in rounds if r["ratio"] is not None)
    return {
        "targets": list(pair),
        "connections_each": connections,
        "ratio": ratios[len(ratios) // 2] if ratios else None,
        "rounds": rounds,
        "errors_total": sum(r["errors"] for r in rounds),
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput of a target's closed-loop runs, with every run's
    throughput beside it."""
    ordered = sorted(runs, key=lambda r: r["requests_per_s"])
    return ordered[len(ordered) // 2] | {"rounds": [r["requests_per_s"] for r in runs]}


async def scaling(
    rig: Rig, plan: Plan, shot: Snapshot, directory: Path, servers: list[int], load: list[int]
) -> list[dict[str, Any]]:
    """Closed loop of a stitcher like the rig's with 1 worker on the servers' core, then with one
    worker per core on every core, beside the bare baseline with as many processes on the same
    cores. The load generator keeps its core(s): with few cores, the second run shares them."""
    every = sorted(set(servers) | set(load))
    rows = []
    for cores in [servers, every] if every != servers else [servers]:
        workers = len(cores)
        with stitcher_clone(rig, workers, cores, directory) as (url, pids):
            progress(f"scaling: stitcher, {workers} worker(s) on cores {cores}")
            figures = await closed_loop("stitcher", url + shot.path, plan, load, pids)
        rows.append({"target": "stitcher", "workers": workers, "cores": cores} | figures)
        progress(f"  {summary_line(figures)}")
        with bare_aiohttp(shot, directory, cores, processes=workers) as bare:
            progress(f"scaling: aiohttp-bare, {workers} process(es) on cores {cores}")
            figures = await closed_loop("aiohttp-bare", bare.url, plan, load, bare.pids)
        rows.append({"target": "aiohttp-bare", "workers": workers, "cores": cores} | figures)
        progress(f"  {summary_line(figures)}")
    return rows
