"""What one splice measures, from the bytes of the two segments around it. Pure.

`measure` turns two MPEG-TS segments into a `SpliceReport` (both sides' audio/video offsets, the
sound a player must bridge, the continuity counters); `BoundaryTracker` picks each new boundary
out of successive reloads of a media playlist, once; `Summary` is a whole run. How and why:
docs/splices.md ("Checking any stream").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from stitcher.playlist import MediaPlaylist
from stitcher.ts import (
    CLOCK,
    NULL_PID,
    PAT_PID,
    AvTiming,
    TsError,
    TsInfo,
    av_timing,
    bridge,
    scan,
    unchained,
)

PID_NAMES = {PAT_PID: "PAT", 0x0001: "CAT", 0x0011: "SDT", 0x0012: "EIT", 0x0014: "TDT"}


def milliseconds(ticks: int | None) -> float | None:
    """90 kHz ticks in milliseconds, to a tenth (None stays None)."""
    return None if ticks is None else round(ticks * 1000 / CLOCK, 1)


@dataclass(frozen=True)
class Boundary:
    """Where segment `msn` follows segment `msn - 1` in the playlist; `discontinuity`: an
    EXT-X-DISCONTINUITY sits before segment `msn` (its discontinuity sequence number is then
    higher)."""

    discontinuity: bool
    msn: int | None = None
    before_uri: str = ""
    after_uri: str = ""
    # the discontinuity sequence numbers of both segments (RFC 8216 §6.2.2)
    before_dsn: int | None = None
    after_dsn: int | None = None


@dataclass(frozen=True)
class CcProblem:
    """A PID whose continuity counter does not count on across the boundary, and is not flagged."""

    pid: int
    name: str
    before: int  # last counter before the boundary
    after: int  # first counter after it

    def text(self) -> str:
        return f"{self.name} 0x{self.pid:04X} cc {self.before}->{self.after}"


@dataclass(frozen=True)
class SpliceReport:
    """What one boundary measures; `error` when its segments could not be fetched or read."""

    boundary: Boundary
    before: AvTiming | None = None
    after: AvTiming | None = None
    bridge: int | None = None  # ticks: positive a hole, negative an overlap
    audio_frame: int | None = None  # ticks of one AAC frame (1920 at 48 kHz)
    cc_problems: tuple[CcProblem, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The sound to bridge is within one AAC frame (the continuity counters are `cc_ok`)."""
        return (
            self.error is None and self.bridge is not None and abs(self.bridge) <= self.audio_frame
        )

    @property
    def cc_ok(self) -> bool:
        return self.error is None and not self.cc_problems

    @property
    def passed(self) -> bool:
        return self.ok and self.cc_ok

    def to_json(self) -> dict[str, Any]:
        b = self.boundary
        kind = (
            None
            if self.bridge is None
            else "hole"
            if self.bridge > 0
            else "overlap"
            if self.bridge < 0
            else "none"
        )
        return {
            "type": "boundary",
            "msn": b.msn,
            "discontinuity": b.discontinuity,
            "dsn_before": b.before_dsn,
            "dsn_after": b.after_dsn,
            "before_uri": b.before_uri,
            "after_uri": b.after_uri,
            "before_end_offset_ms": milliseconds(self.before.end_offset) if self.before else None,
            "after_start_offset_ms": milliseconds(self.after.start_offset) if self.after else None,
            "bridge_ms": milliseconds(self.bridge),
            "bridge_ticks": self.bridge,
            "bridge_kind": kind,
            "audio_frame_ms": milliseconds(self.audio_frame),
            "ok": self.ok,
            "cc_ok": self.cc_ok,
            "cc_problems": [p.text() for p in self.cc_problems],
            "error": self.error,
        }


def _pid_name(pid: int, info: TsInfo) -> str:
    if pid in info.streams:
        return info.streams[pid].kind
    return PID_NAMES.get(pid, "PSI")


def continuity_problems(before: TsInfo, after: TsInfo) -> tuple[CcProblem, ...]:
    """PIDs in both segments whose first counter after the boundary is neither the last one before
    it plus one (mod 16) nor flagged with the discontinuity_indicator."""
    return tuple(
        CcProblem(pid, _pid_name(pid, after), before.last_cc[pid], after.first_cc[pid])
        for pid in unchained(before, after)
        if pid != NULL_PID and pid not in after.flagged
    )


