"""The two baselines of `rig bench load`, serving a snapshot of the measured playlist (the same
bytes and headers) on the servers' cores: nginx answering a static file (what the edge could do at
best) and a bare aiohttp handler (what the stitcher could do at best: `rig.bench.bare`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rig import procs
from rig.children import free_port, http_get, pinned, started
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
    """A target's URL and processes; a baseline also has the file its bytes come from and whether
    its processes read that file once (SIGHUP: again) or on every request."""

    url: str
    pids: list[int]
    body_file: Path | None = None
    reads_on_hup: bool = False

    def serve(self, body: bytes, timeout: float = 5.0) -> None:
        """Answer `body` from now on (a baseline; the rig's own targets are left alone): the file
        replaced at once, the processes told, and their answer read back until it is `body`."""
        if self.body_file is None:
            return
        spare = self.body_file.with_name(self.body_file.name + ".new")
        spare.write_bytes(body)
        spare.replace(self.body_file)  # a reader sees the old bytes or the new, never half
        if self.reads_on_hup:
            for pid in procs.family(self.pids):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while http_get(self.url)[2] != body:
            if time.monotonic() > deadline:
                raise RigError(
                    f"{self.url} still answers other bytes {timeout:.0f} s after a renewal"
                )
            time.sleep(0.02)


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
    argv = [*pinned(cores), find_nginx(), "-p", str(root), "-e", str(root / "error.log")]
    url = f"http://127.0.0.1:{port}{snapshot.path}"
    with started([*argv, "-c", str(conf)], root / "out.log", [url]) as process:
        yield Baseline(url, [process.pid], target)


@contextmanager
def bare_aiohttp(snapshot: Snapshot, directory: Path, cores: list[int], processes: int = 1):
    """`rig.bench.bare` serving `snapshot` (one or more processes on one socket)."""
    root = directory / "aiohttp-bare"
    root.mkdir(parents=True, exist_ok=True)
    body = root / "body.m3u8"
    body.write_bytes(snapshot.body)
    port = free_port()
    argv = [
        *pinned(cores),
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
    with started(argv, root / "out.log", [url]) as process:
        yield Baseline(url, [process.pid], body, reads_on_hup=True)
