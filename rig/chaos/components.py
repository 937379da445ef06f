"""The processes of a rig that `rig chaos` started, found again before every fault (a component
the supervisor restarted has a new pid), and whether each one answers.

A rig's components are the children of its `rig up` process, told apart by their command lines;
the stitcher's and the media server's serving processes are the workers of a parent that holds
their listening socket (`stitcher.processes.run_workers`). Reads /proc (Linux).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from rig import procs
from rig.settings import Settings
from rig.supervisor import answers, components

__all__ = ["ROLES", "Processes", "Endpoints"]

# role -> what its command line holds; "-worker" roles are the children of that process
_COMMANDS = {
    "origin": ("origin-emulator", "serve"),
    "media": ("media", "serve"),
    "stitcher": ("stitcher", "serve"),
    "monitor": ("stitcher", "monitor"),
    "redis": ("redis-server",),
    "edge": ("nginx",),
}
ROLES = (*_COMMANDS, "stitcher-worker", "media-worker")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [Path(arg).name if i == 0 else arg for i, arg in enumerate(raw.decode().split("\0"))]


def _matches(argv: list[str], words: tuple[str, ...]) -> bool:
    """Every word is on the command line, the first as the program (or its first argument, for a
    `python -m` start)."""
    head = " ".join(argv[:6])
    return all(word in head for word in words)


class Processes:
    """The components of the rig whose `rig up` process is `rig_pid`."""

    def __init__(self, rig_pid: int):
        self.rig_pid = rig_pid

    def pids(self, role: str) -> list[int]:
        """The processes playing `role` now (empty while it is being restarted)."""
        base, _, worker = role.partition("-")
        words = _COMMANDS[base]
        found = [p for p in procs.children(self.rig_pid) if _matches(_cmdline(p), words)]
        if worker:
            return sorted(w for p in found for w in procs.children(p))
        return sorted(found)

    def alive(self, pids: list[int]) -> bool:
        """Is any of these processes still there (not a zombie)?"""
        return any(procs.state(pid) not in ("", "Z", "X") for pid in pids)


class Endpoints:
    """What answers for each component of the rig once it is ready: the health checks its
    supervisor uses (`rig.supervisor.components`)."""

    def __init__(self, settings: Settings):
        self._health = {c.name: c.health for c in components(settings, None)}

    async def answers(self, role: str, session: aiohttp.ClientSession) -> bool:
        """Does the component of `role` answer its health check (the monitor has none: True)?"""
        health = self._health.get(role.partition("-")[0])
        return health is None or await answers(health, session)
