"""`rig bench load`: viewers against the stitcher, through the edge, and against two baselines
serving the same bytes, measured side by side in one run while the project's validating fleet
watches the stitched stream.

How and why: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rig.bench import procs
from rig.bench.baselines import Baseline, Snapshot, bare_aiohttp, static_nginx
from rig.bench.wrk import Pacing, WrkResult, run_wrk, wrk_version
from rig.edge import EdgeLog, EdgePaths, find_nginx
from rig.settings import Settings, load_settings
from rig.up import port_env
from stitcher.commands import add_common_options, settings_env
from stitcher.errors import RigError
from stitcher.playlist import parse_master_playlist

__all__ = ["add_parser", "run", "TARGETS", "Plan"]

TARGETS = ("stitcher", "edge", "nginx-static", "aiohttp-bare")
QUICK = {"viewers": [300], "seconds": 5.0, "closed_seconds": 2.0, "fleet": 20}  # --quick
COMPONENTS = ("stitcher", "edge", "origin", "ads", "redis")
EDGE_LOG_FLUSH = 1.2  # seconds: the edge writes its access log every second (rig.edge)
START_TIMEOUT = 600.0  # seconds a rig the bench starts may take (media built on first use)


@dataclass(frozen=True)
class Plan:
    """What one `rig bench load` run measures."""

    viewers: list[int]
    targets: list[str]
    seconds: float = 20.0  # per open-loop cell
    closed_seconds: float = 10.0  # per closed-loop run
    connections: int = 64  # of the closed-loop runs
    reload: Pacing = Pacing(1.0, 3.0)
    timeout: float = 2.0
    channel: str = "news"
    mode: str = "ssai"
    fleet: int = 200
    cue_every: float = 45.0  # seconds between the /cue breaks the bench asks for (0: none)
    cue_seconds: float = 16.0
    workers: int = 1  # of a rig the bench starts
    scaling: bool = True
    quick: bool = False

    @property
    def edge(self) -> bool:
        return "edge" in self.targets

    def estimate(self) -> float:
        """Seconds the measurements take (the fleet watches that long)."""
        cells = len(self.viewers) * len(self.targets) * (self.seconds + 3)
        closed = len(self.targets) * (self.closed_seconds + 1)
        scaling = 4 * (self.closed_seconds + 2) if self.scaling else 0
        return cells + closed + scaling + 10


# --------------------------------------------------------------------------- the rig


@dataclass
class Rig:
    """The rig under load: its URLs and the processes of each component."""

    settings: Settings
    stitcher: str
    edge: str | None
    process: subprocess.Popen | None = None  # a rig this bench started
    pids: dict[str, list[int]] = field(default_factory=dict)

    def find_processes(self) -> None:
        s = self.settings
        ports = {
            "stitcher": s.stitcher.port,
            "edge": s.edge.port if self.edge else None,
            "origin": s.origin.port,
            "ads": s.ads.port,
            "redis": s.redis.port if s.redis.enabled else None,
        }
        for name, port in ports.items():
            if port is not None:
                self.pids[name] = procs.family(procs.listeners(port))
        if not self.pids.get("stitcher"):
            raise RigError(f"no process listens on the stitcher's port {s.stitcher.port}")

    def all_pids(self) -> list[int]:
        return sorted({p for pids in self.pids.values() for p in pids})


def _get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _answers(url: str) -> bool:
    try:
        return _get(url, 2.0)[0] == 200
    except OSError:
        return False


def _wait_for(urls: list[str], process: subprocess.Popen | None, log: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not all(_answers(u) for u in urls):
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log else ""
            raise RigError(f"the rig the bench started exited ({process.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise RigError(f"the rig did not answer {', '.join(urls)} in {START_TIMEOUT:.0f} s")
        time.sleep(0.5)


@contextlib.contextmanager
def the_rig(args: argparse.Namespace, plan: Plan):
    """The running rig at the configured ports, or one started here (`rig up --headless --edge
    --kv redis`) and stopped afterwards."""
    overrides = port_env(args)
    if plan.edge:
        overrides.setdefault("RIG_EDGE_ENABLED", "true")
    settings = load_settings(getattr(args, "config", None), env=settings_env(args, **overrides))
    host = "127.0.0.1"
    stitcher = f"http://{host}:{settings.stitcher.port}"
    edge = f"http://{host}:{settings.edge.port}" if plan.edge else None
    media = f"{stitcher}/{plan.mode}/{plan.channel}/master.m3u8"
    if _answers(f"{stitcher}/healthz"):
        if edge and not _answers(f"{edge}/edge/healthz"):
            raise RigError(
                f"the running rig has no edge on {edge}: start it with `rig up --edge`, or leave"
                " the edge out (--targets stitcher,nginx-static,aiohttp-bare)"
            )
        _wait_for([media], None, None)
        rig = Rig(settings, stitcher, edge)
        rig.find_processes()
        yield rig
        return
    env = settings_env(args, **overrides)
    argv = [sys.executable, "-m", "rig.cli", "up", "--headless", "--kv", "redis"]
    argv += ["--stitcher-workers", str(plan.workers)]
    if getattr(args, "config", None):
        argv += ["--config", str(args.config)]
    if plan.edge:
        argv.append("--edge")
    env["RIG_REDIS_ENABLED"] = "true"
    settings = load_settings(getattr(args, "config", None), env=env)
    log = settings.state_dir / "logs" / "bench-rig.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"bench: starting a rig ({' '.join(argv[2:])}); its output: {log}", flush=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(
            [f"{stitcher}/healthz", media] + ([f"{edge}/edge/healthz"] if edge else []),
            process,
            log,
        )
        rig = Rig(settings, stitcher, edge, process)
        rig.find_processes()
        yield rig
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def snapshot(rig: Rig, plan: Plan) -> Snapshot:
    """The media playlist under load: the master's first variant, one answer of it."""
    master_path = f"/{plan.mode}/{plan.channel}/master.m3u8"
    status, _, body = _get(rig.stitcher + master_path)
    if status != 200:
        raise RigError(f"{rig.stitcher}{master_path} answered {status}")
    master = parse_master_playlist(body.decode())
    uri = master.variants[0].uri.split("?")[0]
    path = f"/{plan.mode}/{plan.channel}/{uri}"
    status, headers, body = _get(rig.stitcher + path)
    if status != 200:
        raise RigError(f"{rig.stitcher}{path} answered {status}")
    return Snapshot(path, body, headers.get("ETag", '"x"'), headers.get("Cache-Control", ""))


