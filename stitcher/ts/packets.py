"""Transport-stream packets: the constants of the 90 kHz clock, and reading and writing
timestamps."""

from __future__ import annotations

from stitcher.errors import RigError

PACKET = 188


SYNC = 0x47


PTS_MODULO = 1 << 33


CLOCK = 90_000


PAT_PID = 0


NULL_PID = 0x1FFF


AAC_SAMPLES_PER_FRAME = 1024


def whole_aac_frames(seconds: float, audio_rate: int) -> bool:
    """Whether `seconds` of sound at `audio_rate` is a whole number of AAC frames (1024 samples):
    1.92 s at 48 kHz is 90, 2 s is 93.75. Segments of whole frames have their sound cut at the same
    point against the picture at every boundary; a loop must be whole frames or glitch at its
    wrap."""
    frames = seconds * audio_rate / AAC_SAMPLES_PER_FRAME
    return abs(frames - round(frames)) <= 1e-9


class TsError(RigError, ValueError):
    """Bytes that are not a well-formed MPEG transport stream."""


def _read_ts(b: bytes | bytearray, i: int) -> int:
    """A 33-bit PTS/DTS from the 5 bytes at i."""
    return (
        ((b[i] >> 1) & 0x07) << 30
        | b[i + 1] << 22
        | (b[i + 2] >> 1) << 15
        | b[i + 3] << 7
        | b[i + 4] >> 1
    )


def _write_ts(b: bytearray, i: int, value: int) -> None:
    prefix = b[i] & 0xF0
    b[i] = prefix | ((value >> 29) & 0x0E) | 0x01
    b[i + 1] = (value >> 22) & 0xFF
    b[i + 2] = ((value >> 14) & 0xFE) | 0x01
    b[i + 3] = (value >> 7) & 0xFF
    b[i + 4] = ((value << 1) & 0xFE) | 0x01


def _check(data: bytes) -> None:
    if len(data) % PACKET:
        raise TsError(f"{len(data)} bytes is not a whole number of {PACKET}-byte packets")
    for start in range(0, len(data), PACKET):
        if data[start] != SYNC:
            raise TsError(f"lost sync at byte {start}")


def _payload_start(data: bytes | bytearray, start: int) -> int | None:
    """Offset of the payload of the packet at `start`, or None when it carries none."""
    afc = (data[start + 3] >> 4) & 0x03
    if not afc & 0x01:
        return None
    offset = start + 4
    if afc & 0x02:
        offset += 1 + data[start + 4]
    return offset if offset < start + PACKET else None


def _pes_timestamps(data: bytes | bytearray, p: int) -> tuple[int | None, int | None, int]:
    """(pts offset, dts offset, header end) of a PES header at p, or Nones when it has none."""
    if data[p : p + 3] != b"\x00\x00\x01":
        return None, None, p
    stream_id = data[p + 3]
    if stream_id in (0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xFF, 0xF2, 0xF8):
        return None, None, p
    flags = data[p + 7] >> 6
    header_end = p + 9 + data[p + 8]
    pts = p + 9 if flags & 0x02 else None
    dts = p + 14 if flags == 0x03 else None
    return pts, dts, header_end


def _unwrap(pts: int, reference: int | None) -> int:
    """`pts` moved by whole 2^33 periods to lie within half a period of `reference` (a 33-bit wrap
    inside one segment then still gives increasing times)."""
    if reference is None:
        return pts
    return pts + round((reference - pts) / PTS_MODULO) * PTS_MODULO


def signed_ticks(a: int, b: int) -> int:
    """`a - b` in 90 kHz ticks across the 33-bit wrap: the difference of smallest magnitude."""
    d = (a - b) % PTS_MODULO
    return d - PTS_MODULO if d >= PTS_MODULO // 2 else d
