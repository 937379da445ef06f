"""Ad conditioning: transcode any creative to a channel's ladder as HLS VOD of whole segments.

An ad splices into a live channel only if it matches the channel exactly: every segment is one
closed GOP of exactly the channel's segment duration at its frame rate, every rung of the ladder
exists at its resolution, and the audio (rate, channels, AAC-LC) covers the video to within one
AAC frame — otherwise players drift after each splice (docs/references.md, hls.js A/V drift). So:

- the creative's length is rounded UP to whole segments and the rest is filled with the slate
  (picture and sound), concatenated inside one filtergraph;
- one ffmpeg process encodes every rung (split), the segment muxer writes `seg_00000.ts`...;
- each segment is scanned (`stitcher.ts.scan`) and verified; `index.m3u8` is then written
  from the typed playlist model with the measured durations.

Output (content-addressed, so URLs never change meaning and can be cached for a day):
  `<cache_dir>/ads/<ad_id>/<digest>/<rung>/index.m3u8` + `seg_NNNNN.ts` + `../conditioned.json`
  `<cache_dir>/slate/<digest>/<rung>/...` for the slate (ad id `slate`)
where `<digest>` hashes the source file's bytes, the slate's bytes and everything that shapes the
encode (rungs with their bit rates, segment duration, frame rate, audio, x264 preset, recipe
version). Ladders that encode identically share one copy; each gets `AdRendition`s with its own
ladder key and bandwidths. A build goes to a temporary directory renamed into place; a second
call finds it and renders nothing.

Commands are built by pure functions (`probe_argv`, `conditioning_argv`); `probe` and `condition`
run them. Side effects: runs ffmpeg, reads the source, writes the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from origin_emulator.content import scan_segment
from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import (
    ProgressCallback,
    exact_frame_rate,
    ffmpeg_executable,
    frame_rate_expr,
    run_ffmpeg,
)
from origin_emulator.interleave import AudioLayout, ad_layout, b_frames_for_offset
from stitcher.catalog import AdRendition, Conditioning, Rung
from stitcher.playlist import MediaPlaylist, Segment, format_decimal
from stitcher.pod import SLATE_ID
from stitcher.ts import CLOCK, av_timing, bridge, chain, unchained

log = logging.getLogger(__name__)

CONDITIONING_VERSION = 2  # bump when the command changes: every ad is then conditioned again
MANIFEST = "conditioned.json"
PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}
_LAYOUT_CHANNELS = {
    "mono": 1,
    "stereo": 2,
    "2.1": 3,
    "3.0": 3,
    "quad": 4,
    "4.0": 4,
    "5.0": 5,
    "5.1": 6,
    "6.1": 7,
    "7.1": 8,
}


# --------------------------------------------------------------------------- probing the source


@dataclass(frozen=True)
class Probe:
    """What ffmpeg says about a media file; `duration` is its decoded video length in seconds."""

    duration: float
    header_duration: float | None
    width: int | None
    height: int | None
    frame_rate: float | None
    video_codec: str
    has_audio: bool
    audio_rate: int | None = None
    audio_channels: int | None = None
    audio_codec: str = ""


def probe_argv(source: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """Decode the first video stream to nowhere: ffmpeg prints the streams, `-progress` the length."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-progress",
        "pipe:1",
        "-nostats",
        "-i",
        str(source),
        "-map",
        "0:v:0",
        "-f",
        "null",
        "-",
    ]


def _hms(text: str) -> float | None:
    match = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", text.strip())
    if not match:
        return None
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def parse_streams(stderr: str) -> dict:
    """The input's header facts from ffmpeg's banner: duration, first video and first audio stream."""
    facts: dict = {"input": False, "header_duration": None, "video": None, "audio": None}
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith("Input #0"):
            facts["input"] = True
        elif stripped.startswith("Duration:"):
            facts["header_duration"] = _hms(stripped[len("Duration:") :].split(",")[0])
        elif stripped.startswith("Stream #0:"):
            kind, _, details = stripped.partition(": ")[2].partition(": ")
            if kind == "Video" and facts["video"] is None and "attached pic" not in details:
                size = re.search(r"(?:^|[ ,])(\d{2,5})x(\d{2,5})(?:[ ,]|$)", details)
                fps = re.search(r"([\d.]+) fps", details) or re.search(r"([\d.]+) tbr", details)
                facts["video"] = {
                    "codec": details.split()[0].rstrip(","),
                    "width": int(size[1]) if size else None,
                    "height": int(size[2]) if size else None,
                    "fps": float(fps[1]) if fps else None,
                }
            elif kind == "Audio" and facts["audio"] is None:
                rate = re.search(r"(\d+) Hz", details)
                parts = [p.strip() for p in details.split(",")]
                channels = None
                for part in parts:
                    counted = re.fullmatch(r"(\d+) channels(?: \(.*\))?", part)
                    if counted:
                        channels = int(counted[1])
                    elif part.split("(")[0] in _LAYOUT_CHANNELS:
                        channels = _LAYOUT_CHANNELS[part.split("(")[0]]
                    if channels:
                        break
                facts["audio"] = {
                    "codec": details.split()[0].rstrip(","),
                    "rate": int(rate[1]) if rate else None,
                    "channels": channels,
                }
    return facts


