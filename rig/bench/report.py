"""The report of `rig bench load`: its results JSON turned into a Markdown page and PNG plots.

`summary` (from `rig.bench.targets`) and `markdown` are pure; `plots` and `write` write files into
a directory. The results' schema is `rig bench load`'s, version 1; any part of it may be missing
or null, and then reads "—" or is left out. What each figure means: docs/performance.md,
"Reading the report".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rig.bench.charts import DRAWINGS
from rig.bench.figures import (
    DASH,
    at,
    cells,
    count,
    dicts,
    fixed,
    ms,
    numbers,
    order,
    rate,
    ratio,
    section,
    times,
)
from rig.bench.plan import PAIRS
from rig.bench.targets import Target, speed, summary
from stitcher.errors import RigError

__all__ = ["Target", "summary", "speed", "markdown", "plots", "write"]

VERDICT = {True: "yes", False: "**no**", None: DASH}
CAPTIONS = {
    "latency-cdf": "Latency CDF per target, one panel per viewer count",
    "latency-p95": "p95 latency per target against viewers, with the seed's 100 ms target",
    "throughput": "Open-loop throughput per target against viewers, with the offered load",
    "edge": "The edge over time: hit ratio, upstream and origin requests per second",
}
HOW_TO_READ = """## How to read this

Each open-loop cell is one target under one viewer count: every wrk connection is a viewer that
reloads the playlist at its own pace, so req/s follows the offered load while the target keeps up,
and latency and errors say how well it does. The closed loop (no pacing) gives the most each
target can answer. All absolute figures (req/s, ms, MiB, CPU) are this machine's, with the servers
and the load on the cores named above; the ratios to the baselines (aiohttp-bare: a bare aiohttp
app; nginx-static: nginx serving a file) are what carries over to another machine. An open-loop
throughput ratio near 1.00× means the target kept up as well as its baseline; a p95 ratio says how
many times slower its answers were. Errors count every failed request, timeouts included. "—"
marks a figure this run did not measure. docs/performance.md, "Reading the report", explains every
figure and plot."""


def markdown(results: dict, plots: dict[str, str]) -> str:
    """The Markdown report; `plots` ({name: file name}, as `plots` returns) are embedded by their
    paths relative to the report."""
    parts = [
        "# rig bench load: report",
        _run_line(results),
        _headline(results),
        _verdicts("Performance Targets (the seed's)", "seed target", summary(results)),
        _verdicts("The stitcher's own speed (issue 15's goals)", "goal", speed(results)),
        _closed_loop_table(results),
        _cells_table(cells(results)),
        _fleet(results.get("fleet")),
        _embedded(plots),
        HOW_TO_READ,
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def plots(results: dict, directory: Path) -> dict[str, str]:
    """Draw the report's plots into `directory` (which must exist) as PNG files, with matplotlib's
    Agg renderer; a plot with nothing to show is not drawn. Returns {name: file name}."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise RigError("the report's plots need matplotlib: pip install -e '.[bench]'") from err
    drawn = {}
    for name, draw in DRAWINGS.items():
        figure = Figure(layout="constrained")
        if draw(figure, results):
            FigureCanvasAgg(figure)
            figure.savefig(directory / f"{name}.png", dpi=110)
            drawn[name] = f"{name}.png"
    return drawn


