"""Render a channel's loop once with ffmpeg, verify and describe it, and cache it by recipe.

The segments live under `<cache_dir>/content/<channel>-<hash>/<rendition>/` with a `manifest.json`
describing every segment. A build goes to a temporary directory renamed into place when complete
(docs/architecture.md, "The media cache"). Side effects: runs ffmpeg, writes the cache directory.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from pathlib import Path

from origin_emulator.config import Rendition
from origin_emulator.content.media import ContentMedia, RenditionMedia, SegmentInfo, scan_segment
from origin_emulator.content.recipe import ContentRecipe
from origin_emulator.content.render import content_argv
from origin_emulator.content.text import FONT_CANDIDATES, find_font
from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import ProgressCallback, ffmpeg_executable, run_ffmpeg
from stitcher.ts import AAC_SAMPLES_PER_FRAME, CLOCK, av_timing

log = logging.getLogger(__name__)


def _describe_rendition(
    recipe: ContentRecipe, rung: Rendition, directory: Path
) -> tuple[RenditionMedia, int]:
    """Scan a rendition's segments; returns it with its total audio frames. Raises MediaError."""
    files = sorted(directory.glob("seg_*.ts"))
    if len(files) != recipe.segment_count:
        raise MediaError(
            f"{recipe.name}/{rung.name}: ffmpeg wrote {len(files)} segments,"
            f" expected {recipe.segment_count}"
        )
    segments, codecs, audio_frames = [], None, 0
    frames_per_segment = round(recipe.segment_seconds * recipe.frame_rate)
    for index, path in enumerate(files):
        data, info, video, audio = scan_segment(path)
        if video.frames != frames_per_segment:
            raise MediaError(
                f"{path}: {video.frames} video frames,"
                f" expected exactly {frames_per_segment} (one closed GOP)"
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
            f"{recipe.name}/{rung.name}: audio spans {audio_span:.6f} s ({audio_frames} AAC frames)"
            f" but the loop is {recipe.loop_seconds} s; the loop would not be seamless"
        )
    offsets = [s.audio_offset for s in segments]  # segment 0's is the loop wrap's
    frame = AAC_SAMPLES_PER_FRAME * CLOCK / recipe.audio_rate
    if max(offsets) - min(offsets) >= frame:
        raise MediaError(
            f"{recipe.name}/{rung.name}: the sound switches from {min(offsets) / 90:+.1f}"
            f" to {max(offsets) / 90:+.1f} ms against the picture at segment boundaries"
            " (more than one AAC frame apart): no ad can splice in at all of them"
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
                    f"{recipe.name}: renditions {r.rendition.name} and"
                    f" {renditions[0].rendition.name} disagree on segment durations"
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
