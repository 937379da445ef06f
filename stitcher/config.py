"""Settings: how every package reads its own sections, and the stitcher's sections.

Each package owns its sections (the stitcher `[stitcher]` and `[ads]`, the origin emulator
`[origin]`, `[media]` and `[[channels]]`) and ships their defaults beside its code; `rig.settings`
composes them into the one settings object users see. Sources, later ones winning: the packages'
shipped defaults, a config file (`--config FILE` or `RIG_CONFIG`), then environment variables:
`RIG_<FIELD>` for top-level fields (`RIG_STATE_DIR`) and `RIG_<SECTION>_<FIELD>` for section
fields (`RIG_STITCHER_PORT=9080`). Lists of tables (`[[channels]]`) have no environment overrides.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_type_hints

from stitcher.errors import ConfigError

DEFAULTS = Path(__file__).resolve().parent / "defaults.toml"
STATE_DIR = "~/.local/state/ssai-rig"


def setting(text: str, **kwargs: Any) -> Any:
    """A documented field. `parse=`: a function (value, where) -> value that reads it instead of
    the type's rule; `items=`: the dataclass each table of a list of tables (`[[x]]`) is read as."""
    meta: dict[str, Any] = {
        "doc": text,
        **{k: kwargs.pop(k) for k in ("parse", "items") if k in kwargs},
    }
    return field(metadata=meta, **kwargs)


@dataclass(frozen=True)
class StitcherSettings:
    """The stateless stitcher (section `[stitcher]`)."""

    host: str = setting("Address the stitcher listens on.", default="127.0.0.1")
    port: int = setting("Port of the stitcher.", default=8080)
    kv_url: str = setting(
        'KV store URL: `sqlite:///path/kv.db` or `redis://host:port/db`; `""` = sqlite under the'
        " state dir.",
        default="",
    )
    decision_url: str = setting(
        'A remote ad decision server (POST pod JSON); `""` = house library only.', default=""
    )
    decision_timeout: float = setting(
        "Seconds to wait for the remote ad server before using the house library.", default=0.5
    )
    token: str = setting(
        'Bearer token the /cue write endpoints require; `""` = loopback clients only.',
        default="",
    )
    monitor_interval: float = setting(
        "Seconds between two looks of the SCTE-35 monitor at each origin.", default=1.0
    )
    workers: int = setting(
        "Stitcher processes sharing the port (`stitcher serve --workers N`); any of them answers"
        " any request.",
        default=1,
    )
    origin_timeout: float = setting(
        "Seconds the stitcher waits for an origin playlist before it answers from its last good"
        " copy or 504.",
        default=2.0,
    )
    origin_cache: float = setting(
        "Seconds one origin playlist fetch is shared by every request for that variant.",
        default=0.5,
    )
    kv_cache: float = setting(
        "Seconds one read of a channel's break records and ledger is shared by every request.",
        default=0.5,
    )
    kv_wait: float = setting(
        "Seconds a playlist request waits for a read of the break store; a read that takes longer"
        " (a frozen or overloaded store) is answered from the last read, as a failing store is.",
        default=0.5,
    )
    kv_grace: float = setting(
        "Seconds the stitcher keeps using its last read of the break store while the store is"
        " down; after that, breaks that have not begun are passed through (breaks already served"
        " keep their slots).",
        default=30.0,
    )

    def check(self) -> None:
        if not 1 <= self.workers <= 64:
            raise ConfigError(f"stitcher.workers={self.workers} must be between 1 and 64")
        for name in (
            "origin_timeout",
            "origin_cache",
            "kv_cache",
            "kv_wait",
            "monitor_interval",
            "decision_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"stitcher.{name} must be a positive number of seconds")
        if self.kv_grace < 0:
            raise ConfigError("stitcher.kv_grace must be ≥ 0 seconds")


@dataclass(frozen=True)
class AdsSettings:
    """The ad library and the media server that serves conditioned ads and slate (`[ads]`)."""

    host: str = setting(
        "Address of the media server for ad and slate segments.", default="127.0.0.1"
    )
    port: int = setting("Port of the media server (`/ads/...`, `/slate/...`).", default=8082)
    house_count: int = setting(
        "How many house creatives to render (10/15/20/30 s, each visibly different).", default=6
    )
    slate_seconds: float = setting(
        "Length of the conditioned slate used to fill the rest of a break.", default=10.0
    )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def check(self) -> None:
        if self.house_count < 1 or self.slate_seconds <= 0:
            raise ConfigError("ads.house_count must be ≥ 1 and ads.slate_seconds > 0")


@dataclass(frozen=True)
class RunSettings:
    """What every command's settings begin with: where runtime state lives, and the config file."""

    state_dir: Path = setting(
        f'Where runtime state lives (KV file, channel DB, origin splices); `""` = {STATE_DIR}.',
        default=Path(),
    )
    config_file: Path | None = setting(
        "The config file these settings came from, if any.", default=None
    )


@dataclass(frozen=True)
class StitcherConfig(RunSettings):
    """What the `stitcher` command reads: the run settings and the stitcher's own sections."""

    stitcher: StitcherSettings = field(default_factory=StitcherSettings)
    ads: AdsSettings = field(default_factory=AdsSettings)


# --------------------------------------------------------------------------- reading


def parse_epoch(value: Any, where: str) -> float:
    """An instant: epoch seconds, or an ISO 8601 date-time (UTC when it names no zone)."""
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


def build(cls: type, data: Mapping[str, Any], where: str, skip: Sequence[str] = ()) -> Any:
    """An instance of the dataclass `cls` from a TOML table; unknown keys are a ConfigError.
    `skip`: keys that are read elsewhere (nested sections)."""
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)} | set(skip)
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown setting(s) {', '.join(sorted(unknown))}")
    kwargs = {}
    for f in fields(cls):
        if f.name not in data or f.name in skip:
            continue
        value = data[f.name]
        here = f"{where}.{f.name}" if where else f.name
        parse: Callable[[Any, str], Any] | None = f.metadata.get("parse")
        items: type | None = f.metadata.get("items")
        if parse is not None:
            kwargs[f.name] = parse(value, here)
        elif items is not None:
            if not isinstance(value, list):
                raise ConfigError(f"{here}: expected a list of tables ([[{here}]])")
            kwargs[f.name] = tuple(build(items, x, f"{here}[{i}]") for i, x in enumerate(value))
        else:
            kwargs[f.name] = _convert(value, hints[f.name], here)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def env_overrides(section: str, cls: type, env: Mapping[str, str]) -> dict[str, str]:
    """The `RIG_[<SECTION>_]<FIELD>` variables that set plain fields of `cls`."""
    prefix = f"RIG_{section.upper()}_" if section else "RIG_"
    found = {}
    for f in fields(cls):
        if f.metadata.get("items") or f.name == "config_file" or "doc" not in f.metadata:
            continue
        name = prefix + f.name.upper()
        if name in env:
            found[f.name] = env[name]
    return found


