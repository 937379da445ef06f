"""The origin emulator's settings: sections `[origin]`, `[media]` and `[[channels]]`.

Their shipped defaults are `origin_emulator/defaults.toml`; `stitcher.config` says how a config
file and `RIG_` environment variables override them, and `rig.settings` composes every package's
sections into the one settings object of the rig.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from origin_emulator.ffmpeg import exact_frame_rate
from stitcher.config import Layers, RunSettings, build, parse_epoch, read_layers, setting
from stitcher.errors import ConfigError
from stitcher.ts import whole_aac_frames

DEFAULTS = Path(__file__).resolve().parent / "defaults.toml"
REPO_DIR = Path(__file__).resolve().parent.parent
CUE_FORMATS = ("daterange", "cue-out", "scte35", "oatcls")
CUE_COMMANDS = ("splice_insert", "time_signal")


@dataclass(frozen=True)
class Rendition:
    """One rung of the ladder every channel (and, later, every conditioned ad) is encoded to."""

    name: str = setting("Variant name, used in URLs (`/news/540p/index.m3u8`).")
    width: int = setting("Picture width in pixels (even).")
    height: int = setting("Picture height in pixels (even).")
    video_kbps: int = setting("Target H.264 bit rate, kb/s.")
    audio_kbps: int = setting("AAC bit rate, kb/s.", default=96)


@dataclass(frozen=True)
class MediaSettings:
    """How content is rendered and cached (section `[media]`)."""

    cache_dir: Path = setting(
        'Where rendered media is cached; `""` means `<repo>/media/cache`.', default=Path()
    )
    loop_seconds: float = setting(
        "Length of each channel's rendered loop. Must be a whole number of segments and of AAC"
        " frames (1024 samples): any multiple of 1.92 s segments at 48 kHz, a multiple of 8 s with"
        " 2 s segments, 192.192 s with 6.006 s ones.",
        default=61.44,
    )
    segment_seconds: float = setting(
        "Segment (and GOP) duration; every segment is one closed GOP. A duration that is whole AAC"
        " frames as well as whole pictures (1.92 s at 25 fps and 48 kHz) cuts sound and picture at"
        " the same point at every boundary; others make the cut move by up to one AAC frame.",
        default=1.92,
    )
    fps: float = setting(
        "Frame rate of all video (29.97 and the other NTSC rates mean 30000/1001 etc.).",
        default=25.0,
    )
    b_frames: int = setting(
        "B-frames between reference pictures in the channels' H.264 (-1: the preset's own, none"
        " for `ultrafast`, else 3). It sets the channel's interleave: ffmpeg's segmenter cuts the"
        " sound at the key frame's decode time, two pictures early with B-pyramids, one with a"
        " single B-frame.",
        default=-1,
    )
    audio_rate: int = setting("Audio sample rate (Hz), stereo AAC-LC.", default=48000)
    preset: str = setting("x264 preset used for renders (speed vs. size).", default="veryfast")
    ladder: tuple[Rendition, ...] = setting(
        "The variants, highest first (`[[media.ladder]]`).", default=(), items=Rendition
    )

    def check(self) -> None:
        segs = self.loop_seconds / self.segment_seconds
        if abs(segs - round(segs)) > 1e-9 or round(segs) < 1:
            raise ConfigError(
                f"media.loop_seconds={self.loop_seconds} is not a whole number of"
                f" {self.segment_seconds} s segments"
            )
        if not whole_aac_frames(self.loop_seconds, self.audio_rate):
            raise ConfigError(
                f"media.loop_seconds={self.loop_seconds} is not a whole number of AAC frames at"
                f" {self.audio_rate} Hz (1024 samples each); the loop would glitch at every wrap"
            )
        per_segment = Fraction(self.segment_seconds).limit_denominator(
            1_000_000
        ) * exact_frame_rate(self.fps)
        if self.fps <= 0 or per_segment.denominator != 1:
            raise ConfigError(
                f"media.segment_seconds={self.segment_seconds} is not a whole number of frames at"
                f" {self.fps} fps"
            )
        if not -1 <= self.b_frames <= 16:
            raise ConfigError(
                f"media.b_frames={self.b_frames} must be -1 (the preset's) or 0 to 16"
            )
        if not self.ladder:
            raise ConfigError(
                "media.ladder is empty: define at least one [[media.ladder]] rendition"
            )
        names = [r.name for r in self.ladder]
        if len(set(names)) != len(names):
            raise ConfigError(f"duplicate rendition names in media.ladder: {names}")
        for r in self.ladder:
            if r.width % 2 or r.height % 2 or r.width <= 0 or r.height <= 0:
                raise ConfigError(
                    f"rendition {r.name}: {r.width}x{r.height} must be positive and even"
                )


@dataclass(frozen=True)
class OriginSettings:
    """The live origin emulator (section `[origin]`)."""

    host: str = setting("Address the origin emulator listens on.", default="127.0.0.1")
    port: int = setting("Port of the origin emulator.", default=8081)
    epoch: float = setting(
        "Instant (ISO 8601 or epoch seconds) at which segment 0 of every channel began; the live"
        " timeline is a pure function of the clock and this epoch, so restarts continue it.",
        default=1_767_225_600.0,  # 2026-01-01T00:00:00Z
        parse=parse_epoch,
    )
    window_segments: int = setting(
        "Segments in each live playlist (the sliding window / DVR depth).", default=6
    )
    cache_segments: int = setting(
        "How many rewritten segments the emulator keeps in memory.", default=256
    )
    token: str = setting(
        "Bearer token that posting and cancelling splices (POST/DELETE /control/...) require;"
        ' `""` = direct loopback clients only. Set one when `host` is beyond loopback.',
        default="",
    )
    live: bool = setting(
        "Encode every channel live with ffmpeg (test pattern and tone, the wall clock burned in)"
        " instead of looping its rendered media: same numbering, window, PDT and cues; roughly a"
        " third of a CPU core per channel at the default ladder. `origin-emulator serve --live`"
        " (and `rig up --live`) turn it on.",
        default=False,
    )


@dataclass(frozen=True)
class ChannelConfig:
    """One live channel of the origin emulator (`[[channels]]`)."""

    name: str = setting("Channel id used in URLs (lower-case letters, digits, '-').")
    title: str = setting("Text burned into the picture.", default="")
    colour: str = setting("Colour of the title band (ffmpeg colour syntax).", default="0x1f4e79")
    tone_hz: int = setting("Frequency of the channel's audio tone.", default=440)
    cue_format: str = setting(
        "How cues appear in playlists: daterange, cue-out, scte35 or oatcls.", default="daterange"
    )
    cue_command: str = setting(
        "SCTE-35 command of scheduled cues: splice_insert or time_signal.", default="splice_insert"
    )
    break_every: float = setting(
        "Seconds between scheduled breaks; 0 disables the schedule.", default=120.0
    )
    break_duration: float = setting(
        "Length of scheduled breaks (snapped to whole segments).", default=30.0
    )
    break_preroll: float = setting(
        "How long before its splice point a scheduled cue is announced.", default=8.0
    )
    break_offset: float = setting(
        "Seconds after the epoch of the first scheduled break.", default=60.0
    )
    discontinuity_every: int = setting(
        "Inject an origin EXT-X-DISCONTINUITY (with a timestamp jump) every N segments; 0 = never.",
        default=0,
    )

    def check(self) -> None:
        if (
            not self.name
            or not all(c.isalnum() or c == "-" for c in self.name)
            or self.name != self.name.lower()
        ):
            raise ConfigError(f"channel name {self.name!r}: use lower-case letters, digits and '-'")
        if self.cue_format not in CUE_FORMATS:
            raise ConfigError(
                f"channel {self.name}: cue_format {self.cue_format!r} is not one of"
                f" {', '.join(CUE_FORMATS)}"
            )
        if self.cue_command not in CUE_COMMANDS:
            raise ConfigError(
                f"channel {self.name}: cue_command {self.cue_command!r} is not one of"
                f" {', '.join(CUE_COMMANDS)}"
            )
        if self.break_every < 0 or self.break_duration <= 0 or self.break_preroll < 0:
            raise ConfigError(
                f"channel {self.name}: break_every ≥ 0, break_duration > 0 and break_preroll ≥ 0"
                " are required"
            )
        if self.break_every and self.break_duration + self.break_preroll >= self.break_every:
            raise ConfigError(
                f"channel {self.name}: scheduled breaks ({self.break_duration} s + pre-roll)"
                f" overlap every {self.break_every} s"
            )
        if self.discontinuity_every < 0:
            raise ConfigError(f"channel {self.name}: discontinuity_every must be ≥ 0")


@dataclass(frozen=True)
class OriginConfig(RunSettings):
    """What the `origin-emulator` command reads: the run settings and the origin's own sections."""

    origin: OriginSettings = field(default_factory=OriginSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    channels: tuple[ChannelConfig, ...] = ()

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)


