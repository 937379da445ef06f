"""The ffmpeg command that conditions a creative: segment arithmetic, rung plans, the filter graph.

Pure. One ffmpeg process encodes every rung of a channel's ladder, in closed GOPs of exactly one
segment, with the B-frames and the placement of the sound that the channel's interleave asks for
(`origin_emulator.interleave`, docs/splices.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import exact_frame_rate, frame_rate_expr
from origin_emulator.interleave import AudioLayout, ad_layout, b_frames_for_offset
from stitcher.catalog import Conditioning, Rung

SEGMENT_PATTERN = "seg_%05d.ts"
LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}


def frames_per_segment(conditioning: Conditioning) -> int:
    """Video frames in one segment; MediaError when the segment is not a whole number of frames."""
    rate = exact_frame_rate(conditioning.frame_rate)
    frames = conditioning.segment_duration * float(rate)
    if abs(frames - round(frames)) > 0.01 or round(frames) < 1:
        raise MediaError(
            f"segments of {conditioning.segment_duration} s are not a whole number of frames"
            f" at {conditioning.frame_rate} fps"
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
    """The ffmpeg command that conditions `source` into `out_dir/<rung>/seg_NNNNN.ts` for every
    rung.

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
    audio_norm = (
        f"aresample={rate}:async=1:first_pts=0"
        f",aformat=sample_fmts=fltp:sample_rates={rate}:channel_layouts={layout}"
    )
    inputs = ["-i", str(source)]
    if slate_frames:
        inputs += ["-stream_loop", "-1", "-i", str(slate)]
    if not has_audio:
        inputs += ["-f", "lavfi", "-i", f"anullsrc=r={rate}:cl={layout}"]
    creative_audio = "[0:a:0]" if has_audio else f"[{2 if slate_frames else 1}:a]"
    graph = [
        f"[0:v:0]fps={fps}:start_time=0,{fit},tpad=stop_mode=clone:stop={per_segment}"
        f",trim=end_frame={creative_frames},setpts=PTS-STARTPTS[cv]",
        f"{creative_audio}{audio_norm},apad"
        f",atrim=end_sample={creative_samples},asetpts=PTS-STARTPTS[ca]",
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
            "-c:v", "libx264", "-preset", preset, "-profile:v", "main", "-level:v", plan.level,
            "-pix_fmt", "yuv420p",
            "-b:v", f"{plan.video_kbps}k", "-maxrate", f"{round(plan.video_kbps * 1.1)}k",
            "-bufsize", f"{plan.video_kbps * 2}k",
            "-g", str(per_segment), "-keyint_min", str(per_segment), "-sc_threshold", "0",
            "-force_key_frames", f"expr:eq(mod(n,{per_segment}),0)",
            "-x264-params", "open-gop=0:scenecut=0", "-bf", str(b_frames),
            "-c:a", "aac", "-profile:a", "aac_low", "-b:a", f"{plan.audio_kbps}k",
            "-ar", str(rate), "-ac", str(conditioning.audio_channels),
            "-f", "segment", "-segment_time", segment_seconds,
            "-segment_time_delta", f"{0.5 / conditioning.frame_rate:.6f}",
            "-segment_format", "mpegts", "-segment_start_number", "0",
            str(out_dir / rung.name / SEGMENT_PATTERN),
        ]  # fmt: skip
    return argv


def b_frames_for(conditioning: Conditioning) -> int:
    """B-frames for an ad of this channel: as many as make ffmpeg's segmenter cut the ad's sound at
    its own segment boundaries where the channel's is cut
    (`origin_emulator.interleave.b_frames_for_offset`), which is what a player hears where a break
    ends inside an ad or inside the slate."""
    return b_frames_for_offset(
        conditioning.audio_offset,
        conditioning.audio_rate,
        exact_frame_rate(conditioning.frame_rate),
    )


def audio_layout(conditioning: Conditioning, total_frames: int) -> AudioLayout:
    """Where the sound of an ad of `total_frames` pictures starts and ends
    (`origin_emulator.interleave`)."""
    fps = exact_frame_rate(conditioning.frame_rate)
    picture = Fraction(total_frames) / fps * conditioning.audio_rate
    return ad_layout(picture, conditioning.audio_rate, conditioning.audio_offset)
