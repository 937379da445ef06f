"""The seed's Performance Targets, judged from a `rig bench load` results JSON. Pure.

The targets come from the seed's migration plan ("Performance Targets") and AWS MediaTailor's CDN
guidance; docs/performance.md, "Reading the report", says where and how each is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rig.bench.figures import DASH, at, cells, count, dicts, ms, pct, ratio, times, where

__all__ = [
    "Target",
    "summary",
    "speed",
    "P95_LIMIT_MS",
    "HIT_RATIO_FLOOR",
    "LATE_JOINER_FLOOR",
    "LOAD_FLOOR",
    "PER_VIEWER_MINUTE_LIMIT",
]

P95_LIMIT_MS = 100.0  # manifest latency p95 < 100 ms
HIT_RATIO_FLOOR = 0.80  # edge cache hit rate 80-95 %: more than 95 % is better still
LATE_JOINER_FLOOR = 0.99  # late-joiner success > 99 %
LOAD_FLOOR = 1000  # load testing 1000+ concurrent viewers
PER_VIEWER_MINUTE_LIMIT = 0.1  # MediaTailor: fewer than 0.1 origin requests per viewer-minute
# The stitcher's own speed (issue 15): against the bare aiohttp handler on the same core
CLOSED_LOOP_FLOOR = 0.8  # closed loop, side by side
HEAVY_VIEWERS, HEAVY_FLOOR = 8000, 0.9  # one worker, straight: no timeout, >= 90 % of the bare's
EDGE_VIEWERS, EDGE_P99_MS, EDGE_HIT_FLOOR = 10_000, 5.0, 0.99  # through the edge
SCALING_FLOOR = 0.9  # the stitcher's 2-worker gain against the bare handler's


@dataclass(frozen=True)
class Target:
    """One row of the Performance Targets: the target, what this run measured, and whether it was
    met (None when the run holds nothing to judge it by)."""

    seed: str
    measured: str
    met: bool | None


def summary(results: dict) -> list[Target]:
    """The seed's Performance Targets as this run measured them, one row each."""
    ours = [c for c in cells(results) if c.get("target") in ("stitcher", "edge")]
    edge = [c for c in ours if c.get("target") == "edge"]
    fleet = results.get("fleet") if isinstance(results.get("fleet"), dict) else None
    return [
        _latency(ours),
        _hit_ratio(edge),
        _late_joiners(fleet),
        _depletion(fleet),
        _load(ours),
        _per_viewer_minute(edge, "upstream_requests_per_viewer_minute", "edge → stitcher"),
        _origin_pull(edge),
    ]


def _latency(ours: list[dict]) -> Target:
    """The worst p95 over the stitcher and edge cells."""
    seed = f"Manifest latency p95 < {P95_LIMIT_MS:.0f} ms"
    measured = [(p95, c) for c in ours if (p95 := at(c, "latency_ms", "p95")) is not None]
    if not measured:
        return Target(seed, DASH, None)
    p95, cell = max(measured, key=lambda m: m[0])
    return Target(seed, f"{ms(p95)} ms (worst p95: {where(cell)})", p95 < P95_LIMIT_MS)


def _hit_ratio(edge: list[dict]) -> Target:
    """The lowest hit ratio over the edge cells."""
    seed = "Edge cache hit rate 80–95 %"
    measured = [(r, c) for c in edge if (r := at(c, "edge", "hit_ratio")) is not None]
    if not measured:
        return Target(seed, DASH, None)
    ratio, cell = min(measured, key=lambda m: m[0])
    return Target(seed, f"{pct(ratio)} (lowest: {where(cell)})", ratio >= HIT_RATIO_FLOOR)


def _late_joiners(fleet: dict | None) -> Target:
    """The fleet's clean late joiners over all of them."""
    seed = "Late-joiner success > 99 %"
    joiners, clean = at(fleet, "late_joiners"), at(fleet, "late_joiners_clean")
    if joiners is None or clean is None:
        return Target(seed, DASH, None)
    if joiners == 0:
        return Target(seed, "no late joiners", None)
    share = clean / joiners
    return Target(seed, f"{clean:,} of {joiners:,} clean ({pct(share)})", share > LATE_JOINER_FLOOR)


def _depletion(fleet: dict | None) -> Target:
    """The fleet saw no segment depletion and no stall."""
    seed = "Zero segment depletion"
    depletion, stalls = at(fleet, "depletion"), at(fleet, "stalls")
    if depletion is None and stalls is None:
        return Target(seed, DASH, None)
    met = None if depletion is None or stalls is None else depletion == 0 and stalls == 0
    return Target(seed, f"depletion {count(depletion)}, stalls {count(stalls)}", met)


def _load(ours: list[dict]) -> Target:
    """The largest viewer count at which every stitcher and edge cell answered without an error; a
    count with a cell that does not say how many errors it had is not judged."""
    seed = f"Load testing {LOAD_FLOOR:,}+ concurrent viewers"
    errors: dict[Any, list[Any]] = {}
    for cell in ours:
        if (viewers := at(cell, "viewers")) is not None:
            errors.setdefault(viewers, []).append(at(cell, "errors_total"))
    clean = [v for v, found in errors.items() if all(n == 0 for n in found)]
    failing = ", ".join(f"{v:,}" for v, found in sorted(errors.items()) if any(found))
    if not clean and not failing:
        return Target(seed, DASH, None)
    if not clean:
        return Target(seed, f"errors at every count ({failing})", False)
    noted = f"; errors at {failing}" if failing else ""
    return Target(seed, f"{max(clean):,} viewers without errors{noted}", max(clean) >= LOAD_FLOOR)