def last_out_time(progress: str) -> float | None:
    """The last `out_time_us` of `-progress` output, in seconds."""
    found = None
    for line in progress.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "out_time_us":
            try:
                found = int(value) / 1_000_000
            except ValueError:
                pass
    return found


def interpret_probe(source: Path, code: int, progress: str, stderr: str) -> Probe:
    """Turn one probe run into a `Probe`, or a MediaError saying what is wrong with the file."""
    facts = parse_streams(stderr)
    lines = [line for line in stderr.strip().splitlines() if line and not line[0].isspace()]
    tail = "\n".join(f"    {line}" for line in lines[-6:])
    if not facts["input"]:
        hint = (
            " (an MP4 without its index: truncated, or still being written?)"
            if "moov atom not found" in stderr
            else ""
        )
        raise MediaError(
            f"{source} is not a media file ffmpeg can read{hint}; ffmpeg said:\n{tail}"
        )
    if facts["video"] is None:
        audio = facts["audio"]
        what = f"only audio ({audio['codec']})" if audio else "no audio or video streams"
        raise MediaError(f"{source} has no video stream ({what}); an ad needs pictures")
    if code != 0:
        raise MediaError(
            f"{source}: ffmpeg cannot decode its video (exit {code}); ffmpeg said:\n{tail}"
        )
    decoded = last_out_time(progress)
    header = facts["header_duration"]
    if decoded is None or decoded < 0.1:
        raise MediaError(
            f"{source}: its video has no duration (decoded {decoded or 0:.3f} s); an ad needs at least a fraction of a second"
        )
    if "partial file" in stderr or (header and decoded < header - max(1.0, 0.1 * header)):
        raise MediaError(
            f"{source} looks truncated: its header says {header or 0:.2f} s but only {decoded:.2f} s of video decode; ffmpeg said:\n{tail}"
        )
    video, audio = facts["video"], facts["audio"]
    return Probe(
        duration=decoded,
        header_duration=header,
        width=video["width"],
        height=video["height"],
        frame_rate=video["fps"],
        video_codec=video["codec"],
        has_audio=audio is not None,
        audio_rate=audio["rate"] if audio else None,
        audio_channels=audio["channels"] if audio else None,
        audio_codec=audio["codec"] if audio else "",
    )


async def probe(source: Path, ffmpeg: str | None = None) -> Probe:
    """Read a media file with ffmpeg itself (streams + decoded video length). Raises MediaError."""
    source = Path(source)
    if not source.is_file():
        raise MediaError(f"{source}: no such file")
    argv = probe_argv(source, ffmpeg or ffmpeg_executable())
    log.info("probing %s", source)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise MediaError(f"cannot start {argv[0]}: {exc}") from None
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return interpret_probe(
        source, process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )


# --------------------------------------------------------------------------- the ffmpeg command


def frames_per_segment(conditioning: Conditioning) -> int:
    """Video frames in one segment; MediaError when the segment is not a whole number of frames."""
    rate = exact_frame_rate(conditioning.frame_rate)
    frames = conditioning.segment_duration * float(rate)
    if abs(frames - round(frames)) > 0.01 or round(frames) < 1:
        raise MediaError(
            f"segments of {conditioning.segment_duration} s are not a whole number of frames at {conditioning.frame_rate} fps"
        )
    return round(frames)


def segment_count(seconds: float, conditioning: Conditioning) -> int:
    """Whole segments that hold `seconds` of creative (rounded up; half a frame of slack)."""
    slack = 0.5 / conditioning.frame_rate
    return max(1, math.ceil((seconds - slack) / conditioning.segment_duration))


@dataclass(frozen=True)
class RungPlan:
    """How one rung is encoded: its bit rates derived from the rung's (peak) BANDWIDTH."""

    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    level: str


