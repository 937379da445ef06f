"""The plots of `rig bench load`'s report, drawn on matplotlib figures they are handed.

Each drawing takes a blank `matplotlib.figure.Figure` and the results, draws, and says whether it
had anything to show; `rig.bench.report.plots` makes the figures and writes the PNG files, so this
module imports nothing of matplotlib. What each plot shows: docs/performance.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from rig.bench.figures import TARGETS, at, cells, count, dicts, numbers, section
from rig.bench.targets import HIT_RATIO_FLOOR, P95_LIMIT_MS

__all__ = ["DRAWINGS"]


def latency_cdf(figure: Any, results: dict) -> bool:
    """Latency CDF per target, one panel per viewer count (log-scale ms, fraction 0..1)."""
    drawn = [c for c in cells(results) if _points(c.get("cdf"))]
    counts = sorted({v for c in drawn if (v := at(c, "viewers")) is not None})
    if not counts:
        return False
    columns = min(len(counts), 4)
    rows = math.ceil(len(counts) / columns)
    figure.set_size_inches(4 * columns, 3.2 * rows)
    axes = figure.subplots(rows, columns, sharey=True, squeeze=False).flatten()
    for ax, viewers in zip(axes, counts):
        for cell in (c for c in drawn if at(c, "viewers") == viewers):
            points = [(x, y) for x, y in _points(cell["cdf"]) if x > 0]  # a log axis
            ax.plot(*zip(*points), drawstyle="steps-post", **_style(cell.get("target")))
        ax.axhline(0.95, color="grey", linestyle=":", linewidth=0.8)
        ax.set(xscale="log", ylim=(0, 1), title=f"{viewers:,} viewers", xlabel="latency (ms)")
        ax.xaxis.set_major_formatter("{x:g}")
    axes[0].set_ylabel("fraction of requests ≤ latency")
    axes[0].legend(fontsize="small")
    for ax in axes[len(counts) :]:
        ax.set_visible(False)
    return True


def latency_p95(figure: Any, results: dict) -> bool:
    """p95 latency per target against the viewer count, with the seed's 100 ms target."""
    lines = _by_target(results, ("latency_ms", "p95"))
    if not lines:
        return False
    ax = figure.subplots()
    for target, points in lines.items():
        ax.plot(*zip(*points), marker="o", **_style(target))
    ax.axhline(P95_LIMIT_MS, color="red", linestyle="--", linewidth=0.8, label="seed target")
    ax.set(yscale="log", xlabel="viewers", ylabel="p95 latency (ms)", title="p95 latency")
    ax.yaxis.set_major_formatter("{x:g}")
    ax.legend(fontsize="small")
    return True


def throughput(figure: Any, results: dict) -> bool:
    """Open-loop req/s per target against the viewer count, with the load the viewers offer."""
    lines = _by_target(results, ("requests_per_s",))
    if not lines:
        return False
    ax = figure.subplots()
    for target, points in lines.items():
        ax.plot(*zip(*points), marker="o", **_style(target))
    reload_s = numbers(section(results, "settings").get("reload_s"))
    if len(reload_s) == 2 and sum(reload_s) > 0:  # a reload every mean(reload_s) per viewer
        counts = sorted({v for points in lines.values() for v, _ in points})
        offered = [2 * v / sum(reload_s) for v in counts]
        ax.plot(counts, offered, color="grey", linestyle="--", label="offered")
    ax.set(xlabel="viewers", ylabel="requests per second", title="Open-loop throughput")
    ax.legend(fontsize="small")
    return True


def edge(figure: Any, results: dict) -> bool:
    """The edge cells over time, one line per viewer count: hit ratio, edge -> stitcher and
    stitcher -> origin requests, each per second."""
    drawn = [c for c in cells(results) if c.get("target") == "edge" and dicts(c.get("timeline"))]
    if not drawn:
        return False
    figure.set_size_inches(7, 7)
    hits, upstream, origin = figure.subplots(3, 1, sharex=True)
    for cell in drawn:
        timeline = dicts(cell["timeline"])
        t = [_nan(at(s, "t")) for s in timeline]
        label = f"{count(at(cell, 'viewers'))} viewers"
        hits.plot(t, [_hit_ratio(s) for s in timeline], label=label)
        upstream.plot(t, [_nan(at(s, "edge_upstream")) for s in timeline], label=label)
        origin.plot(t, [_nan(at(s, "origin_requests")) for s in timeline], label=label)
    hits.axhline(HIT_RATIO_FLOOR, color="red", linestyle="--", linewidth=0.8, label="seed floor")
    hits.set(ylim=(0, 1.02), ylabel="hit ratio", title="The edge, per second")
    upstream.set(ylabel="edge → stitcher /s")
    origin.set(ylabel="stitcher → origin /s", xlabel="seconds into the cell")
    hits.legend(fontsize="small")
    return True


DRAWINGS: dict[str, Callable[[Any, dict], bool]] = {  # {plot name: drawing}, in report order
    "latency-cdf": latency_cdf,
    "latency-p95": latency_p95,
    "throughput": throughput,
    "edge": edge,
}


def _points(cdf: Any) -> list[tuple[float, float]]:
    """A cell's CDF as (ms, fraction) pairs, the malformed ones left out."""
    pairs = cdf if isinstance(cdf, list) else []
    return [
        (p[0], p[1])
        for p in pairs
        if isinstance(p, list | tuple) and len(numbers(list(p))) == len(p) == 2
    ]


def _by_target(results: dict, key: tuple[str, ...]) -> dict[str, list[tuple[Any, Any]]]:
    """{target: [(viewers, figure at key)]} over the open-loop cells that have the figure."""
    lines: dict[str, list[tuple[Any, Any]]] = {}
    for cell in cells(results):
        viewers, figure = at(cell, "viewers"), at(cell, *key)
        if viewers is not None and figure is not None:
            lines.setdefault(str(cell.get("target")), []).append((viewers, figure))
    return lines


def _style(target: Any) -> dict[str, str]:
    """The same colour for a target in every plot."""
    colour = f"C{TARGETS.index(target)}" if target in TARGETS else "C7"
    return {"label": str(target), "color": colour}


def _hit_ratio(second: dict) -> float:
    """One second of an edge cell's timeline: edge hits over the requests answered."""
    hits, requests = at(second, "edge_hits"), at(second, "edge_answers")
    return hits / requests if hits is not None and requests else math.nan


def _nan(value: Any) -> float:
    return math.nan if value is None else value
