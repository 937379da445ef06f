"""A rendered loop as the origin emulator serves it: its renditions and their segments.

`ContentMedia` is what the cache's `manifest.json` describes (duration, first video PTS, payload
packets per PID and the interleave of every segment); `scan_segment` reads one rendered segment,
for the loop's build and for the verification of conditioned ads alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from origin_emulator.config import Rendition
from origin_emulator.content.recipe import ContentRecipe
from origin_emulator.errors import MediaError
from stitcher.probe import audio_offset
from stitcher.ts import StreamInfo, TsError, TsInfo, scan


@dataclass(frozen=True)
class SegmentInfo:
    """One rendered segment of one rendition."""

    index: int
    duration: float
    first_pts: int  # video PTS of its first frame, 90 kHz
    size: int
    payload_packets: dict[int, int]  # PID -> packets with payload (for continuity counters)
    # sound minus picture at its start, 90 kHz ticks (the interleave at this boundary)
    audio_offset: int = 0


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
