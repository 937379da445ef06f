"""The one settings object of the rig: read once from TOML plus `RIG_` environment overrides.

Sources, later ones winning:
1. the shipped defaults (`rig/default_config.toml`),
2. a config file (`--config FILE`, or `RIG_CONFIG=FILE`),
3. environment variables: `RIG_<FIELD>` for top-level fields (e.g. `RIG_STATE_DIR`) and
   `RIG_<SECTION>_<FIELD>` for section fields (e.g. `RIG_ORIGIN_PORT=9081`).

Channels are a list in the config file (`[[channels]]`); they have no environment overrides.
Every field is documented below; `Settings` is frozen and passed down, never a module global.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, get_type_hints

from rig.errors import ConfigError
from rig.ffmpeg import exact_frame_rate
from stitcher.ts import whole_aac_frames

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_CONFIG = PACKAGE_DIR / "default_config.toml"
CUE_FORMATS = ("daterange", "cue-out", "scte35", "oatcls")
CUE_COMMANDS = ("splice_insert", "time_signal")


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class Rendition:
    """One rung of the ladder every channel (and, later, every conditioned ad) is encoded to."""

    name: str = _doc("Variant name, used in URLs (`/news/540p/index.m3u8`).")
    width: int = _doc("Picture width in pixels (even).")
    height: int = _doc("Picture height in pixels (even).")
    video_kbps: int = _doc("Target H.264 bit rate, kb/s.")
    audio_kbps: int = _doc("AAC bit rate, kb/s.", default=96)


@dataclass(frozen=True)
class MediaSettings:
    """How content is rendered and cached (section `[media]`)."""

    cache_dir: Path = _doc(
        'Where rendered media is cached; `""` means `<repo>/media/cache`.', default=Path()
    )
    loop_seconds: float = _doc(
        "Length of each channel's rendered loop. Must be a whole number of segments and of AAC"
        " frames (1024 samples): any multiple of 1.92 s segments at 48 kHz, a multiple of 8 s with 2 s"
        " segments, 192.192 s with 6.006 s ones.",
        default=61.44,
    )
    segment_seconds: float = _doc(
        "Segment (and GOP) duration; every segment is one closed GOP. A duration that is whole AAC"
        " frames as well as whole pictures (1.92 s at 25 fps and 48 kHz) cuts sound and picture at the"
        " same point at every boundary; others make the cut move by up to one AAC frame.",
        default=1.92,
    )
    fps: float = _doc(
        "Frame rate of all video (29.97 and the other NTSC rates mean 30000/1001 etc.).",
        default=25.0,
    )
    b_frames: int = _doc(
        "B-frames between reference pictures in the channels' H.264 (-1: the preset's own, none for"
        " `ultrafast`, else 3). It sets the channel's interleave: ffmpeg's segmenter cuts the sound at"
        " the key frame's decode time, two pictures early with B-pyramids, one with a single B-frame.",
        default=-1,
    )
    audio_rate: int = _doc("Audio sample rate (Hz), stereo AAC-LC.", default=48000)
    preset: str = _doc("x264 preset used for renders (speed vs. size).", default="veryfast")
    ladder: tuple[Rendition, ...] = _doc(
        "The variants, highest first (`[[media.ladder]]`).", default=()
    )

    def check(self) -> None:
        segs = self.loop_seconds / self.segment_seconds
        if abs(segs - round(segs)) > 1e-9 or round(segs) < 1:
            raise ConfigError(
                f"media.loop_seconds={self.loop_seconds} is not a whole number of {self.segment_seconds} s segments"
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
                f"media.segment_seconds={self.segment_seconds} is not a whole number of frames at {self.fps} fps"
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

    host: str = _doc("Address the origin emulator listens on.", default="127.0.0.1")
    port: int = _doc("Port of the origin emulator.", default=8081)
    epoch: float = _doc(
        "Instant (ISO 8601 or epoch seconds) at which segment 0 of every channel began; the live"
        " timeline is a pure function of the clock and this epoch, so restarts continue it.",
        default=1_767_225_600.0,  # 2026-01-01T00:00:00Z
    )
    window_segments: int = _doc(
        "Segments in each live playlist (the sliding window / DVR depth).", default=6
    )
    cache_segments: int = _doc(
        "How many rewritten segments the emulator keeps in memory.", default=256
    )
    live: bool = _doc(
        "Encode every channel live with ffmpeg (test pattern and tone, the wall clock burned in) instead"
        " of looping its rendered media: same numbering, window, PDT and cues; roughly a third of a CPU"
        " core per channel at the default ladder. `origin-emulator serve --live` (and `rig up --live`) turn it on.",
        default=False,
    )


@dataclass(frozen=True)
class StitcherSettings:
    """The stateless stitcher (section `[stitcher]`)."""

    host: str = _doc("Address the stitcher listens on.", default="127.0.0.1")
    port: int = _doc("Port of the stitcher.", default=8080)
    kv_url: str = _doc(
        'KV store URL: `sqlite:///path/kv.db` or `redis://host:port/db`; `""` = sqlite under the state dir.',
        default="",
    )
    decision_url: str = _doc(
        'A remote ad decision server (POST pod JSON); `""` = house library only.', default=""
    )
    decision_timeout: float = _doc(
        "Seconds to wait for the remote ad server before using the house library.", default=0.5
    )
    token: str = _doc(
        'Bearer token the /cue write endpoints require; `""` = loopback clients only.', default=""
    )
    monitor_interval: float = _doc(
        "Seconds between two looks of the SCTE-35 monitor at each origin.", default=1.0
    )
    workers: int = _doc(
        "Stitcher processes sharing the port (`stitcher serve --workers N`); any of them answers any request.",
        default=1,
    )
    origin_timeout: float = _doc(
        "Seconds the stitcher waits for an origin playlist before it answers from its last good copy or 504.",
        default=2.0,
    )
    origin_cache: float = _doc(
        "Seconds one origin playlist fetch is shared by every request for that variant.",
        default=0.5,
    )
    kv_cache: float = _doc(
        "Seconds one read of a channel's break records and ledger is shared by every request.",
        default=0.5,
    )
    kv_grace: float = _doc(
        "Seconds the stitcher keeps using its last read of the break store while the store is down; after"
        " that, breaks that have not begun are passed through (breaks already served keep their slots).",
        default=30.0,
    )


@dataclass(frozen=True)
class AdsSettings:
    """The ad library and the media server that serves conditioned ads and slate (section `[ads]`)."""

    host: str = _doc("Address of the media server for ad and slate segments.", default="127.0.0.1")
    port: int = _doc("Port of the media server (`/ads/...`, `/slate/...`).", default=8082)
    house_count: int = _doc(
        "How many house creatives to render (10/15/20/30 s, each visibly different).", default=6
    )
    slate_seconds: float = _doc(
        "Length of the conditioned slate used to fill the rest of a break.", default=10.0
    )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class ChannelConfig:
    """One live channel of the origin emulator (`[[channels]]`)."""

    name: str = _doc("Channel id used in URLs (lower-case letters, digits, '-').")
    title: str = _doc("Text burned into the picture.", default="")
    colour: str = _doc("Colour of the title band (ffmpeg colour syntax).", default="0x1f4e79")
    tone_hz: int = _doc("Frequency of the channel's audio tone.", default=440)
    cue_format: str = _doc(
        "How cues appear in playlists: daterange, cue-out, scte35 or oatcls.", default="daterange"
    )
    cue_command: str = _doc(
        "SCTE-35 command of scheduled cues: splice_insert or time_signal.", default="splice_insert"
    )
    break_every: float = _doc(
        "Seconds between scheduled breaks; 0 disables the schedule.", default=120.0
    )
    break_duration: float = _doc(
        "Length of scheduled breaks (snapped to whole segments).", default=30.0
    )
    break_preroll: float = _doc(
        "How long before its splice point a scheduled cue is announced.", default=8.0
    )
    break_offset: float = _doc(
        "Seconds after the epoch of the first scheduled break.", default=60.0
    )
    discontinuity_every: int = _doc(
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
                f"channel {self.name}: cue_format {self.cue_format!r} is not one of {', '.join(CUE_FORMATS)}"
            )
        if self.cue_command not in CUE_COMMANDS:
            raise ConfigError(
                f"channel {self.name}: cue_command {self.cue_command!r} is not one of {', '.join(CUE_COMMANDS)}"
            )
        if self.break_every < 0 or self.break_duration <= 0 or self.break_preroll < 0:
            raise ConfigError(
                f"channel {self.name}: break_every ≥ 0, break_duration > 0 and break_preroll ≥ 0 are required"
            )
        if self.break_every and self.break_duration + self.break_preroll >= self.break_every:
            raise ConfigError(
                f"channel {self.name}: scheduled breaks ({self.break_duration} s + pre-roll) overlap every {self.break_every} s"
            )
        if self.discontinuity_every < 0:
            raise ConfigError(f"channel {self.name}: discontinuity_every must be ≥ 0")


@dataclass(frozen=True)
class Settings:
    """Everything the rig's processes need, read once at start-up."""

    state_dir: Path = _doc(
        'Where runtime state lives (KV file, channel DB, origin splices); `""` = ~/.local/state/ssai-rig.',
        default=Path(),
    )
    config_file: Path | None = _doc(
        "The config file these settings came from, if any.", default=None
    )
    origin: OriginSettings = field(default_factory=OriginSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    ads: AdsSettings = field(default_factory=AdsSettings)
    stitcher: StitcherSettings = field(default_factory=StitcherSettings)
    channels: tuple[ChannelConfig, ...] = ()

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)