# --------------------------------------------------------------------------- measuring


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
        _, _, body = _get(f"{rig.stitcher}/metrics", 2.0)
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
    return EdgeLog(EdgePaths(rig.settings.state_dir).access_log).read()  # from the end


async def cell(
    rig: Rig, target: str, url: str, viewers: int, plan: Plan, load: list[int], baseline_pids
) -> dict[str, Any]:
    """One open-loop measurement: `viewers` connections at the player cadence on `url`."""
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
    minutes = viewers * result.seconds / 60
    out = _figures(target, result)
    out["viewers"] = viewers
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


async def closed_loop(target: str, url: str, plan: Plan, load: list[int]) -> dict[str, Any]:
    result = await run_wrk(url, plan.connections, plan.closed_seconds, Pacing(), plan.timeout, load)
    out = _figures(target, result)
    del out["cdf"], out["requests"], out["errors"]
    out["connections"] = plan.connections
    return out


# --------------------------------------------------------------------------- the fleet and cues


def start_fleet(rig: Rig, plan: Plan, seconds: float, directory: Path, load: list[int]):
    """`rig viewers --head` on the stitched master, joining all along the run; (process,
    report path)."""
    url = f"{rig.stitcher}/{plan.mode}/{plan.channel}/master.m3u8"
    report = directory / "fleet.json"
    argv = [sys.executable, "-m", "rig.cli", "viewers", url, "-n", str(plan.fleet)]
    argv += ["--seconds", f"{seconds:.0f}", "--join-spread", f"{seconds * 0.8:.0f}"]
    argv += ["--head", "--json", str(report), "--progress", "0", "--quiet", "--seed", "1"]
    if load:
        argv = ["taskset", "-c", ",".join(map(str, load)), *argv]
    out = open(directory / "fleet.log", "wb")
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT), url, report


def fleet_result(process: subprocess.Popen, url: str, report: Path, viewers: int) -> dict:
    code = process.wait()
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        log = (report.parent / "fleet.log").read_text(errors="replace")[-800:]
        raise RigError(f"the validating fleet wrote no report (exit {code}):\n{log}") from None
    totals = data["totals"]
    return {
        "url": url,
        "viewers": viewers,
        "seconds": data["seconds"],
        "playlists": totals["playlists_fetched"],
        "violations": totals["violations"],
        "violations_by_rule": totals["violations_by_rule"],
        "stalls": totals["stalls"],
        "late_joiners": totals["late_joiners"],
        "late_joiners_clean": totals["late_joiners_ok"],
        "depletion": totals["segments_skipped"],
        "fetch_errors": totals["fetch_errors"],
        "breaks": totals["breaks"],
        "exit": code,
    }


