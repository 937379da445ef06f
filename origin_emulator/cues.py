"""Real SCTE-35 cues for the origin emulator's live playlists.

Side effects: none. Pure functions; invalid input raises `CueError`.
How and why: docs/origin.md, "`origin_emulator.cues`".
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Literal

from threefive import Cue, SegmentationDescriptor, SpliceInsert, TimeSignal

from origin_emulator.errors import CueError
from stitcher.ts import CLOCK, PTS_MODULO  # pts_time and break_duration: 33-bit 90 kHz ticks

SEGMENTATION_DURATION_LIMIT = 1 << 40  # segmentation_duration is 40 bits
EVENT_ID_LIMIT = 1 << 32
AIRING_ID = 0x08  # segmentation_upid_type: Turner/AiringID, 8 bytes
PLACEMENT_OPPORTUNITY_START = 0x34
PLACEMENT_OPPORTUNITY_END = 0x35
COMMANDS = ("splice_insert", "time_signal")
KINDS = ("out", "in", "cancel")
# threefive prints "pts_time is not set" for a falsy pts_time, yet encodes it; 1 ns is truthy
# and still rounds to 0 ticks, so PTS 0 encodes exactly and quietly.
_QUIET_ZERO = 1e-9


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CueSpec:
    """What one cue says. Checked on construction: an invalid spec raises `CueError`.

    pts: splice time in 90 kHz ticks, None = immediate (splice_insert) / no time (time_signal).
    duration: seconds, out cues only — break_duration (splice_insert, auto return) or
    segmentation_duration (time_signal); it becomes round(duration * 90000) ticks.
    upid, segmentation_type: time_signal out/in only; upid is 8 bytes of AiringID (default: the
    event id, big-endian); segmentation_type defaults to 0x34 for out, 0x35 for in.
    """

    command: Literal["splice_insert", "time_signal"]
    kind: Literal["out", "in", "cancel"]
    event_id: int
    pts: int | None
    duration: float | None = None
    upid: bytes | None = None
    segmentation_type: int | None = None

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise CueError(f"unknown SCTE-35 command {self.command!r}; expected one of {COMMANDS}")
        if self.kind not in KINDS:
            raise CueError(f"unknown cue kind {self.kind!r}; expected one of {KINDS}")
        if not _is_int(self.event_id) or not 0 <= self.event_id < EVENT_ID_LIMIT:
            raise CueError(f"event_id must be an int in [0, 2**32), got {self.event_id!r}")
        if self.pts is not None and (not _is_int(self.pts) or not 0 <= self.pts < PTS_MODULO):
            raise CueError(f"pts must be None or int 90 kHz ticks in [0, 2**33), got {self.pts!r}")
        if self.command == "splice_insert" and self.kind == "cancel" and self.pts is not None:
            raise CueError("a splice_insert cancel carries no splice time; pass pts=None")
        if self.duration is not None:
            self._check_duration()
        elif self.command == "time_signal" and self.kind == "out" and self.pts is None:
            raise CueError("an immediate time_signal out needs a duration (no time, no end)")
        segmentation = self.command == "time_signal" and self.kind != "cancel"
        if self.upid is not None:
            if not segmentation:
                raise CueError("upid applies only to a time_signal out or in")
            if not isinstance(self.upid, bytes) or len(self.upid) != 8:
                raise CueError(f"upid must be 8 bytes (AiringID, type 0x08), got {self.upid!r}")
        if self.segmentation_type is not None:
            if not segmentation:
                raise CueError("segmentation_type applies only to a time_signal out or in")
            st = self.segmentation_type
            if not _is_int(st) or not 0 <= st <= 0xFF:
                raise CueError(f"segmentation_type must be an int in [0, 255], got {st!r}")

    def _check_duration(self) -> None:
        if self.kind != "out":
            raise CueError(f"duration applies only to an out cue, not {self.kind!r}")
        d = self.duration
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
            raise CueError(f"duration must be a finite number of seconds > 0, got {d!r}")
        limit = PTS_MODULO if self.command == "splice_insert" else SEGMENTATION_DURATION_LIMIT
        if d >= limit / CLOCK or not 0 < self.duration_ticks < limit:
            raise CueError(f"duration {d!r} s must be 1 to {limit - 1} ticks of 90 kHz")

    @property
    def duration_ticks(self) -> int | None:
        """The duration as the 90 kHz tick count that goes on the wire."""
        return None if self.duration is None else round(self.duration * CLOCK)


def _seconds(ticks: int) -> float:
    """Ticks as the float seconds threefive wants; it encodes round(seconds * 90000) == ticks."""
    return ticks / CLOCK or _QUIET_ZERO


def _splice_insert(spec: CueSpec) -> SpliceInsert:
    cmd = SpliceInsert()
    cmd.splice_event_id = spec.event_id
    cmd.splice_event_cancel_indicator = spec.kind == "cancel"
    if spec.kind == "cancel":
        return cmd
    cmd.out_of_network_indicator = spec.kind == "out"
    cmd.program_splice_flag = True
    cmd.event_id_compliance_flag = True
    cmd.splice_immediate_flag = spec.pts is None
    cmd.time_specified_flag = spec.pts is not None
    if spec.pts is not None:
        cmd.pts_time = _seconds(spec.pts)
    cmd.duration_flag = spec.duration is not None
    if spec.duration is not None:
        cmd.break_auto_return = True
        cmd.break_duration = _seconds(spec.duration_ticks)
    cmd.unique_program_id = 1
    cmd.avail_num = 0
    cmd.avails_expected = 0
    return cmd


def _time_signal(spec: CueSpec) -> TimeSignal:
    cmd = TimeSignal()
    cmd.time_specified_flag = spec.pts is not None
    if spec.pts is not None:
        cmd.pts_time = _seconds(spec.pts)
    return cmd


def _segmentation(spec: CueSpec) -> SegmentationDescriptor:
    sd = SegmentationDescriptor()
    sd.segmentation_event_id = f"0x{spec.event_id:08x}"  # threefive wants this one as a hex str
    sd.segmentation_event_cancel_indicator = spec.kind == "cancel"
    sd.segmentation_event_id_compliance_indicator = True
    if spec.kind == "cancel":
        return sd
    sd.program_segmentation_flag = True
    sd.delivery_not_restricted_flag = True
    sd.segmentation_duration_flag = spec.duration is not None
    if spec.duration is not None:
        sd.segmentation_duration = _seconds(spec.duration_ticks)
    upid = spec.upid if spec.upid is not None else spec.event_id.to_bytes(8, "big")
    sd.segmentation_upid_type = AIRING_ID
    sd.segmentation_upid_length = len(upid)
    sd.segmentation_upid = int.from_bytes(upid, "big")
    default_type = PLACEMENT_OPPORTUNITY_START if spec.kind == "out" else PLACEMENT_OPPORTUNITY_END
    st = spec.segmentation_type
    sd.segmentation_type_id = st if st is not None else default_type
    sd.segment_num = 1
    sd.segments_expected = 1
    return sd


def encode(spec: CueSpec) -> bytes:
    """The whole splice_info_section for `spec`: pts_adjustment 0, tier 0xFFF, valid CRC_32."""
    if not isinstance(spec, CueSpec):
        raise CueError(f"encode needs a CueSpec, got {type(spec).__name__}")
    cue = Cue()
    cue.info_section.pts_adjustment = 0
    cue.info_section.tier = "0xfff"
    if spec.command == "splice_insert":
        cue.command = _splice_insert(spec)
    else:
        cue.command = _time_signal(spec)
        cue.descriptors.append(_segmentation(spec))
    cue.encode()
    return bytes(cue.bytes())


def to_base64(section: bytes) -> str:
    """Standard base64 (with padding), as in CUE-OUT-CONT SCTE35=, EXT-X-SCTE35 CUE= and OATCLS."""
    return base64.b64encode(section).decode("ascii")


def to_hex(section: bytes) -> str:
    """``0x`` + upper-case hex: the unquoted hex of ``EXT-X-DATERANGE:SCTE35-OUT=0x…``."""
    return "0x" + bytes(section).hex().upper()
