"""Child processes: how they die with their parent, and how long to wait before restarting one.

Used by everything that keeps a process running: the rig's supervisor (its components), the
stitcher's worker fleet and the origin's live encoders (ffmpeg). Servers raise their open-file
limit with `more_files` and tune the garbage collector with `server_gc`.
"""

from __future__ import annotations

import ctypes
import gc
import resource
import signal
import sys
from collections.abc import Callable
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
