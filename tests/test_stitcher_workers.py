"""`stitcher serve --workers N` and `rig media serve --workers N`: the parent listens on the port
itself and its workers accept on that one socket, so a worker killed with `kill -9` costs viewers
nothing (`stitcher.processes.run_workers`, one implementation for both servers).

Real processes on loopback (`GET /healthz` is all they serve here: no origin needed), bounded,
synchronised by polling with deadlines:
- two workers: one is SIGKILLed under a load of concurrent requests, the other keeps answering,
  a replacement appears on the same socket and answers too; no request fails;
- one worker: the only worker is SIGKILLed under load; the connections wait in the parent's
  backlog (nobody is refused) and its replacement answers them; no request fails; the same for the
  media server (what `rig up` runs: one worker behind a parent);
- a port in use is one clear line before any worker starts.

Every request of the load opens a fresh connection (each lands wherever the kernel queues it).
Requests the killed worker had already accepted die with it: the client resends those (aiohttp
retries an idempotent request once when the connection closes without an answer, as RFC 9112
allows); there can be at most one per client loop, and the test counts them (`resent`). A refused
connection is never retried: it would be a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.test_realtime import free_port

ROOT = Path(__file__).resolve().parents[1]
LOOPS = 4  # concurrent clients
CLIENT_TIMEOUT = 8.0  # seconds a request may wait (in the backlog, while a worker restarts)


class Fleet:
    """A running `stitcher serve --workers N` and what it printed (stdout and stderr, read by a
    thread)."""

    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def find(self, pattern: str) -> re.Match[str] | None:
        for line in list(self.lines):
            if match := re.search(pattern, line):
                return match
        return None

    def wait_line(self, pattern: str, seconds: float) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while (match := self.find(pattern)) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no line matching {pattern!r}:\n{self.output()}")
            time.sleep(0.05)
        return match

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_healthy(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.url} did not come up:\n{self.output()}")
            time.sleep(0.1)


SERVERS = {
    "stitcher": [sys.executable, "-m", "stitcher.cli", "serve"],
    "media server": [sys.executable, "-m", "rig.cli", "media", "serve"],
}


@contextlib.contextmanager
def fleet(
    tmp_path: Path, workers: int, port: int | None = None, server: str = "stitcher"
) -> Iterator[Fleet]:
    """`stitcher serve --workers N` (or the media server's) on a free port over a fresh state dir
    (empty channel database, SQLite KV); stopped with SIGTERM afterwards, which must end it
    cleanly."""
    port = port or free_port()
    env = {**os.environ, "RIG_STATE_DIR": str(tmp_path / "state")}
    env.pop("RIG_STITCHER_WORKERS", None)
    process = subprocess.Popen(
        [*SERVERS[server], "--workers", str(workers), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Fleet(process, port)
    try:
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, running.output()


def listen_fds(pid: int) -> list[int]:
    """The fds a worker serves on: `--listen-fd N` on its command line."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return [int(argv[i + 1]) for i, arg in enumerate(argv) if arg == b"--listen-fd"]


def shares_the_parents_socket(fleet: Fleet, worker: int) -> bool:
    """The worker accepts on the very socket the parent holds: the same fd numbers name the same
    socket ("socket:[inode]") in both processes."""
    fds = listen_fds(worker)
    mine = [os.readlink(f"/proc/{worker}/fd/{fd}") for fd in fds]
    parent = [os.readlink(f"/proc/{fleet.process.pid}/fd/{fd}") for fd in fds]
    return bool(fds) and mine == parent and all(name.startswith("socket:[") for name in mine)


@dataclass
class Load:
    """What a load of requests met."""

    ok: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    answered_by: Counter[int] = field(default_factory=Counter)  # worker pid -> requests
    requests: int = 0
    connections: int = 0
    slowest: float = 0.0

    @property
    def resent(self) -> int:
        """Requests the client sent twice: the killed worker had accepted them (one connection
        each, every request opening its own)."""
        return self.connections - self.requests


async def kill_under_load(fleet: Fleet, victim: int, bound: float = 10.0) -> Load:
    """LOOPS clients GET /healthz back to back; once `victim` has answered some of them, SIGKILL
    it; go on until the worker that replaces it has answered some too and at least a second has
    passed since the kill (within `bound` seconds)."""
    load = Load()

    async def connection_made(*_) -> None:
        load.connections += 1

    async def request_started(*_) -> None:
        load.requests += 1

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(connection_made)
    trace.on_request_start.append(request_started)
    begun = time.monotonic()
    killed_at: float | None = None

    def replaced() -> bool:
        found = fleet.find(rf"worker (\d+) started \(replacing {victim}\)")
        return found is not None and load.answered_by[int(found[1])] > 0

    def going() -> bool:
        now = time.monotonic()
        if now - begun > bound:
            return False
        return killed_at is None or now - killed_at < 1.0 or not replaced()

    async def client(session: aiohttp.ClientSession) -> None:
        while going():
            sent = time.monotonic()
            try:
                async with session.get(fleet.url) as response:
                    body = await response.json()
                    if response.status == 200:
                        load.ok += 1
                        load.answered_by[body["pid"]] += 1
                    else:
                        load.failed[f"HTTP {response.status}"] += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                load.failed[type(exc).__name__] += 1
            load.slowest = max(load.slowest, time.monotonic() - sent)

    async def killer() -> None:
        nonlocal killed_at
        while load.answered_by[victim] < 50 and going():
            await asyncio.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True),  # a fresh connection per request
        timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT),
        trace_configs=[trace],
    ) as session:
        await asyncio.gather(killer(), *(client(session) for _ in range(LOOPS)))
    print(
        f"load: {load.ok} answered, failed {dict(load.failed)}, resent {load.resent}, slowest "
        f"{load.slowest:.2f} s, by worker {dict(load.answered_by)}"
    )
    return load


