"""Finding ad breaks in a live media playlist: every SCTE-35 cue format an origin may use.

`detect(playlist)` reads the cue tags of one `MediaPlaylist` (the typed model of
`stitcher.playlist`, never playlist text) and returns a `Detection`: the `signals` (one per cue
tag, in playlist order), the `breaks` they describe (signals folded per break id) and the
`problems` met on the way (a malformed cue, a tag that cannot be timed, a playlist without
PROGRAM-DATE-TIME). `signals(playlist)` and `breaks(playlist)` are shortcuts; `fold(signals)`
folds signals gathered from several playlists (e.g. successive reloads) the same way.

Formats (docs/references.md F1-F5):
- ``daterange``: EXT-X-DATERANGE with SCTE35-OUT (start = START-DATE, duration = PLANNED-DURATION),
  SCTE35-IN (same ID; return at START-DATE + DURATION, or END-DATE), SCTE35-CMD (a cancel:
  splice_insert / segmentation descriptor with its cancel indicator).
- ``cue-out``: EXT-X-CUE-OUT[:30.000 | :DURATION=30], EXT-X-CUE-OUT-CONT (`8.308/30` or
  `ElapsedTime=…,Duration=…,SCTE35=<b64>`), EXT-X-CUE-IN.
- ``oatcls``: EXT-OATCLS-SCTE35:<b64> (cue of the next CUE-OUT / CUE-IN on the same segment).
- ``scte35``: EXT-X-SCTE35:CUE="<b64>",CUE-OUT=YES|NO|CONT,CUE-IN=YES,DURATION=…,ELAPSED=…,ID=…
- ``splicepoint``: EXT-X-SPLICEPOINT-SCTE35:<b64> (its cue says out / in / cancel).

Break ids (`Signal.break_id`, `DetectedBreak.break_id`) are stable across reloads and viewers:
each is computable from any single tag of the break, so a cold start mid-break gets the id a
viewer who saw the start got.
- daterange: the DATERANGE ID. A SCTE35-CMD cancel gets the ID of the range in the same playlist
  whose SCTE35-OUT cue has the cancelled event id (our origin: `splice-<id>-cancel` cancels
  `splice-<id>`); when that range is not in the playlist, ``scte35-<event id>``.
- scte35, splicepoint: ``scte35-<event id>`` of the tag's cue; when the cue is unreadable, the
  break opened earlier in the playlist, else (scte35) ``scte35-<ID attribute>``, else
  ``cue-<start epoch ms>``.
- cue-out, oatcls: ``cue-<start epoch ms>``, the start being the PDT of the CUE-OUT segment or
  PDT − elapsed time of a CONT, rounded to the millisecond. (Not the event id even when a cue is
  present: the CUE-OUT may carry no cue while its CONTs do, or — OATCLS — the other way round,
  so the event id is not visible in every window of the break. The event is still reported.)
  A CONT or CUE-IN joins the break opened before it in the same playlist.

Timing needs PROGRAM-DATE-TIME: a segment without its own PDT takes the previous PDT + the
previous EXTINF (segments before the first PDT count back from it); tags after the last segment
belong to "MSN last + 1" at the end of the last segment. A playlist with cue tags and no PDT at
all gives no signals and one problem. An unreadable cue never stops detection: the signal is
still found when the tag itself gives the timing (with `event=None`) and the cue's error is a
problem. A CUE-IN (or an in cue) whose break has no other tag left in the window has no known
start and gives no signal (the break ended a window ago).

Side effects: none. Pure functions of the playlist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from stitcher.playlist import (
    CUE_TAGS,
    DateRange,
    MediaPlaylist,
    PlaylistError,
    Tag,
    parse_attribute_list,
)
from stitcher.scte35 import Scte35Error, SpliceEvent, decode

__all__ = [
    "Signal",
    "DetectedBreak",
    "Detection",
    "detect",
    "signals",
    "breaks",
    "fold",
    "CUE_TAGS",
    "FORMATS",
    "EARLY_TOLERANCE",
]

FORMATS = ("daterange", "cue-out", "oatcls", "scte35", "splicepoint")
SCTE35_ATTRIBUTES = ("SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD")
EARLY_TOLERANCE = 0.5  # seconds: an in-signal this much before the planned end is an early return
SAME_BREAK = 0.5  # seconds: a CONT whose start is this close to the open break's belongs to it


@dataclass(frozen=True)
class Signal:
    """One cue found in one playlist.

    break_id: see the module docstring. kind: "out" | "in" | "cancel" (a CONT is an "out" with
    `elapsed` set). start: epoch seconds of the break's start (splice point). duration: planned
    duration — the tag's, else the cue's, else the one of the break opened before it, else None.
    at: for "in", epoch seconds of the return; for "cancel", when it was seen; else None.
    msn: media sequence number of the segment the tag precedes (trailing tags: last MSN + 1).
    event: the decoded cue, None when the tag carries none or it is unreadable.
    elapsed: seconds into the break for a CONT tag (CUE-OUT-CONT, EXT-X-SCTE35 CUE-OUT=CONT), else None.
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