def write(results: dict, directory: Path) -> Path:
    """Write the whole report into `directory` (made if need be): results.json (indented) first,
    then the plots and report.md. Returns report.md's path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    report = directory / "report.md"
    report.write_text(markdown(results, plots(results, directory)), encoding="utf-8")
    return report


def _run_line(results: dict) -> str:
    """What ran where: the machine, the pinning, the settings."""
    machine = section(results, "machine")
    about = [
        f"{machine['cores']} cores" if at(machine, "cores") is not None else "",
        f"{machine['memory_gib']} GiB" if at(machine, "memory_gib") is not None else "",
        str(machine.get("system") or ""),
        ", ".join(f"{k} {machine[k]}" for k in ("python", "nginx", "wrk") if machine.get(k)),
    ]
    host = machine.get("cpu") or "an unnamed CPU"
    host += f" ({'; '.join(a for a in about if a)})" if any(about) else ""
    when = f"{results.get('started') or DASH} to {results.get('finished') or DASH}"
    pinning = section(results, "pinning")
    servers, load = _cores(pinning.get("servers")), _cores(pinning.get("load"))
    return (
        f"Run on this machine: {host}, {when}. Servers {servers}, the load (wrk and the fleet)"
        f" {load}. {_settings(section(results, 'settings'))}"
    )


def _cores(listed: Any) -> str:
    cores = numbers(listed)
    if not cores:
        return "unpinned"
    return f"on core{'s' if len(cores) > 1 else ''} {', '.join(map(str, cores))}"


def _settings(settings: dict) -> str:
    viewers, reload_s = numbers(settings.get("viewers")), numbers(settings.get("reload_s"))
    workers, fleet = at(settings, "stitcher_workers"), at(settings, "fleet")
    said = [
        f"viewers {', '.join(f'{v:,}' for v in viewers)}" if viewers else "",
        f"{settings['seconds']:g} s per cell" if at(settings, "seconds") is not None else "",
        f"reloads every {reload_s[0]:g}–{reload_s[1]:g} s" if len(reload_s) == 2 else "",
        f"timeout {settings['timeout_s']:g} s" if at(settings, "timeout_s") is not None else "",
        f"GET {settings['path']}" if settings.get("path") else "",
        f"{workers} stitcher worker{'s' if workers != 1 else ''}" if workers else "",
        f"a fleet of {fleet:,} viewers" if fleet else "",
        "a quick run" if settings.get("quick") is True else "",
    ]
    return f"Settings: {'; '.join(s for s in said if s) or DASH}."


def _headline(results: dict) -> str:
    """The ratios to the baselines: closed loop, scaling, then open loop per viewer count."""
    closed = {e.get("target"): e for e in dicts(results.get("closed_loop"))}
    lines = [
        "## Headline: ratios to the baselines",
        "",
        "Absolute figures are this machine's; these ratios are what carries over to another.",
        "",
    ]
    for row in dicts(results.get("side_by_side")):
        ours, base = (list(row.get("targets") or []) + [DASH, DASH])[:2]
        rounds = ", ".join(times(at(r, "ratio")) for r in dicts(row.get("rounds")))
        lines.append(
            f"- Side by side on one core (closed loop, at the same moment), {ours} ÷ {base}"
            f" throughput: **{times(at(row, 'ratio'))}** (median round; rounds {rounds or DASH})"
        )
    for ours, base in PAIRS:
        if ours in closed or base in closed:
            a, b = at(closed.get(ours), "requests_per_s"), at(closed.get(base), "requests_per_s")
            per_cpu = ratio(
                at(closed.get(ours), "requests_per_cpu_s"),
                at(closed.get(base), "requests_per_cpu_s"),
            )
            lines.append(
                f"- Closed loop one after the other, {ours} ÷ {base} throughput:"
                f" {times(ratio(a, b))}"
                f" ({rate(a)} ÷ {rate(b)} req/s); answers per CPU-second {times(per_cpu)}"
            )
    lines.append(f"- Scaling, 2 workers ÷ 1 worker (closed loop): {_scaling(results)}")
    table = _ratio_table(cells(results))
    return "\n".join(lines + (["", table] if table else []))


def _scaling(results: dict) -> str:
    measured = dicts(results.get("scaling"))
    if not measured:
        return "not measured in this run"
    by = {(e.get("target"), e.get("workers")): e for e in measured}

    def gain(target: str, key: str) -> str:
        return times(ratio(at(by.get((target, 2)), key), at(by.get((target, 1)), key)))

    return "; ".join(
        f"{t} **{gain(t, 'requests_per_s')}** throughput,"
        f" {gain(t, 'requests_per_cpu_s')} answers per CPU-second"
        for t in ("stitcher", "aiohttp-bare")
    )


def _ratio_table(open_loop: list[dict]) -> str:
    by = {(c.get("target"), at(c, "viewers")): c for c in open_loop}
    counts = sorted({v for _, v in by if v is not None})
    if not counts:
        return ""
    figures = (("req/s", ("requests_per_s",)), ("p95", ("latency_ms", "p95")))
    head = ["viewers"] + [f"{ours} ÷ {base} {name}" for name, _ in figures for ours, base in PAIRS]
    rows = [
        [f"{v:,}"]
        + [
            times(ratio(at(by.get((ours, v)), *key), at(by.get((base, v)), *key)))
            for _, key in figures
            for ours, base in PAIRS
        ]
        for v in counts
    ]
    return "Open loop, per viewer count:\n\n" + _table(head, rows)


def _verdicts(title: str, what: str, targets: list[Target]) -> str:
    """A table of targets (the seed's, or issue 15's goals), what was measured and the verdict."""
    rows = [[t.seed, t.measured, VERDICT[t.met]] for t in targets]
    return f"## {title}\n\n" + _table([what, "measured here", "met"], rows)


def _closed_loop_table(results: dict) -> str:
    closed = sorted(dicts(results.get("closed_loop")), key=order)
    if not closed:
        return ""
    head = ["target", "connections", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"]
    head += ["cores busy", "req per CPU-second", "every run's req/s"]
    rows = [
        [
            str(e.get("target") or DASH),
            count(at(e, "connections")),
            rate(at(e, "requests_per_s")),
            *_latencies(e),
            count(at(e, "errors_total")),
            fixed(at(e, "cores_busy"), 2),
            rate(at(e, "requests_per_cpu_s")),
            ", ".join(rate(v) for v in numbers(e.get("rounds"))) or DASH,
        ]
        for e in closed
    ]
    return "## Closed loop (this machine's figures)\n\n" + _table(head, rows)


def _cells_table(open_loop: list[dict]) -> str:
    if not open_loop:
        return ""
    components: list[str] = []  # of the RSS columns, in the order the cells name them
    for cell in open_loop:
        components += [k for k in section(cell, "rss_mib") if k not in components]
    head = [
        "target",
        "viewers",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "timeouts",
        "edge hit ratio",
        "upstream /viewer-min",
        "origin /viewer-min",
        "stitcher CPU /1,000 viewers",
        *(f"RSS {k} MiB" for k in components),
    ]
    rows = [
        [
            str(c.get("target") or DASH),
            count(at(c, "viewers")),
            rate(at(c, "requests_per_s")),
            *_latencies(c),
            count(at(c, "errors_total")),
            count(at(c, "errors", "timeout")),
            fixed(at(c, "edge", "hit_ratio"), 3),
            fixed(at(c, "upstream_requests_per_viewer_minute"), 3),
            fixed(at(c, "origin_requests_per_viewer_minute"), 3),
            fixed(at(c, "stitcher_cpu_per_1000_viewers"), 3),
            *(fixed(at(c, "rss_mib", k), 1) for k in components),
        ]
        for c in open_loop
    ]
    return (
        "## Every cell (open loop, this machine's figures)\n\nRequests per viewer-minute: edge →"
        " stitcher (upstream) and stitcher → origin playlist fetches. Stitcher CPU: cores"
        " (CPU-seconds per second) per 1,000 viewers.\n\n" + _table(head, rows)
    )


def _fleet(fleet: Any) -> str:
    if not isinstance(fleet, dict):
        return "## The fleet\n\nThe fleet did not run."
    rows = [
        ["URL", str(fleet.get("url") or DASH)],
        ["viewers", count(at(fleet, "viewers"))],
        ["seconds", fixed(at(fleet, "seconds"), 0)],
        ["playlists checked", count(at(fleet, "playlists"))],
        ["violations", count(at(fleet, "violations"))],
        ["stalls", count(at(fleet, "stalls"))],
        [
            "late joiners clean",
            f"{count(at(fleet, 'late_joiners_clean'))} of {count(at(fleet, 'late_joiners'))}",
        ],
        ["segment depletion", count(at(fleet, "depletion"))],
        ["breaks", count(at(fleet, "breaks"))],
        ["exit status", count(at(fleet, "exit"))],
    ]
    return (
        "## The fleet\n\nThe project's validating viewers (`rig viewers --head`), run alongside the"
        " whole load.\n\n" + _table(["", ""], rows)
    )


def _embedded(plots: dict[str, str]) -> str:
    if not plots:
        return ""
    shown = [f"![{CAPTIONS.get(name, name)}]({file})" for name, file in plots.items()]
    return "## Plots\n\n" + "\n\n".join(shown)


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(row) + " |" for row in lines)


def _latencies(entry: dict) -> list[str]:
    return [ms(at(entry, "latency_ms", p)) for p in ("p50", "p95", "p99", "max")]