def origin_sections(
    layers: Layers,
) -> tuple[OriginSettings, MediaSettings, tuple[ChannelConfig, ...]]:
    """The origin's sections and channels, checked; the media cache defaults to
    <repo>/media/cache."""
    origin = layers.section("origin", OriginSettings)
    media = layers.section("media", MediaSettings)
    tables = layers.data.get("channels", [])
    if not isinstance(tables, list):
        raise ConfigError("channels: expected a list of tables ([[channels]])")
    channels = tuple(build(ChannelConfig, c, f"channels[{i}]") for i, c in enumerate(tables))
    if str(media.cache_dir) in ("", "."):
        media = dataclasses.replace(media, cache_dir=REPO_DIR / "media" / "cache")
    media.check()
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ConfigError(f"duplicate channel names: {names}")
    for channel in channels:
        channel.check()
    if origin.window_segments < 3:
        raise ConfigError(
            "origin.window_segments must be at least 3 (a live playlist holds ≥ 3 target durations)"
        )
    return origin, media, channels


def load_origin_config(
    config_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> OriginConfig:
    """What the origin emulator needs, from its defaults, the config file and the environment;
    sections of other packages in the file are theirs to check. Raises ConfigError."""
    layers = read_layers([DEFAULTS], config_file, env)
    run = layers.run_settings()
    origin, media, channels = origin_sections(layers)
    return OriginConfig(run.state_dir, run.config_file, origin, media, channels)