# --------------------------------------------------------------------------- loading


def _convert(value: Any, kind: Any, where: str) -> Any:
    kind_name = getattr(kind, "__name__", str(kind))
    try:
        if kind is Path or kind == "Path" or kind == Path | None:
            return Path(str(value)).expanduser() if str(value) else Path()
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float:
            return float(value)
        if kind is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a valid {kind_name}") from None
    return value


def _parse_epoch(value: Any, where: str) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"{where}: {value!r} is neither epoch seconds nor an ISO 8601 date-time"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        here = f"{where}.{f.name}" if where else f.name
        if f.name == "epoch":
            kwargs[f.name] = _parse_epoch(value, here)
        elif f.name == "ladder":
            if not isinstance(value, list):
                raise ConfigError(f"{here}: expected a list of tables ([[media.ladder]])")
            kwargs[f.name] = tuple(
                _build(Rendition, item, f"{here}[{i}]") for i, item in enumerate(value)
            )
        else:
            kwargs[f.name] = _convert(value, hints[f.name], here)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def _env_overrides(section: str, cls: type, env: Mapping[str, str]) -> dict[str, str]:
    prefix = f"RIG_{section.upper()}_" if section else "RIG_"
    found = {}
    for f in fields(cls):
        if dataclasses.is_dataclass(f.type) or f.name in ("ladder", "channels", "config_file"):
            continue
        name = prefix + f.name.upper()
        if name in env:
            found[f.name] = env[name]
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    config_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the shipped defaults, then the config file, then the environment. Raises ConfigError."""
    env = os.environ if env is None else env
    data = _read_toml(DEFAULT_CONFIG)
    chosen = config_file or env.get("RIG_CONFIG") or None
    if chosen:
        data = _merge(data, _read_toml(Path(chosen).expanduser()))
    data.setdefault("origin", {})
    data.setdefault("media", {})
    data.setdefault("ads", {})
    data.setdefault("stitcher", {})
    sections = {
        "origin": OriginSettings,
        "media": MediaSettings,
        "ads": AdsSettings,
        "stitcher": StitcherSettings,
    }
    for section, cls in sections.items():
        data[section] = {**data[section], **_env_overrides(section, cls, env)}
    top = {k: v for k, v in data.items() if k not in sections and k != "channels"}
    top.update(_env_overrides("", Settings, env))
    settings = _build(Settings, top, "")
    origin = _build(OriginSettings, data["origin"], "origin")
    media = _build(MediaSettings, data["media"], "media")
    ads = _build(AdsSettings, data["ads"], "ads")
    stitcher = _build(StitcherSettings, data["stitcher"], "stitcher")
    if not 1 <= stitcher.workers <= 64:
        raise ConfigError(f"stitcher.workers={stitcher.workers} must be between 1 and 64")
    for name in (
        "origin_timeout",
        "origin_cache",
        "kv_cache",
        "monitor_interval",
        "decision_timeout",
    ):
        if not getattr(stitcher, name) > 0:
            raise ConfigError(f"stitcher.{name} must be a positive number of seconds")
    if stitcher.kv_grace < 0:
        raise ConfigError("stitcher.kv_grace must be ≥ 0 seconds")
    if ads.house_count < 1 or ads.slate_seconds <= 0:
        raise ConfigError("ads.house_count must be ≥ 1 and ads.slate_seconds > 0")
    channels = tuple(
        _build(ChannelConfig, c, f"channels[{i}]") for i, c in enumerate(data.get("channels", []))
    )

    state_dir = (
        settings.state_dir
        if str(settings.state_dir) not in ("", ".")
        else Path("~/.local/state/ssai-rig").expanduser()
    )
    cache_dir = (
        media.cache_dir if str(media.cache_dir) not in ("", ".") else REPO_DIR / "media" / "cache"
    )
    if not stitcher.kv_url:
        stitcher = dataclasses.replace(
            stitcher, kv_url=f"sqlite:///{(state_dir / 'kv.db').resolve()}"
        )
    media = dataclasses.replace(media, cache_dir=cache_dir)
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
    return dataclasses.replace(
        settings,
        state_dir=state_dir,
        config_file=Path(chosen) if chosen else None,
        origin=origin,
        media=media,
        ads=ads,
        stitcher=stitcher,
        channels=channels,
    )


def describe(cls: type = Settings, prefix: str = "") -> list[str]:
    """One line per setting with its documentation (for `rig config --help`-style listings)."""
    lines = []
    for f in fields(cls):
        doc = f.metadata.get("doc")
        if doc:
            lines.append(f"{prefix}{f.name}: {doc}")
    return lines