def rung_plan(rung: Rung, conditioning: Conditioning) -> RungPlan:
    """Audio by bandwidth tier; video = what is left of BANDWIDTH after audio, MPEG-TS overhead
    (about 48 kb/s of tables and headers plus 12 %) and bit-rate peaks.

    The video rate is rounded to two significant digits, so ladders whose measured bandwidths
    differ by a hair encode identically (and share one conditioned copy).
    """
    total = rung.bandwidth / 1000
    audio = 128 if total >= 1500 else 96 if total >= 700 else 64 if total >= 300 else 48
    if conditioning.audio_channels > 2:
        audio = audio * conditioning.audio_channels // 2
    video = max(64, round((total - 48) / 1.12 - audio))
    step = 10 ** max(0, len(str(video)) - 2)
    video = round(video / step) * step
    pixels_per_second = rung.width * rung.height * conditioning.frame_rate
    level = (
        "3.1"
        if pixels_per_second <= 1280 * 720 * 30
        else "4.0"
        if pixels_per_second <= 1920 * 1088 * 30
        else "5.1"
    )
    return RungPlan(rung.name, rung.width, rung.height, video, audio, level)


def _fit(width: int, height: int) -> str:
    """Scale to fit inside width x height keeping the aspect ratio, letterbox the rest in black."""
    return (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
    )


def conditioning_argv(
    source: Path,
    slate: Path,
    creative_seconds: float,
    has_audio: bool,
    conditioning: Conditioning,
    out_dir: Path,
    ffmpeg: str = "ffmpeg",
    preset: str = "veryfast",
) -> list[str]:
    """The ffmpeg command that conditions `source` into `out_dir/<rung>/seg_NNNNN.ts` for every rung.

    Pure. The creative (input 0) is normalised — frame rate, fitted and letterboxed to the top
    rung, audio resampled from t=0 — and cut (or padded by repeating its last frame / silence) to
    exactly `C` frames and the same span of samples, `C = min(round(seconds x fps), total)`. When
    that leaves part of the last segment, exactly the rest comes from the slate (input 1, looped
    so any length works) and is concatenated after it inside the graph. Every branch is cut by
    its own trim (a trim after the concat could close one output while the concat still waits
    for the other: ffmpeg then hangs). Finally the sound is laid against the picture as the
    channel's interleave asks (`audio_layout`): it starts `audio_offset` from the first picture
    (silence before the creative's first sample, or its head cut) and ends about as far from the
    last one, in whole AAC frames, the encoder's priming frame included. Without audio in the
    creative, silence (an `anullsrc` input).
    """
    fps = frame_rate_expr(conditioning.frame_rate)
    per_segment = frames_per_segment(conditioning)
    total_frames = segment_count(creative_seconds, conditioning) * per_segment
    frame_rate = Fraction(fps)
    rate = conditioning.audio_rate
    creative_frames = min(round(creative_seconds * frame_rate), total_frames)
    slate_frames = total_frames - creative_frames
    creative_samples = round(creative_frames / frame_rate * rate)
    slate_samples = round(total_frames / frame_rate * rate) - creative_samples
    layout = LAYOUTS.get(conditioning.audio_channels, f"{conditioning.audio_channels}c")
    canvas = max(conditioning.ladder, key=lambda r: r.width * r.height)
    fit = f"{_fit(canvas.width, canvas.height)},format=yuv420p"
    audio_norm = f"aresample={rate}:async=1:first_pts=0,aformat=sample_fmts=fltp:sample_rates={rate}:channel_layouts={layout}"
    inputs = ["-i", str(source)]
    if slate_frames:
        inputs += ["-stream_loop", "-1", "-i", str(slate)]
    if not has_audio:
        inputs += ["-f", "lavfi", "-i", f"anullsrc=r={rate}:cl={layout}"]
    creative_audio = "[0:a:0]" if has_audio else f"[{2 if slate_frames else 1}:a]"
    graph = [
        f"[0:v:0]fps={fps}:start_time=0,{fit},tpad=stop_mode=clone:stop={per_segment},trim=end_frame={creative_frames},setpts=PTS-STARTPTS[cv]",
        f"{creative_audio}{audio_norm},apad,atrim=end_sample={creative_samples},asetpts=PTS-STARTPTS[ca]",
    ]
    if slate_frames:
        graph += [
            f"[1:v:0]fps={fps},{fit},trim=end_frame={slate_frames},setpts=PTS-STARTPTS[sv]",
            f"[1:a:0]{audio_norm},apad,atrim=end_sample={slate_samples},asetpts=PTS-STARTPTS[sa]",
            "[cv][ca][sv][sa]concat=n=2:v=1:a=1[jv][ja]",
        ]
        video, audio = "[jv]", "[ja]"
    else:
        video, audio = "[cv]", "[ca]"
    n = len(conditioning.ladder)
    placement = audio_layout(conditioning, total_frames)
    b_frames = b_frames_for(conditioning)
    graph += [
        f"{video}split={n}" + "".join(f"[s{i}]" for i in range(n)),
        f"{audio}{placement.audio_filters()},asplit={n}" + "".join(f"[a{i}]" for i in range(n)),
    ]
    for i, rung in enumerate(conditioning.ladder):
        if (rung.width, rung.height) == (canvas.width, canvas.height):
            graph.append(f"[s{i}]null[v{i}]")
        else:
            graph.append(f"[s{i}]{_fit(rung.width, rung.height)}[v{i}]")
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", *inputs, "-filter_complex", ";".join(graph)]
    segment_seconds = f"{conditioning.segment_duration:g}"
    for i, rung in enumerate(conditioning.ladder):
        plan = rung_plan(rung, conditioning)
        argv += [
            "-map", f"[v{i}]", "-map", f"[a{i}]",
            "-c:v", "libx264", "-preset", preset, "-profile:v", "main", "-level:v", plan.level, "-pix_fmt", "yuv420p",
            "-b:v", f"{plan.video_kbps}k", "-maxrate", f"{round(plan.video_kbps * 1.1)}k", "-bufsize", f"{plan.video_kbps * 2}k",
            "-g", str(per_segment), "-keyint_min", str(per_segment), "-sc_threshold", "0",
            "-force_key_frames", f"expr:eq(mod(n,{per_segment}),0)",
            "-x264-params", "open-gop=0:scenecut=0", "-bf", str(b_frames),
            "-c:a", "aac", "-profile:a", "aac_low", "-b:a", f"{plan.audio_kbps}k", "-ar", str(rate),
            "-ac", str(conditioning.audio_channels),
            "-f", "segment", "-segment_time", segment_seconds, "-segment_time_delta", f"{0.5 / conditioning.frame_rate:.6f}",
            "-segment_format", "mpegts", "-segment_start_number", "0",
            str(out_dir / rung.name / SEGMENT_PATTERN),
        ]  # fmt: skip
    return argv


