"""Verifying a conditioned rendition, and chaining its segments' continuity counters.

`describe_rendition` scans every segment ffmpeg wrote and refuses one that would not splice
cleanly (a segment that is not one closed GOP, the wrong audio, the sound off the interleave,
broken counters); it returns the VOD playlist and the measured facts. `chain_rendition` renumbers
the counters first (docs/splices.md, "How ads and slate reproduce it").
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

from origin_emulator.content.media import scan_segment
from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import exact_frame_rate
from rig.conditioning.command import SEGMENT_PATTERN, audio_layout, frames_per_segment
from stitcher.catalog import Conditioning, Rung
from stitcher.playlist import MediaPlaylist, Segment, format_decimal
from stitcher.ts import CLOCK, av_timing, bridge, chain, unchained


def describe_rendition(
    directory: Path,
    rung: Rung,
    conditioning: Conditioning,
    expected_segments: int,
) -> tuple[MediaPlaylist, dict]:
    """Scan and verify one conditioned rendition; its VOD playlist and measured facts.
    MediaError."""
    files = sorted(directory.glob("seg_*.ts"))
    if len(files) != expected_segments:
        raise MediaError(
            f"{directory}: ffmpeg wrote {len(files)} segments, expected {expected_segments}"
        )
    per_segment = frames_per_segment(conditioning)
    rate = exact_frame_rate(conditioning.frame_rate)
    segments, sizes, audio_frames, codec, timings, infos = [], [], 0, None, [], []
    for index, path in enumerate(files):
        if path.name != SEGMENT_PATTERN % index:
            raise MediaError(
                f"{path}: unexpected segment name (expected {SEGMENT_PATTERN % index})"
            )
        data, info, video, audio = scan_segment(path)
        if video.frames != per_segment:
            raise MediaError(
                f"{path}: {video.frames} video frames, expected exactly {per_segment}"
                f" (one closed GOP of {conditioning.segment_duration:g} s)"
            )
        if audio.sample_rate != conditioning.audio_rate:
            raise MediaError(
                f"{path}: audio at {audio.sample_rate} Hz,"
                f" the channel needs {conditioning.audio_rate} Hz"
            )
        channels = getattr(audio, "channels", None)
        if channels is not None and channels != conditioning.audio_channels:
            raise MediaError(
                f"{path}: {channels} audio channels,"
                f" the channel needs {conditioning.audio_channels}"
            )
        timings.append(av_timing(info))
        infos.append(info)
        codec = codec or info.codec
        audio_frames += audio.frames
        duration = float(video.frames / rate)
        sizes.append(len(data) * 8 / duration)
        segments.append(
            Segment(uri=path.name, duration=duration, duration_text=format_decimal(duration))
        )
    step = round(per_segment / rate * CLOCK)
    for index, (a, b) in enumerate(zip(timings, timings[1:])):
        if abs(b.video_start - a.video_start - step) > 1:
            raise MediaError(
                f"{directory}: segment {index + 1} starts"
                f" {(b.video_start - a.video_start) / CLOCK:.4f} s after segment {index},"
                f" not {step / CLOCK:g} s"
            )
        if abs(bridge(a, b, discontinuity=False)) > 2:
            raise MediaError(
                f"{directory}: the sound of segment {index + 1} does not continue segment {index}'s"
            )
    _check_chained(directory, infos)
    layout = audio_layout(conditioning, expected_segments * per_segment)
    picture = Fraction(expected_segments * per_segment) / rate * conditioning.audio_rate
    to_ticks = CLOCK / conditioning.audio_rate
    want = {
        "start": layout.first * to_ticks,
        "end": float(layout.end - picture) * to_ticks,
        "frames": layout.frames,
    }
    got = {"start": timings[0].start_offset, "end": timings[-1].end_offset, "frames": audio_frames}
    if (
        got["frames"] != want["frames"]
        or abs(got["start"] - want["start"]) > 2
        or abs(got["end"] - want["end"]) > 2
    ):
        raise MediaError(
            f"{directory}: the sound is {got['frames']} AAC frames"
            f" from {got['start'] / CLOCK * 1000:+.2f} ms to "
            f"{got['end'] / CLOCK * 1000:+.2f} ms against the picture;"
            f" the channel's interleave needs {want['frames']} from "
            f"{want['start'] / CLOCK * 1000:+.2f} to {want['end'] / CLOCK * 1000:+.2f} ms"
            " (else a splice has a hole or an overlap)"
        )
    target = max(1, math.floor(max(s.duration for s in segments) + 0.5))  # R4: EXTINF rounded ≤ it
    playlist = MediaPlaylist(
        target_duration=target,
        segments=tuple(segments),
        version=3,
        playlist_type="VOD",
        endlist=True,
        independent_segments=True,
    )
    facts = {
        "codecs": f"{codec or 'avc1.4d401f'},mp4a.40.2",
        "resolution": f"{rung.width}x{rung.height}",
        "frame_rate": conditioning.frame_rate,
        "peak_bandwidth": round(max(sizes)),
        "average_bandwidth": round(sum(sizes) / len(sizes)),
        "audio_frames": audio_frames,
        # sound minus picture at the first picture, and at the end of the last one
        "audio_start_ms": round(got["start"] / CLOCK * 1000, 2),
        "audio_end_ms": round(got["end"] / CLOCK * 1000, 2),
    }
    return playlist, facts


def _check_chained(directory: Path, infos: list) -> None:
    """Every PID's continuity counter runs on across the segments, and the first segment flags
    each PID's first packet as a discontinuity (it always follows a splice)."""
    first = infos[0]
    if first.flagged != set(first.first_cc):
        raise MediaError(
            f"{directory}: the first segment does not flag PIDs"
            f" {sorted(set(first.first_cc) - first.flagged)} as a discontinuity"
        )
    for index, (a, b) in enumerate(zip(infos, infos[1:])):
        broken = unchained(a, b)
        if broken:
            raise MediaError(
                f"{directory}: continuity counters of PIDs {broken} break"
                f" between segments {index} and {index + 1}"
            )


def chain_rendition(directory: Path) -> None:
    """Renumber the continuity counters of a rendition's segments so each runs on from the one
    before (ffmpeg's segmenter starts every file at 0), and flag the first segment's packets
    as a discontinuity (`stitcher.ts.chain`)."""
    files = sorted(directory.glob("seg_*.ts"))
    for path, data in zip(files, chain([path.read_bytes() for path in files])):
        path.write_bytes(data)
