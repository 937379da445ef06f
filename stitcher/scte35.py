"""SCTE-35 through one door: `decode(payload) -> SpliceEvent`.

Every SCTE-35 cue the stitcher reads (playlist tags, the `/cue` API, the monitor) goes through
`decode`. It takes the whole splice_info_section as base64 text, ``0x``-hex text or raw bytes and
returns a frozen `SpliceEvent` that says what the cue means for ad insertion (out / in / cancel /
other, event id, duration, splice time in 90 kHz ticks), or raises `Scte35Error` saying what is
wrong. It never returns False and never prints.

How threefive is wrapped (threefive 3.x quirks, see also `origin_emulator/cues.py`):
- `Cue.decode()` does not check the CRC, the table id or the lengths; it reports trouble by
  printing (to the `sys.stderr` it bound at import, or to stdout as `<script>alert(...)` when
  `HTTP_USER_AGENT` is set) and carrying on with half-parsed fields. So the section's framing
  (table id, section_length, command length, descriptor loop) and its CRC-32/MPEG-2 are checked
  here first, threefive decodes only a section that passed, its printing is captured for the
  duration of the call (under a lock: the capture swaps module globals of `threefive.stuff`),
  and anything it printed or raised becomes a `Scte35Error`.
- Raw bytes are never handed to `threefive.Cue(...)` (it would search them for a 0xFC byte, or
  read ASCII digits as an integer); the checked section is set as `cue.bites` and decoded.
- Times come back as float seconds rounded to 6 decimals; `round(x * 90000)` gives the ticks back
  exactly. segmentation_event_id comes back as a hex string.
- Component splice mode (program_splice_flag / program_segmentation_flag = 0), encrypted
  sections and splice_schedule are not supported by threefive's decoder: they raise.

Side effects: none (the threefive output capture is undone before `decode` returns).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import threefive
import threefive.stuff
from threefive.crc import crc32

from stitcher.errors import RigError
from stitcher.ts import CLOCK, PTS_MODULO  # SCTE-35 times are ticks of the same 90 kHz clock

__all__ = [
    "Scte35Error",
    "SpliceEvent",
    "decode",
    "CLOCK",
    "OUT_TYPES",
    "IN_TYPES",
    "COMMAND_NAMES",
]

TABLE_ID = 0xFC
MIN_SECTION_LENGTH = 17  # 11 fixed bytes + empty command + descriptor_loop_length (2) + CRC_32 (4)
LEGACY_COMMAND_LENGTH = 0xFFF  # "unknown": the command's own syntax says how long it is
SEGMENTATION_DESCRIPTOR = 0x02
CUEI = b"CUEI"

# segmentation_type_id values that open a break, and the ends that close them (start + 1)
OUT_TYPES = frozenset({0x22, 0x30, 0x32, 0x34, 0x36, 0x38, 0x3A, 0x3C, 0x3E, 0x44, 0x46})
IN_TYPES = frozenset(t + 1 for t in OUT_TYPES)

COMMAND_NAMES = {
    0x00: "splice_null",
    0x04: "splice_schedule",
    0x05: "splice_insert",
    0x06: "time_signal",
    0x07: "bandwidth_reservation",
    0xFF: "private",
}
_SUPPORTED = frozenset({0x00, 0x05, 0x06, 0x07, 0xFF})


class Scte35Error(RigError, ValueError):
    """A payload that is not a usable SCTE-35 splice_info_section; the message says why.

    `reason` is a short machine-readable word: "input", "base64", "hex", "table_id", "header", "length",
    "truncated", "crc", "unsupported", "command", "descriptor", "threefive".
    """

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


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
    segmentation_types: segmentation_type_id of every (non-cancel) segmentation descriptor, in order.
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


# --------------------------------------------------------------------------- input


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        data = bytes(payload)
    elif isinstance(payload, str):
        text = payload.strip()
        if text[:2].lower() == "0x":
            digits = "".join(text[2:].split())
            try:
                data = bytes.fromhex(digits)
            except ValueError:
                raise Scte35Error(f"not hexadecimal: {_preview(text)}", "hex") from None
        else:
            data = _from_base64(text)
    else:
        raise Scte35Error(
            f"an SCTE-35 payload is base64 text, 0x-hex text or bytes, not {type(payload).__name__}",
            "input",
        )
    if not data:
        raise Scte35Error("empty SCTE-35 payload", "input")
    return data


def _from_base64(text: str) -> bytes:
    compact = "".join(text.split())
    if not compact:
        return b""
    if "-" in compact or "_" in compact:  # URL-safe alphabet
        compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)  # tolerate missing padding (as threefive does)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise Scte35Error(f"not base64 (nor 0x-hex): {_preview(text)}", "base64") from None


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


# --------------------------------------------------------------------------- framing


@dataclass(frozen=True)
class _Frame:
    section: bytes  # exactly 3 + section_length bytes
    command_type: int
    command: bytes  # the command's bytes
    descriptors: tuple[tuple[int, bytes], ...]  # (tag, body) in order
    pts_adjustment: int


def _crc_note(data: bytes) -> str:
    stored = int.from_bytes(data[-4:], "big")
    computed = crc32(data[:-4])
    if stored == computed:
        return "the bytes given do pass their CRC_32 (so section_length is wrong)"
    return (
        f"the CRC_32 does not match either (CRC_32 field 0x{stored:08x}, computed 0x{computed:08x})"
    )


def _frame(data: bytes) -> _Frame:
    if data[0] != TABLE_ID:
        raise Scte35Error(
            f"not a splice_info_section: table_id is 0x{data[0]:02x}, expected 0xfc", "table_id"
        )
    if len(data) < 3:
        raise Scte35Error(
            f"truncated splice_info_section: {len(data)} byte(s), the header alone is 3",
            "truncated",
        )
    section_length = ((data[1] & 0x0F) << 8) | data[2]
    total = 3 + section_length
    if section_length < MIN_SECTION_LENGTH:
        raise Scte35Error(
            f"section_length {section_length} is too short for a splice_info_section (at least {MIN_SECTION_LENGTH})",
            "length",
        )
    if len(data) < total:
        note = f"; {_crc_note(data)}" if len(data) >= 8 else ""
        raise Scte35Error(
            f"truncated splice_info_section: section_length {section_length} means {total} bytes, only {len(data)} given{note}",
            "truncated",
        )
    extra = data[total:]
    if extra and extra.strip(b"\xff"):
        raise Scte35Error(
            f"{len(extra)} byte(s) after the splice_info_section (section_length {section_length} means {total} bytes)",
            "length",
        )
    section = data[:total]
    stored, computed = int.from_bytes(section[-4:], "big"), crc32(section[:-4])
    if stored != computed:
        raise Scte35Error(
            f"CRC mismatch: CRC_32 field 0x{stored:08x}, computed 0x{computed:08x} (CRC-32/MPEG-2)",
            "crc",
        )
    if section[1] & 0x80:
        raise Scte35Error("section_syntax_indicator is 1; a splice_info_section has 0", "header")
    if section[3] != 0:
        raise Scte35Error(
            f"unsupported protocol_version {section[3]} (only 0 is defined)", "unsupported"
        )
    if section[4] & 0x80:
        raise Scte35Error(
            "encrypted splice_info_section: decryption is not supported", "unsupported"
        )
    pts_adjustment = int.from_bytes(section[4:9], "big") & (PTS_MODULO - 1)
    command_length = ((section[11] & 0x0F) << 8) | section[12]
    command_type = section[13]
    name = COMMAND_NAMES.get(command_type, f"reserved command type 0x{command_type:02x}")
    if command_type not in _SUPPORTED:
        raise Scte35Error(f"unsupported splice command: {name}", "unsupported")
    end = total - 4
    body = section[14:end]
    if command_length == LEGACY_COMMAND_LENGTH:
        command_length = _command_size(command_type, body)
    else:
        needed = (
            _command_size(command_type, body[:command_length])
            if command_type in (0x05, 0x06)
            else None
        )
        if needed is not None and needed != command_length:
            raise Scte35Error(
                f"splice_command_length is {command_length} but the {name} holds {needed} bytes",
                "command",
            )
    if 14 + command_length + 2 > end:
        raise Scte35Error(
            f"the {name} ({command_length} bytes) and descriptor_loop_length do not fit in section_length {section_length}",
            "command",
        )
    if command_type == 0xFF and command_length < 4:
        raise Scte35Error(
            f"a private_command needs a 4-byte identifier, splice_command_length is {command_length}",
            "command",
        )
    command = section[14 : 14 + command_length]
    at = 14 + command_length
    loop_length = int.from_bytes(section[at : at + 2], "big")
    at += 2
    if at + loop_length > end:
        raise Scte35Error(
            f"descriptor_loop_length {loop_length} runs past the end of the section", "descriptor"
        )
    loop = section[at : at + loop_length]
    descriptors: list[tuple[int, bytes]] = []
    i = 0
    while i < len(loop):
        if i + 2 > len(loop):
            raise Scte35Error(
                f"descriptor {len(descriptors)} is cut off in the descriptor loop", "descriptor"
            )
        tag, length = loop[i], loop[i + 1]
        if i + 2 + length > len(loop):
            raise Scte35Error(
                f"descriptor {len(descriptors)} (tag 0x{tag:02x}, {length} bytes) overruns the descriptor loop",
                "descriptor",
            )
        if length < 4:
            raise Scte35Error(
                f"descriptor {len(descriptors)} (tag 0x{tag:02x}) is {length} bytes, too short for its identifier",
                "descriptor",
            )
        descriptors.append((tag, loop[i + 2 : i + 2 + length]))
        i += 2 + length
    return _Frame(section, command_type, command, tuple(descriptors), pts_adjustment)


def _splice_time_size(body: bytes, at: int) -> int:
    if at >= len(body):
        raise Scte35Error("splice_time is cut off", "command")
    return 5 if body[at] & 0x80 else 1


def _command_size(command_type: int, body: bytes) -> int:
    """Bytes the command's own syntax occupies at the start of `body` (splice_insert, time_signal)."""
    if command_type == 0x06:
        return _splice_time_size(body, 0)
    if command_type != 0x05:
        raise Scte35Error(
            f"splice_command_length 0xfff is only allowed for splice_insert and time_signal, not {COMMAND_NAMES[command_type]}",
            "command",
        )
    if len(body) < 5:
        raise Scte35Error(f"splice_insert is cut off ({len(body)} bytes)", "command")
    if body[4] & 0x80:  # splice_event_cancel_indicator
        return 5
    if len(body) < 6:
        raise Scte35Error("splice_insert is cut off after its event id", "command")
    flags = body[5]
    program, duration, immediate = bool(flags & 0x40), bool(flags & 0x20), bool(flags & 0x10)
    if not program:
        raise Scte35Error(
            "splice_insert in component splice mode (program_splice_flag 0) is not supported",
            "unsupported",
        )
    size = 6
    if not immediate:
        size += _splice_time_size(body, size)
    if duration:
        size += 5
    return size + 4  # unique_program_id, avail_num, avails_expected