def b_frames_for(conditioning: Conditioning) -> int:
    """B-frames for an ad of this channel: as many as make ffmpeg's segmenter cut the ad's sound at
    its own segment boundaries where the channel's is cut (`origin_emulator.interleave.b_frames_for_offset`),
    which is what a player hears where a break ends inside an ad or inside the slate."""
    return b_frames_for_offset(
        conditioning.audio_offset,
        conditioning.audio_rate,
        exact_frame_rate(conditioning.frame_rate),
    )


def audio_layout(conditioning: Conditioning, total_frames: int) -> AudioLayout:
    """Where the sound of an ad of `total_frames` pictures starts and ends (`origin_emulator.interleave`)."""
    fps = exact_frame_rate(conditioning.frame_rate)
    picture = Fraction(total_frames) / fps * conditioning.audio_rate
    return ad_layout(picture, conditioning.audio_rate, conditioning.audio_offset)


# --------------------------------------------------------------------------- layout and cache


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encode_parameters(conditioning: Conditioning, preset: str) -> dict:
    """Everything about a ladder that changes the encoded bytes (not its measured bandwidths as such)."""
    return {
        "v": CONDITIONING_VERSION,
        "preset": preset,
        "rungs": [
            dataclasses.astuple(rung_plan(rung, conditioning)) for rung in conditioning.ladder
        ],
        "segment": round(conditioning.segment_duration, 6),
        "fps": frame_rate_expr(conditioning.frame_rate),
        "audio": [conditioning.audio_rate, conditioning.audio_channels],
        "audio_offset": round(conditioning.audio_offset, 4),
        "b_frames": b_frames_for(conditioning),
    }


