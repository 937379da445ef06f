"""MPEG-TS on the bytes: measure segments, shift their clocks, chain and flag their counters.

One parser for every part of the rig that reads transport streams:
- `scan` measures a segment: streams, per-PID packet and continuity counts, first and last
  timestamps, when each stream's presentation starts and ends, audio frames, the H.264 codec
  string. The probe, the media build, conditioning and `rig inspect splices` use it;
- `av_timing` / `bridge`: each side's sound against its own picture, and the hole or overlap a
  player must bridge where one segment follows another (docs/splices.md);
- `rewrite` shifts every PTS, DTS and PCR (33-bit arithmetic, so the 26.5-hour wrap happens as in
  broadcast) and renumbers continuity counters: the origin emulator serves loop iteration `i` of
  a rendered segment with it, so the loop plays as one continuous stream;
- `chain` and `flag_discontinuity`: an ad's segments made one stream whose first packets say it
  follows a splice; the stitcher flags the content segment a break returns to.

Side effects: none. Pure functions over bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    point against the picture at every boundary; a loop must be whole frames or glitch at its wrap."""
    frames = seconds * audio_rate / AAC_SAMPLES_PER_FRAME
    return abs(frames - round(frames)) <= 1e-9


class TsError(RigError, ValueError):
    """Bytes that are not a well-formed MPEG transport stream."""


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


# --------------------------------------------------------------------------- audio against picture


@dataclass(frozen=True)
class AvTiming:
    """When a segment's picture and sound start and end (90 kHz ticks, `scan`'s unwrapped PTS)."""

    video_start: int
    video_end: int
    audio_start: int
    audio_end: int
    audio_rate: int

    @property
    def start_offset(self) -> int:
        """How far the sound starts after the picture (negative: before it)."""
        return self.audio_start - self.video_start

    @property
    def end_offset(self) -> int:
        """How far the sound ends after the picture (negative: before it)."""
        return self.audio_end - self.video_end

    @property
    def audio_frame(self) -> int:
        """One AAC frame in ticks (1920 at 48 kHz)."""
        return round(AAC_SAMPLES_PER_FRAME * CLOCK / self.audio_rate)


def av_timing(info: TsInfo) -> AvTiming:
    """The picture and sound span of a scanned segment; TsError without both."""
    video, audio = info.stream("video"), info.stream("audio")
    if (
        video is None
        or audio is None
        or video.min_pts is None
        or video.end_pts is None
        or audio.min_pts is None
        or audio.end_pts is None
        or not audio.sample_rate
    ):
        raise TsError("the segment needs a video and an AAC audio stream with timestamps")
    return AvTiming(
        video.min_pts,
        video.end_pts,
        _unwrap(audio.min_pts, video.min_pts),
        _unwrap(audio.end_pts, video.end_pts),
        audio.sample_rate,
    )


def bridge(before: AvTiming, after: AvTiming, discontinuity: bool) -> int:
    """The sound a player must bridge where `after` follows `before` (ticks): positive is a hole,
    negative an overlap. Across a discontinuity the two timelines are unrelated, so each side's
    sound is measured against its own picture (a player lines the pictures up); otherwise the
    timestamps are one timeline and the gap is read off them."""
    if discontinuity:
        return after.start_offset - before.end_offset
    return signed_ticks(after.audio_start, before.audio_end)
