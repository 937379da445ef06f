"""Sound against picture: each side's sound against its own picture, and the hole or overlap a
player must bridge where one segment follows another (docs/splices.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from stitcher.ts.packets import AAC_SAMPLES_PER_FRAME, CLOCK, TsError, _unwrap, signed_ticks
from stitcher.ts.scan import TsInfo


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
