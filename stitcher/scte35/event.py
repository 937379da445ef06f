"""What a decoded cue means for ad insertion (`SpliceEvent`), and `decode`, the one door."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import threefive
import threefive.stuff

from stitcher.scte35.bridge import _is_segmentation, _run_threefive, _ticks
from stitcher.scte35.section import COMMAND_NAMES, Scte35Error, _Frame, _frame, _payload_bytes
from stitcher.ts import CLOCK, PTS_MODULO  # SCTE-35 times are ticks of the same 90 kHz clock

# segmentation_type_id values that open a break, and the ends that close them (start + 1)
OUT_TYPES = frozenset({0x22, 0x30, 0x32, 0x34, 0x36, 0x38, 0x3A, 0x3C, 0x3E, 0x44, 0x46})


IN_TYPES = frozenset(t + 1 for t in OUT_TYPES)


@dataclass(frozen=True)
class SpliceEvent:
    """What one splice_info_section means for ad insertion.

    command: "splice_insert" | "time_signal" | "splice_null" | "bandwidth_reservation" | "private".
    event_id: splice_event_id, or the segmentation_event_id of the first relevant (cancel, start or
      end) segmentation descriptor, else of the first one; None when the cue has neither.
    kind: "out" | "in" | "cancel" | "other".
    duration: break_duration (splice_insert) or segmentation_duration of the relevant descriptor,
      in seconds (exactly ticks / 90000); None when the cue gives none.
    pts: splice time in 90 kHz ticks including pts_adjustment, mod 2**33; None when immediate or
      without a time (cancel, splice_null, time_signal without time).
    immediate: splice_insert with splice_immediate_flag, or a time_signal without a time.
    auto_return: break_auto_return of a splice_insert with a break_duration, else None.
    segmentation_types: segmentation_type_id of every (non-cancel) segmentation descriptor, in
    order.
    upid: lowercase hex (no prefix) of the relevant descriptor's UPID bytes, else of the first
      segmentation descriptor that has one; None without a UPID.
    raw: the whole section, table_id through CRC_32.
    """

    command: str
    event_id: int | None
    kind: str
    duration: float | None
    pts: int | None
    immediate: bool
    auto_return: bool | None
    segmentation_types: tuple[int, ...]
    upid: str | None
    raw: bytes

    @property
    def base64(self) -> str:
        """The section as standard base64 (as CUE-OUT-CONT, EXT-X-SCTE35 and OATCLS carry it)."""
        return base64.b64encode(self.raw).decode("ascii")

    @property
    def hex(self) -> str:
        """The section as ``0x`` + upper-case hex (as EXT-X-DATERANGE SCTE35-* carries it)."""
        return "0x" + self.raw.hex().upper()


@dataclass(frozen=True)
class _Segmentation:
    event_id: int
    cancel: bool
    type_id: int | None
    duration: float | None
    upid: bytes | None


def _segmentations(frame: _Frame, cue: threefive.Cue) -> list[_Segmentation]:
    found = []
    bodies = [body for tag, body in frame.descriptors if _is_segmentation(tag, body)]
    if len(cue.descriptors) != len(bodies):
        raise Scte35Error(
            f"threefive decoded {len(cue.descriptors)} segmentation descriptors of {len(bodies)}",
            "threefive",
        )
    for body, descriptor in zip(bodies, cue.descriptors):
        if len(body) < 9:
            raise Scte35Error(
                f"segmentation descriptor of {len(body)} bytes is cut off", "descriptor"
            )
        event_id = int.from_bytes(body[4:8], "big")
        if body[8] & 0x80:
            found.append(_Segmentation(event_id, True, None, None, None))
            continue
        if len(body) < 10:
            raise Scte35Error("segmentation descriptor is cut off after its event id", "descriptor")
        flags = body[9]
        if not flags & 0x80:
            raise Scte35Error(
                "segmentation descriptor in component mode (program_segmentation_flag 0) is not "
                "supported",
                "unsupported",
            )
        at = 10
        duration = None
        if flags & 0x40:
            if len(body) < at + 5:
                raise Scte35Error("segmentation_duration is cut off", "descriptor")
            duration = int.from_bytes(body[at : at + 5], "big") / CLOCK
            at += 5
        if len(body) < at + 2:
            raise Scte35Error("segmentation UPID is cut off", "descriptor")
        upid_length = body[at + 1]
        upid = body[at + 2 : at + 2 + upid_length]
        if len(upid) != upid_length or len(body) < at + 2 + upid_length + 3:
            raise Scte35Error(
                "segmentation descriptor is cut off in its UPID or type", "descriptor"
            )
        type_id = body[at + 2 + upid_length]
        # cross-check with threefive (a disagreement means one of us misread the bits)
        if (
            getattr(descriptor, "segmentation_type_id", None) != type_id
            or int(str(descriptor.segmentation_event_id), 16) != event_id
        ):
            raise Scte35Error(
                "threefive and the section disagree on a segmentation descriptor", "threefive"
            )
        found.append(_Segmentation(event_id, False, type_id, duration, upid or None))
    return found


def _event(frame: _Frame, cue: threefive.Cue) -> SpliceEvent:
    command = cue.command
    name = COMMAND_NAMES[frame.command_type]
    segmentations = _segmentations(frame, cue)
    types = tuple(s.type_id for s in segmentations if s.type_id is not None)
    relevant = next(
        (s for s in segmentations if s.cancel or s.type_id in OUT_TYPES or s.type_id in IN_TYPES),
        None,
    )
    any_upid = next((s.upid for s in segmentations if s.upid), None)
    first_upid = relevant.upid if relevant is not None and relevant.upid else any_upid
    upid = first_upid.hex() if first_upid else None
    event_id: int | None = None
    kind, duration, pts, immediate, auto_return = "other", None, None, False, None

    def splice_time() -> int | None:
        if not command.time_specified_flag:
            return None
        return (_ticks(command.pts_time, "pts_time") + frame.pts_adjustment) % PTS_MODULO

    if frame.command_type == 0x05:
        event_id = command.splice_event_id
        if not isinstance(event_id, int):
            raise Scte35Error("threefive left splice_event_id unset", "threefive")
        if command.splice_event_cancel_indicator:
            kind = "cancel"
        else:
            kind = "out" if command.out_of_network_indicator else "in"
            immediate = bool(command.splice_immediate_flag)
            if not immediate:
                pts = splice_time()
            if command.duration_flag:
                duration = _ticks(command.break_duration, "break_duration") / CLOCK
                auto_return = bool(command.break_auto_return)
    elif frame.command_type == 0x06:
        pts = splice_time()
        immediate = pts is None
        if relevant is not None:
            event_id = relevant.event_id
            if relevant.cancel:
                kind = "cancel"
            else:
                kind = "out" if relevant.type_id in OUT_TYPES else "in"
                duration = relevant.duration
        elif segmentations:
            event_id = segmentations[0].event_id
    return SpliceEvent(
        command=name,
        event_id=event_id,
        kind=kind,
        duration=duration,
        pts=pts,
        immediate=immediate,
        auto_return=auto_return,
        segmentation_types=types,
        upid=upid,
        raw=frame.section,
    )


def decode(payload: str | bytes) -> SpliceEvent:
    """Decode one splice_info_section (base64 text, ``0x``-hex text, or raw bytes).

    Raises `Scte35Error` (a ValueError) for anything that is not a valid, supported section:
    bad base64/hex, table_id other than 0xFC, a section_length beyond the data, a CRC-32/MPEG-2
    mismatch (both CRCs in the message), inconsistent command/descriptor lengths, unsupported
    commands or modes, or anything threefive trips over. Never prints.
    """
    data = _payload_bytes(payload)
    frame = _frame(data)
    cue = _run_threefive(frame)
    try:
        return _event(frame, cue)
    except Scte35Error:
        raise
    except Exception as exc:  # a field threefive left in an unexpected state
        raise Scte35Error(
            f"threefive returned an unusable decode: {type(exc).__name__}: {exc}", "threefive"
        ) from exc