# --------------------------------------------------------------------------- public API


def detect(playlist: MediaPlaylist) -> Detection:
    """Signals, breaks and problems of one media playlist."""
    found, problems = _Scanner(playlist).run()
    return Detection(tuple(found), tuple(fold(found)), tuple(problems))


def signals(playlist: MediaPlaylist) -> list[Signal]:
    """Every cue in the window, in playlist order (problems: use `detect`)."""
    return list(detect(playlist).signals)


def breaks(playlist: MediaPlaylist) -> list[DetectedBreak]:
    """The breaks of the window, ordered by start (problems: use `detect`)."""
    return list(detect(playlist).breaks)


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


# --------------------------------------------------------------------------- scanning


def _ms_id(start: float) -> str:
    return f"cue-{round(start * 1000)}"


def _event_id(event: SpliceEvent | None) -> str | None:
    if event is None or event.event_id is None:
        return None
    return f"scte35-{event.event_id}"


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


class _Scanner:
    """One pass over a playlist's tags; keeps the small context the formats need."""

    def __init__(self, playlist: MediaPlaylist):
        self.playlist = playlist
        self.signals: list[Signal] = []
        self.problems: list[str] = []
        self.cue_open: _Open | None = None  # EXT-X-CUE-OUT family
        self.scte35_open: dict[str, _Open] = {}  # EXT-X-SCTE35 / SPLICEPOINT, by break id
        self.scte35_last: _Open | None = None
        self.ranges: dict[str, dict] = {}  # DATERANGE ID -> start, planned, out event id

    # ------------------------------------------------------------------ driver

    def run(self) -> tuple[list[Signal], list[str]]:
        positions = self._positions()
        if positions is None:
            return [], self.problems
        self._index_dateranges(positions)
        for position in positions:
            pending: tuple[SpliceEvent | None, bool] | None = (
                None  # OATCLS cue waiting for its CUE-OUT/IN
            )
            for tag in position.tags:
                if tag.name not in CUE_TAGS:
                    continue
                if tag.name == "EXT-OATCLS-SCTE35":
                    if pending is not None:
                        self._oatcls_alone(position, pending)
                    pending = (self._cue(position, tag, tag.value), True)
                    continue
                oatcls = (
                    pending
                    if tag.name in ("EXT-X-CUE-OUT", "EXT-X-CUE-OUT-CONT", "EXT-X-CUE-IN")
                    else None
                )
                if oatcls is not None:
                    pending = None
                try:
                    self._dispatch(position, tag, oatcls)
                except (PlaylistError, ValueError) as exc:
                    self._problem(position, tag, str(exc))
            if pending is not None:
                self._oatcls_alone(position, pending)
        return self.signals, self.problems

    def _positions(self) -> list[_Position] | None:
        playlist = self.playlist
        segments = playlist.segments
        has_cues = any(_is_cue_tag(t) for s in segments for t in s.tags) or any(
            _is_cue_tag(t) for t in playlist.trailing_tags
        )
        pdts = playlist.segment_times()
        if pdts is None:
            if has_cues:
                self.problems.append(
                    "cue tags but no EXT-X-PROGRAM-DATE-TIME: the breaks cannot be placed in time"
                )
            return None
        positions = [
            _Position(playlist.media_sequence + i, pdts[i], s.tags) for i, s in enumerate(segments)
        ]
        if playlist.trailing_tags:
            positions.append(
                _Position(
                    playlist.media_sequence + len(segments),
                    pdts[-1] + segments[-1].duration,
                    playlist.trailing_tags,
                )
            )
        return positions

    def _problem(self, position: _Position, tag: Tag, message: str) -> None:
        self.problems.append(f"MSN {position.msn} {tag.name}: {message}")

    def _cue(self, position: _Position, tag: Tag, payload: str | None) -> SpliceEvent | None:
        if payload is None or not payload.strip():
            self._problem(position, tag, "no SCTE-35 payload")
            return None
        try:
            return decode(payload)
        except Scte35Error as exc:
            self._problem(position, tag, f"unreadable SCTE-35 cue: {exc}")
            return None

    def _emit(self, **fields) -> Signal:
        signal = Signal(**fields)
        self.signals.append(signal)
        return signal

    def _dispatch(self, position: _Position, tag: Tag, oatcls) -> None:
        name = tag.name
        if name == "EXT-X-DATERANGE":
            self._daterange(position, tag)
        elif name == "EXT-X-CUE-OUT":
            self._cue_out(position, tag, oatcls)
        elif name == "EXT-X-CUE-OUT-CONT":
            self._cue_out_cont(position, tag, oatcls)
        elif name == "EXT-X-CUE-IN":
            self._cue_in(position, tag, oatcls)
        elif name == "EXT-X-SCTE35":
            self._scte35(position, tag)
        elif name == "EXT-X-SPLICEPOINT-SCTE35":
            self._splicepoint(position, tag)

    # ------------------------------------------------------------------ DATERANGE (F1)

    def _index_dateranges(self, positions: list[_Position]) -> None:
        """START-DATE, planned duration and out event id per DATERANGE ID (D2: later tags may omit them)."""
        for position in positions:
            for tag in position.tags:
                if tag.name != "EXT-X-DATERANGE":
                    continue
                try:
                    rng = DateRange.from_tag(tag)
                    entry = self.ranges.setdefault(rng.id, {})
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

    def _daterange(self, position: _Position, tag: Tag) -> None:
        rng = DateRange.from_tag(tag)
        attributes = rng.attributes
        if not any(name in attributes for name in SCTE35_ATTRIBUTES):
            return  # an interstitial or other metadata, not a cue
        entry = self.ranges.get(rng.id, {})
        start_date = rng.start_date
        start = _epoch(start_date) if start_date is not None else entry.get("start")
        if start is None:
            raise PlaylistError(
                f'DATERANGE "{rng.id}" has no START-DATE (nor an earlier tag with its ID)'
            )
        if "SCTE35-OUT" in attributes:
            event = self._cue(position, tag, attributes.raw("SCTE35-OUT"))
            duration = _range_duration(rng)
            if duration is None and event is not None:
                duration = event.duration
            self._emit(
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
            event = self._cue(position, tag, attributes.raw("SCTE35-IN"))
            if rng.duration is not None:
                at = start + rng.duration
            elif rng.end_date is not None:
                at = _epoch(rng.end_date)
            else:
                at = position.pdt
            planned = (
                rng.planned_duration if rng.planned_duration is not None else entry.get("planned")
            )
            self._emit(
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
            event = self._cue(position, tag, attributes.raw("SCTE35-CMD"))
            if event is None or event.kind == "other":
                return
            if event.kind == "cancel":
                target = self._cancelled_range(rng.id, event)
                target_entry = self.ranges.get(target, {}) if target else {}
                break_id = target or _event_id(event) or rng.id
                self._emit(
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
                self._emit(
                    break_id=rng.id,
                    kind=event.kind,
                    start=start,
                    duration=duration,
                    at=at,
                    format="daterange",
                    msn=position.msn,
                    event=event,
                )

    def _cancelled_range(self, own_id: str, event: SpliceEvent) -> str | None:
        if event.event_id is None:
            return None
        for range_id, entry in self.ranges.items():
            if range_id != own_id and entry.get("event_id") == event.event_id:
                return range_id
        return None

    # ------------------------------------------------------------------ CUE-OUT family (F2, F3)

    def _cue_out(self, position: _Position, tag: Tag, oatcls) -> None:
        value = (tag.value or "").strip()
        duration = None
        event = oatcls[0] if oatcls else None
        if value:
            if "=" in value:
                attributes = _attributes(value)
                duration = _number(attributes.get("DURATION"))
                payload = attributes.get("SCTE35") or attributes.get("CUE")
                if payload and event is None:
                    event = self._cue(position, tag, payload)
            else:
                duration = _number(value)
                if duration is None:
                    self._problem(position, tag, f"duration {value!r} is not a number")
        if duration is None and event is not None:
            duration = event.duration
        fmt = "oatcls" if oatcls else "cue-out"
        start = position.pdt
        self.cue_open = _Open(_ms_id(start), start, duration, fmt)
        self._emit(
            break_id=self.cue_open.break_id,
            kind="out",
            start=start,
            duration=duration,
            at=None,
            format=fmt,
            msn=position.msn,
            event=event,
        )

    def _cue_out_cont(self, position: _Position, tag: Tag, oatcls) -> None:
        value = (tag.value or "").strip()
        elapsed = duration = None
        event = oatcls[0] if oatcls else None
        if "=" in value:
            attributes = _attributes(value)
            elapsed = _number(attributes.get("ELAPSEDTIME") or attributes.get("ELAPSED"))
            duration = _number(attributes.get("DURATION"))
            payload = attributes.get("SCTE35") or attributes.get("CUE")
            if payload and event is None:
                event = self._cue(position, tag, payload)
        elif value:
            left, _, right = value.partition("/")
            elapsed, duration = _number(left), _number(right) if right else None
            if elapsed is None:
                self._problem(position, tag, f"elapsed time {left!r} is not a number")
        opened = self.cue_open
        if elapsed is not None:
            start = position.pdt - elapsed
            if opened is None or abs(start - opened.start) > SAME_BREAK:
                opened = _Open(_ms_id(start), start, None, "cue-out")
        elif opened is None:
            self._problem(
                position,
                tag,
                "no elapsed time and no CUE-OUT before it: the break cannot be placed",
            )
            return
        if duration is None:
            duration = (
                event.duration
                if event is not None and event.duration is not None
                else opened.duration
            )
        if opened.duration is None and duration is not None:
            opened = replace(opened, duration=duration)
        self.cue_open = opened
        self._emit(
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

    def _cue_in(self, position: _Position, tag: Tag, oatcls) -> None:
        opened, self.cue_open = self.cue_open, None
        if opened is None:
            return  # its break left the window: nothing places it
        event = oatcls[0] if oatcls else None
        self._emit(
            break_id=opened.break_id,
            kind="in",
            start=opened.start,
            duration=opened.duration,
            at=position.pdt,
            format=opened.format,
            msn=position.msn,
            event=event,
        )

    def _oatcls_alone(self, position: _Position, pending) -> None:
        """An EXT-OATCLS-SCTE35 with no CUE-OUT/CUE-IN on its segment: its cue says what it is."""
        event = pending[0]
        if event is None or event.kind == "other":
            return
        tag = Tag("EXT-OATCLS-SCTE35", event.base64)
        if event.kind == "out":
            self._cue_out(position, Tag("EXT-X-CUE-OUT"), (event, True))
        elif event.kind == "in":
            self._cue_in(position, tag, (event, True))
        else:
            opened = self.cue_open
            self._emit(
                break_id=opened.break_id if opened else (_event_id(event) or _ms_id(position.pdt)),
                kind="cancel",
                start=opened.start if opened else position.pdt,
                duration=opened.duration if opened else None,
                at=position.pdt,
                format="oatcls",
                msn=position.msn,
                event=event,
            )

    # ------------------------------------------------------------------ EXT-X-SCTE35 (F4), SPLICEPOINT (F5)

    def _scte35(self, position: _Position, tag: Tag) -> None:
        attributes = _attributes(tag.value)
        event = self._cue(position, tag, attributes.get("CUE"))
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
        self._scte35_signal(position, tag, "scte35", kind, event, duration, elapsed, fallback)

    def _splicepoint(self, position: _Position, tag: Tag) -> None:
        event = self._cue(position, tag, tag.value)
        if event is None or event.kind == "other":
            return  # without a readable cue the tag does not say what it is
        self._scte35_signal(position, tag, "splicepoint", event.kind, event, None, None, None)

    def _scte35_signal(self, position, tag, fmt, kind, event, duration, elapsed, fallback) -> None:
        break_id = _event_id(event)
        if duration is None and event is not None and kind in ("out", "cont"):
            duration = event.duration
        if kind in ("out", "cont"):
            if kind == "out":
                start = position.pdt
            elif elapsed is not None:
                start = position.pdt - elapsed
            else:
                known = self.scte35_open.get(break_id) if break_id else self.scte35_last
                if known is None:
                    self._problem(
                        position,
                        tag,
                        "CONT without ELAPSED and no CUE-OUT before it: the break cannot be placed",
                    )
                    return
                start = known.start
            if break_id is None:
                last = self.scte35_last
                if last is not None and abs(last.start - start) <= SAME_BREAK:
                    break_id = last.break_id
                else:
                    break_id = fallback or _ms_id(start)
            known = self.scte35_open.get(break_id)
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
            self.scte35_open[break_id] = opened
            self.scte35_last = opened
            self._emit(
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
        known = self.scte35_open.get(break_id) if break_id else None
        if known is None and break_id is None:
            known = (
                self.scte35_last
                if fallback is None
                else self.scte35_open.get(fallback, self.scte35_last)
            )
        if kind == "in":
            if known is None:
                return  # its break left the window: nothing places it
            self.scte35_open.pop(known.break_id, None)
            if self.scte35_last is known:
                self.scte35_last = None
            self._emit(
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
        self._emit(
            break_id=known.break_id if known else (break_id or fallback or _ms_id(position.pdt)),
            kind="cancel",
            start=known.start if known else position.pdt,
            duration=known.duration if known else None,
            at=position.pdt,
            format=fmt,
            msn=position.msn,
            event=event,
        )


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
