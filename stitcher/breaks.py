"""The break ledger: creating, shortening and cancelling ad breaks so that only the future changes.

Two kinds of keys per channel:
- `adbreak:{channel}:{eventId}` — the break record (DESIGN.md): what to play and when; TTL long
  enough to outlive every window that can show the break.
- `ledger:{channel}` — ONE key holding the discontinuity ledger: `total` (every discontinuity tag
  the stitcher has added for all breaks ever created, minus those later cancelled), `version`,
  and an index of the breaks whose discontinuity points may still be in a window
  (`breaks: {"<eventId>@<created ms>": {"start", "end", "points"}}` — keyed per break instance,
  since an event id may be reused once its break is gone).

Every write is one `KV.atomic` compare-and-set on the ledger key plus the record, so the ledger and
the records never disagree, two monitors racing on one cue create one break, and overlapping
breaks are refused. A window's DISCONTINUITY-SEQUENCE is a function of a single ledger read
(`added_before`), so a stitcher can never combine a ledger and an index from different moments.
(DESIGN.md derives the subtraction from the break records; keeping the points in the ledger key
itself gives the same numbers from one consistent read, and does not depend on record TTLs.)

"Only the future changes": every time a write decides (`adStart`, an early return's new end) is at
or after the PDT of the origin's *segment after next* at the moment of writing, taken from a fresh
origin playlist, and snapped to the origin's segment grid. Discontinuity points are explicit
times on that grid: the first slot of each pod item that starts inside the break, and the return.

The SGAI interstitial (`stitcher.sgai`) announces `[adStart, interstitialEnd)` in a DATERANGE
whose attributes may never change once served (T4, REFERENCES D3); it is announced ahead, from the
first segment the origin publishes after the break was recorded (`createdAt`). `plan_break` sets
`interstitialEnd` = `endTime`; an early return (`shorten`) moves it to the new end only while that
segment is not out yet (the fresh origin playlist's newest segment ends at or before `createdAt`).
Once the interstitial may have been served, `interstitialEnd` keeps its value: SGAI viewers play
the announced ads to the end (the origin's timeline is unaffected), while SSAI slots return at the
new `endTime`. Records written before the field existed have no `interstitialEnd` (None): their
interstitial ends at `endTime` (`BreakRecord.sgai_end`). A cancelled break has no interstitial (its
tag, if it was announced, goes before its START-DATE is reached). Retention keeps a record until
its interstitial has left every window too.

Side effects: `BreakLedger` reads and writes the KV; everything above it is pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from stitcher.errors import RigError
from stitcher.kv import KV, Absent, Check, Equals, Put
from stitcher.playlist import MediaPlaylist, format_datetime, parse_datetime
from stitcher.pod import Pod, slot_count

SOURCES = ("scte35", "manual", "scheduled")
MARGIN = 120.0  # seconds of slack on top of every TTL and index horizon
CAS_RETRIES = 20


class BreakError(RigError):
    """A break write that cannot be done; `status` is the HTTP status for the /cue API."""

    status = 409


class BreakOverlap(BreakError):
    pass


class BreakTooLate(BreakError):
    pass


def record_key(channel: str, event_id: str) -> str:
    return f"adbreak:{channel}:{event_id}"


def ledger_key(channel: str) -> str:
    return f"ledger:{channel}"


def _iso(t: float) -> str:
    return format_datetime(t)


def _epoch(text: str) -> float:
    return parse_datetime(text).timestamp()


# --------------------------------------------------------------------------- the origin's grid


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


# --------------------------------------------------------------------------- the record


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
        """Where the SGAI interstitial ends: fixed once it may have been served (module docstring)."""
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
        """The KV value: DESIGN.md's AdBreakState fields plus what a stateless stitcher needs."""
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
            f"break {event_id} ends at {_iso(end)}, before the first slot that can still change ({_iso(grid.earliest)})"
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
    never before the first slot that can still change; a break whose slots have not begun is cancelled.

    The SGAI interstitial's end follows only while the interstitial cannot have been served yet
    (the segment that first carries it is not published); otherwise it keeps its announced end."""
    if record.cancelled:
        raise BreakError(f"break {record.event_id} was cancelled already")
    new_end = max(round(grid.earliest, 3), grid.snap(at) if at is not None else 0.0)
    if new_end >= record.end:
        raise BreakError(
            f"break {record.event_id} ends at {_iso(record.end)} anyway; it can no longer be shortened"
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


# --------------------------------------------------------------------------- slots


@dataclass(frozen=True)
class Slot:
    """What replaces the origin segment starting at some PDT: item `item` of break `event_id`."""

    event_id: str
    item: int  # index into the pod items that start inside the break; == len(items): filler slate
    offset: float  # seconds into that item at the slot's start
    discontinuity: bool  # the slot begins an item (a splice into an ad)


def slot_at(records: Iterable[BreakRecord], pdt: float, tolerance: float) -> Slot | None:
    """The rule every stitcher replica applies: a segment starting at `pdt` is a slot of a break when
    `ad_start <= pdt < end` (each boundary within `tolerance`, half a segment), filled by the item
    whose first slot (a discontinuity point) is the latest at or before it."""
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


# --------------------------------------------------------------------------- the ledger value


@dataclass(frozen=True)
class Ledger:
    total: int = 0
    version: int = 0
    breaks: dict[str, dict] = field(
        default_factory=dict
    )  # eventId -> {"start", "end", "points"} (epoch seconds)

    @classmethod
    def from_json(cls, data: dict | None) -> Ledger:
        if not data:
            return cls()
        return cls(int(data["total"]), int(data["version"]), dict(data.get("breaks", {})))

    def to_json(self) -> dict:
        return {"total": self.total, "version": self.version, "breaks": self.breaks}

    def added_at_or_after(self, t: float, tolerance: float) -> int:
        """Discontinuities at or after time `t` (a point counts when it is >= t - tolerance)."""
        return sum(
            1 for entry in self.breaks.values() for p in entry["points"] if p >= t - tolerance
        )

    def added_before(self, t: float, tolerance: float) -> int:
        """Discontinuities the stitcher added before the segment starting at `t`: DS = origin's + this."""
        return self.total - self.added_at_or_after(t, tolerance)

    def overlapping(self, entry: str, start: float, end: float) -> str | None:
        for other, data in self.breaks.items():
            if (
                other != entry
                and data.get("points")
                and start < data["end"]
                and data["start"] < end
            ):
                return other.rpartition("@")[0] or other
        return None

    def with_break(self, record: BreakRecord, horizon: float) -> Ledger:
        """The ledger after writing `record`, forgetting breaks wholly before `horizon`."""
        old = self.breaks.get(record.entry)
        delta = record.discontinuities - (len(old["points"]) if old else 0)
        kept = {
            k: v
            for k, v in self.breaks.items()
            if k != record.entry and v["points"] and v["points"][-1] >= horizon
        }
        if record.points:
            kept[record.entry] = {
                "start": record.ad_start,
                "end": record.end,
                "points": list(record.points),
            }
        return Ledger(self.total + delta, self.version + 1, kept)