def measure_scanned(
    before: TsInfo, after: TsInfo, discontinuity: bool, boundary: Boundary | None = None
) -> SpliceReport:
    """`measure` on segments already scanned."""
    boundary = boundary or Boundary(discontinuity)
    timings = []
    for side, info in (("before", before), ("after", after)):
        try:
            timings.append(av_timing(info))
        except TsError as exc:
            return SpliceReport(
                boundary,
                cc_problems=continuity_problems(before, after),
                error=f"segment {side}: {exc}",
            )
    a, b = timings
    return SpliceReport(
        boundary,
        a,
        b,
        bridge(a, b, discontinuity),
        min(a.audio_frame, b.audio_frame),
        continuity_problems(before, after),
    )


def measure(
    before: bytes, after: bytes, discontinuity: bool, boundary: Boundary | None = None
) -> SpliceReport:
    """Measure the boundary where the segment `after` follows `before` (MPEG-TS bytes): both sides'
    audio/video offsets, the sound to bridge (across a discontinuity each side against its own
    picture, else on the absolute timestamps) and the continuity counters. Bytes that are not a
    transport stream with H.264 and AAC give a report with `error`."""
    boundary = boundary or Boundary(discontinuity)
    try:
        return measure_scanned(scan(before), scan(after), discontinuity, boundary)
    except (TsError, IndexError) as exc:
        return SpliceReport(boundary, error=str(exc))


class BoundaryTracker:
    """Picks the boundaries not seen before out of successive reloads of one media playlist.

    Keyed by media sequence number: each boundary (msn - 1, msn) is given once, as soon as both
    segments have been seen (in one reload or in two), with the URI and discontinuity first seen
    for each. `every`: continuous boundaries too, not only discontinuities. `missed` holds the
    ranges of MSNs whose boundary was never visible (the window moved on further than a reload
    between two loads).
    """

    def __init__(self, every: bool = False):
        self.every = every
        self.missed: list[tuple[int, int]] = []
        # msn -> (dsn, absolute URI, discontinuity before it)
        self._segments: dict[int, tuple[int, str, bool]] = {}
        self._done: set[int] = set()
        self._highest: int | None = None

    def update(self, playlist: MediaPlaylist, base_url: str) -> list[Boundary]:
        """The new boundaries of this reload (`base_url`: the playlist's URL, to resolve URIs)."""
        numbered = list(playlist.numbered())
        if not numbered:
            return []
        first = numbered[0][0]
        if self._highest is not None and first > self._highest + 1:
            self.missed.append((self._highest + 1, first))
        for msn, dsn, segment in numbered:
            self._segments.setdefault(
                msn, (dsn, urljoin(base_url, segment.uri), segment.discontinuity > 0)
            )
        found = []
        for msn, _, _ in numbered:
            previous = self._segments.get(msn - 1)
            if msn in self._done or previous is None:
                continue
            self._done.add(msn)
            dsn, uri, discontinuity = self._segments[msn]
            if discontinuity or self.every:
                found.append(Boundary(discontinuity, msn, previous[1], uri, previous[0], dsn))
        self._highest = max(
            numbered[-1][0], self._highest if self._highest is not None else numbered[-1][0]
        )
        keep_from = min(first, self._highest) - 1
        self._segments = {m: v for m, v in self._segments.items() if m >= keep_from}
        self._done = {m for m in self._done if m >= keep_from}
        return found


@dataclass
class Summary:
    """A whole run: every report in order, what could not be seen, and the verdict."""

    url: str
    media_url: str
    started: float
    ended: float = 0.0
    reports: list[SpliceReport] = field(default_factory=list)
    missed: list[tuple[int, int]] = field(default_factory=list)
    reloads: int = 0
    reload_errors: int = 0

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.reports)

    @property
    def exit_code(self) -> int:
        """0 every boundary within one AAC frame with good continuity counters, else 1."""
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        bridges = [r.bridge for r in self.reports if r.bridge is not None]
        return {
            "type": "summary",
            "url": self.url,
            "media_url": self.media_url,
            "seconds": round(self.ended - self.started, 3),
            "boundaries": len(self.reports),
            "discontinuities": sum(r.boundary.discontinuity for r in self.reports),
            "over_one_frame": sum(1 for r in self.reports if r.error is None and not r.ok),
            "with_cc_problems": sum(1 for r in self.reports if r.cc_problems),
            "errors": sum(1 for r in self.reports if r.error is not None),
            "largest_hole_ms": milliseconds(max((b for b in bridges if b > 0), default=None)),
            "largest_overlap_ms": milliseconds(min((b for b in bridges if b < 0), default=None)),
            "missed_msns": [list(m) for m in self.missed],
            "reloads": self.reloads,
            "reload_errors": self.reload_errors,
            "ok": self.ok,
        }
