"""The rig `rig bench load` measures: the one running at the configured ports, or one it starts
(`rig up --headless --edge --kv redis`); its URLs and the processes of each component, and the
playlist under load."""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rig import procs
from rig.bench.baselines import Snapshot
from rig.bench.plan import Plan
from rig.children import answers, free_port, http_get, pinned, started, wait_for
from rig.settings import Settings, load_settings
from rig.up import port_env
from stitcher.commands import settings_env
from stitcher.errors import RigError
from stitcher.playlist import parse_master_playlist

__all__ = ["Rig", "the_rig", "snapshot", "stitcher_answer", "stitcher_clone"]

SETTLED = 0.25  # cores busy below which a rig counts as idle before measuring
START_TIMEOUT = 600.0  # seconds a rig the bench starts may take (media built on first use)


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

    def settle(self, quiet: float = SETTLED, most: float = 120.0) -> float:
        """Wait until the rig's processes keep under `quiet` cores busy for two seconds running
        (a rig just started may still be conditioning ads); the cores busy in the last second."""
        deadline, calm, busy = time.monotonic() + most, 0, 0.0
        before = procs.cpu_seconds(procs.family(self.all_pids()))
        while calm < 2 and time.monotonic() < deadline:
            time.sleep(1.0)
            now = procs.cpu_seconds(procs.family(self.all_pids()))
            busy, before = now - before, now
            calm = calm + 1 if busy < quiet else 0
        return busy


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
    if answers(f"{stitcher}/healthz"):
        if edge and not answers(f"{edge}/edge/healthz"):
            raise RigError(
                f"the running rig has no edge on {edge}: start it with `rig up --edge`, or leave"
                " the edge out (--targets stitcher,nginx-static,aiohttp-bare)"
            )
        wait_for([media], START_TIMEOUT)
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
    print(f"bench: starting a rig ({' '.join(argv[2:])}); its output: {log}", flush=True)
    ready = [f"{stitcher}/healthz", media] + ([f"{edge}/edge/healthz"] if edge else [])
    with started(argv, log, ready, START_TIMEOUT, env) as process:
        rig = Rig(settings, stitcher, edge, process)
        rig.find_processes()
        yield rig


def stitcher_answer(rig: Rig, path: str) -> tuple[dict[str, str], bytes]:
    """The stitcher's answer to GET `path` (headers, body); RigError unless it is a 200."""
    status, headers, body = http_get(rig.stitcher + path)
    if status != 200:
        raise RigError(f"{rig.stitcher}{path} answered {status}")
    return headers, body


def snapshot(rig: Rig, plan: Plan) -> Snapshot:
    """The media playlist under load: the master's first variant, one answer of it."""
    _, body = stitcher_answer(rig, f"/{plan.mode}/{plan.channel}/master.m3u8")
    uri = parse_master_playlist(body.decode()).variants[0].uri.split("?")[0]
    path = f"/{plan.mode}/{plan.channel}/{uri}"
    headers, body = stitcher_answer(rig, path)
    return Snapshot(path, body, headers.get("ETag", '"x"'), headers.get("Cache-Control", ""))


def _parent(pids: list[int]) -> int:
    """The process of `pids` whose parent is not one of them (a fleet's parent)."""
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        ppid = int(
            next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1]
        )
        if ppid not in pids:
            return pid
    raise RigError("cannot tell the stitcher's parent process")


@contextlib.contextmanager
def stitcher_clone(rig: Rig, workers: int, cores: list[int], directory: Path):
    """Another `stitcher serve --workers N` with the rig's stitcher's environment (its config,
    state dir, KV), on a free port and `cores`, with its own metrics directory; yields its URL
    and processes. For the scaling runs: the rig's own stitcher keeps its worker count."""
    parent = _parent(rig.pids["stitcher"])
    raw = Path(f"/proc/{parent}/environ").read_bytes().split(b"\0")
    env = dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)
    metrics = directory / f"clone-metrics-{workers}"
    metrics.mkdir(parents=True, exist_ok=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    port = free_port()
    argv = [*pinned(cores), sys.executable, "-m", "stitcher.cli", "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers)]
    url = f"http://127.0.0.1:{port}"
    with started(argv, directory / f"clone-{workers}.log", [f"{url}/healthz"], 60.0, env) as p:
        yield url, procs.family([p.pid])