# --------------------------------------------------------------------------- KV shell


@dataclass(frozen=True)
class Retention:
    """How long records and ledger entries must live: every window that can show them, plus caches."""

    window: float  # the longest playlist window of the channel (seconds)
    cache: float = 2.0  # longest Cache-Control max-age of a stitched playlist

    def ttl(self, record: BreakRecord, now: float) -> float:
        return max(1.0, max(record.end, record.sgai_end) - now) + self.window + self.cache + MARGIN

    def horizon(self, now: float) -> float:
        """Points before this can no longer be in any window."""
        return now - self.window - self.cache - MARGIN


class BreakLedger:
    """Atomic break writes over a KV (see the module docstring)."""

    def __init__(self, kv: KV, retention_for):
        self.kv = kv
        self.retention_for = retention_for  # channel -> Retention

    async def ledger(self, channel: str) -> Ledger:
        return Ledger.from_json(await self.kv.get(ledger_key(channel)))

    async def get(self, channel: str, event_id: str) -> BreakRecord | None:
        data = await self.kv.get(record_key(channel, event_id))
        return BreakRecord.from_json(data) if data else None

    async def records(self, channel: str) -> list[BreakRecord]:
        found = await self.kv.list(f"adbreak:{channel}:")
        return sorted(
            (BreakRecord.from_json(v) for v in found.values()), key=lambda r: (r.start, r.event_id)
        )

    async def _write(
        self, record: BreakRecord, now: float, before: BreakRecord | None
    ) -> tuple[BreakRecord, bool]:
        """CAS loop on the ledger key and the record. Create (`before` None): an existing record with the
        same id wins (returns it, False). Update: the stored record must still be `before`."""
        retention = self.retention_for(record.channel)
        key = record_key(record.channel, record.event_id)
        for _ in range(CAS_RETRIES):
            raw = await self.kv.get(ledger_key(record.channel))
            ledger = Ledger.from_json(raw)
            if before is None:
                existing = await self.get(record.channel, record.event_id)
                if existing is not None:
                    return existing, False
                clash = ledger.overlapping(record.entry, record.ad_start, record.end)
                if clash is not None:
                    raise BreakOverlap(
                        f"break {record.event_id} would overlap break {clash} on channel {record.channel}"
                    )
            updated = ledger.with_break(record, retention.horizon(now))
            stored = replace(record, ledger_after=updated.total)
            checks: list[Check] = [
                Absent(ledger_key(record.channel))
                if raw is None
                else Equals(ledger_key(record.channel), raw),
                Absent(key) if before is None else Equals(key, before.to_json()),
            ]
            result = await self.kv.atomic(
                [
                    Put(key, stored.to_json(), retention.ttl(stored, now)),
                    Put(ledger_key(record.channel), updated.to_json()),
                ],
                checks,
            )
            if result.committed:
                return stored, True
            if (
                before is not None
                and isinstance(result.failed, Equals)
                and result.failed.key == key
            ):
                raise BreakError(f"break {record.event_id} changed meanwhile; try again")
        raise BreakError(
            f"break {record.event_id}: the ledger of {record.channel} kept changing; try again"
        )

    async def create(self, record: BreakRecord, now: float) -> tuple[BreakRecord, bool]:
        """Create `record` unless a break with its id exists (then return that one, created=False)."""
        return await self._write(record, now, None)

    async def update(self, before: BreakRecord, after: BreakRecord, now: float) -> BreakRecord:
        """Replace `before` (early return / cancel); the ledger moves by the change in discontinuities."""
        stored, _ = await self._write(after, now, before)
        return stored
