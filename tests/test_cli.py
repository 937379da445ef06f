"""The command line: every command has --help; failures are one clear line and exit code 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from origin_emulator.cli import start_origin
from stitcher.clock import FakeClock
from stitcher.errors import RigError

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "argv",
    [
        ["rig", "--help"],
        ["rig", "up", "--help"],
        ["rig", "media", "build", "--help"],
        ["rig", "validate", "--help"],
        ["rig", "config", "--help"],
        ["origin-emulator", "--help"],
        ["origin-emulator", "serve", "--help"],
        ["origin-emulator", "build", "--help"],
        ["stitcher", "--help"],
        ["stitcher", "serve", "--help"],
        ["rig", "bench", "kv", "--help"],
        ["rig", "cue", "--help"],
        ["rig", "splice", "--help"],
        ["stitcher", "monitor", "--help"],
        ["rig", "ads", "add", "--help"],
        ["rig", "ads", "house", "--help"],
        ["rig", "channels", "add", "--help"],
        ["rig", "channels", "list", "--help"],
    ],
)
def test_every_command_has_help(argv):
    result = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
    assert len(result.stdout.splitlines()) > 3


def test_rig_config_lists_every_setting_with_its_meaning():
    result = subprocess.run(
        [str(BIN / "rig"), "config"], capture_output=True, text=True, timeout=30, env={"PATH": ""}
    )
    assert result.returncode == 0, result.stderr
    for fragment in (
        "[origin]",
        "window_segments = 6",
        "RIG_ORIGIN_PORT",
        "loop_seconds",
        "cue_format:",
        "channels: news (daterange), sports (cue-out)",
    ):
        assert fragment in result.stdout


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[origin]\nport = 'x'\n")
    result = subprocess.run(
        [str(BIN / "rig"), "config", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "rig: origin.port: 'x' is not a valid int"


def test_validate_an_unreachable_stream_exits_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = subprocess.run(
        [str(BIN / "rig"), "validate", f"http://127.0.0.1:{port}/x/master.m3u8", "--seconds", "1"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2


async def test_a_port_in_use_is_a_clear_error(small_settings, small_content):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await start_origin(
                small_settings, FakeClock(), {"news": small_content}, "127.0.0.1", port
            )
