"""Ad-break cues of the origin: the schedule, QA splices, and the tags each cue format writes.

Side effects: none.
How and why: docs/origin.md, "`origin_emulator.splices`".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from origin_emulator.config import ChannelConfig
from origin_emulator.cues import CueSpec, encode, to_base64, to_hex
from origin_emulator.errors import OriginError
from origin_emulator.timeline import Timeline
from stitcher.playlist import AttributeList, Tag, format_datetime, format_decimal, quote

SCHEDULE_ID_LIMIT = 0x80000000  # scheduled breaks use event ids below this, QA splices above
MAX_DURATION = 3600.0
MAX_PREROLL = 600.0


class SpliceError(OriginError, ValueError):
    """A splice that cannot be scheduled or changed; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Splice:
    event_id: int
    start: int  # MSN of the first break segment
    end: int  # MSN of the first segment after the break as planned
    announce: float  # epoch seconds the cue became known
    format: str
    command: str
    source: str  # "schedule" | "control"
    returned: int | None = None  # MSN of an early return (new in-point)
    cancelled: float | None = None  # epoch seconds of a cancel before the start

    @property
    def stop(self) -> int:
        """First segment after the break as it really happens."""
        return self.returned if self.returned is not None else self.end

    @property
    def range_id(self) -> str:
        return f"splice-{self.event_id}"

    def planned_seconds(self, timeline: Timeline) -> float:
        return timeline.start(self.end) - timeline.start(self.start)

    def actual_seconds(self, timeline: Timeline) -> float:
        return timeline.start(self.stop) - timeline.start(self.start)

    def state(self, timeline: Timeline, now: float) -> str:
        if self.cancelled is not None:
            return "cancelled"
        published = timeline.last_published(now)
        if published < self.start:
            return "pending"
        if published < self.stop:
            return "active"
        return "ended"

    def to_json(self, timeline: Timeline, now: float) -> dict:
        return {
            "id": self.event_id,
            "source": self.source,
            "format": self.format,
            "command": self.command,
            "state": self.state(timeline, now),
            "announce": format_datetime(self.announce),
            "start": format_datetime(timeline.start(self.start)),
            "start_msn": self.start,
            "end_msn": self.stop,
            "planned_duration": self.planned_seconds(timeline),
            "duration": self.actual_seconds(timeline),
            "returned_early": self.returned is not None,
            "cancelled": format_datetime(self.cancelled) if self.cancelled is not None else None,
            "scte35_out": to_base64(out_cue(self, timeline)),
        }


# --------------------------------------------------------------------------- creating splices


def check_request(duration: float, preroll: float) -> None:
    if not (isinstance(duration, (int, float)) and math.isfinite(duration)) or duration <= 0:
        raise SpliceError(f"duration must be a positive number of seconds, got {duration!r}")
    if duration > MAX_DURATION:
        raise SpliceError(
            f"duration {duration} s is longer than the {MAX_DURATION:.0f} s an origin break may"
            " last"
        )
    if (
        not (isinstance(preroll, (int, float)) and math.isfinite(preroll))
        or preroll < 0
        or preroll > MAX_PREROLL
    ):
        raise SpliceError(
            f"preroll must be between 0 and {MAX_PREROLL:.0f} seconds, got {preroll!r}"
        )


def plan(
    timeline: Timeline,
    now: float,
    duration: float,
    preroll: float,
    event_id: int,
    fmt: str,
    command: str,
    source: str,
) -> Splice:
    """A splice at the first segment boundary at least `preroll` seconds after `now`."""
    check_request(duration, preroll)
    start = max(timeline.first_at_or_after(now + preroll), timeline.in_production(now) + 1)
    return Splice(event_id, start, timeline.snap_end(start, duration), now, fmt, command, source)


def scheduled(
    timeline: Timeline, channel: ChannelConfig, first_time: float, last_time: float
) -> list[Splice]:
    """The channel's scheduled splices whose break or pre-roll touches [first_time, last_time]."""
    if not channel.break_every:
        return []
    origin = timeline.epoch + channel.break_offset
    reach = channel.break_duration + channel.break_preroll + 2 * max(timeline.durations)
    j_first = max(0, math.floor((first_time - reach - origin) / channel.break_every))
    j_last = math.floor((last_time + channel.break_preroll - origin) / channel.break_every)
    found = []
    for j in range(j_first, j_last + 1):
        at = origin + j * channel.break_every
        start = timeline.first_at_or_after(at)
        found.append(
            Splice(
                event_id=1 + j % (SCHEDULE_ID_LIMIT - 1),
                start=start,
                end=timeline.snap_end(start, channel.break_duration),
                announce=timeline.start(start) - channel.break_preroll,
                format=channel.cue_format,
                command=channel.cue_command,
                source="schedule",
            )
        )
    return found


def overlapping(candidate: Splice, others: Iterable[Splice]) -> Splice | None:
    for other in others:
        if other.cancelled is None and other.event_id != candidate.event_id:
            if candidate.start < other.stop and other.start < candidate.stop:
                return other
    return None


def end_early(splice: Splice, timeline: Timeline, now: float) -> Splice:
    """Return to network at the first unpublished segment boundary, or cancel a pending splice."""
    if splice.cancelled is not None:
        raise SpliceError(f"splice {splice.event_id} was already cancelled", 409)
    boundary = timeline.in_production(now)
    if boundary >= splice.stop:
        raise SpliceError(f"splice {splice.event_id} has already ended", 409)
    if boundary <= splice.start:
        return replace(splice, cancelled=now)
    return replace(splice, returned=boundary)


