"""The faults `rig chaos` injects, one at a time and overlapping, each with what must hold.

A fault is a signal to the processes of one or more components (`rig.chaos.components`), sent at
a moment of an ad break's life (`when`), and for SIGSTOP the seconds until SIGCONT; or a fault the
origin is asked to play for some seconds (`origin_emulator.faults`: 5xx, no answer, garbage, an
older window, a window that stops moving); or the SQLite KV's own small disk filled up. Every fault
must cost no timeline violation and lose or duplicate no break; `zero_failures` faults must also
cost the viewers no failed request. Which faults and why: docs/faults.md, "`rig chaos`".
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from stitcher.errors import RigError

__all__ = ["Fault", "FAULTS", "choose"]

CUE = "cue"  # 0.3 s after the origin's splice is posted (its cue is in the playlists)
RECORDED = "recorded"  # as soon as the stitcher lists the break (the monitor has written it)
SPLICE = "splice"  # at the splice point: the moment the stitched playlists switch to the ad


@dataclass(frozen=True)
class Fault:
    name: str
    roles: tuple[str, ...]  # the components it hits (rig.chaos.components.ROLES)
    signal: signal.Signals
    when: str
    hold: float = 0.0  # SIGSTOP: seconds until SIGCONT; an origin fault: its seconds
    zero_failures: bool = False  # no viewer request may fail
    what: str = ""
    origin: str | None = None  # a fault switched on at the origin (origin_emulator.faults)
    disk: bool = False  # the SQLite KV's disk filled up for `hold` seconds

    @property
    def needs(self) -> set[str]:
        """What it needs in the rig: redis-server, the edge, the SQLite KV on a disk of its own."""
        return {r for r in self.roles if r in ("redis", "edge")} | (
            {"sqlite"} if self.disk else set()
        )


def _faults(kv_grace: float) -> list[Fault]:
    kill, stop, term = signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM
    return [
        Fault("none", (), signal.SIGCONT, SPLICE, what="no fault: the fleet's baseline"),
        Fault(
            "stitcher-worker:kill",
            ("stitcher-worker",),
            kill,
            SPLICE,
            zero_failures=True,
            what="kill -9 of the stitcher's worker as playlists switch to the ad",
        ),
        Fault(
            "monitor:kill",
            ("monitor",),
            kill,
            CUE,
            zero_failures=True,
            what="kill -9 of the SCTE-35 monitor 0.3 s after the origin's cue",
        ),
        Fault(
            "media-worker:kill",
            ("media-worker",),
            kill,
            RECORDED,
            zero_failures=True,
            what="kill -9 of the media server's worker right after the break is recorded",
        ),
        Fault(
            "redis:restart",
            ("redis",),
            term,
            RECORDED,
            zero_failures=True,
            what="redis-server stopped (SIGTERM) and restarted by the supervisor",
        ),
        Fault("redis:kill", ("redis",), kill, RECORDED, what="kill -9 of redis-server"),
        Fault("origin:kill", ("origin",), kill, SPLICE, what="kill -9 of the origin emulator"),
        Fault(
            "media:kill",
            ("media",),
            kill,
            RECORDED,
            what="kill -9 of the media server's parent (its socket, and its worker with it)",
        ),
        Fault(
            "stitcher:kill",
            ("stitcher",),
            kill,
            SPLICE,
            what="kill -9 of the stitcher's parent (its socket, and the workers with it)",
        ),
        Fault("edge:kill", ("edge",), kill, SPLICE, what="kill -9 of the nginx edge's master"),
        Fault(
            "stitcher-worker:stop",
            ("stitcher-worker",),
            stop,
            SPLICE,
            3.0,
            what="the stitcher's worker frozen (SIGSTOP) for 3 s",
        ),
        Fault(
            "monitor:stop",
            ("monitor",),
            stop,
            CUE,
            5.0,
            what="the monitor frozen for 5 s from 0.3 s after the cue",
        ),
        Fault(
            "media-worker:stop",
            ("media-worker",),
            stop,
            RECORDED,
            5.0,
            what="the ad server frozen for 5 s (slow: requests wait)",
        ),
        Fault("origin:stop", ("origin",), stop, SPLICE, 4.0, what="the origin frozen for 4 s"),
        Fault("edge:stop", ("edge",), stop, SPLICE, 3.0, what="the edge's master frozen for 3 s"),
        *(
            Fault(
                f"origin:{name}",
                (),
                signal.SIGCONT,
                SPLICE,
                seconds,
                what=f"the origin's media playlists {what} for {seconds:g} s",
                origin=kind,
            )
            for name, kind, seconds, what in (
                ("5xx", "error", 4.0, "answer 503"),
                ("timeout", "timeout", 4.0, "do not answer"),
                ("garbage", "garbage", 4.0, "answer an HTML error page with 200"),
                ("rewind", "rewind", 4.0, "show the window of three segments ago"),
                ("freeze", "freeze", 6.0, "stop moving"),
            )
        ),
        Fault(
            "redis:stop",
            ("redis",),
            stop,
            RECORDED,
            round(kv_grace + 5.0, 1),
            what=f"the KV unreachable (redis-server frozen) for {kv_grace + 5:g} s, beyond the"
            f" stitcher's {kv_grace:g} s grace, then back",
        ),
        Fault(
            "kv:disk-full",
            (),
            signal.SIGCONT,
            CUE,
            5.0,
            what="the SQLite KV's disk full for 5 s from 0.3 s after the cue (the monitor cannot"
            " write the break until it is not)",
            disk=True,
        ),
        Fault(
            "overlap:kill",
            ("stitcher-worker", "monitor", "media-worker"),
            kill,
            CUE,
            zero_failures=True,
            what="kill -9 of the stitcher's worker, the monitor and the media server's worker at"
            " once, 0.3 s after the cue",
        ),
        Fault(
            "overlap:redis+worker",
            ("redis", "stitcher-worker"),
            term,
            SPLICE,
            what="redis-server restarted and the stitcher's worker stopped (SIGTERM) together (a"
            " worker that starts before the store answers has no view: 503 until it can read one)",
        ),
    ]


def choose(names: list[str] | None, kv_grace: float, present: set[str]) -> list[Fault]:
    """The faults to run, in order: `names` (default: all), less those needing a component the
    rig does not run when no names were given; RigError for an unknown name or a fault whose
    component is missing."""
    every = _faults(kv_grace)
    by_name = {f.name: f for f in every}
    if not names:
        return [f for f in every if f.needs <= present]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise RigError(
            f"unknown fault(s) {', '.join(unknown)}; the faults are: {', '.join(by_name)}"
        )
    chosen = [by_name[n] for n in names]
    for fault in chosen:
        if not fault.needs <= present:
            missing = ", ".join(sorted(fault.needs - present))
            raise RigError(
                f"{fault.name} needs {missing} in the rig (--kv redis, --kv sqlite, --edge)"
            )
    return chosen


FAULTS = [f.name for f in _faults(30.0)]
