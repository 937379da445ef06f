"""A channel's content recipe: everything that determines its rendered loop, and so its cache key.

Pure: the recipe is hashed into the cache folder's name (`ContentRecipe.key`), so a changed recipe
renders anew and an unchanged one is reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction

from origin_emulator.config import ChannelConfig, MediaSettings, Rendition
from origin_emulator.ffmpeg import exact_frame_rate
from origin_emulator.interleave import AudioLayout, decode_delay, loop_layout

RECIPE_VERSION = 2


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
        """Where the loop's sound lies against its picture
        (`origin_emulator.interleave.loop_layout`)."""
        return loop_layout(
            self.loop_seconds,
            self.audio_rate,
            self.frame_rate,
            decode_delay(self.preset, self.b_frames),
        )