def visible(splice: Splice, timeline: Timeline, now: float) -> bool:
    """Has anything of this splice been published by `now`? (Else a cancel simply deletes it.)"""
    if splice.format == "daterange":
        return timeline.last_published(now) >= timeline.in_production(splice.announce)
    return timeline.last_published(now) >= splice.start


# --------------------------------------------------------------------------- cue bytes


def out_cue(splice: Splice, timeline: Timeline) -> bytes:
    return encode(
        CueSpec(
            splice.command,
            "out",
            splice.event_id,
            timeline.pts(splice.start),
            splice.planned_seconds(timeline),
        )
    )


def in_cue(splice: Splice, timeline: Timeline) -> bytes:
    return encode(CueSpec(splice.command, "in", splice.event_id, timeline.pts(splice.stop)))


def cancel_cue(splice: Splice) -> bytes:
    return encode(CueSpec(splice.command, "cancel", splice.event_id, None))


# --------------------------------------------------------------------------- tags per format


def _daterange(*pairs: tuple[str, str]) -> Tag:
    return Tag("EXT-X-DATERANGE", AttributeList.of(*pairs).render())


def cue_tags(splice: Splice, timeline: Timeline, window: range, now: float) -> dict[int, list[Tag]]:
    """Tags this splice puts before segments of `window` (MSN -> tags) at `now`."""
    if not window:
        return {}
    if splice.cancelled is not None and not visible(splice, timeline, splice.cancelled):
        return {}  # cancelled before anything of it was published
    first, last = window.start, window.stop - 1
    tags: dict[int, list[Tag]] = {}
    if splice.format == "daterange":
        start_date = quote(format_datetime(timeline.start(splice.start)))
        announced_at = timeline.in_production(splice.announce)
        if (
            announced_at <= last and first <= splice.stop
        ):  # floats while the break (or its IN range) is in the window
            tags.setdefault(max(announced_at, first), []).append(
                _daterange(
                    ("ID", quote(splice.range_id)),
                    ("START-DATE", start_date),
                    ("PLANNED-DURATION", format_decimal(splice.planned_seconds(timeline))),
                    ("SCTE35-OUT", to_hex(out_cue(splice, timeline))),
                )
            )
        if splice.cancelled is not None:
            cancelled_at = timeline.in_production(splice.cancelled)
            if (
                cancelled_at <= last and first <= splice.stop
            ):  # leaves with the OUT range it cancels
                tags.setdefault(max(cancelled_at, first), []).append(
                    _daterange(
                        ("ID", quote(f"{splice.range_id}-cancel")),
                        ("START-DATE", quote(format_datetime(timeline.start(cancelled_at)))),
                        ("SCTE35-CMD", to_hex(cancel_cue(splice))),
                    )
                )
        elif first <= splice.stop <= last:
            tags.setdefault(splice.stop, []).append(
                _daterange(
                    ("ID", quote(splice.range_id)),
                    ("START-DATE", start_date),
                    ("DURATION", format_decimal(splice.actual_seconds(timeline))),
                    ("SCTE35-IN", to_hex(in_cue(splice, timeline))),
                )
            )
        return tags
    if splice.cancelled is not None:
        return {}
    planned = format_decimal(splice.planned_seconds(timeline))
    out_b64 = to_base64(out_cue(splice, timeline))
    for n in range(max(first, splice.start), min(last, splice.stop) + 1):
        elapsed = format_decimal(timeline.start(n) - timeline.start(splice.start))
        if n == splice.stop:
            in_b64 = to_base64(in_cue(splice, timeline))
            if splice.format == "scte35":
                tags[n] = [Tag("EXT-X-SCTE35", f'CUE="{in_b64}",CUE-IN=YES,ID="{splice.event_id}"')]
            else:
                tags[n] = [Tag("EXT-X-CUE-IN")]
        elif n == splice.start:
            if splice.format == "scte35":
                tags[n] = [
                    Tag(
                        "EXT-X-SCTE35",
                        f'CUE="{out_b64}",DURATION={planned},CUE-OUT=YES,ID="{splice.event_id}"',
                    )
                ]
            elif splice.format == "oatcls":
                tags[n] = [
                    Tag("EXT-OATCLS-SCTE35", out_b64),
                    Tag("EXT-X-ASSET", f"CAID=0x{splice.event_id:016X}"),
                    Tag("EXT-X-CUE-OUT", planned),
                ]
            else:
                tags[n] = [Tag("EXT-X-CUE-OUT", planned)]
        else:
            if splice.format == "scte35":
                tags[n] = [
                    Tag(
                        "EXT-X-SCTE35",
                        f'CUE="{out_b64}",DURATION={planned},ELAPSED={elapsed},CUE-OUT=CONT,ID="{splice.event_id}"',
                    )
                ]
            elif splice.format == "oatcls":
                tags[n] = [Tag("EXT-X-CUE-OUT-CONT", f"{elapsed}/{planned}")]
            else:
                tags[n] = [
                    Tag(
                        "EXT-X-CUE-OUT-CONT",
                        f"ElapsedTime={elapsed},Duration={planned},SCTE35={out_b64}",
                    )
                ]
    return tags
