"""The processes `rig bench load`, `rig chaos` and `rig soak` look at, read from /proc (Linux):
which process listens on a port, its descendants, CPU time, resident memory and open file
descriptors, and pinning to CPU cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "listeners",
    "family",
    "children",
    "state",
    "cpu_seconds",
    "rss_mib",
    "open_fds",
    "pin",
    "affinity",
    "cores",
]

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
LISTEN = "0A"  # the TCP state of a listening socket in /proc/net/tcp


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def listeners(port: int) -> list[int]:
    """The processes holding a socket listening on `port` (a server's master and its workers)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def children(pid: int) -> list[int]:
    """The processes `pid` started that are still there."""
    kids = []
    try:
        for task in (PROC / str(pid) / "task").iterdir():
            kids += [int(k) for k in (task / "children").read_text().split()]
    except OSError:
        pass
    return kids


def family(pids: Iterable[int]) -> list[int]:
    """`pids` and all their descendants."""
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo += children(pid)
    return sorted(seen)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time the processes have used so far (gone processes count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS


def rss_mib(pids: Iterable[int]) -> float:
    """Resident memory of the processes together, in MiB."""
    total = 0
    for pid in pids:
        try:
            for line in (PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def open_fds(pids: Iterable[int]) -> int:
    """File descriptors the processes hold open together (gone processes count 0)."""
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(PROC / str(pid) / "fd"))
        except OSError:
            continue
    return total


def cores() -> list[int]:
    """The CPU cores this process may run on."""
    return sorted(os.sched_getaffinity(0))


def affinity(pids: Iterable[int]) -> dict[int, set[int]]:
    """Every thread's current cores, to give back with `pin` later."""
    found = {}
    for pid in pids:
        for tid in _threads(pid):
            try:
                found[tid] = os.sched_getaffinity(tid)
            except OSError:
                continue
    return found


def pin(pids: Iterable[int], to: Iterable[int]) -> None:
    """Run every thread of the processes on the cores `to` only."""
    wanted = set(to)
    for pid in pids:
        for tid in _threads(pid):
            try:
                os.sched_setaffinity(tid, wanted)
            except OSError:
                continue  # a thread that ended meanwhile


def _threads(pid: int) -> list[int]:
    try:
        return [int(t.name) for t in (PROC / str(pid) / "task").iterdir()]
    except OSError:
        return []


def state(pid: int) -> str:
    """The process's state letter (R, S, T for stopped, Z for a zombie...); "" when it is gone."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
