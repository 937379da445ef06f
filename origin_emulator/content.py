"""Channel content: render each channel's loop once with ffmpeg, cache it, describe it.

A channel's *recipe* (title, colour, tone, loop length, segment duration, ladder, ...) is hashed;
the rendered segments live under `<cache_dir>/content/<channel>-<hash>/` with a `manifest.json`
describing every segment (duration, first video PTS, payload packets per PID) that the origin
emulator needs to serve the loop as one continuous live stream. Builds go to a temporary
directory that is renamed into place when complete, so a crashed build leaves nothing half
made and concurrent builders do not clash.

Every segment is one closed GOP of exactly `segment_seconds`; the loop's audio is trimmed so it
spans exactly the loop (whole AAC frames), which the build verifies — otherwise every loop wrap
would overlap or gap the audio.

Side effects: runs ffmpeg, writes the cache directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from origin_emulator.config import ChannelConfig, MediaSettings, Rendition
from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import (
    ProgressCallback,
    exact_frame_rate,
    ffmpeg_executable,
    frame_rate_expr,
    run_ffmpeg,
)
from origin_emulator.interleave import AudioLayout, decode_delay, loop_layout
from stitcher.probe import audio_offset
from stitcher.ts import AAC_SAMPLES_PER_FRAME, CLOCK, StreamInfo, TsError, TsInfo, av_timing, scan

log = logging.getLogger(__name__)

RECIPE_VERSION = 2
LOOP_CAPTION = r"%{pts\:hms}  frame %{eif\:n\:d}"  # drawtext: the loop's own clock and frame number
PACING_LIMIT = 86_400  # seconds a live graph may fall behind the wall clock and still catch up
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
)


@dataclass(frozen=True)
class ContentRecipe:
    """Everything that determines a channel's rendered loop (and so its cache key)."""

    name: str
    title: str
    colour: str
    tone_hz: int
    loop_seconds: float
    segment_seconds: float
    fps: float
    audio_rate: int
    preset: str
    ladder: tuple[Rendition, ...]
    b_frames: int = -1  # -1: the preset's own

    @classmethod
    def for_channel(cls, channel: ChannelConfig, media: MediaSettings) -> ContentRecipe:
        return cls(
            name=channel.name,
            title=channel.title or channel.name.upper(),
            colour=channel.colour,
            tone_hz=channel.tone_hz,
            loop_seconds=media.loop_seconds,
            segment_seconds=media.segment_seconds,
            fps=media.fps,
            audio_rate=media.audio_rate,
            preset=media.preset,
            ladder=media.ladder,
            b_frames=media.b_frames,
        )

    @property
    def key(self) -> str:
        body = json.dumps({"v": RECIPE_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return f"{self.name}-{hashlib.sha256(body.encode()).hexdigest()[:12]}"

    @property
    def segment_count(self) -> int:
        return round(self.loop_seconds / self.segment_seconds)

    @property
    def frame_rate(self) -> Fraction:
        """The exact frame rate (`30000/1001` for 29.97)."""
        return exact_frame_rate(self.fps)

    def audio_layout(self) -> AudioLayout:
        """Where the loop's sound lies against its picture (`origin_emulator.interleave.loop_layout`)."""
        return loop_layout(
            self.loop_seconds,
            self.audio_rate,
            self.frame_rate,
            decode_delay(self.preset, self.b_frames),
        )


@dataclass(frozen=True)
class SegmentInfo:
    """One rendered segment of one rendition."""

    index: int
    duration: float
    first_pts: int  # video PTS of its first frame, 90 kHz
    size: int
    payload_packets: dict[int, int]  # PID -> packets with payload (for continuity counters)
    audio_offset: int = (
        0  # sound minus picture at its start, 90 kHz ticks (the interleave at this boundary)
    )


@dataclass(frozen=True)
class RenditionMedia:
    rendition: Rendition
    directory: Path
    codecs: str
    bandwidth: int  # peak segment bit rate, bits/s
    average_bandwidth: int
    segments: tuple[SegmentInfo, ...]

    @property
    def loop_payload_packets(self) -> dict[int, int]:
        totals: dict[int, int] = {}
        for segment in self.segments:
            for pid, count in segment.payload_packets.items():
                totals[pid] = totals.get(pid, 0) + count
        return totals

    def path(self, index: int) -> Path:
        return self.directory / f"seg_{index:05d}.ts"


@dataclass(frozen=True)
class ContentMedia:
    """A channel's rendered loop: the renditions and the common segment timeline."""

    recipe: ContentRecipe
    directory: Path
    renditions: tuple[RenditionMedia, ...]

    @property
    def durations(self) -> tuple[float, ...]:
        return tuple(s.duration for s in self.renditions[0].segments)

    @property
    def audio_offset(self) -> float:
        """The channel's interleave (seconds): the middle of where its sound switches against the
        picture at segment boundaries, over every rung (`stitcher.probe.audio_offset`)."""
        return audio_offset([s.audio_offset for r in self.renditions for s in r.segments])

    def rendition(self, name: str) -> RenditionMedia:
        for rendition in self.renditions:
            if rendition.rendition.name == name:
                return rendition
        raise KeyError(name)


# --------------------------------------------------------------------------- ffmpeg command


def find_font() -> str | None:
    for candidate in FONT_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


def _escape(text: str) -> str:
    """Escape text for a drawtext value inside a filtergraph."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:").replace(",", "\\,")


def filter_graph(recipe: ContentRecipe, font: str | None, caption: str, live: bool = False) -> str:
    """The `-filter_complex` graph: test pattern, title band, `caption` text, tone; outputs `[v<i>]`
    and `[a<i>]` per rung. `caption` is drawtext text (expansions allowed, already escaped).

    Loop renders last `recipe.loop_seconds`; a `live` graph never ends and is paced to the wall clock
    (`realtime`/`arealtime`, with a limit so large that a stalled encoder catches up instead of
    re-basing its clock), so frames are drawn when they are due and `%{gmtime}` shows that moment.
    """
    top = recipe.ladder[0]
    seconds = f"{recipe.loop_seconds:g}"
    video = [
        f"testsrc2=size={top.width}x{top.height}:rate={frame_rate_expr(recipe.fps)}"
        + ("" if live else f":duration={seconds}")
    ]
    placement = None if live else recipe.audio_layout()
    if live:
        video.append(f"realtime=limit={PACING_LIMIT}")
    video.append(f"drawbox=x=0:y=0:w=iw:h=ih/5:color={recipe.colour}@1:t=fill")
    if font:
        fontfile = _escape(font)
        video.append(
            f"drawtext=fontfile={fontfile}:text='{_escape(recipe.title)}':fontsize=h/9:fontcolor=white:x=(w-tw)/2:y=h/40"
        )
        video.append(
            f"drawtext=fontfile={fontfile}:text='{caption}':fontsize=h/16"
            ":fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2:y=h-th-h/12"
        )
    n = len(recipe.ladder)
    graph = [",".join(video) + f",split={n}" + "".join(f"[s{i}]" for i in range(n))]
    for i, rung in enumerate(recipe.ladder):
        if (rung.width, rung.height) == (top.width, top.height):
            graph.append(f"[s{i}]null[v{i}]")
        else:
            graph.append(f"[s{i}]scale={rung.width}:{rung.height}[v{i}]")
    if live:
        audio = f"sine=frequency={recipe.tone_hz}:sample_rate={recipe.audio_rate},arealtime=limit={PACING_LIMIT}"
    else:  # exactly the loop's span of AAC frames, placed so the wrap follows ffmpeg's cut rule (origin_emulator.interleave)
        audio = f"sine=frequency={recipe.tone_hz}:sample_rate={recipe.audio_rate},{placement.audio_filters()}"
    graph.append(
        audio + f",aformat=channel_layouts=stereo,asplit={n}" + "".join(f"[a{i}]" for i in range(n))
    )
    return ";".join(graph)


def encode_args(recipe: ContentRecipe, index: int, tune: str | None = None) -> list[str]:
    """Map and encode rung `index` of the graph: H.264 in closed GOPs of exactly one segment, AAC."""
    rung = recipe.ladder[index]
    gop = round(recipe.segment_seconds * recipe.frame_rate)
    return [
        "-map", f"[v{index}]", "-map", f"[a{index}]",
        "-c:v", "libx264", "-preset", recipe.preset, *(["-tune", tune] if tune else []),
        "-profile:v", "main", "-level:v", "3.1",
        "-pix_fmt", "yuv420p", "-r", frame_rate_expr(recipe.fps), *(["-bf", str(recipe.b_frames)] if recipe.b_frames >= 0 else []),
        "-b:v", f"{rung.video_kbps}k", "-maxrate", f"{round(rung.video_kbps * 1.1)}k",
        "-bufsize", f"{rung.video_kbps * 2}k",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:eq(mod(n,{gop}),0)",
        "-x264-params", "open-gop=0:scenecut=0",
        "-c:a", "aac", "-b:a", f"{rung.audio_kbps}k", "-ar", str(recipe.audio_rate), "-ac", "2",
    ]  # fmt: skip


def content_argv(
    recipe: ContentRecipe, out_dir: Path, ffmpeg: str = "ffmpeg", font: str | None = None
) -> list[str]:
    """The ffmpeg command that renders a recipe's loop into `out_dir/<rendition>/seg_NNNNN.ts`.

    Pure: builds the argument list only. One process renders every rendition from one source.
    """
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-filter_complex",
        filter_graph(recipe, font, LOOP_CAPTION),
    ]
    for i, rung in enumerate(recipe.ladder):
        argv += encode_args(recipe, i)
        argv += [
            "-f", "segment", "-segment_time", f"{recipe.segment_seconds:g}", "-segment_time_delta", f"{0.5 / recipe.fps:.6f}",
            "-segment_format", "mpegts",
            "-segment_start_number", "0",
            str(out_dir / rung.name / "seg_%05d.ts"),
        ]  # fmt: skip
    return argv


# --------------------------------------------------------------------------- build + load


def scan_segment(path: Path) -> tuple[bytes, TsInfo, StreamInfo, StreamInfo]:
    """Read and scan a rendered segment: (bytes, info, video, audio). MediaError unless it holds one
    video and one audio stream with timestamps."""
    data = path.read_bytes()
    try:
        info = scan(data)
    except TsError as exc:
        raise MediaError(f"{path}: {exc}") from None
    video, audio = info.stream("video"), info.stream("audio")
    if video is None or audio is None or video.first_pts is None or audio.first_pts is None:
        raise MediaError(f"{path}: needs one video and one audio stream with timestamps")
    return data, info, video, audio


def _describe_rendition(
    recipe: ContentRecipe, rung: Rendition, directory: Path
) -> tuple[RenditionMedia, int]:
    """Scan a rendition's segments; returns it with its total audio frames. Raises MediaError."""
    files = sorted(directory.glob("seg_*.ts"))
    if len(files) != recipe.segment_count:
        raise MediaError(
            f"{recipe.name}/{rung.name}: ffmpeg wrote {len(files)} segments, expected {recipe.segment_count}"
        )
    segments, codecs, audio_frames = [], None, 0
    frames_per_segment = round(recipe.segment_seconds * recipe.frame_rate)
    for index, path in enumerate(files):
        data, info, video, audio = scan_segment(path)
        if video.frames != frames_per_segment:
            raise MediaError(
                f"{path}: {video.frames} video frames, expected exactly {frames_per_segment} (one closed GOP)"
            )
        codecs = codecs or info.codec
        audio_frames += audio.frames
        offset = av_timing(info).start_offset
        segments.append(
            SegmentInfo(
                index,
                float(video.frames / recipe.frame_rate),
                video.first_pts,
                len(data),
                dict(info.payload_packets),
                offset,
            )
        )
    audio_span = audio_frames * AAC_SAMPLES_PER_FRAME / recipe.audio_rate
    if abs(audio_span - recipe.loop_seconds) > 1e-9:
        raise MediaError(
            f"{recipe.name}/{rung.name}: audio spans {audio_span:.6f} s ({audio_frames} AAC frames) but the loop is"
            f" {recipe.loop_seconds} s; the loop would not be seamless"
        )
    offsets = [s.audio_offset for s in segments]  # segment 0's is the loop wrap's
    frame = AAC_SAMPLES_PER_FRAME * CLOCK / recipe.audio_rate
    if max(offsets) - min(offsets) >= frame:
        raise MediaError(
            f"{recipe.name}/{rung.name}: the sound switches from {min(offsets) / 90:+.1f} to {max(offsets) / 90:+.1f} ms"
            " against the picture at segment boundaries (more than one AAC frame apart): no ad can splice in at all of them"
        )
    rates = [s.size * 8 / s.duration for s in segments]
    media = RenditionMedia(
        rendition=rung,
        directory=directory,
        codecs=f"{codecs or 'avc1.4d401f'},mp4a.40.2",
        bandwidth=round(max(rates)),
        average_bandwidth=round(sum(rates) / len(rates)),
        segments=tuple(segments),
    )
    return media, audio_frames


def _manifest(media: ContentMedia) -> dict:
    return {
        "recipe": {**dataclasses.asdict(media.recipe), "key": media.recipe.key},
        "renditions": [
            {
                "name": r.rendition.name,
                "codecs": r.codecs,
                "bandwidth": r.bandwidth,
                "average_bandwidth": r.average_bandwidth,
                "segments": [
                    {
                        "index": s.index,
                        "duration": s.duration,
                        "first_pts": s.first_pts,
                        "size": s.size,
                        "payload_packets": {str(pid): n for pid, n in s.payload_packets.items()},
                        "audio_offset": s.audio_offset,
                    }
                    for s in r.segments
                ],
            }
            for r in media.renditions
        ],
    }


def load_content(recipe: ContentRecipe, cache_dir: Path) -> ContentMedia | None:
    """The cached render of a recipe, or None when it has not been built (or is damaged)."""
    directory = cache_dir / "content" / recipe.key
    manifest_path = directory / "manifest.json"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        by_name = {r["name"]: r for r in manifest["renditions"]}
        renditions = []
        for rung in recipe.ladder:
            entry = by_name[rung.name]
            segments = tuple(
                SegmentInfo(
                    s["index"],
                    s["duration"],
                    s["first_pts"],
                    s["size"],
                    {int(p): n for p, n in s["payload_packets"].items()},
                    s["audio_offset"],
                )
                for s in entry["segments"]
            )
            rendition = RenditionMedia(
                rung,
                directory / rung.name,
                entry["codecs"],
                entry["bandwidth"],
                entry["average_bandwidth"],
                segments,
            )
            if not all(rendition.path(s.index).exists() for s in segments):
                return None
            renditions.append(rendition)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        log.warning("media cache %s is damaged (%s); it will be rebuilt", directory, exc)
        return None
    return ContentMedia(recipe, directory, tuple(renditions))


async def build_content(
    recipe: ContentRecipe,
    cache_dir: Path,
    on_progress: ProgressCallback | None = None,
    ffmpeg: str | None = None,
) -> ContentMedia:
    """Return the cached render of `recipe`, rendering it first when needed. Raises MediaError."""
    cached = load_content(recipe, cache_dir)
    if cached is not None:
        return cached
    final = cache_dir / "content" / recipe.key
    work = final.with_name(f".{recipe.key}.building-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    for rung in recipe.ladder:
        (work / rung.name).mkdir(parents=True, exist_ok=True)
    font = find_font()
    if font is None:
        log.warning(
            "no TrueType font found (looked for %s); media will have no burned-in text",
            ", ".join(FONT_CANDIDATES),
        )
    try:
        argv = content_argv(recipe, work, ffmpeg or ffmpeg_executable(), font)
        await run_ffmpeg(
            argv,
            total_seconds=recipe.loop_seconds,
            on_progress=on_progress,
            what=f"render of channel {recipe.name}",
        )
        described = [_describe_rendition(recipe, rung, work / rung.name) for rung in recipe.ladder]
        renditions = tuple(d[0] for d in described)
        reference = [s.duration for s in renditions[0].segments]
        for r in renditions[1:]:
            if [s.duration for s in r.segments] != reference:
                raise MediaError(
                    f"{recipe.name}: renditions {r.rendition.name} and {renditions[0].rendition.name} disagree on segment durations"
                )
        media = ContentMedia(recipe, work, renditions)
        (work / "manifest.json").write_text(json.dumps(_manifest(media), indent=1))
        try:
            os.rename(work, final)
        except OSError:
            if load_content(recipe, cache_dir) is None:  # nobody else finished it either
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    built = load_content(recipe, cache_dir)
    if built is None:
        raise MediaError(f"{final}: build finished but the cache cannot be read back")
    return built
