"""A splice_info_section's bytes: reading the payload's text forms, and checking the framing
(table id, lengths, descriptor loop) and the CRC-32 before anything decodes it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from threefive.crc import crc32

from stitcher.errors import RigError
from stitcher.ts import PTS_MODULO  # SCTE-35 times are ticks of the same 90 kHz clock

TABLE_ID = 0xFC


MIN_SECTION_LENGTH = 17  # 11 fixed bytes + empty command + descriptor_loop_length (2) + CRC_32 (4)


LEGACY_COMMAND_LENGTH = 0xFFF  # "unknown": the command's own syntax says how long it is


SEGMENTATION_DESCRIPTOR = 0x02


CUEI = b"CUEI"


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

    `reason` is a short machine-readable word: "input", "base64", "hex", "table_id", "header",
    "length",
    "truncated", "crc", "unsupported", "command", "descriptor", "threefive".
    """

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


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
            "an SCTE-35 payload is base64 text, 0x-hex text or bytes, not "
            f"{type(payload).__name__}",
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
            f"section_length {section_length} is too short for a splice_info_section (at least "
            f"{MIN_SECTION_LENGTH})",
            "length",
        )
    if len(data) < total:
        note = f"; {_crc_note(data)}" if len(data) >= 8 else ""
        raise Scte35Error(
            f"truncated splice_info_section: section_length {section_length} means {total} bytes, "
            f"only {len(data)} given{note}",
            "truncated",
        )
    extra = data[total:]
    if extra and extra.strip(b"\xff"):
        raise Scte35Error(
            f"{len(extra)} byte(s) after the splice_info_section (section_length {section_length} "
            f"means {total} bytes)",
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
            f"the {name} ({command_length} bytes) and descriptor_loop_length do not fit in "
            f"section_length {section_length}",
            "command",
        )
    if command_type == 0xFF and command_length < 4:
        raise Scte35Error(
            "a private_command needs a 4-byte identifier, splice_command_length is "
            f"{command_length}",
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
                f"descriptor {len(descriptors)} (tag 0x{tag:02x}, {length} bytes) overruns the "
                "descriptor loop",
                "descriptor",
            )
        if length < 4:
            raise Scte35Error(
                f"descriptor {len(descriptors)} (tag 0x{tag:02x}) is {length} bytes, too short for "
                "its identifier",
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
    """Bytes the command's own syntax occupies at the start of `body` (splice_insert,
    time_signal)."""
    if command_type == 0x06:
        return _splice_time_size(body, 0)
    if command_type != 0x05:
        raise Scte35Error(
            "splice_command_length 0xfff is only allowed for splice_insert and time_signal, not "
            f"{COMMAND_NAMES[command_type]}",
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