def content_digest(
    source_sha256: str, slate_sha256: str, conditioning: Conditioning, preset: str
) -> str:
    """The content address of a conditioned ad: source bytes, slate bytes, encode parameters.

    Ladders that encode identically (e.g. two channels whose measured bandwidths differ by a
    hair, so their ladder keys differ) share one conditioned copy.
    """
    body = json.dumps(
        {"source": source_sha256, "slate": slate_sha256, **encode_parameters(conditioning, preset)},
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def relative_dir(ad_id: str, digest: str) -> Path:
    """`ads/<ad_id>/<digest>` (or `slate/<digest>`) under the cache directory."""
    return Path("slate", digest) if ad_id == SLATE_ID else Path("ads", ad_id, digest)


def _load(directory: Path, ad_id: str, conditioning: Conditioning) -> list[AdRendition] | None:
    """The renditions of a finished conditioning for this ladder, or None when absent or damaged."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        rungs = {entry["rendition"]: entry for entry in manifest["rungs"]}
        renditions = [
            AdRendition(
                ad_id=ad_id,
                ladder_key=conditioning.key,
                rendition=rung.name,
                bandwidth=rung.bandwidth,  # this channel's variant, which the decision maps by
                path=rungs[rung.name]["path"],
                duration=rungs[rung.name]["duration"],
                segments=rungs[rung.name]["segments"],
                extra=rungs[rung.name]["extra"],
            )
            for rung in conditioning.ladder
        ]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("conditioned ad %s is damaged (%s); it will be rebuilt", directory, exc)
        return None
    if not all((directory / r.rendition / PLAYLIST).is_file() for r in renditions):
        return None
    return renditions


# --------------------------------------------------------------------------- verification


def describe_rendition(
    directory: Path,
    rung: Rung,
    conditioning: Conditioning,
    expected_segments: int,
) -> tuple[MediaPlaylist, dict]:
    """Scan and verify one conditioned rendition; its VOD playlist and measured facts. MediaError."""
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
                f"{path}: {video.frames} video frames, expected exactly {per_segment} (one closed GOP of {conditioning.segment_duration:g} s)"
            )
        if audio.sample_rate != conditioning.audio_rate:
            raise MediaError(
                f"{path}: audio at {audio.sample_rate} Hz, the channel needs {conditioning.audio_rate} Hz"
            )
        channels = getattr(audio, "channels", None)
        if channels is not None and channels != conditioning.audio_channels:
            raise MediaError(
                f"{path}: {channels} audio channels, the channel needs {conditioning.audio_channels}"
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
                f"{directory}: segment {index + 1} starts {(b.video_start - a.video_start) / CLOCK:.4f} s after segment {index}, not {step / CLOCK:g} s"
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
            f"{directory}: the sound is {got['frames']} AAC frames from {got['start'] / CLOCK * 1000:+.2f} ms to "
            f"{got['end'] / CLOCK * 1000:+.2f} ms against the picture; the channel's interleave needs {want['frames']} from "
            f"{want['start'] / CLOCK * 1000:+.2f} to {want['end'] / CLOCK * 1000:+.2f} ms (else a splice has a hole or an overlap)"
        )
    playlist = MediaPlaylist(
        target_duration=max(
            1, math.floor(max(s.duration for s in segments) + 0.5)
        ),  # R4: EXTINF rounded ≤ it
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
        "audio_start_ms": round(
            got["start"] / CLOCK * 1000, 2
        ),  # sound minus picture at the first picture
        "audio_end_ms": round(got["end"] / CLOCK * 1000, 2),  # ... and at the end of the last one
    }
    return playlist, facts


def _check_chained(directory: Path, infos: list) -> None:
    """Every PID's continuity counter runs on across the segments, and the first segment flags
    each PID's first packet as a discontinuity (it always follows a splice)."""
    first = infos[0]
    if first.flagged != set(first.first_cc):
        raise MediaError(
            f"{directory}: the first segment does not flag PIDs {sorted(set(first.first_cc) - first.flagged)} as a discontinuity"
        )
    for index, (a, b) in enumerate(zip(infos, infos[1:])):
        broken = unchained(a, b)
        if broken:
            raise MediaError(
                f"{directory}: continuity counters of PIDs {broken} break between segments {index} and {index + 1}"
            )


def chain_rendition(directory: Path) -> None:
    """Renumber the continuity counters of a rendition's segments so each runs on from the one
    before (ffmpeg's segmenter starts every file at 0), and flag the first segment's packets
    as a discontinuity (`stitcher.ts.chain`)."""
    files = sorted(directory.glob("seg_*.ts"))
    for path, data in zip(files, chain([path.read_bytes() for path in files])):
        path.write_bytes(data)


# --------------------------------------------------------------------------- condition


async def run_watched(
    argv: list[str],
    total: float,
    on_progress: ProgressCallback | None,
    what: str,
    stall_seconds: float = 60.0,
) -> None:
    """`run_ffmpeg`, killed with a MediaError when its output stops advancing for `stall_seconds`.

    A filtergraph that waits on a branch nobody pulls makes ffmpeg spin forever without output;
    the command is built to avoid that, and this is the safety net.
    """
    loop = asyncio.get_running_loop()
    last = {"done": -1.0, "at": loop.time()}

    def progress(done: float, total_seconds: float) -> None:
        if done > last["done"]:
            last.update(done=done, at=loop.time())
        if on_progress is not None:
            on_progress(done, total_seconds)

    task = asyncio.ensure_future(
        run_ffmpeg(argv, total_seconds=total, on_progress=progress, what=what)
    )
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=min(5.0, stall_seconds))
            if not task.done() and loop.time() - last["at"] > stall_seconds:
                task.cancel()  # kills the process
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise MediaError(
                    f"{what}: ffmpeg made no progress for {stall_seconds:g} s (stuck at {max(last['done'], 0):.1f} of {total:g} s); killed it"
                )
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    task.result()