def read_toml(path: Path) -> dict[str, Any]:
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


@dataclass(frozen=True)
class Layers:
    """The merged TOML of the defaults and the config file, and the environment."""

    data: dict[str, Any]
    env: Mapping[str, str]
    config_file: Path | None

    def section(self, name: str, cls: type) -> Any:
        """Section `name` read as `cls`, with its environment overrides."""
        table = self.data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{name}: expected a table ([{name}])")
        return build(cls, {**table, **env_overrides(name, cls, self.env)}, name)

    def run_settings(self, known: Sequence[str] | None = None) -> RunSettings:
        """The top-level fields. With `known` (every section of the composite being read), any
        other top-level key is a ConfigError; without, other packages' tables are theirs."""
        names = {f.name for f in fields(RunSettings)}
        table = {k: v for k, v in self.data.items() if known is not None or k in names}
        table.update(env_overrides("", RunSettings, self.env))
        base = build(RunSettings, table, "", skip=tuple(known or ()))
        state_dir = base.state_dir
        if str(state_dir) in ("", "."):
            state_dir = Path(STATE_DIR).expanduser()
        return RunSettings(state_dir, self.config_file)


def read_layers(
    defaults: Sequence[Path], config_file: str | Path | None, env: Mapping[str, str] | None
) -> Layers:
    """Read the shipped defaults, then the config file (or `RIG_CONFIG`), with the environment."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    for path in defaults:
        data = _merge(data, read_toml(path))
    chosen = config_file or env.get("RIG_CONFIG") or None
    if chosen:
        data = _merge(data, read_toml(Path(chosen).expanduser()))
    return Layers(data, env, Path(chosen) if chosen else None)


def stitcher_sections(layers: Layers, state_dir: Path) -> tuple[StitcherSettings, AdsSettings]:
    """The stitcher's sections, checked, with the KV URL defaulting under the state dir."""
    stitcher = layers.section("stitcher", StitcherSettings)
    ads = layers.section("ads", AdsSettings)
    stitcher.check()
    ads.check()
    if not stitcher.kv_url:
        kv_url = f"sqlite:///{(state_dir / 'kv.db').resolve()}"
        stitcher = dataclasses.replace(stitcher, kv_url=kv_url)
    return stitcher, ads


def load_stitcher_config(
    config_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> StitcherConfig:
    """What the stitcher needs, from its defaults, the config file and the environment; sections
    of other packages in the file are theirs to check. Raises ConfigError."""
    layers = read_layers([DEFAULTS], config_file, env)
    run = layers.run_settings()
    stitcher, ads = stitcher_sections(layers, run.state_dir)
    return StitcherConfig(run.state_dir, run.config_file, stitcher, ads)


def describe(cls: type, prefix: str = "") -> list[str]:
    """One line per documented setting of `cls` (for `rig config`)."""
    return [f"{prefix}{f.name}: {f.metadata['doc']}" for f in fields(cls) if f.metadata.get("doc")]
