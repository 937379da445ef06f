"""What one segment holds: its streams and PIDs, packet and continuity counts, first and last
timestamps, when each stream's presentation starts and ends, audio frames, the H.264 codec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stitcher.ts.packets import (
    AAC_SAMPLES_PER_FRAME,
    CLOCK,
    PACKET,
    PAT_PID,
    TsError,
    _check,
    _payload_start,
    _pes_timestamps,
    _read_ts,
    _unwrap,
)


@dataclass
class StreamInfo:
    """What `scan` learned about one elementary stream (one PID)."""

    pid: int
    stream_type: int = 0
    payload_packets: int = 0
    pes_count: int = 0
    first_pts: int | None = None
    last_pts: int | None = None
    first_dts: int | None = None
    frames: int = 0  # video: PES packets (one picture each); audio: ADTS frames
    min_pts: int | None = None  # earliest presentation time (90 kHz, unwrapped against first_pts)
    end_pts: int | None = (
        None  # when the last frame stops being presented: audio, its last ADTS frame's
    )
    # end; video, the latest picture's PTS plus the picture step (the smallest PTS difference)
    sample_rate: int | None = None
    channels: int | None = None  # audio: ADTS channel_configuration (2 = stereo)

    @property
    def kind(self) -> str:
        if self.stream_type in (0x1B, 0x24, 0x02):
            return "video"
        if self.stream_type in (0x0F, 0x03, 0x04, 0x11, 0x81):
            return "audio"
        return "data"


@dataclass
class TsInfo:
    streams: dict[int, StreamInfo] = field(default_factory=dict)
    payload_packets: dict[int, int] = field(default_factory=dict)  # every PID, PSI included
    first_cc: dict[int, int] = field(
        default_factory=dict
    )  # PID -> continuity counter of its first payload packet
    last_cc: dict[int, int] = field(
        default_factory=dict
    )  # PID -> continuity counter of its last payload packet
    flagged: set[int] = field(
        default_factory=set
    )  # PIDs whose first packet sets the discontinuity_indicator
    packets: int = 0
    has_pcr: bool = False
    codec: str | None = None  # e.g. avc1.4d401f from the first SPS

    def stream(self, kind: str) -> StreamInfo | None:
        for info in self.streams.values():
            if info.kind == kind:
                return info
        return None


def _pmt_streams(section: bytes) -> dict[int, int]:
    """PID -> stream_type from a PMT section (starting at table_id)."""
    length = ((section[1] & 0x0F) << 8) | section[2]
    end = 3 + length - 4
    program_info = ((section[10] & 0x0F) << 8) | section[11]
    i = 12 + program_info
    streams = {}
    while i + 5 <= end:
        stream_type = section[i]
        pid = ((section[i + 1] & 0x1F) << 8) | section[i + 2]
        es_info = ((section[i + 3] & 0x0F) << 8) | section[i + 4]
        streams[pid] = stream_type
        i += 5 + es_info
    return streams


def _pat_pmt_pids(section: bytes) -> set[int]:
    length = ((section[1] & 0x0F) << 8) | section[2]
    pids = set()
    for i in range(8, 3 + length - 4, 4):
        program = (section[i] << 8) | section[i + 1]
        if program:
            pids.add(((section[i + 2] & 0x1F) << 8) | section[i + 3])
    return pids


_ADTS_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)


def _count_adts(payload: bytes) -> tuple[int, int | None, int | None]:
    """(frames, sample rate, channel configuration) of the ADTS frames in a PES payload."""
    frames, rate, channels, i = 0, None, None, 0
    while i + 7 <= len(payload):
        if payload[i] != 0xFF or payload[i + 1] & 0xF6 != 0xF0:
            raise TsError(f"ADTS sync lost at payload byte {i}")
        rate = _ADTS_RATES[(payload[i + 2] >> 2) & 0x0F]
        channels = ((payload[i + 2] & 0x01) << 2) | (payload[i + 3] >> 6)
        length = ((payload[i + 3] & 0x03) << 11) | (payload[i + 4] << 3) | (payload[i + 5] >> 5)
        if length < 7:
            raise TsError("ADTS frame shorter than its header")
        frames += 1 + (payload[i + 6] & 0x03)
        i += length
    return frames, rate, channels


def _avc_codec(payload: bytes) -> str | None:
    """`avc1.PPCCLL` from the first SPS NAL unit in an H.264 elementary-stream payload."""
    i = payload.find(b"\x00\x00\x01")
    while 0 <= i < len(payload) - 6:
        if payload[i + 3] & 0x1F == 7:
            profile, constraints, level = payload[i + 4], payload[i + 5], payload[i + 6]
            return f"avc1.{profile:02x}{constraints:02x}{level:02x}"
        i = payload.find(b"\x00\x00\x01", i + 3)
    return None


def scan(data: bytes) -> TsInfo:
    """Measure a transport stream: streams, timestamps, payload packet counts, frames, codec."""
    _check(data)
    info = TsInfo()
    pmt_pids: set[int] = set()
    pes: dict[int, bytearray] = {}
    video_pts: dict[int, list[int]] = {}

    def finish(pid: int) -> None:
        buffer = pes.pop(pid, None)
        if buffer is None or pid not in info.streams:
            return
        stream = info.streams[pid]
        head = bytes(buffer[:32])
        pts_at, _, header_end = _pes_timestamps(head, 0) if len(buffer) >= 9 else (None, None, 0)
        pts = (
            _unwrap(_read_ts(head, pts_at), stream.first_pts)
            if pts_at is not None and pts_at + 5 <= len(head)
            else None
        )
        body = bytes(buffer[header_end:])
        if stream.kind == "audio" and stream.stream_type == 0x0F:
            frames, rate, channels = _count_adts(body)
            stream.frames += frames
            stream.sample_rate = stream.sample_rate or rate
            stream.channels = stream.channels or channels
            if pts is not None and rate:
                end = pts + round(frames * AAC_SAMPLES_PER_FRAME * CLOCK / rate)
                stream.end_pts = end if stream.end_pts is None else max(stream.end_pts, end)
        elif stream.kind == "video":
            stream.frames += 1
            if pts is not None:
                video_pts.setdefault(pid, []).append(pts)
            if info.codec is None and stream.stream_type == 0x1B:
                info.codec = _avc_codec(body)
        if pts is not None:
            stream.min_pts = pts if stream.min_pts is None else min(stream.min_pts, pts)

    for start in range(0, len(data), PACKET):
        info.packets += 1
        pid = ((data[start + 1] & 0x1F) << 8) | data[start + 2]
        pusi = bool(data[start + 1] & 0x40)
        afc = (data[start + 3] >> 4) & 0x03
        if afc & 0x02 and data[start + 4] > 0 and data[start + 5] & 0x10:
            info.has_pcr = True
        if (
            pid not in info.first_cc
            and afc & 0x02
            and data[start + 4] > 0
            and data[start + 5] & 0x80
        ):
            info.flagged.add(pid)  # discontinuity_indicator on the PID's first packet
        if (
            afc & 0x01
        ):  # counts for continuity even when the adaptation field leaves no payload bytes
            info.payload_packets[pid] = info.payload_packets.get(pid, 0) + 1
            info.first_cc.setdefault(pid, data[start + 3] & 0x0F)
            info.last_cc[pid] = data[start + 3] & 0x0F
        p = _payload_start(data, start)
        if p is None:
            continue
        payload = data[p : start + PACKET]
        if pid == PAT_PID or pid in pmt_pids:
            if pusi:
                section = payload[1 + payload[0] :]
                if pid == PAT_PID and section[:1] == b"\x00":
                    pmt_pids |= _pat_pmt_pids(section)
                elif section[:1] == b"\x02":
                    for es_pid, stream_type in _pmt_streams(section).items():
                        info.streams.setdefault(
                            es_pid, StreamInfo(es_pid)
                        ).stream_type = stream_type
            continue
        if pid not in info.streams:
            continue
        stream = info.streams[pid]
        stream.payload_packets += 1
        if pusi:
            finish(pid)
            pes[pid] = bytearray(payload)
            stream.pes_count += 1
            pts_at, dts_at, _ = _pes_timestamps(data, p)
            if pts_at is not None:
                pts = _read_ts(data, pts_at)
                stream.first_pts = pts if stream.first_pts is None else stream.first_pts
                stream.last_pts = pts
            if dts_at is not None and stream.first_dts is None:
                stream.first_dts = _read_ts(data, dts_at)
        elif pid in pes:
            pes[pid].extend(payload)
    for pid in list(pes):
        finish(pid)
    for pid, times in video_pts.items():
        ordered = sorted(times)
        steps = [b - a for a, b in zip(ordered, ordered[1:]) if b > a]
        info.streams[pid].end_pts = ordered[-1] + (min(steps) if steps else 0)
    return info