async def ask_for_breaks(rig: Rig, plan: Plan, stop: asyncio.Event, asked: list[str]) -> None:
    """A /cue break on the fleet's channel now and every `cue_every` seconds (besides the
    channel's own SCTE-35 schedule), so that viewers join inside breaks."""
    url = f"{rig.stitcher}/v1/channels/{plan.channel}/cue"
    while not stop.is_set():
        body = json.dumps({"duration": plan.cue_seconds}).encode()
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                asked.append(json.loads(response.read())["eventId"])
        except (OSError, ValueError, KeyError) as exc:
            print(f"bench: /cue failed: {exc}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), plan.cue_every)


# --------------------------------------------------------------------------- the run


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


def progress(text: str) -> None:
    print(f"bench [{datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


def _line(figures: dict[str, Any]) -> str:
    lat = figures["latency_ms"]
    return (
        f"{figures['requests_per_s']:,.0f} req/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms,"
        f" max {lat['max']} ms, {figures['errors_total']} errors"
    )


async def bench_load(rig: Rig, plan: Plan, directory: Path) -> dict[str, Any]:
    """Every measurement of `plan` against `rig`; the results (docs/performance.md)."""
    servers, load = split_cores()
    saved = procs.affinity(rig.all_pids())
    procs.pin(rig.all_pids(), servers)
    os.sched_setaffinity(0, set(load))
    results: dict[str, Any] = {
        "kind": "rig-bench-load",
        "version": 1,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "wrk": await wrk_version()},
        "pinning": {"servers": servers, "load": load},
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
    stop_cues, asked = asyncio.Event(), []
    cues = asyncio.ensure_future(
        ask_for_breaks(rig, plan, stop_cues, asked) if plan.cue_every else stop_cues.wait()
    )
    fleet = start_fleet(rig, plan, plan.estimate(), directory, load) if plan.fleet else None
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
            results["closed_loop"] = []
            for target in targets:
                progress(f"closed loop, {plan.connections} connections: {target}")
                figures = await closed_loop(target, urls[target].url, plan, load)
                results["closed_loop"].append(figures)
                progress(f"  {_line(figures)}")
            results["cells"] = []
            for viewers in plan.viewers:
                for target in targets:
                    progress(f"{viewers:,} viewers: {target}")
                    own = [] if target in ("stitcher", "edge") else urls[target].pids
                    figures = await cell(rig, target, urls[target].url, viewers, plan, load, own)
                    results["cells"].append(figures)
                    progress(f"  {_line(figures)}")
        if plan.scaling:
            results["scaling"] = await scaling(rig, plan, shot, directory, servers, load)
    finally:
        stop_cues.set()
        await cues
        results["cues"] = asked
        if fleet is not None:
            process, url, report = fleet
            if process.poll() is None:
                progress("waiting for the validating fleet to finish")
            results["fleet"] = await asyncio.to_thread(
                fleet_result, process, url, report, plan.fleet
            )
        for tid, cores in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cores)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


async def scaling(
    rig: Rig, plan: Plan, shot: Snapshot, directory: Path, servers: list[int], load: list[int]
) -> list[dict[str, Any]]:
    """Closed loop of the rig's stitcher on one core, then on every core (its workers spread
    over them), beside the bare baseline with as many processes; the load generator keeps its
    core(s), so on a machine with few cores the second run shares them."""
    every = sorted(set(servers) | set(load))
    workers = len(rig.pids["stitcher"]) - (len(rig.pids["stitcher"]) > 1)
    rows = []
    for cores in [servers, every] if every != servers else [servers]:
        procs.pin(rig.all_pids(), cores)
        progress(f"scaling: stitcher ({workers} workers) on cores {cores}")
        figures = await closed_loop("stitcher", rig.stitcher + shot.path, plan, load)
        rows.append({"target": "stitcher", "workers": workers, "cores": cores, **figures})
        progress(f"  {_line(figures)}")
        with bare_aiohttp(shot, directory, cores, processes=max(workers, len(cores))) as bare:
            progress(f"scaling: aiohttp-bare ({max(workers, len(cores))} processes) on {cores}")
            figures = await closed_loop("aiohttp-bare", bare.url, plan, load)
        rows.append(
            {"target": "aiohttp-bare", "workers": max(workers, len(cores)), "cores": cores}
            | figures
        )
        progress(f"  {_line(figures)}")
    procs.pin(rig.all_pids(), servers)
    return rows


# --------------------------------------------------------------------------- the command


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
        " bytes (nginx with a static file; a bare aiohttp handler); plus a closed-loop run of each"
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
        default=[1000, 2000, 5000, 10000],
        help="viewer counts, comma-separated (default: 1000,2000,5000,10000)",
    )
    parser.add_argument(
        "--targets",
        type=_targets,
        default=list(TARGETS),
        help=f"which targets, comma-separated (default: {','.join(TARGETS)})",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per cell (default: 20)")
    parser.add_argument(
        "--closed-seconds", type=float, default=10.0, help="per closed-loop run (default: 10)"
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
        help="a short run (the test suite's): 300 viewers, 5 s cells, 2 s closed loops, 20"
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


def run(args: argparse.Namespace) -> int:
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
