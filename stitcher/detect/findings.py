"""What detection finds: signals (one per cue tag), the breaks they fold into, and the break ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from stitcher.scte35 import SpliceEvent

FORMATS = ("daterange", "cue-out", "oatcls", "scte35", "splicepoint")


EARLY_TOLERANCE = 0.5  # seconds: an in-signal this much before the planned end is an early return


@dataclass(frozen=True)
class Signal:
    """One cue found in one playlist.

    break_id: see the module docstring. kind: "out" | "in" | "cancel" (a CONT is an "out" with
    `elapsed` set). start: epoch seconds of the break's start (splice point). duration: planned
    duration — the tag's, else the cue's, else the one of the break opened before it, else None.
    at: for "in", epoch seconds of the return; for "cancel", when it was seen; else None.
    msn: media sequence number of the segment the tag precedes (trailing tags: last MSN + 1).
    event: the decoded cue, None when the tag carries none or it is unreadable.
    elapsed: seconds into the break for a CONT tag (CUE-OUT-CONT, EXT-X-SCTE35 CUE-OUT=CONT), else
    None.
    """

    break_id: str
    kind: str
    start: float
    duration: float | None
    at: float | None
    format: str
    msn: int
    event: SpliceEvent | None
    elapsed: float | None = None


@dataclass(frozen=True)
class DetectedBreak:
    """Signals of one break folded together.

    start: from the opening tag (else a CONT, else an in or cancel). duration: planned (first
    signal that has one); without any, the actual one once the in-signal is seen, else None.
    end: the in-signal's return time when seen, else start + duration, else None.
    format/event: of the out signals (event: the first readable out cue; else any cue).
    cancelled: a cancel was seen. returned_early: the return came more than EARLY_TOLERANCE
    before start + planned duration. scte35: base64 of the out cue, None without one.
    """

    break_id: str
    start: float
    duration: float | None
    end: float | None
    format: str
    event: SpliceEvent | None
    cancelled: bool
    returned_early: bool
    scte35: str | None


@dataclass(frozen=True)
class Detection:
    """Everything `detect` found in one playlist."""

    signals: tuple[Signal, ...]
    breaks: tuple[DetectedBreak, ...]
    problems: tuple[str, ...]


def fold(found: Iterable[Signal]) -> list[DetectedBreak]:
    """Fold signals per break_id into breaks, ordered by start (then first appearance).

    A cancel that could not be matched to its out in its own playlist (break id
    ``scte35-<event id>``) joins the break whose out cue has that event id, when there is one.
    """
    found = list(found)
    by_event = {
        s.event.event_id: s.break_id
        for s in reversed(found)
        if s.kind == "out"
        and s.event is not None
        and s.event.kind == "out"
        and s.event.event_id is not None
    }
    groups: dict[str, list[Signal]] = {}
    for signal in found:
        if (
            signal.kind == "cancel"
            and signal.event is not None
            and signal.event.event_id is not None
            and signal.break_id == _event_id(signal.event)
        ):
            target = by_event.get(signal.event.event_id)
            if target is not None and target != signal.break_id:
                signal = replace(signal, break_id=target)
        groups.setdefault(signal.break_id, []).append(signal)
    folded = [_fold_one(break_id, group) for break_id, group in groups.items()]
    return sorted(folded, key=lambda b: b.start)


def _fold_one(break_id: str, group: list[Signal]) -> DetectedBreak:
    outs = [s for s in group if s.kind == "out"]
    ins = [s for s in group if s.kind == "in"]
    cancels = [s for s in group if s.kind == "cancel"]
    opening = next((s for s in outs if s.elapsed is None), outs[0] if outs else None)
    start = (opening or (ins or cancels)[0]).start
    ordered = ([opening] if opening else []) + outs + ins + cancels
    planned = next((s.duration for s in ordered if s.duration is not None), None)
    event = next(
        (s.event for s in ([opening] if opening else []) + outs if s.event is not None), None
    )
    scte35 = event.base64 if event is not None else None
    if event is None:
        event = next((s.event for s in group if s.event is not None), None)
    returned = next((s.at for s in ins if s.at is not None), None)
    duration = (
        planned if planned is not None else (returned - start if returned is not None else None)
    )
    end: float | None
    if returned is not None:
        end = returned
    else:
        end = start + duration if duration is not None else None
    early = (
        returned is not None
        and planned is not None
        and returned < start + planned - EARLY_TOLERANCE
    )
    return DetectedBreak(
        break_id=break_id,
        start=start,
        duration=duration,
        end=end,
        format=(opening or group[0]).format,
        event=event,
        cancelled=bool(cancels),
        returned_early=early,
        scte35=scte35,
    )


def _ms_id(start: float) -> str:
    return f"cue-{round(start * 1000)}"


def _event_id(event: SpliceEvent | None) -> str | None:
    if event is None or event.event_id is None:
        return None
    return f"scte35-{event.event_id}"