async def condition(
    source: Path,
    ad_id: str,
    conditioning: Conditioning,
    cache_dir: Path,
    slate: Path,
    on_progress: ProgressCallback | None = None,
    *,
    preset: str = "veryfast",
    ffmpeg: str | None = None,
    source_probe: Probe | None = None,
) -> list[AdRendition]:
    """Condition `source` for every rung of `conditioning`; the renditions (top rung first).

    Cached by content: when the same source (bytes), slate and ladder were conditioned before,
    nothing is rendered and `on_progress` is not called. Raises MediaError for a file that is
    not usable media, leaving nothing behind. `source_probe` skips probing when the caller did.
    """
    source, slate, cache_dir = Path(source), Path(slate), Path(cache_dir)
    if not source.is_file():
        raise MediaError(f"{source}: no such file")
    if not slate.is_file():
        raise MediaError(f"slate {slate}: no such file (render it first)")
    source_hash, slate_hash = await asyncio.to_thread(
        lambda: (file_sha256(source), file_sha256(slate))
    )
    digest = content_digest(source_hash, slate_hash, conditioning, preset)
    relative = relative_dir(ad_id, digest)
    final = cache_dir / relative
    cached = _load(final, ad_id, conditioning)
    if cached is not None:
        return cached
    info = source_probe or await probe(source, ffmpeg)
    segments = segment_count(info.duration, conditioning)
    total = segments * conditioning.segment_duration
    work = final.with_name(f".{final.name}.building-{os.getpid()}")
    created = [
        p
        for p in (final.parent, *final.parent.parents)
        if p != cache_dir and cache_dir in p.parents and not p.exists()
    ]
    shutil.rmtree(work, ignore_errors=True)
    try:
        for rung in conditioning.ladder:
            (work / rung.name).mkdir(parents=True, exist_ok=True)
        argv = conditioning_argv(
            source,
            slate,
            info.duration,
            info.has_audio,
            conditioning,
            work,
            ffmpeg or ffmpeg_executable(),
            preset,
        )
        await run_watched(
            argv,
            total,
            on_progress,
            f"conditioning of {ad_id} ({source.name}) for ladder {conditioning.key}",
        )
        rungs = []
        for rung in conditioning.ladder:
            await asyncio.to_thread(chain_rendition, work / rung.name)
            playlist, facts = await asyncio.to_thread(
                describe_rendition, work / rung.name, rung, conditioning, segments
            )
            (work / rung.name / PLAYLIST).write_text(playlist.render())
            rungs.append(
                {
                    "rendition": rung.name,
                    "path": f"/{relative.as_posix()}/{rung.name}/{PLAYLIST}",
                    "duration": round(playlist.duration, 6),
                    "segments": len(playlist.segments),
                    "extra": {
                        **facts,
                        "creative_duration": round(info.duration, 6),
                        "source_sha256": source_hash,
                        "digest": digest,
                    },
                }
            )
        manifest = {
            "ad_id": ad_id,
            "digest": digest,
            "source": str(source),
            "encode": encode_parameters(conditioning, preset),
            "rungs": rungs,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        try:
            os.rename(work, final)
        except OSError:
            if _load(final, ad_id, conditioning) is None:  # nobody else finished it either
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        for directory in created:  # directories this call made, deepest first, if still empty
            try:
                directory.rmdir()
            except OSError:
                pass
        raise
    loaded = _load(final, ad_id, conditioning)
    if loaded is None:
        raise MediaError(f"{final}: conditioning finished but the result cannot be read back")
    return loaded
