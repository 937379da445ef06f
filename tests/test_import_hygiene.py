"""The core packages never import the UI (textual), and the stitcher (the product) imports nothing
of the rig, the origin emulator or the TUI: checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE_MODULES = [
    "stitcher.playlist",
    "stitcher.clock",
    "origin_emulator.app",
    "origin_emulator.channel",
    "origin_emulator.cli",
    "rig.cli",
    "rig.media",
    "rig.validator",
    "rig.validate",
    "rig.bench",
    "rig.redis_server",
    "rig.ads",
    "rig.media_server",
    "stitcher.kv",
    "stitcher.kv.sqlite",
    "stitcher.kv.redis",
    "stitcher.catalog",
    "stitcher.decision",
    "stitcher.app",
    "stitcher.scte35",
    "stitcher.detect",
    "stitcher.breaks",
    "stitcher.monitor",
    "stitcher.ssai",
    "stitcher.cli",
    "rig.cues_cli",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_does_not_import_textual(module):
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


STITCHER_MODULES = [
    "stitcher.app",
    "stitcher.service",
    "stitcher.streams",
    "stitcher.probe",
    "stitcher.ssai",
    "stitcher.sgai",
    "stitcher.ts",
]


@pytest.mark.parametrize("module", STITCHER_MODULES)
def test_the_stitchers_media_modules_import_nothing_of_the_emulator_or_the_rig(module):
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('origin_emulator', 'rig', 'tui'))))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []
