"""A break's record and the pure rules that place, shorten and read it (only the future changes).

Every time a write decides is at or after the start of the origin's segment after next, snapped to
the origin's grid; discontinuity points are explicit times on that grid. The SGAI interstitial's
end is fixed once it may have been served (`BreakRecord.sgai_end`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from stitcher.errors import RigError
from stitcher.playlist import MediaPlaylist, format_datetime, parse_datetime
from stitcher.pod import Pod, slot_count

SOURCES = ("scte35", "manual", "scheduled")


class BreakError(RigError):
    """A break write that cannot be done; `status` is the HTTP status for the /cue API."""

    status = 409


class BreakOverlap(BreakError):
    pass


class BreakTooLate(BreakError):
    pass


def _iso(t: float) -> str:
    return format_datetime(t)


def _epoch(text: str) -> float:
    return parse_datetime(text).timestamp()


@dataclass(frozen=True)
class Grid:
    """Segment boundaries of a regular origin, anchored on a fresh look at its playlist."""

    anchor: float  # PDT of the origin's newest published segment
    newest_end: float  # end of that segment = start of the one being produced
    segment: float  # nominal segment duration

    @classmethod
    def of(cls, playlist: MediaPlaylist, segment: float) -> Grid:
        starts = playlist.segment_times()
        if not playlist.segments or starts is None:
            raise BreakError(
                "the origin playlist has no PROGRAM-DATE-TIME: breaks cannot be placed in time"
            )
        newest = playlist.segments[-1]
        return cls(starts[-1], starts[-1] + newest.duration, segment)

    @property
    def earliest(self) -> float:
        """PDT of the segment after next: the first slot no stitcher can have served yet."""
        return self.newest_end + self.segment

    def snap(self, t: float) -> float:
        """The grid boundary nearest to `t`."""
        return round(self.anchor + round((t - self.anchor) / self.segment) * self.segment, 3)


@dataclass(frozen=True)
class BreakRecord:
    channel: str
    event_id: str
    source: str
    start: float  # the break's splice point (epoch seconds)
    duration: float  # planned duration
    end: float  # when content resumes (start + duration on the grid, or an early return)
    ad_start: float  # first replaced slot (>= start)
    pod: Pod
    points: tuple[float, ...]  # discontinuity times: each item's first slot, then the return
    created: float
    updated: float
    scte35: str | None = None
    cancelled: bool = False
    ledger_after: int = 0
    interstitial_end: float | None = None  # the end the SGAI interstitial announces (None: `end`)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def discontinuities(self) -> int:
        return len(self.points)

    @property
    def sgai_end(self) -> float:
        """Where the SGAI interstitial ends: fixed once it may have been served (module
        docstring)."""
        return self.end if self.interstitial_end is None else self.interstitial_end

    @property
    def entry(self) -> str:
        """Its key in the ledger index: one per break instance (an event id may be reused later)."""
        return f"{self.event_id}@{round(self.created * 1000)}"

    def state(self, now: float) -> str:
        if self.cancelled:
            return "cancelled"
        if now < self.ad_start:
            return "upcoming"
        return "active" if now < self.end else "ended"

    def to_json(self) -> dict:
        """The KV value: the break record's fields (docs/architecture.md, "The break record")."""
        return {
            "channelId": self.channel,
            "eventId": self.event_id,
            "source": self.source,
            "startTime": _iso(self.start),
            "duration": self.duration,
            "endTime": _iso(self.end),
            "adStart": _iso(self.ad_start),
            "decision": self.pod.to_json(),
            "discontinuities": self.discontinuities,
            "discontinuityTimes": [_iso(t) for t in self.points],
            "createdAt": _iso(self.created),
            "updatedAt": _iso(self.updated),
            "scte35Data": self.scte35,
            "cancelled": self.cancelled,
            "ledgerAfter": self.ledger_after,
            **(
                {"interstitialEnd": _iso(self.interstitial_end)}
                if self.interstitial_end is not None
                else {}
            ),
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> BreakRecord:
        return cls(
            channel=data["channelId"],
            event_id=str(data["eventId"]),
            source=data["source"],
            start=_epoch(data["startTime"]),
            duration=float(data["duration"]),
            end=_epoch(data["endTime"]),
            ad_start=_epoch(data["adStart"]),
            pod=Pod.from_json(data["decision"]),
            points=tuple(_epoch(t) for t in data["discontinuityTimes"]),
            created=_epoch(data["createdAt"]),
            updated=_epoch(data["updatedAt"]),
            scte35=data.get("scte35Data"),
            cancelled=bool(data.get("cancelled", False)),
            ledger_after=int(data.get("ledgerAfter", 0)),
            interstitial_end=_epoch(data["interstitialEnd"])
            if data.get("interstitialEnd")
            else None,
            extra=data.get("extra", {}),
        )

    def view(self, now: float) -> dict:
        """The API's view of a break (GET /breaks): the record plus its state."""
        return {**self.to_json(), "state": self.state(now)}


def discontinuity_points(ad_start: float, end: float, pod: Pod, grid: Grid) -> tuple[float, ...]:
    """Each pod item's first slot inside [ad_start, end), then the return; all on the grid."""
    if end <= ad_start:
        return ()
    points: list[float] = []
    offset = 0.0
    for item in pod.items:
        t = grid.snap(ad_start + offset)
        if t >= end - 1e-6:
            break
        if not points or t > points[-1] + 1e-6:
            points.append(t)
        offset += item.duration
    else:  # the pod ran out before the break's end: filler slate from there (its own splice)
        t = grid.snap(ad_start + offset)
        if t < end - 1e-6 and (not points or t > points[-1] + 1e-6):
            points.append(t)
    points.append(end)
    return tuple(points)


def plan_break(
    channel: str,
    event_id: str,
    source: str,
    start: float,
    duration: float,
    pod: Pod,
    grid: Grid,
    now: float,
    scte35: str | None = None,
) -> BreakRecord:
    """A new break placed on the origin's grid, replacing only slots nobody can have served yet."""
    if source not in SOURCES:
        raise BreakError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    if not (math.isfinite(duration) and duration > 0):
        raise BreakError(f"a break of {duration!r} seconds is impossible")
    if not pod.items:
        raise BreakError(f"break {event_id}: the decision has no items (not even slate)")
    snapped_start = grid.snap(start)
    end = round(snapped_start + slot_count(duration, grid.segment) * grid.segment, 3)
    ad_start = max(snapped_start, round(grid.earliest, 3))
    if ad_start >= end:
        raise BreakTooLate(
            f"break {event_id} ends at {_iso(end)}, before the first slot that can still change"
            f" ({_iso(grid.earliest)})"
        )
    points = discontinuity_points(ad_start, end, pod, grid)
    return BreakRecord(
        channel,
        event_id,
        source,
        snapped_start,
        duration,
        end,
        ad_start,
        pod,
        points,
        now,
        now,
        scte35,
        interstitial_end=end,
    )


def shorten(record: BreakRecord, grid: Grid, now: float, at: float | None = None) -> BreakRecord:
    """Return to network early — at `at` (e.g. the origin's own CUE-IN) or as soon as possible, but
    never before the first slot that can still change; a break whose slots have not begun is
    cancelled.

    The SGAI interstitial's end follows only while the interstitial cannot have been served yet
    (the segment that first carries it is not published); otherwise it keeps its announced end."""
    if record.cancelled:
        raise BreakError(f"break {record.event_id} was cancelled already")
    new_end = max(round(grid.earliest, 3), grid.snap(at) if at is not None else 0.0)
    if new_end >= record.end:
        raise BreakError(
            f"break {record.event_id} ends at {_iso(record.end)} anyway; it can no longer be"
            " shortened"
        )
    if new_end <= record.ad_start:
        end = max(record.start, min(record.end, new_end))
        announced = None if record.interstitial_end is None else end  # never shown: nothing to keep
        return replace(
            record, cancelled=True, points=(), end=end, interstitial_end=announced, updated=now
        )
    unseen = (
        grid.newest_end <= record.created
    )  # the segment that first carries the interstitial (stitcher.sgai) is not out yet
    announced = new_end if unseen else record.sgai_end
    points = discontinuity_points(record.ad_start, new_end, record.pod, grid)
    return replace(record, end=new_end, points=points, interstitial_end=announced, updated=now)


@dataclass(frozen=True)
class Slot:
    """What replaces the origin segment starting at some PDT: item `item` of break `event_id`."""

    event_id: str
    item: int  # index into the pod items that start inside the break; == len(items): filler slate
    offset: float  # seconds into that item at the slot's start
    discontinuity: bool  # the slot begins an item (a splice into an ad)


def slot_at(records: Iterable[BreakRecord], pdt: float, tolerance: float) -> Slot | None:
    """The rule every stitcher replica applies: a segment starting at `pdt` is a slot of a break
    when `ad_start <= pdt < end` (each boundary within `tolerance`, half a segment), filled by the
    item whose first slot (a discontinuity point) is the latest at or before it."""
    for record in records:
        if record.cancelled or not record.points:
            continue
        if record.ad_start - tolerance <= pdt < record.end - tolerance:
            starts = record.points[:-1]
            k = max(i for i, p in enumerate(starts) if p - tolerance <= pdt)
            return Slot(record.event_id, k, pdt - starts[k], abs(pdt - starts[k]) < tolerance)
    return None


def returns_at(records: Iterable[BreakRecord], pdt: float, tolerance: float) -> bool:
    """Does content resume (after a discontinuity) with the segment starting at `pdt`?"""
    return any(not r.cancelled and r.points and abs(r.end - pdt) < tolerance for r in records)
