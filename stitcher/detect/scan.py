"""One pass over a playlist's cue tags (`Scanner`), handing each tag to its format's reader.

Timing needs PROGRAM-DATE-TIME (`MediaPlaylist.segment_times`); tags after the last segment belong
to the next segment. An unreadable cue never stops detection: the tag's own timing still gives a
signal (with `event=None`) and the cue's error is a problem.
"""

from __future__ import annotations

from stitcher.detect import cue_out, daterange, scte35_tags
from stitcher.detect.findings import DetectedBreak, Detection, Signal, fold
from stitcher.detect.tags import _is_cue_tag, _Open, _Position
from stitcher.playlist import (
    CUE_TAGS,
    MediaPlaylist,
    PlaylistError,
    Tag,
)
from stitcher.scte35 import Scte35Error, SpliceEvent, decode


def detect(playlist: MediaPlaylist) -> Detection:
    """Signals, breaks and problems of one media playlist."""
    found, problems = Scanner(playlist).run()
    return Detection(tuple(found), tuple(fold(found)), tuple(problems))


def signals(playlist: MediaPlaylist) -> list[Signal]:
    """Every cue in the window, in playlist order (problems: use `detect`)."""
    return list(detect(playlist).signals)


def breaks(playlist: MediaPlaylist) -> list[DetectedBreak]:
    """The breaks of the window, ordered by start (problems: use `detect`)."""
    return list(detect(playlist).breaks)


class Scanner:
    def __init__(self, playlist: MediaPlaylist):
        self.playlist = playlist
        self.signals: list[Signal] = []
        self.problems: list[str] = []
        self.cue_open: _Open | None = None  # EXT-X-CUE-OUT family
        self.scte35_open: dict[str, _Open] = {}  # EXT-X-SCTE35 / SPLICEPOINT, by break id
        self.scte35_last: _Open | None = None
        self.ranges: dict[str, dict] = {}  # DATERANGE ID -> start, planned, out event id

    def run(self) -> tuple[list[Signal], list[str]]:
        positions = self._positions()
        if positions is None:
            return [], self.problems
        daterange.index_dateranges(self, positions)
        for position in positions:
            pending: tuple[SpliceEvent | None, bool] | None = (
                None  # OATCLS cue waiting for its CUE-OUT/IN
            )
            for tag in position.tags:
                if tag.name not in CUE_TAGS:
                    continue
                if tag.name == "EXT-OATCLS-SCTE35":
                    if pending is not None:
                        cue_out.oatcls_alone(self, position, pending)
                    pending = (self.cue(position, tag, tag.value), True)
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
                    self.problem(position, tag, str(exc))
            if pending is not None:
                cue_out.oatcls_alone(self, position, pending)
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

    def problem(self, position: _Position, tag: Tag, message: str) -> None:
        self.problems.append(f"MSN {position.msn} {tag.name}: {message}")

    def cue(self, position: _Position, tag: Tag, payload: str | None) -> SpliceEvent | None:
        if payload is None or not payload.strip():
            self.problem(position, tag, "no SCTE-35 payload")
            return None
        try:
            return decode(payload)
        except Scte35Error as exc:
            self.problem(position, tag, f"unreadable SCTE-35 cue: {exc}")
            return None

    def emit(self, **fields) -> Signal:
        signal = Signal(**fields)
        self.signals.append(signal)
        return signal

    def _dispatch(self, position: _Position, tag: Tag, oatcls) -> None:
        name = tag.name
        if name == "EXT-X-DATERANGE":
            daterange.daterange(self, position, tag)
        elif name == "EXT-X-CUE-OUT":
            cue_out.cue_out(self, position, tag, oatcls)
        elif name == "EXT-X-CUE-OUT-CONT":
            cue_out.cue_out_cont(self, position, tag, oatcls)
        elif name == "EXT-X-CUE-IN":
            cue_out.cue_in(self, position, tag, oatcls)
        elif name == "EXT-X-SCTE35":
            scte35_tags.scte35(self, position, tag)
        elif name == "EXT-X-SPLICEPOINT-SCTE35":
            scte35_tags.splicepoint(self, position, tag)
