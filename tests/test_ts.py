"""stitcher.ts: scan real ffmpeg transport streams, shift their clocks, renumber counters.

The streams are made once per module by ffmpeg (2 s of 25 fps H.264 + 48 kHz AAC):
- `vbr`: the plain mux (`-preset ultrafast -g 25`), PTS only, PCR inside video packets;
- `cbr_bframes`: B-frames (so DTS != PTS), a constant mux rate (null packets) and a short PCR
  period, which makes ffmpeg write PCR-only packets: adaptation field, no payload.
The audio is trimmed the way `origin_emulator.content` trims a loop (the AAC encoder adds a
1024-sample priming frame), so the audio track ends inside the 2 s segment and a loop of it does not
overlap itself.

Every check reads the bytes with the small independent reader below, never the module's helpers.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from origin_emulator.ffmpeg import ffmpeg_executable
from stitcher.ts import TsError, rewrite, scan

PACKET = 188
WRAP = 1 << 33
CLOCK = 90_000
FPS = 25
SECONDS = 2
SEGMENT_TICKS = SECONDS * CLOCK
FRAME_TICKS = CLOCK // FPS
AUDIO_SAMPLES = 92 * 1024  # + 1024 priming = 93 AAC frames = 1.984 s, inside the 2 s segment
NULL_PID = 0x1FFF

COMMON = [
    "-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={FPS}:duration={SECONDS}",
    "-f", "lavfi",
    "-i", f"sine=sample_rate=48000:duration={SECONDS},atrim=end_sample={AUDIO_SAMPLES}",
    "-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS), "-c:a", "aac",
]  # fmt: skip
ENCODINGS = {
    "vbr": [],
    "cbr_bframes": ["-x264-params", "bframes=2", "-muxrate", "600k", "-pcr_period", "10"],
}


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("ts")
    made = {}
    for name, extra in ENCODINGS.items():
        path = folder / f"{name}.ts"
        argv = [
            ffmpeg_executable(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            *COMMON,
            *extra,
            "-f",
            "mpegts",
            str(path),
        ]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        made[name] = path.read_bytes()
    return made


@pytest.fixture(params=list(ENCODINGS))
def ts(request: pytest.FixtureRequest, streams: dict[str, bytes]) -> bytes:
    return streams[request.param]


# --------------------------------------------------------------------------- an independent reader


@dataclass(frozen=True)
class Packet:
    start: int
    pid: int
    pusi: bool
    afc: int
    cc: int
    payload_at: int | None  # absolute offset of the payload; None for adaptation-only packets
    pcr: int | None = None
    pcr_at: int | None = None
    stream_id: int | None = None
    pts: int | None = None
    pts_at: int | None = None
    dts: int | None = None
    dts_at: int | None = None


def timestamp(field: bytes) -> int:
    """A 33-bit PTS/DTS from its 40-bit field: 4-bit prefix, 3 bits, marker, 15 bits, marker, 15
    bits, marker."""
    v = int.from_bytes(field, "big")
    return ((v >> 33) & 0x7) << 30 | ((v >> 17) & 0x7FFF) << 15 | ((v >> 1) & 0x7FFF)


def read_packets(data: bytes) -> list[Packet]:
    packets = []
    for start in range(0, len(data), PACKET):
        b = data[start : start + PACKET]
        assert b[0] == 0x47
        pid = int.from_bytes(b[1:3], "big") & 0x1FFF
        pusi, afc, cc = bool(b[1] & 0x40), b[3] >> 4, b[3] & 0x0F
        body, fields = 4, {}
        if afc in (2, 3):
            if b[4] and b[5] & 0x10:  # PCR: 33-bit base, 6 reserved bits, 9-bit extension
                fields.update(pcr=int.from_bytes(b[6:12], "big") >> 15, pcr_at=start + 6)
            body = 5 + b[4]
        payload_at = start + body if afc in (1, 3) and body < PACKET else None
        if (
            pusi
            and payload_at is not None
            and b[body : body + 3] == b"\x00\x00\x01"
            and 0xC0 <= b[body + 3] <= 0xEF
        ):
            flags = b[body + 7] >> 6
            fields["stream_id"] = b[body + 3]
            if flags in (2, 3):
                fields.update(pts=timestamp(b[body + 9 : body + 14]), pts_at=start + body + 9)
            if flags == 3:
                fields.update(dts=timestamp(b[body + 14 : body + 19]), dts_at=start + body + 14)
        packets.append(Packet(start, pid, pusi, afc, cc, payload_at, **fields))
    return packets


def es_pid(packets: list[Packet], kind: str) -> int:
    low, high = (0xE0, 0xEF) if kind == "video" else (0xC0, 0xDF)
    (pid,) = {p.pid for p in packets if p.stream_id is not None and low <= p.stream_id <= high}
    return pid


def pes_bodies(data: bytes, packets: list[Packet], pid: int) -> list[bytes]:
    """The elementary-stream bytes of each PES packet on a PID (PES header stripped)."""
    bodies: list[bytearray] = []
    for p in packets:
        if p.pid != pid or p.payload_at is None:
            continue
        chunk = data[p.payload_at : p.start + PACKET]
        if p.pusi:
            bodies.append(bytearray(chunk[9 + chunk[8] :]))
        elif bodies:
            bodies[-1] += chunk
    return [bytes(b) for b in bodies]


def adts_frames(body: bytes) -> int:
    count, i = 0, 0
    while i < len(body):
        assert body[i] == 0xFF and body[i + 1] >> 4 == 0xF, "ADTS sync"
        count += 1 + (body[i + 6] & 0x03)
        i += (body[i + 3] & 0x03) << 11 | body[i + 4] << 3 | body[i + 5] >> 5
    assert i == len(body)
    return count


def changeable_bits(packets: list[Packet], size: int) -> int:
    """A mask (as one big integer over the whole stream) of the bits `rewrite` may change."""
    mask = bytearray(size)
    for p in packets:
        mask[p.start + 3] = 0x0F  # continuity counter
        if p.pcr_at is not None:
            mask[p.pcr_at : p.pcr_at + 5] = (
                b"\xff\xff\xff\xff\x80"  # PCR base, not reserved/extension
            )
        for at in (p.pts_at, p.dts_at):
            if at is not None:
                mask[at : at + 5] = b"\x0e\xff\xfe\xff\xfe"  # timestamp bits, not prefix/markers
    return int.from_bytes(mask, "big")


# --------------------------------------------------------------------------- scan


def test_scan_finds_one_video_and_one_audio_stream(ts: bytes) -> None:
    info = scan(ts)
    packets = read_packets(ts)
    video, audio = info.stream("video"), info.stream("audio")
    assert video is not None and audio is not None and info.stream("data") is None
    assert len(info.streams) == 2
    assert (video.stream_type, audio.stream_type) == (0x1B, 0x0F)
    assert (video.pid, audio.pid) == (es_pid(packets, "video"), es_pid(packets, "audio"))
    assert info.packets == len(ts) // PACKET == len(packets)
    assert info.has_pcr and any(p.pcr is not None for p in packets)


def test_scan_counts_frames(ts: bytes) -> None:
    info = scan(ts)
    packets = read_packets(ts)
    video, audio = info.stream("video"), info.stream("audio")
    assert video.frames == video.pes_count == SECONDS * FPS == 50
    assert sum(p.pusi for p in packets if p.pid == video.pid) == 50
    assert abs(audio.frames - SECONDS * 48000 / 1024) <= 2
    assert audio.frames == sum(adts_frames(b) for b in pes_bodies(ts, packets, audio.pid)) == 93
    assert audio.sample_rate == 48000
    assert audio.pes_count == sum(p.pusi for p in packets if p.pid == audio.pid)


def test_scan_reads_the_codec_string(streams: dict[str, bytes]) -> None:
    # ultrafast without B-frames is Constrained Baseline; B-frames need Main
    assert scan(streams["vbr"]).codec.startswith("avc1.42")
    assert scan(streams["cbr_bframes"]).codec.startswith("avc1.4d")
    for data in streams.values():
        codec = scan(data).codec
        assert len(codec) == len("avc1.42c00b") and int(codec[5:], 16) >= 0


def test_scan_timestamps(ts: bytes) -> None:
    info = scan(ts)
    packets = read_packets(ts)
    for stream in info.streams.values():
        pts = [p.pts for p in packets if p.pid == stream.pid and p.pts is not None]
        dts = [p.dts for p in packets if p.pid == stream.pid and p.dts is not None]
        assert (stream.first_pts, stream.last_pts) == (pts[0], pts[-1])
        assert stream.first_dts == (dts[0] if dts else None)
    video = info.stream("video")
    if any(p.dts is not None for p in packets):
        assert video.first_dts < video.first_pts  # B-frames: decode before presentation


def test_scan_payload_packet_counts(ts: bytes) -> None:
    info = scan(ts)
    packets = read_packets(ts)
    carrying = Counter(p.pid for p in packets if p.payload_at is not None)
    assert info.payload_packets == dict(carrying)
    assert sum(info.payload_packets.values()) == sum(1 for p in packets if p.payload_at is not None)
    for stream in info.streams.values():
        assert stream.payload_packets == carrying[stream.pid]


def test_the_streams_cover_the_cases(streams: dict[str, bytes]) -> None:
    plain, cbr = read_packets(streams["vbr"]), read_packets(streams["cbr_bframes"])
    assert not any(p.dts is not None for p in plain)
    assert any(p.dts is not None and p.dts != p.pts for p in cbr)
    assert any(p.afc == 2 for p in cbr)  # PCR-only packets: adaptation field, no payload
    assert any(p.pid == NULL_PID for p in cbr)


# --------------------------------------------------------------------------- rewrite: clocks


@pytest.mark.parametrize(
    "offset",
    [0, 3600 * CLOCK, WRAP - 150_000, WRAP - 1, -SEGMENT_TICKS, 5 * WRAP + 12_345],
    ids=["zero", "one-hour", "wraps-mid-segment", "wrap-minus-one", "negative", "many-wraps"],
)
def test_rewrite_shifts_every_timestamp(ts: bytes, offset: int) -> None:
    out = rewrite(ts, offset, {})
    assert isinstance(out, bytes) and len(out) == len(ts)
    before, after = read_packets(ts), read_packets(out)
    shifted = 0
    for a, b in zip(before, after, strict=True):
        assert (a.pid, a.pusi, a.afc, a.cc, a.payload_at) == (
            b.pid,
            b.pusi,
            b.afc,
            b.cc,
            b.payload_at,
        )
        for old, new in ((a.pts, b.pts), (a.dts, b.dts), (a.pcr, b.pcr)):
            assert (old is None) == (new is None)
            if old is not None:
                assert new == (old + offset) % WRAP
                shifted += 1
    pes = sum(stream.pes_count for stream in scan(ts).streams.values())
    assert (
        sum(a.pts is not None for a in before) == pes
    )  # every PES carries a PTS, and each one moved
    assert shifted > pes  # PCRs (and DTSs) too
    if offset == WRAP - 150_000:  # part of the segment wraps past 2^33, part does not
        pts = [(a.pts, b.pts) for a, b in zip(before, after) if a.pts is not None]
        assert any(new < old for old, new in pts) and any(new > old for old, new in pts)
    # nothing but timestamp bits moved
    diff = int.from_bytes(ts, "big") ^ int.from_bytes(out, "big")
    assert diff & ~changeable_bits(before, len(ts)) == 0


def test_rewrite_is_invertible_and_zero_is_identity(ts: bytes) -> None:
    assert rewrite(ts, 0, {}) == ts
    assert rewrite(rewrite(ts, WRAP - 150_000, {}), 150_000 - WRAP, {}) == ts


# --------------------------------------------------------------------------- rewrite: counters


def expected_counters(packets: list[Packet], cc_start: dict[int, int]) -> list[int]:
    """Named PIDs count from cc_start per payload packet; adaptation-only packets repeat the last
    one."""
    counters = dict(cc_start)
    expected = []
    for p in packets:
        if p.pid not in counters:
            expected.append(p.cc)
        elif p.afc in (1, 3):
            expected.append(counters[p.pid])
            counters[p.pid] = (counters[p.pid] + 1) % 16
        else:
            expected.append((counters[p.pid] - 1) % 16)
    return expected


@pytest.mark.parametrize("which", ["all", "some"])
def test_rewrite_renumbers_continuity_counters(ts: bytes, which: str) -> None:
    before = read_packets(ts)
    pids = sorted({p.pid for p in before} - {NULL_PID})
    cc_start = {pid: (7 * i + 5) % 16 for i, pid in enumerate(pids)}
    if which == "some":
        del cc_start[es_pid(before, "audio")], cc_start[0]  # not named: keep their counters
    out = rewrite(ts, 12_345, cc_start)
    after = read_packets(out)
    assert [p.cc for p in after] == expected_counters(before, cc_start)
    for pid, first in cc_start.items():
        assert next(p.cc for p in after if p.pid == pid and p.payload_at is not None) == first
    diff = int.from_bytes(ts, "big") ^ int.from_bytes(out, "big")
    assert diff & ~changeable_bits(before, len(ts)) == 0


def test_rewrite_with_the_streams_own_counters_changes_nothing(ts: bytes) -> None:
    # ffmpeg numbers its packets by the rule above, so renumbering from its own first counters is a
    # no-op
    packets = read_packets(ts)
    own = {}
    for p in packets:
        if p.pid != NULL_PID and p.payload_at is not None:
            own.setdefault(p.pid, p.cc)
    assert rewrite(ts, 0, own) == ts


# --------------------------------------------------------------------------- a loop that plays


def ffmpeg_run(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [ffmpeg_executable(), "-nostdin", "-hide_banner", "-v", "warning", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("base", [0, WRAP - CLOCK], ids=["start", "across-the-pts-wrap"])
def test_two_rewritten_copies_play_as_one_stream(ts: bytes, base: int, tmp_path: Path) -> None:
    info = scan(ts)
    cc0 = {pid: (3 * pid + 1) % 16 for pid in info.payload_packets if pid != NULL_PID}
    cc1 = {pid: (cc0[pid] + info.payload_packets[pid]) % 16 for pid in cc0}
    path = tmp_path / "cat.ts"
    path.write_bytes(rewrite(ts, base, cc0) + rewrite(ts, base + SEGMENT_TICKS, cc1))

    decoded = ffmpeg_run("-i", str(path), "-f", "null", "-")
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stderr == ""  # no "Packet corrupt", no non-monotonic DTS, no CC errors

    copied = ffmpeg_run("-i", str(path), "-c", "copy", "-f", "framecrc", "-")
    assert copied.returncode == 0 and copied.stderr == "", copied.stderr
    kinds = {}
    for line in copied.stdout.splitlines():
        if line.startswith("#media_type"):
            index, kind = line.removeprefix("#media_type").split(":")
            kinds[kind.strip()] = int(index)
    rows = [
        [f.strip() for f in line.split(",")]
        for line in copied.stdout.splitlines()
        if not line.startswith("#")
    ]
    video = [int(r[1]) for r in rows if int(r[0]) == kinds["video"]]
    audio = [int(r[1]) for r in rows if int(r[0]) == kinds["audio"]]
    assert len(video) == 2 * SECONDS * FPS
    assert all(b > a for a, b in zip(video, video[1:]))  # strictly increasing DTS
    assert {b - a for a, b in zip(video, video[1:])} == {
        FRAME_TICKS
    }  # and seamless across the join
    assert all(b > a for a, b in zip(audio, audio[1:]))


# --------------------------------------------------------------------------- bad input


def test_bad_input_raises_ts_error(streams: dict[str, bytes]) -> None:
    data = streams["vbr"]
    for broken in (data[:-1], data + b"\x47", data[:187]):
        with pytest.raises(TsError, match="not a whole number of 188-byte packets"):
            scan(broken)
        with pytest.raises(TsError, match="not a whole number"):
            rewrite(broken, 0, {})
    lost = bytearray(data)
    lost[5 * PACKET] = 0x00
    for call in (lambda: scan(bytes(lost)), lambda: rewrite(bytes(lost), 90_000, {0: 0})):
        with pytest.raises(TsError, match="lost sync at byte 940"):
            call()
    assert issubclass(TsError, ValueError)
