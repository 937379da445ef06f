"""`rig bench load`: viewers against the stitcher, through the edge, and against two baselines
serving the same bytes, measured side by side in one run while the project's validating fleet
watches the stitched stream.

How and why: docs/performance.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import platform
import signal
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rig import procs
from rig.bench.baselines import Baseline, bare_aiohttp, static_nginx
from rig.bench.fleet import Joining, ask_for_breaks, fleet_result, start_fleet
from rig.bench.measure import (
    cell,
    closed_loop,
    median_run,
    progress,
    scaling,
    side_by_side,
    summary_line,
)
from rig.bench.plan import PAIRS, QUICK, TARGETS, Plan
from rig.bench.under_load import Rig, snapshot, stitcher_answer, the_rig
from rig.bench.wrk import Pacing, wrk_version
from rig.edge import find_nginx
from stitcher.commands import add_common_options

__all__ = ["add_parser", "run", "bench_load"]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    nginx = subprocess.run([find_nginx(), "-v"], capture_output=True, text=True).stderr
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "nginx": nginx.strip().rsplit("/", 1)[-1],
    }


def split_cores() -> tuple[list[int], list[int]]:
    """(servers' cores, load generator's cores): the first core for the servers, the rest for the
    load; one core only: both on it."""
    available = procs.cores()
    return available[:1], available[1:] or available[:1]


async def bench_load(rig: Rig, plan: Plan, directory: Path) -> dict[str, Any]:
    """Every measurement of `plan` against `rig`; the results (docs/performance.md)."""
    servers, load = split_cores()
    saved = procs.affinity(rig.all_pids())
    procs.pin(rig.all_pids(), servers)
    os.sched_setaffinity(0, set(load))
    progress("waiting for the rig to settle")
    busy = await asyncio.to_thread(rig.settle)
    progress(f"  the rig keeps {busy:.2f} cores busy")
    results: dict[str, Any] = {
        "kind": "rig-bench-load",
        "version": 1,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "wrk": await wrk_version()},
        "pinning": {"servers": servers, "load": load},
        "idle_cores_busy": round(busy, 3),
    }
    shot = snapshot(rig, plan)
    results["settings"] = {
        "viewers": plan.viewers,
        "seconds": plan.seconds,
        "reload_s": [plan.reload.low, plan.reload.high],
        "timeout_s": plan.timeout,
        "path": shot.path,
        "bytes": len(shot.body),
        "stitcher_workers": len(rig.pids["stitcher"]) - (len(rig.pids["stitcher"]) > 1),
        "fleet": plan.fleet,
        "quick": plan.quick,
        "targets": plan.targets,
        "rig": "started by the bench" if rig.process else "already running",
    }
    try:
        with contextlib.ExitStack() as stack:
            urls: dict[str, Baseline] = {
                "stitcher": Baseline(rig.stitcher + shot.path, rig.pids["stitcher"]),
            }
            if rig.edge:
                urls["edge"] = Baseline(rig.edge + shot.path, rig.pids.get("edge", []))
            if "nginx-static" in plan.targets:
                urls["nginx-static"] = stack.enter_context(static_nginx(shot, directory, servers))
            if "aiohttp-bare" in plan.targets:
                urls["aiohttp-bare"] = stack.enter_context(bare_aiohttp(shot, directory, servers))
            targets = [t for t in plan.targets if t in urls]

            def same_bytes() -> int:
                """The baselines answer what the stitcher answers now; how many bytes."""
                _, body = stitcher_answer(rig, shot.path)
                for baseline in urls.values():
                    baseline.serve(body)
                return len(body)

            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
            for round_ in range(1, plan.rounds + 1):  # A B C D, A B C D, ...: drift hits all
                await asyncio.to_thread(same_bytes)
                for target in targets:
                    progress(
                        f"closed loop {round_}/{plan.rounds}, {plan.connections} connections:"
                        f" {target}"
                    )
                    base = urls[target]
                    figures = await closed_loop(target, base.url, plan, load, base.pids)
                    runs[target].append(figures)
                    progress(f"  {summary_line(figures)}")
            results["closed_loop"] = [median_run(runs[t]) for t in targets]
            results["side_by_side"] = []
            for pair in PAIRS:
                if all(t in targets for t in pair):
                    progress(f"side by side, {plan.rounds} rounds: {pair[0]} and {pair[1]}")
                    pair_urls = (urls[pair[0]].url, urls[pair[1]].url)
                    row = await side_by_side(pair, pair_urls, plan, load, same_bytes)
                    results["side_by_side"].append(row)
                    progress(
                        f"  {pair[0]} ÷ {pair[1]}: {row['ratio']}×"
                        f" (rounds {', '.join(str(r['ratio']) for r in row['rounds'])})"
                    )
            results["cells"] = []

            async def cells(chosen: list[str], joining: Joining | None = None) -> None:
                for viewers in plan.viewers:
                    for target in chosen:
                        progress(f"{viewers:,} viewers: {target}")
                        baseline = target not in ("stitcher", "edge")
                        if baseline:
                            await asyncio.to_thread(same_bytes)
                        own = urls[target].pids if baseline else []
                        url = urls[target].url
                        beside = joining if target == "edge" else None  # the fleet's way in
                        figures = await cell(rig, target, url, viewers, plan, load, own, beside)
                        results["cells"].append(figures)
                        progress(f"  {summary_line(figures)}")

            # The production path last, while the fleet watches it (and /cue breaks come): the edge,
            # with nginx-static beside it so that the two share the fleet's load on the load core.
            watched = (
                [t for t in targets if t in ("edge", "nginx-static")]
                if "edge" in targets
                else [t for t in targets if t == "stitcher"]
            )
            await cells([t for t in targets if t not in watched])
            results["fleet"], results["cues"] = await watching(
                rig, plan, directory, load, functools.partial(cells, watched), len(watched)
            )
        if plan.scaling:
            _, now_body = await asyncio.to_thread(stitcher_answer, rig, shot.path)
            current = dataclasses.replace(shot, body=now_body)  # the bare baseline's bytes
            results["scaling"] = await scaling(rig, plan, current, directory, servers, load)
    finally:
        for tid, cores in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cores)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


async def watching(
    rig: Rig, plan: Plan, directory: Path, load: list[int], measuring, targets: int
) -> tuple[dict[str, Any] | None, list[str]]:
    """Run `measuring(joining)` (the cells of the production path: through the edge, or the
    stitcher's when there is no edge) while the validating fleet watches that path and /cue breaks
    are asked for; `joining` says when the fleet's viewers join. (The fleet's result, the breaks
    asked for.)"""
    if not plan.fleet:
        await measuring(None)
        return None, []
    stop, asked = asyncio.Event(), []
    cues = asyncio.ensure_future(
        ask_for_breaks(rig, plan, stop, asked) if plan.cue_every else stop.wait()
    )
    process, url, report, joining = start_fleet(
        rig, plan, plan.watch_seconds(targets), directory, load
    )
    try:
        await measuring(joining)
    finally:
        stop.set()
        await cues
        if process.poll() is None:
            progress("waiting for the validating fleet to finish")
        fleet = await asyncio.to_thread(fleet_result, process, url, report, plan.fleet)
    return fleet, asked


def _counts(text: str) -> list[int]:
    try:
        counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of viewer counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("viewer counts must be positive")
    return counts


def _targets(text: str) -> list[str]:
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = set(chosen) - set(TARGETS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown target(s) {', '.join(sorted(unknown))}; choose from {', '.join(TARGETS)}"
        )
    return chosen


def _reload(text: str) -> Pacing:
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--reload wants MIN:MAX seconds, got {text!r}") from None
    if not 0 < low <= high:
        raise argparse.ArgumentTypeError("--reload wants 0 < MIN <= MAX")
    return Pacing(low, high)


def add_parser(targets) -> None:
    """`rig bench load`, on `rig bench`'s subparsers."""
    parser = targets.add_parser(
        "load",
        help="viewers on the stitcher, the edge and two baselines: latency, hit ratio, CPU, RSS",
        description="Load the rig with viewers made by wrk (each connection reloads the media"
        " playlist every --reload seconds, first at a random phase) against each target in turn:"
        " the stitcher directly, the nginx edge in front of it, and two baselines serving the same"
        " bytes as the stitcher at that moment (nginx with a static file; a bare aiohttp handler);"
        " plus a closed-loop run of each, each pair (stitcher and aiohttp-bare, edge and"
        " nginx-static) side by side on the same core at the same moment (the headline ratio),"
        " and the stitcher's scaling over the cores. Servers run on the first CPU core, wrk and"
        " the validating fleet (rig viewers --head) on the others. Measures latency p50/p95/p99/"
        "max, throughput, errors, the edge's hit ratio, origin requests per viewer-minute, the"
        " stitcher's CPU per 1,000 viewers and each component's RSS. Uses the rig running at the"
        " configured ports, or starts one (rig up --headless --edge --kv redis). Exit 0 when"
        " every request was answered and the fleet saw no violation or stall, 1 otherwise.",
    )
    add_common_options(parser, verbose=False)
    parser.add_argument(
        "--viewers",
        type=_counts,
        default=[1000, 2000, 5000, 8000, 10000],
        help="viewer counts, comma-separated (default: 1000,2000,5000,8000,10000)",
    )
    parser.add_argument(
        "--targets",
        type=_targets,
        default=list(TARGETS),
        help=f"which targets, comma-separated (default: {','.join(TARGETS)})",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per cell (default: 20)")
    parser.add_argument(
        "--closed-seconds", type=float, default=5.0, help="per closed-loop run (default: 5)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="closed-loop runs of each target, interleaved, and side-by-side rounds of each pair;"
        " the median counts (default: 3)",
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="of the closed-loop runs (default: 64)"
    )
    parser.add_argument(
        "--reload", type=_reload, default=Pacing(1.0, 3.0), help="MIN:MAX seconds (default: 1:3)"
    )
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="a slower answer is a timeout (default: 2)"
    )
    parser.add_argument("--channel", default="news", help="channel under load (default: news)")
    parser.add_argument("--mode", default="ssai", choices=("ssai", "sgai", "passthrough"))
    parser.add_argument(
        "--fleet", type=int, default=200, help="validating viewers alongside (default: 200)"
    )
    parser.add_argument(
        "--cue-every", type=float, default=45.0, help="seconds between /cue breaks (0: none)"
    )
    parser.add_argument(
        "--stitcher-workers", type=int, default=1, help="of a rig the bench starts (default: 1)"
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling runs")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run (the test suite's): 300 viewers, 5 s cells, one 2 s closed loop each, 20"
        " validating viewers",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--report", type=Path, help="write report.md and PNG plots here")


def plan_of(args: argparse.Namespace) -> Plan:
    quick = QUICK if args.quick else {}
    return Plan(
        viewers=quick.get("viewers", args.viewers),
        targets=args.targets,
        seconds=quick.get("seconds", args.seconds),
        closed_seconds=quick.get("closed_seconds", args.closed_seconds),
        rounds=quick.get("rounds", args.rounds),
        connections=args.connections,
        reload=args.reload,
        timeout=args.timeout,
        channel=args.channel,
        mode=args.mode,
        fleet=quick.get("fleet", args.fleet),
        cue_every=args.cue_every,
        workers=args.stitcher_workers,
        scaling=not args.no_scaling,
        quick=args.quick,
    )


def verdict(results: dict[str, Any]) -> list[str]:
    """What failed: requests not answered, or a fleet that saw something wrong."""
    failed = [
        f"{c['target']} × {c['viewers']}: {c['errors_total']} errors"
        for c in results.get("cells", [])
        if c["errors_total"]
    ]
    fleet = results.get("fleet")
    if fleet and (fleet["violations"] or fleet["stalls"] or fleet["depletion"]):
        failed.append(
            f"fleet: {fleet['violations']} violations, {fleet['stalls']} stalls,"
            f" {fleet['depletion']} segments missed"
        )
    return failed


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"bench: stopped by signal {signum}")  # the rig and baselines stop with it


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _stop)
    plan = plan_of(args)
    with tempfile.TemporaryDirectory(prefix="rig-bench-load-") as scratch:
        with the_rig(args, plan) as rig:
            progress(
                f"rig: stitcher {rig.stitcher}"
                + (f", edge {rig.edge}" if rig.edge else "")
                + f"; about {plan.estimate():.0f} s of measurements"
            )
            results = asyncio.run(bench_load(rig, plan, Path(scratch)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        progress(f"results: {args.json}")
    if args.report:
        from rig.bench import report

        progress(f"report: {report.write(results, args.report)}")
    failed = verdict(results)
    for line in failed:
        progress(f"FAILED {line}")
    return 1 if failed else 0