# --------------------------------------------------------------------------- threefive


_THREEFIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def _captured_threefive_output() -> Iterator[io.StringIO]:
    """Route threefive's printing (all of it goes through `threefive.stuff.print2`) into a buffer.

    print2 writes to `threefive.stuff.stderr` (bound at import) or, when `HTTP_USER_AGENT` is in
    `threefive.stuff.environ`, to stdout; both globals are swapped for the duration.
    """
    sink = io.StringIO()
    module = threefive.stuff
    with _THREEFIVE_LOCK:
        saved = module.stderr, module.environ
        module.stderr, module.environ = sink, {}
        try:
            yield sink
        finally:
            module.stderr, module.environ = saved


def _ticks(seconds: object, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise Scte35Error(f"threefive left {what} unset", "threefive")
    return round(seconds * CLOCK)


def _is_segmentation(tag: int, body: bytes) -> bool:
    return tag == SEGMENTATION_DESCRIPTOR and body[:4] == CUEI


def _run_threefive(frame: _Frame) -> threefive.Cue:
    """threefive's decode of the command and the segmentation descriptors of a checked section.

    threefive sees a copy of the section with the real command length (a legacy 0xfff replaced)
    and only the CUEI segmentation descriptors (it would choke on the binary payload of private
    descriptors, which mean nothing here). The CRC was checked on the original bytes.
    """
    loop = b"".join(
        bytes((tag, len(body))) + body
        for tag, body in frame.descriptors
        if _is_segmentation(tag, body)
    )
    length = len(frame.command)
    header = bytearray(frame.section[:14])
    header[11] = (header[11] & 0xF0) | (length >> 8)
    header[12] = length & 0xFF
    section_length = 11 + length + 2 + len(loop) + 4
    header[1] = (header[1] & 0xF0) | (section_length >> 8)
    header[2] = section_length & 0xFF
    section = (
        bytes(header) + frame.command + len(loop).to_bytes(2, "big") + loop + frame.section[-4:]
    )
    with _captured_threefive_output() as sink:
        try:
            cue = threefive.Cue()
            cue.bites = section
            cue.decode()
        except Exception as exc:  # threefive raises whatever its parsing trips over
            raise Scte35Error(
                f"threefive could not decode the section: {type(exc).__name__}: {exc}", "threefive"
            ) from exc
    said = " ".join(threefive.stuff.no_ESC(sink.getvalue()).replace("#", " ").split())
    if said:
        raise Scte35Error(f"threefive could not decode the section: {said}", "threefive")
    if cue.command is None:
        raise Scte35Error("threefive decoded no splice command", "threefive")
    return cue


# --------------------------------------------------------------------------- meaning


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
                "segmentation descriptor in component mode (program_segmentation_flag 0) is not supported",
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
