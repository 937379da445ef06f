"""Where a segment's sound starts and ends against its picture, and how renders place it.

Side effects: none.
How and why: docs/origin.md, "`origin_emulator.interleave`".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from stitcher.ts import AAC_SAMPLES_PER_FRAME


def decode_delay(preset: str, b_frames: int) -> int:
    """Pictures between a key frame's decode and presentation times as x264 encodes them: none
    without B-frames (the `ultrafast` preset, or `b_frames=0`), one with a single B-frame, two with
    B-pyramids (every other preset's default of three). `b_frames` -1: the preset's own."""
    frames = (0 if preset == "ultrafast" else 3) if b_frames < 0 else b_frames
    return 0 if frames == 0 else 1 if frames == 1 else 2


@dataclass(frozen=True)
class AudioLayout:
    """The sound of a render against its picture, in samples (picture 0 presented at 0):
    `first` is where the first encoded AAC frame (the encoder's priming frame) starts, `frames`
    how many there are."""

    first: int
    frames: int

    @property
    def end(self) -> int:
        """Where the last AAC frame ends (samples, picture 0 at 0)."""
        return self.first + self.frames * AAC_SAMPLES_PER_FRAME

    @property
    def input_start(self) -> int:
        """Position of the first sample given to the encoder (one frame after the priming frame)."""
        return self.first + AAC_SAMPLES_PER_FRAME

    @property
    def input_samples(self) -> int:
        return (self.frames - 1) * AAC_SAMPLES_PER_FRAME

    def audio_filters(self) -> str:
        """Filters from a sound whose sample 0 belongs to picture 0 to exactly the encoder's input:
        silence prepended or the head cut, padded with silence and cut to length, timestamps
        from the input's position."""
        head = self.input_start
        lead = (
            f"adelay=delays={-head}S:all=1,"
            if head < 0
            else f"atrim=start_sample={head},"
            if head > 0
            else ""
        )
        return (
            f"{lead}asetpts=N/SR/TB,apad,atrim=end_sample={self.input_samples},"
            f"asetpts=N/SR/TB+({head})/SR/TB"
        )


def loop_layout(loop_seconds: float, rate: int, fps: Fraction, delay_frames: int) -> AudioLayout:
    """A loop's sound: exactly the loop's span of whole AAC frames, the first one starting an
    eighth of a frame after ffmpeg's cut point (`delay_frames` pictures before the picture
    boundary), so no boundary of the loop has a frame exactly on the cut and the wrap follows
    the same rule as every other boundary."""
    samples = Fraction(loop_seconds).limit_denominator(1_000_000) * rate
    if samples.denominator != 1 or samples % AAC_SAMPLES_PER_FRAME:
        raise ValueError(
            f"a loop of {loop_seconds} s is not a whole number of AAC frames at {rate} Hz"
        )
    cut = -Fraction(delay_frames) * rate / fps
    first = math.ceil(cut + Fraction(AAC_SAMPLES_PER_FRAME, 8))
    return AudioLayout(first, int(samples) // AAC_SAMPLES_PER_FRAME)


def ad_layout(picture_samples: Fraction, rate: int, audio_offset: float) -> AudioLayout:
    """An ad's sound: the whole AAC frames nearest its picture's span, started `audio_offset`
    seconds from its first picture less half of what the whole frames add, so that both ends
    are within a quarter of a frame of the offset."""
    frames = max(1, round(picture_samples / AAC_SAMPLES_PER_FRAME))
    extra = frames * AAC_SAMPLES_PER_FRAME - picture_samples
    first = round(Fraction(audio_offset) * rate - extra / 2)
    return AudioLayout(first, frames)


def b_frames_for_offset(audio_offset: float, rate: int, fps: Fraction) -> int:
    """The B-frames that make ffmpeg cut the sound at segment boundaries as a channel with this
    interleave is cut (`decode_delay` inverted: 0, 1, or 3 for a delay of two pictures), so the
    inner boundaries of an ad (where a break that ends early leaves it) match the channel too."""
    delay = round(
        (
            Fraction(AAC_SAMPLES_PER_FRAME, 2 * rate)
            - Fraction(audio_offset).limit_denominator(1_000_000)
        )
        * fps
    )
    return 0 if delay <= 0 else 1 if delay == 1 else 3


def nominal_offset(delay_frames: int, rate: int, fps: Fraction) -> float:
    """The interleave (seconds) of a continuous ffmpeg encode: the middle of the AAC frame after
    its cut point. What a live encoder's boundaries average to; a loop's measured value agrees."""
    return float(-Fraction(delay_frames) / fps + Fraction(AAC_SAMPLES_PER_FRAME, 2 * rate))
