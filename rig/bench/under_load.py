"""The rig `rig bench load` measures: the one running at the configured ports, or one it starts
(`rig up --headless --edge --kv redis`); its URLs and the processes of each component, and the
playlist under load."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from rig.bench import procs
from rig.bench.baselines import Snapshot, free_port
from rig.bench.plan import Plan
from rig.settings import Settings, load_settings
from rig.up import port_env
from stitcher.commands import settings_env
from stitcher.errors import RigError
from stitcher.playlist import parse_master_playlist

__all__ = ["Rig", "the_rig", "snapshot", "stitcher_clone", "http_get"]

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


def http_get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _answers(url: str) -> bool:
    try:
        return http_get(url, 2.0)[0] == 200
    except OSError:
        return False


def _wait_for(
    urls: list[str],
    process: subprocess.Popen | None,
    log: Path | None,
    seconds: float = START_TIMEOUT,
) -> None:
    deadline = time.monotonic() + seconds
    while not all(_answers(u) for u in urls):
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log else ""
            raise RigError(f"a process the bench started exited ({process.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise RigError(f"no answer from {', '.join(urls)} in {seconds:.0f} s")
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
    status, _, body = http_get(rig.stitcher + master_path)
    if status != 200:
        raise RigError(f"{rig.stitcher}{master_path} answered {status}")
    master = parse_master_playlist(body.decode())
    uri = master.variants[0].uri.split("?")[0]
    path = f"/{plan.mode}/{plan.channel}/{uri}"
    status, headers, body = http_get(rig.stitcher + path)
    if status != 200:
        raise RigError(f"{rig.stitcher}{path} answered {status}")
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
    argv = ["taskset", "-c", ",".join(map(str, cores)), sys.executable, "-m", "stitcher.cli"]
    argv += ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    log = directory / f"clone-{workers}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for([f"{url}/healthz"], process, log, 60.0)
        yield url, procs.family([process.pid])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
