"""The one settings object of the rig, composed of every package's own sections.

The origin emulator owns `[origin]`, `[media]` and `[[channels]]` (`origin_emulator.config`), the
stitcher `[stitcher]` and `[ads]` (`stitcher.config`); each ships its defaults beside its code.
`load_settings` reads them all, then the config file (`--config FILE` or `RIG_CONFIG`), then the
`RIG_` environment variables, and checks that nothing in the file is unknown. `Settings` is frozen
and passed down, never a module global.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from origin_emulator import config as origin_config
from origin_emulator.config import ChannelConfig, MediaSettings, OriginConfig, OriginSettings
from stitcher import config as stitcher_config
from stitcher.config import AdsSettings, StitcherConfig, StitcherSettings, read_layers, setting

SECTIONS = ("origin", "media", "ads", "stitcher", "channels")


@dataclass(frozen=True)
class Settings:
    """Everything the rig's processes need, read once at start-up."""

    state_dir: Path = setting(
        'Where runtime state lives (KV file, channel DB, origin splices); `""` ='
        f" {stitcher_config.STATE_DIR}.",
        default=Path(),
    )
    config_file: Path | None = setting(
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

    def for_origin(self) -> OriginConfig:
        """The origin emulator's part."""
        return OriginConfig(
            self.state_dir, self.config_file, self.origin, self.media, self.channels
        )

    def for_stitcher(self) -> StitcherConfig:
        """The stitcher's part."""
        return StitcherConfig(self.state_dir, self.config_file, self.stitcher, self.ads)


def load_settings(
    config_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read every package's shipped defaults, then the config file, then the environment.
    Raises ConfigError."""
    layers = read_layers([origin_config.DEFAULTS, stitcher_config.DEFAULTS], config_file, env)
    base = layers.top(Settings, SECTIONS)
    state_dir = layers.state_dir(base.state_dir)
    origin, media, channels = origin_config.origin_sections(layers)
    stitcher, ads = stitcher_config.stitcher_sections(layers, state_dir)
    return Settings(state_dir, layers.config_file, origin, media, ads, stitcher, channels)