def started_fleet(fleet: Fleet, workers: int, server: str = "stitcher") -> list[int]:
    """The workers' pids, once they answer (a worker killed by a signal is replaced at any time;
    only one failing with an exit status during the start-up stops the fleet)."""
    announced = fleet.wait_line(rf"{server}: \d+ workers? on .* \(pids ([\d, ]+);", 30)
    pids = [int(pid) for pid in announced[1].split(", ")]
    assert len(pids) == workers
    fleet.wait_healthy(30)
    for pid in pids:
        assert shares_the_parents_socket(fleet, pid)
    return pids


@pytest.mark.realtime
def test_a_killed_worker_costs_nothing_the_others_answer(tmp_path):
    with fleet(tmp_path, workers=2) as running:
        victim, survivor = started_fleet(running, 2)
        load = asyncio.run(kill_under_load(running, victim))
        assert load.failed == Counter(), running.output()
        assert load.resent <= LOOPS  # at most the requests the killed worker held
        assert load.answered_by[survivor] > 0
        assert running.find(rf"worker {victim} exited with -9; starting another")
        replacement = int(running.wait_line(rf"worker (\d+) started \(replacing {victim}\)", 1)[1])
        assert load.answered_by[replacement] > 0
        assert shares_the_parents_socket(running, replacement)


@pytest.mark.realtime
@pytest.mark.parametrize("server", SERVERS)
def test_with_one_worker_connections_wait_in_the_backlog_while_it_restarts(tmp_path, server):
    with fleet(tmp_path, workers=1, server=server) as running:
        (victim,) = started_fleet(running, 1, server)
        load = asyncio.run(kill_under_load(running, victim))
        assert load.failed == Counter(), running.output()  # nobody refused: they waited
        assert load.resent <= LOOPS
        replacement = int(running.wait_line(rf"worker (\d+) started \(replacing {victim}\)", 1)[1])
        assert load.answered_by[replacement] > 0
        assert set(load.answered_by) == {victim, replacement}
        assert shares_the_parents_socket(running, replacement)


def test_a_port_in_use_is_one_clear_line_and_no_worker_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "stitcher.cli", "serve", "--workers", "2"]
            + ["--port", str(port), "--state-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"stitcher: stitcher cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another rig running? set RIG_STITCHER_PORT)"
    ]
    assert "workers on" not in result.stdout