def _origin_pull(edge: list[dict]) -> Target:
    """The stitcher's own origin fetches per viewer-minute, for information: MediaTailor's
    guidance is about the CDN's requests (the row above). The stitcher reads each variant it is
    asked for at most every `origin_cache` seconds whatever the audience, so this figure only
    falls as viewers grow; it is not judged."""
    measured = [
        (r, c) for c in edge if (r := at(c, "origin_requests_per_viewer_minute")) is not None
    ]
    seed = "Stitcher → origin playlist fetches per viewer-minute (information)"
    if not measured:
        return Target(seed, DASH, None)
    rate, cell = max(measured, key=lambda m: m[0])
    return Target(seed, f"{rate:.3f} (most: {where(cell)})", None)


def _per_viewer_minute(edge: list[dict], key: str, leg: str) -> Target:
    """The worst requests per viewer-minute over the edge cells on one leg."""
    seed = f"Origin requests per viewer-minute < {PER_VIEWER_MINUTE_LIMIT} ({leg})"
    measured = [(r, c) for c in edge if (r := at(c, key)) is not None]
    if not measured:
        return Target(seed, DASH, None)
    rate, cell = max(measured, key=lambda m: m[0])
    return Target(seed, f"{rate:.3f} (worst: {where(cell)})", rate < PER_VIEWER_MINUTE_LIMIT)


def speed(results: dict) -> list[Target]:
    """The stitcher's own speed goals (issue 15), as this run measured them, one row each."""
    by = {(c.get("target"), at(c, "viewers")): c for c in cells(results)}
    return [
        _side_by_side(results),
        _heavy(by, results),
        _through_edge(by.get(("edge", EDGE_VIEWERS))),
        _scales(results),
    ]


def _side_by_side(results: dict) -> Target:
    seed = f"Closed loop ≥ {CLOSED_LOOP_FLOOR}× the bare aiohttp handler, same core"
    rows = [
        r
        for r in dicts(results.get("side_by_side"))
        if r.get("targets") == ["stitcher", "aiohttp-bare"]
    ]
    value = at(rows[0], "ratio") if rows else None
    if value is None:
        return Target(seed, DASH, None)
    return Target(seed, f"{times(value)} (side by side, median round)", value >= CLOSED_LOOP_FLOOR)


def _heavy(by: dict, results: dict) -> Target:
    seed = (
        f"{HEAVY_VIEWERS:,} viewers straight at one worker: no timeouts,"
        f" ≥ {HEAVY_FLOOR:.0%} of the bare handler's throughput"
    )
    ours, bare = by.get(("stitcher", HEAVY_VIEWERS)), by.get(("aiohttp-bare", HEAVY_VIEWERS))
    share = ratio(at(ours, "requests_per_s"), at(bare, "requests_per_s"))
    timeouts = at(ours, "errors", "timeout")
    workers = at(results, "settings", "stitcher_workers")
    if share is None or timeouts is None:
        return Target(seed, DASH, None)
    measured = f"{count(timeouts)} timeouts, {pct(share)} of the bare's req/s ({workers} worker(s))"
    return Target(seed, measured, timeouts == 0 and share >= HEAVY_FLOOR and workers == 1)


def _through_edge(cell: dict | None) -> Target:
    seed = (
        f"Through the edge, {EDGE_VIEWERS:,} viewers: p99 < {EDGE_P99_MS:.0f} ms, 0 errors,"
        f" hit ratio ≥ {EDGE_HIT_FLOOR:.0%}"
    )
    p99, errors = at(cell, "latency_ms", "p99"), at(cell, "errors_total")
    hits = at(cell, "edge", "hit_ratio")
    if p99 is None or errors is None or hits is None:
        return Target(seed, DASH, None)
    measured = f"p99 {ms(p99)} ms, {count(errors)} errors, hit ratio {pct(hits)}"
    return Target(seed, measured, p99 < EDGE_P99_MS and errors == 0 and hits >= EDGE_HIT_FLOOR)


def _scales(results: dict) -> Target:
    seed = "With N workers, throughput scales with the cores given to them"
    by = {(r.get("target"), at(r, "workers")): r for r in dicts(results.get("scaling"))}

    def gain(target: str) -> float | None:
        two, one = by.get((target, 2)), by.get((target, 1))
        return ratio(at(two, "requests_per_s"), at(one, "requests_per_s"))

    ours, bare = gain("stitcher"), gain("aiohttp-bare")
    if ours is None or bare is None:
        return Target(seed, DASH, None)
    measured = f"2 workers ÷ 1: stitcher {times(ours)}, bare handler {times(bare)}"
    return Target(seed, measured, ours >= SCALING_FLOOR * bare)
