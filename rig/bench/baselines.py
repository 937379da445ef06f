"""The two baselines of `rig bench load`, serving a snapshot of the measured playlist (the same
bytes and headers) on the servers' cores: nginx answering a static file (what the edge could do at
best) and a bare aiohttp handler (what the stitcher could do at best: `rig.bench.bare`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rig.edge import find_nginx, worker_user
from stitcher.errors import RigError

__all__ = ["Snapshot", "Baseline", "static_nginx", "bare_aiohttp", "free_port"]


@dataclass(frozen=True)
class Snapshot:
    """One answer of the stitcher: its path, bytes and the headers a baseline repeats."""

    path: str
    body: bytes
    etag: str
    cache_control: str


@dataclass(frozen=True)
class Baseline:
    url: str
    pids: list[int]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nginx_conf(root: Path, port: int, snapshot: Snapshot, workers: int) -> str:
    user = worker_user()
    return f"""{f"user {user};" if user else ""}
worker_processes {workers};
worker_rlimit_nofile 65536;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
daemon off;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    types {{ application/vnd.apple.mpegurl m3u8; }}
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root}/www;
        location / {{
            add_header Cache-Control "{snapshot.cache_control}";
            add_header Access-Control-Allow-Origin "*";
        }}
    }}
}}
"""


def _wait(url: str, process: subprocess.Popen, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RigError(f"{what} exited at start ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RigError(f"{what} did not answer {url} within {seconds:.0f} s")


def _pinned(cores: list[int]) -> list[str]:
    return ["taskset", "-c", ",".join(map(str, cores))] if cores else []


@contextmanager
def _running(argv: list[str], url: str, what: str, log: Path):
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait(url, process, what)
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def static_nginx(snapshot: Snapshot, directory: Path, cores: list[int], workers: int = 1):
    """nginx serving `snapshot` as a file (ETag from the file, the same Cache-Control)."""
    root = directory / "nginx-static"
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    target = root / "www" / snapshot.path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(snapshot.body)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(_nginx_conf(root, port, snapshot, workers))
    argv = [*_pinned(cores), find_nginx(), "-p", str(root), "-e", str(root / "error.log")]
    url = f"http://127.0.0.1:{port}{snapshot.path}"
    with _running([*argv, "-c", str(conf)], url, "the nginx baseline", root / "out.log") as p:
        yield Baseline(url, [p.pid])


@contextmanager
def bare_aiohttp(snapshot: Snapshot, directory: Path, cores: list[int], processes: int = 1):
    """`rig.bench.bare` serving `snapshot` (one or more processes on one socket)."""
    root = directory / "aiohttp-bare"
    root.mkdir(parents=True, exist_ok=True)
    body = root / "body.m3u8"
    body.write_bytes(snapshot.body)
    port = free_port()
    argv = [
        *_pinned(cores),
        sys.executable,
        "-m",
        "rig.bench.bare",
        f"--port={port}",
        f"--body={body}",
        f"--path={snapshot.path}",
        f"--etag={snapshot.etag}",
        f"--cache-control={snapshot.cache_control}",
        f"--processes={processes}",
    ]
    url = f"http://127.0.0.1:{port}{snapshot.path}"
    with _running(argv, url, "the aiohttp baseline", root / "out.log") as p:
        yield Baseline(url, [p.pid])
