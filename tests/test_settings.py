"""Settings: shipped defaults, config files, RIG_ environment overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.settings import load_settings
from stitcher.errors import ConfigError


def test_shipped_defaults_define_two_channels_with_different_cue_formats():
    settings = load_settings(env={})
    assert [c.name for c in settings.channels] == ["news", "sports"]
    assert len({c.cue_format for c in settings.channels}) == 2
    assert [r.name for r in settings.media.ladder] == ["540p", "360p", "234p"]
    assert settings.origin.port == 8081 and settings.origin.window_segments == 6
    assert settings.origin.epoch == 1_767_225_600.0
    # whole pictures and whole AAC frames, no B-frames: the sound switches with the picture
    # (docs/splices.md)
    assert (
        settings.media.segment_seconds,
        settings.media.loop_seconds,
        settings.media.b_frames,
    ) == (1.92, 61.44, 0)
    assert settings.state_dir == Path("~/.local/state/ssai-rig").expanduser()


def test_environment_overrides(tmp_path):
    env = {
        "RIG_STATE_DIR": str(tmp_path),
        "RIG_ORIGIN_PORT": "9999",
        "RIG_ORIGIN_EPOCH": "2026-06-01T00:00:00Z",
        "RIG_MEDIA_FPS": "50",
    }
    settings = load_settings(env=env)
    assert settings.state_dir == tmp_path
    assert settings.origin.port == 9999
    assert settings.origin.epoch == 1_780_272_000.0
    assert settings.media.fps == 50


def test_config_file_replaces_lists_and_merges_tables(tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text('[origin]\nport = 7000\n[[channels]]\nname = "movies"\ncue_format = "oatcls"\n')
    settings = load_settings(path, env={})
    assert settings.origin.port == 7000 and settings.origin.host == "127.0.0.1"
    assert [c.name for c in settings.channels] == ["movies"]
    assert settings.config_file == path
    assert load_settings(env={"RIG_CONFIG": str(path)}).channels[0].name == "movies"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[origin]\nport = 'x'\n", "origin.port"),
        ("[origin]\nbogus = 1\n", "unknown setting"),
        ("[origin]\nwindow_segments = 2\n", "at least 3"),
        ("[media]\nsegment_seconds = 2\nloop_seconds = 10\n", "AAC frames"),
        ("[media]\nloop_seconds = 7\n", "whole number of 1.92 s segments"),
        ("[[channels]]\nname = 'News'\n", "lower-case"),
        ("[[channels]]\nname = 'a'\ncue_format = 'xml'\n", "cue_format"),
        ("[[channels]]\nname = 'a'\nbreak_every = 30\nbreak_duration = 30\n", "overlap"),
        ("[[channels]]\nname = 'a'\n[[channels]]\nname = 'a'\n", "duplicate channel"),
        ("[origin]\nepoch = 'yesterday'\n", "ISO 8601"),
        ("not toml [", "config file"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, env={})


def test_missing_config_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/rig.toml", env={})


def test_bad_environment_value():
    with pytest.raises(ConfigError, match="origin.port"):
        load_settings(env={"RIG_ORIGIN_PORT": "eighty"})
