"""Changing segments on the bytes: every clock shifted by one offset (33-bit, wrapping as in
broadcast), continuity counters run on from segment to segment, a splice's first packets flagged.
"""

from __future__ import annotations

from stitcher.ts.packets import (
    NULL_PID,
    PACKET,
    PAT_PID,
    PTS_MODULO,
    _check,
    _payload_start,
    _pes_timestamps,
    _read_ts,
    _write_ts,
)
from stitcher.ts.scan import TsInfo, scan


def rewrite(data: bytes, pts_offset: int, cc_start: dict[int, int]) -> bytes:
    """Shift every PTS/DTS/PCR by `pts_offset` ticks (mod 2^33) and renumber continuity counters.

    `cc_start[pid]` is the counter the PID's first payload packet must carry; PIDs not named keep
    their counters. Adaptation-only packets keep the previous counter, as the standard requires.
    """
    _check(data)
    out = bytearray(data)
    offset = pts_offset % PTS_MODULO
    counters = dict(cc_start)
    for start in range(0, len(out), PACKET):
        pid = ((out[start + 1] & 0x1F) << 8) | out[start + 2]
        afc = (out[start + 3] >> 4) & 0x03
        if afc & 0x02 and out[start + 4] > 0 and out[start + 5] & 0x10:  # PCR present
            i = start + 6
            base = (
                (out[i] << 25)
                | (out[i + 1] << 17)
                | (out[i + 2] << 9)
                | (out[i + 3] << 1)
                | (out[i + 4] >> 7)
            )
            base = (base + offset) % PTS_MODULO
            out[i] = (base >> 25) & 0xFF
            out[i + 1] = (base >> 17) & 0xFF
            out[i + 2] = (base >> 9) & 0xFF
            out[i + 3] = (base >> 1) & 0xFF
            out[i + 4] = ((base & 0x01) << 7) | (out[i + 4] & 0x7F)
        if afc & 0x01 and pid in counters:
            out[start + 3] = (out[start + 3] & 0xF0) | counters[pid]
            counters[pid] = (counters[pid] + 1) & 0x0F
        elif (
            pid in counters
        ):  # adaptation only: repeats the counter of the PID's last payload packet
            out[start + 3] = (out[start + 3] & 0xF0) | ((counters[pid] - 1) & 0x0F)
        if out[start + 1] & 0x40 and pid not in (PAT_PID, NULL_PID):
            p = _payload_start(out, start)
            if p is None or p + 9 > start + PACKET:
                continue
            pts_at, dts_at, _ = _pes_timestamps(out, p)
            if pts_at is not None and pts_at + 5 <= start + PACKET:
                _write_ts(out, pts_at, (_read_ts(out, pts_at) + offset) % PTS_MODULO)
            if dts_at is not None and dts_at + 5 <= start + PACKET:
                _write_ts(out, dts_at, (_read_ts(out, dts_at) + offset) % PTS_MODULO)
    return bytes(out)


def flag_discontinuity(data: bytes) -> bytes:
    """Set the discontinuity_indicator on each PID's first packet: what a segment that follows a
    splice says so that a demuxer expects its continuity counters (and, on the PCR PID, its
    clock) to jump. A packet with an adaptation field gets the flag in it; a table packet
    without one gets a two-byte field in place of two bytes of its 0xFF stuffing. A PES packet
    without an adaptation field cannot be flagged without moving its payload and is left as it is
    (ffmpeg gives every stream's first packet one: the random-access flag)."""
    _check(data)
    out = bytearray(data)
    seen: set[int] = set()
    for start in range(0, len(out), PACKET):
        pid = ((out[start + 1] & 0x1F) << 8) | out[start + 2]
        if pid in seen or pid == NULL_PID:
            continue
        seen.add(pid)
        afc = (out[start + 3] >> 4) & 0x03
        if afc & 0x02 and out[start + 4] > 0:
            out[start + 5] |= 0x80
        elif (
            afc == 0x01
            and out[start + PACKET - 2 : start + PACKET] == b"\xff\xff"
            and out[start + 4] == 0
            and out[start + 1] & 0x40
        ):
            payload = bytes(
                out[start + 4 : start + PACKET - 2]
            )  # a table section: pointer 0, then 0xFF stuffing at the end
            out[start + 3] = (out[start + 3] & 0xCF) | 0x30
            out[start + 4 : start + PACKET] = b"\x01\x80" + payload
    return bytes(out)


def unchained(before: TsInfo, after: TsInfo) -> list[int]:
    """PIDs in both segments whose first counter in `after` is not the last one in `before` plus one
    (mod 16): where a demuxer that reads them as one stream sees a counter jump."""
    return [
        pid
        for pid in sorted(before.last_cc.keys() & after.first_cc.keys())
        if after.first_cc[pid] != (before.last_cc[pid] + 1) % 16
    ]


def chain(segments: list[bytes]) -> list[bytes]:
    """The consecutive segments of one rendition made one stream: every PID's continuity counter
    runs on from segment to segment (starting where the first segment starts it), and the first
    segment's packets are flagged as a discontinuity (`flag_discontinuity`): it only ever plays
    after a splice."""
    out: list[bytes] = []
    counters: dict[int, int] = {}
    for index, data in enumerate(segments):
        info = scan(data)
        start = {pid: counters.get(pid, cc) for pid, cc in info.first_cc.items()}
        rewritten = rewrite(data, 0, start)
        out.append(flag_discontinuity(rewritten) if index == 0 else rewritten)
        counters.update({pid: (cc + info.payload_packets[pid]) % 16 for pid, cc in start.items()})
    return out
