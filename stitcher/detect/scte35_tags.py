"""EXT-X-SCTE35 and EXT-X-SPLICEPOINT-SCTE35 cues: the break id comes from the cue's event id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stitcher.detect.findings import _event_id, _ms_id
from stitcher.detect.tags import (
    SAME_BREAK,
    _attributes,
    _number,
    _Open,
    _Position,
)
from stitcher.playlist import Tag

if TYPE_CHECKING:
    from stitcher.detect.scan import Scanner


def scte35(scan: Scanner, position: _Position, tag: Tag) -> None:
    attributes = _attributes(tag.value)
    event = scan.cue(position, tag, attributes.get("CUE"))
    cue_out = (attributes.get("CUE-OUT") or "").upper()
    if (attributes.get("CUE-IN") or "").upper() == "YES":
        kind = "in"
    elif cue_out == "YES":
        kind = "out"
    elif cue_out == "CONT":
        kind = "cont"
    elif event is not None and event.kind in ("out", "in", "cancel"):
        kind = event.kind
    else:
        return  # CUE-OUT=NO, or a cue that is not about a break
    duration = _number(attributes.get("DURATION"))
    elapsed = _number(attributes.get("ELAPSED"))
    fallback = f"scte35-{attributes['ID']}" if attributes.get("ID") else None
    _scte35_signal(scan, position, tag, "scte35", kind, event, duration, elapsed, fallback)


def splicepoint(scan: Scanner, position: _Position, tag: Tag) -> None:
    event = scan.cue(position, tag, tag.value)
    if event is None or event.kind == "other":
        return  # without a readable cue the tag does not say what it is
    _scte35_signal(scan, position, tag, "splicepoint", event.kind, event, None, None, None)


def _scte35_signal(
    scan: Scanner, position, tag, fmt, kind, event, duration, elapsed, fallback
) -> None:
    break_id = _event_id(event)
    if duration is None and event is not None and kind in ("out", "cont"):
        duration = event.duration
    if kind in ("out", "cont"):
        if kind == "out":
            start = position.pdt
        elif elapsed is not None:
            start = position.pdt - elapsed
        else:
            known = scan.scte35_open.get(break_id) if break_id else scan.scte35_last
            if known is None:
                scan.problem(
                    position,
                    tag,
                    "CONT without ELAPSED and no CUE-OUT before it: the break cannot be placed",
                )
                return
            start = known.start
        if break_id is None:
            last = scan.scte35_last
            if last is not None and abs(last.start - start) <= SAME_BREAK:
                break_id = last.break_id
            else:
                break_id = fallback or _ms_id(start)
        known = scan.scte35_open.get(break_id)
        if known is not None and abs(known.start - start) <= SAME_BREAK:
            start = known.start  # the opening tag's exact start
            if duration is None:
                duration = known.duration
        opened = _Open(
            break_id,
            start,
            duration if known is None or known.duration is None else known.duration,
            fmt,
        )
        scan.scte35_open[break_id] = opened
        scan.scte35_last = opened
        scan.emit(
            break_id=break_id,
            kind="out",
            start=start,
            duration=duration,
            at=None,
            format=fmt,
            msn=position.msn,
            event=event,
            elapsed=None if kind == "out" else position.pdt - start,
        )
        return
    known = scan.scte35_open.get(break_id) if break_id else None
    if known is None and break_id is None:
        known = (
            scan.scte35_last
            if fallback is None
            else scan.scte35_open.get(fallback, scan.scte35_last)
        )
    if kind == "in":
        if known is None:
            return  # its break left the window: nothing places it
        scan.scte35_open.pop(known.break_id, None)
        if scan.scte35_last is known:
            scan.scte35_last = None
        scan.emit(
            break_id=known.break_id,
            kind="in",
            start=known.start,
            duration=known.duration,
            at=position.pdt,
            format=fmt,
            msn=position.msn,
            event=event,
        )
        return
    # cancel
    scan.emit(
        break_id=known.break_id if known else (break_id or fallback or _ms_id(position.pdt)),
        kind="cancel",
        start=known.start if known else position.pdt,
        duration=known.duration if known else None,
        at=position.pdt,
        format=fmt,
        msn=position.msn,
        event=event,
    )
