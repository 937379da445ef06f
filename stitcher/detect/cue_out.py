"""The CUE-OUT family: EXT-X-CUE-OUT, EXT-X-CUE-OUT-CONT, EXT-X-CUE-IN, and EXT-OATCLS-SCTE35 (the
cue of the CUE-OUT or CUE-IN on the same segment). The break id comes from the start time.
"""

from __future__ import annotations

from dataclasses import replace
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


def cue_out(scan: Scanner, position: _Position, tag: Tag, oatcls) -> None:
    value = (tag.value or "").strip()
    duration = None
    event = oatcls[0] if oatcls else None
    if value:
        if "=" in value:
            attributes = _attributes(value)
            duration = _number(attributes.get("DURATION"))
            payload = attributes.get("SCTE35") or attributes.get("CUE")
            if payload and event is None:
                event = scan.cue(position, tag, payload)
        else:
            duration = _number(value)
            if duration is None:
                scan.problem(position, tag, f"duration {value!r} is not a number")
    if duration is None and event is not None:
        duration = event.duration
    fmt = "oatcls" if oatcls else "cue-out"
    start = position.pdt
    scan.cue_open = _Open(_ms_id(start), start, duration, fmt)
    scan.emit(
        break_id=scan.cue_open.break_id,
        kind="out",
        start=start,
        duration=duration,
        at=None,
        format=fmt,
        msn=position.msn,
        event=event,
    )


def cue_out_cont(scan: Scanner, position: _Position, tag: Tag, oatcls) -> None:
    value = (tag.value or "").strip()
    elapsed = duration = None
    event = oatcls[0] if oatcls else None
    if "=" in value:
        attributes = _attributes(value)
        elapsed = _number(attributes.get("ELAPSEDTIME") or attributes.get("ELAPSED"))
        duration = _number(attributes.get("DURATION"))
        payload = attributes.get("SCTE35") or attributes.get("CUE")
        if payload and event is None:
            event = scan.cue(position, tag, payload)
    elif value:
        left, _, right = value.partition("/")
        elapsed, duration = _number(left), _number(right) if right else None
        if elapsed is None:
            scan.problem(position, tag, f"elapsed time {left!r} is not a number")
    opened = scan.cue_open
    if elapsed is not None:
        start = position.pdt - elapsed
        if opened is None or abs(start - opened.start) > SAME_BREAK:
            opened = _Open(_ms_id(start), start, None, "cue-out")
    elif opened is None:
        scan.problem(
            position,
            tag,
            "no elapsed time and no CUE-OUT before it: the break cannot be placed",
        )
        return
    if duration is None:
        duration = (
            event.duration if event is not None and event.duration is not None else opened.duration
        )
    if opened.duration is None and duration is not None:
        opened = replace(opened, duration=duration)
    scan.cue_open = opened
    scan.emit(
        break_id=opened.break_id,
        kind="out",
        start=opened.start,
        duration=duration,
        at=None,
        format=opened.format,
        msn=position.msn,
        event=event,
        elapsed=elapsed if elapsed is not None else position.pdt - opened.start,
    )


def cue_in(scan: Scanner, position: _Position, tag: Tag, oatcls) -> None:
    opened, scan.cue_open = scan.cue_open, None
    if opened is None:
        return  # its break left the window: nothing places it
    event = oatcls[0] if oatcls else None
    scan.emit(
        break_id=opened.break_id,
        kind="in",
        start=opened.start,
        duration=opened.duration,
        at=position.pdt,
        format=opened.format,
        msn=position.msn,
        event=event,
    )


def oatcls_alone(scan: Scanner, position: _Position, pending) -> None:
    """An EXT-OATCLS-SCTE35 with no CUE-OUT/CUE-IN on its segment: its cue says what it is."""
    event = pending[0]
    if event is None or event.kind == "other":
        return
    tag = Tag("EXT-OATCLS-SCTE35", event.base64)
    if event.kind == "out":
        cue_out(scan, position, Tag("EXT-X-CUE-OUT"), (event, True))
    elif event.kind == "in":
        cue_in(scan, position, tag, (event, True))
    else:
        opened = scan.cue_open
        scan.emit(
            break_id=opened.break_id if opened else (_event_id(event) or _ms_id(position.pdt)),
            kind="cancel",
            start=opened.start if opened else position.pdt,
            duration=opened.duration if opened else None,
            at=position.pdt,
            format="oatcls",
            msn=position.msn,
            event=event,
        )
