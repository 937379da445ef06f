"""Child processes: how they die with their parent, and how long to wait before restarting one.

Used by everything that keeps a process running: the rig's supervisor (its components), the
worker fleets of the stitcher and the media server (`run_workers`) and the origin's live encoders
(ffmpeg). Servers raise their open-file limit with `more_files` and tune the garbage collector
with `server_gc`.
"""

from __future__ import annotations

import ctypes
import gc
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
# (resolved here, before any fork: the child must not load a library between fork and exec)


def _die_with_parent() -> None:
    _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)  # type: ignore[misc]


def death_signal() -> Callable[[], None] | None:
    """A `preexec_fn` that makes Linux SIGTERM the child when the process that started it dies,
    however it dies (SIGKILL included), so nothing outlives the rig; None where prctl is missing."""
    return _die_with_parent if _PRCTL is not None else None


def more_files() -> None:
    """Raise this process's open-file limit to its hard limit: a server holds a descriptor per
    client connection, and a soft limit of 1,024 (a common default) would refuse the rest."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


SERVER_GC = (50_000, 100, 100)  # gc thresholds of a server (CPython's default: 700, 10, 10)


def server_gc() -> None:
    """Garbage collection for a server holding thousands of connections: what was made at start
    (modules, the app, its caches) is frozen out of every collection, and cyclic collections run
    far less often. With CPython's defaults, a full collection walks every live connection's
    objects; at 10,000 connections those pauses alone pushed a bare aiohttp handler past a 2 s
    timeout on one core (docs/performance.md). Cyclic garbage waits longer (up to 50,000 new
    objects) before it is freed; everything else is freed at once by reference counting."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC)


@dataclass
class Backoff:
    """The pause before restarting something that stopped: `first`, doubling up to `limit`, and
    `first` again after a run that lasted `steady` seconds: something that ran well and then failed
    once comes back quickly, something that fails as it starts is not restarted in a tight loop."""

    first: float = 1.0
    limit: float = 30.0
    steady: float = 60.0
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.first

    def pause(self, ran_for: float) -> float:
        """The pause before the next start, after a run that lasted `ran_for` seconds."""
        if ran_for > self.steady:
            self._next = self.first
        pause = self._next
        self._next = min(self.limit, self._next * 2)
        return pause


STARTUP = 10.0  # seconds within which a worker that fails (exit status > 0) means the fleet
# cannot start (a bad config, a broken store); one killed by a signal is replaced at any time


def run_workers(
    name: str,
    url: str,
    sockets: Sequence[socket.socket],
    argv: Sequence[str],
    env: Mapping[str, str],
    workers: int,
) -> int:
    """Run `workers` copies of `argv` (a server that accepts on the listening `sockets` held here
    and passed to it by descriptor) until SIGINT/SIGTERM; replace a worker that exits (all stop,
    and 2 is returned, if one fails with an exit status while starting). Holding the sockets here
    is what makes a worker's death cost nothing: the connections it would have taken wait in the
    kernel's backlog for the next accept, by another worker or by its replacement, instead of
    being refused. Closes the sockets at the end."""
    fds = [sock.fileno() for sock in sockets]
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def start() -> subprocess.Popen:
        return subprocess.Popen(list(argv), env=dict(env), pass_fds=fds, preexec_fn=death_signal())

    started = time.monotonic()
    children = [start() for _ in range(workers)]
    born = [started] * workers
    due: dict[int, float] = {}  # slot -> when its replacement starts (a pause that grows)
    backoff = [Backoff(first=0.2) for _ in range(workers)]  # at once, unless it keeps failing
    print(
        f"{name}: {workers} worker{'s' if workers > 1 else ''} on {url} (pids "
        f"{', '.join(str(c.pid) for c in children)}; one listening socket, held here)",
        flush=True,
    )
    failed = 0
    try:
        while not stopping:
            now = time.monotonic()
            for slot, child in enumerate(children):
                if slot in due:
                    if now >= due[slot]:
                        del due[slot]
                        children[slot] = start()
                        born[slot] = now
                        new = children[slot].pid
                        print(f"{name}: worker {new} started (replacing {child.pid})", flush=True)
                    continue
                if child.poll() is None:
                    continue
                if now - started < STARTUP and child.returncode > 0:
                    print(
                        f"{name}: worker {child.pid} exited with {child.returncode} while "
                        "starting; stopping",
                        file=sys.stderr,
                        flush=True,
                    )
                    failed = 2
                    stopping = True
                    break
                pause = backoff[slot].pause(now - born[slot])
                due[slot] = now + pause
                print(
                    f"{name}: worker {child.pid} exited with {child.returncode}; starting another"
                    f" in {pause:g} s",
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        for sock in sockets:
            sock.close()
    return failed
