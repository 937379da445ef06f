"""EXT-X-DATERANGE cues (SCTE35-OUT, SCTE35-IN, SCTE35-CMD): the break id is the range's ID.

Later tags of a range may omit its START-DATE and durations, so `index_dateranges` reads them from
the whole window first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stitcher.detect.findings import _event_id
from stitcher.detect.tags import (
    SCTE35_ATTRIBUTES,
    _epoch,
    _Position,
    _range_duration,
)
from stitcher.playlist import DateRange, PlaylistError, Tag
from stitcher.scte35 import Scte35Error, SpliceEvent, decode

if TYPE_CHECKING:
    from stitcher.detect.scan import Scanner


def index_dateranges(scan: Scanner, positions: list[_Position]) -> None:
    """START-DATE, planned duration and out event id per DATERANGE ID (D2: later tags may omit
    them)."""
    for position in positions:
        for tag in position.tags:
            if tag.name != "EXT-X-DATERANGE":
                continue
            try:
                rng = DateRange.from_tag(tag)
                entry = scan.ranges.setdefault(rng.id, {})
                if "start" not in entry and rng.start_date is not None:
                    entry["start"] = _epoch(rng.start_date)
                if "planned" not in entry:
                    planned = _range_duration(rng)
                    if planned is not None and "SCTE35-OUT" in rng.attributes:
                        entry["planned"] = planned
                out = rng.attributes.raw("SCTE35-OUT")
                if out is not None and "event_id" not in entry:
                    try:
                        entry["event_id"] = decode(out).event_id
                    except Scte35Error:
                        pass
            except (PlaylistError, ValueError):
                continue  # reported when the tag itself is read


def daterange(scan: Scanner, position: _Position, tag: Tag) -> None:
    rng = DateRange.from_tag(tag)
    attributes = rng.attributes
    if not any(name in attributes for name in SCTE35_ATTRIBUTES):
        return  # an interstitial or other metadata, not a cue
    entry = scan.ranges.get(rng.id, {})
    start_date = rng.start_date
    start = _epoch(start_date) if start_date is not None else entry.get("start")
    if start is None:
        raise PlaylistError(
            f'DATERANGE "{rng.id}" has no START-DATE (nor an earlier tag with its ID)'
        )
    if "SCTE35-OUT" in attributes:
        event = scan.cue(position, tag, attributes.raw("SCTE35-OUT"))
        duration = _range_duration(rng)
        if duration is None and event is not None:
            duration = event.duration
        scan.emit(
            break_id=rng.id,
            kind="out",
            start=start,
            duration=duration,
            at=None,
            format="daterange",
            msn=position.msn,
            event=event,
        )
    if "SCTE35-IN" in attributes:
        event = scan.cue(position, tag, attributes.raw("SCTE35-IN"))
        if rng.duration is not None:
            at = start + rng.duration
        elif rng.end_date is not None:
            at = _epoch(rng.end_date)
        else:
            at = position.pdt
        planned = rng.planned_duration if rng.planned_duration is not None else entry.get("planned")
        scan.emit(
            break_id=rng.id,
            kind="in",
            start=start,
            duration=planned,
            at=at,
            format="daterange",
            msn=position.msn,
            event=event,
        )
    if "SCTE35-CMD" in attributes:
        event = scan.cue(position, tag, attributes.raw("SCTE35-CMD"))
        if event is None or event.kind == "other":
            return
        if event.kind == "cancel":
            target = _cancelled_range(scan, rng.id, event)
            target_entry = scan.ranges.get(target, {}) if target else {}
            break_id = target or _event_id(event) or rng.id
            scan.emit(
                break_id=break_id,
                kind="cancel",
                start=target_entry.get("start", start),
                duration=target_entry.get("planned"),
                at=start,
                format="daterange",
                msn=position.msn,
                event=event,
            )
        else:  # an out or in cue carried as SCTE35-CMD
            duration = _range_duration(rng) if event.kind == "out" else entry.get("planned")
            if duration is None and event.kind == "out":
                duration = event.duration
            at = (
                None
                if event.kind == "out"
                else (start + rng.duration if rng.duration is not None else position.pdt)
            )
            scan.emit(
                break_id=rng.id,
                kind=event.kind,
                start=start,
                duration=duration,
                at=at,
                format="daterange",
                msn=position.msn,
                event=event,
            )


def _cancelled_range(scan: Scanner, own_id: str, event: SpliceEvent) -> str | None:
    if event.event_id is None:
        return None
    for range_id, entry in scan.ranges.items():
        if range_id != own_id and entry.get("event_id") == event.event_id:
            return range_id
    return None
