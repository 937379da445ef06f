"""Faults QA (and `rig chaos`) can switch on at the origin, per channel, for a number of seconds:
what a failing packager or origin shield does to live media playlists.

- `error`: an HTTP error status (503 unless `status` says otherwise) instead of the playlist;
- `timeout`: no answer until the fault is over (the request hangs, then gets the playlist);
- `garbage`: 200 with a body that is not a playlist (an error page behind a misconfigured CDN);
- `rewind`: the window as it was `back` seconds ago (a stale replica behind a load balancer:
  MEDIA-SEQUENCE goes back);
- `freeze`: the window as it was when the fault began (a packager that stopped writing: the
  playlist answers, and does not move).

Segments are not touched. Pure but for the clock it is given.
How and why: docs/origin.md, "`origin_emulator.faults`".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from origin_emulator.splices import SpliceError

__all__ = ["KINDS", "MAX_SECONDS", "OriginFault", "Faults", "GARBAGE"]

KINDS = ("error", "timeout", "garbage", "rewind", "freeze")
MAX_SECONDS = 600.0  # the longest fault one request may switch on
GARBAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>\n"


@dataclass(frozen=True)
class OriginFault:
    kind: str
    since: float  # clock seconds
    until: float
    status: int = 503  # error
    back: float = 0.0  # rewind: seconds

    def to_json(self, now: float) -> dict:
        return {
            "fault": self.kind,
            "since": self.since,
            "until": self.until,
            "left": round(max(0.0, self.until - now), 3),
            **({"status": self.status} if self.kind == "error" else {}),
            **({"back": self.back} if self.kind == "rewind" else {}),
        }

    @classmethod
    def parse(cls, body: dict, now: float, segment_duration: float) -> OriginFault:
        """The fault a control request asks for; SpliceError (400) says what is wrong with it."""
        unknown = set(body) - {"fault", "seconds", "status", "back"}
        if unknown:
            raise SpliceError(f"unknown field(s): {', '.join(sorted(unknown))}")
        kind = body.get("fault")
        if kind not in KINDS:
            raise SpliceError(f"fault must be one of {', '.join(KINDS)}, got {kind!r}")
        seconds = _seconds(body, "seconds", None)
        if seconds is None or not 0 < seconds <= MAX_SECONDS:
            raise SpliceError(f"seconds must be in (0, {MAX_SECONDS:g}], got {seconds!r}")
        status = body.get("status", 503)
        if kind == "error" and (
            isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
        ):
            raise SpliceError(f"status must be an HTTP error status (400-599), got {status!r}")
        back = _seconds(body, "back", 3 * segment_duration)
        if kind == "rewind" and (back is None or not 0 < back <= 3600):
            raise SpliceError(f"back must be in (0, 3600] seconds, got {back!r}")
        return cls(kind, now, now + seconds, int(status), float(back or 0.0))


def _seconds(body: dict, name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpliceError(f"{name} must be a number of seconds, got {value!r}")
    return float(value)


class Faults:
    """The fault switched on for each channel, if any (one at a time: a new one replaces it)."""

    def __init__(self) -> None:
        self._on: dict[str, OriginFault] = {}

    def set(self, channel: str, fault: OriginFault) -> None:
        self._on[channel] = fault

    def clear(self, channel: str) -> OriginFault | None:
        return self._on.pop(channel, None)

    def active(self, channel: str, now: float) -> OriginFault | None:
        fault = self._on.get(channel)
        if fault is not None and now >= fault.until:
            del self._on[channel]
            return None
        return fault
