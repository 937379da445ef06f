"""Reading cue tags: lenient attribute lists and numbers, tag positions, DATERANGE durations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stitcher.playlist import (
    CUE_TAGS,
    DateRange,
    PlaylistError,
    Tag,
    parse_attribute_list,
)

SCTE35_ATTRIBUTES = ("SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD")


SAME_BREAK = 0.5  # seconds: a CONT whose start is this close to the open break's belongs to it


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _attributes(value: str | None) -> dict[str, str]:
    """A lenient attribute list with upper-case names and unquoted values."""
    items = parse_attribute_list(value or "")
    # text() of a name from names() is never None
    return {name.strip().upper(): (items.text(name) or "").strip() for name in items.names()}


@dataclass(frozen=True)
class _Open:
    """A break opened by an earlier tag of the same playlist (cue-out family or EXT-X-SCTE35)."""

    break_id: str
    start: float
    duration: float | None
    format: str


@dataclass(frozen=True)
class _Position:
    msn: int
    pdt: float
    tags: tuple[Tag, ...]


def _is_cue_tag(tag: Tag) -> bool:
    if tag.name != "EXT-X-DATERANGE":
        return tag.name in CUE_TAGS
    try:
        return any(name in SCTE35_ATTRIBUTES for name in tag.attributes().names())
    except PlaylistError:
        return True  # unreadable: let the scan report it


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _range_duration(rng: DateRange) -> float | None:
    """PLANNED-DURATION, else DURATION, else END-DATE − START-DATE."""
    if rng.planned_duration is not None:
        return rng.planned_duration
    if rng.duration is not None:
        return rng.duration
    if rng.end_date is not None and rng.start_date is not None:
        return _epoch(rng.end_date) - _epoch(rng.start_date)
    return None
