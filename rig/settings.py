"""The one settings object of the rig, composed of every package's own sections.

The origin emulator owns `[origin]`, `[media]` and `[[channels]]` (`origin_emulator.config`), the
stitcher `[stitcher]` and `[ads]` (`stitcher.config`); each ships its defaults beside its code.
`load_settings` reads them all, then the config file (`--config FILE` or `RIG_CONFIG`), then the
`RIG_` environment variables, and checks that nothing in the file is unknown. `Settings` is frozen
and passed down, never a module global.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from origin_emulator import config as origin_config
from origin_emulator.config import OriginConfig
from rig.edge import EdgeSettings
from stitcher import config as stitcher_config
from stitcher.config import AdsSettings, StitcherSettings, read_layers, setting

SECTIONS = ("origin", "media", "ads", "stitcher", "channels", "edge", "redis")


@dataclass(frozen=True)
class RedisSettings:
    """The rig's own redis-server as the KV store (section `[redis]`, `rig up --kv redis`)."""

    enabled: bool = setting(
        "Start a private redis-server (append-only file in the state dir) and point every"
        " component's KV at it.",
        default=False,
    )
    host: str = setting("Address the rig's redis-server listens on.", default="127.0.0.1")
    port: int = setting("Port of the rig's redis-server.", default=6390)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


@dataclass(frozen=True)
class Settings(OriginConfig):
    """Everything the rig's processes need, read once at start-up: the origin emulator's settings
    and the stitcher's."""

    ads: AdsSettings = field(default_factory=AdsSettings)
    stitcher: StitcherSettings = field(default_factory=StitcherSettings)
    edge: EdgeSettings = field(default_factory=EdgeSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)


def load_settings(
    config_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read every package's shipped defaults, then the config file, then the environment.
    Raises ConfigError."""
    layers = read_layers([origin_config.DEFAULTS, stitcher_config.DEFAULTS], config_file, env)
    run = layers.run_settings(known=SECTIONS)
    origin, media, channels = origin_config.origin_sections(layers)
    stitcher, ads = stitcher_config.stitcher_sections(layers, run.state_dir)
    edge = layers.section("edge", EdgeSettings)
    edge.check()
    redis = layers.section("redis", RedisSettings)
    if redis.enabled:
        stitcher = dataclasses.replace(stitcher, kv_url=redis.url)
    return Settings(
        state_dir=run.state_dir,
        config_file=run.config_file,
        origin=origin,
        media=media,
        channels=channels,
        ads=ads,
        stitcher=stitcher,
        edge=edge,
        redis=redis,
    )
