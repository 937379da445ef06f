"""The stack holds: the import-linter contracts of pyproject.toml, and the same rule at run time.

`lint-imports` reads every import statement. The run-time check imports each module of each
package in a fresh interpreter (found by walking the packages, so no list to keep) and looks at
what actually got loaded, which also catches imports made by name at run time.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import origin_emulator
import rig
import stitcher

REPO = Path(__file__).resolve().parent.parent
BELOW = {  # what a package may load of the project's packages (rig.cli opens the TUI)
    "stitcher": {"stitcher"},
    "origin_emulator": {"stitcher", "origin_emulator"},
    "rig": {"stitcher", "origin_emulator", "rig"},
}
PROJECT = {"stitcher", "origin_emulator", "rig", "tui"}


def _modules(package) -> list[str]:
    found = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        found.append(info.name)
    return found


PACKAGES = {
    p.__name__: [m for m in _modules(p) if m != "rig.cli"] for p in (stitcher, origin_emulator, rig)
}


def test_the_import_linter_contracts_are_kept():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_every_package_is_walked():
    walked = {m for modules in PACKAGES.values() for m in modules}
    assert {"stitcher.app", "stitcher.kv.redis", "origin_emulator.app", "rig.validator"} <= walked


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_package_loads_nothing_above_its_layer(package):
    """Every module of the package imported in one fresh interpreter (rig.cli aside)."""
    code = (
        f"import importlib, json, sys\nfor m in {PACKAGES[package]!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    loaded = set(json.loads(result.stdout))
    assert loaded & PROJECT <= BELOW[package], sorted(loaded & PROJECT - BELOW[package])
    assert "textual" not in loaded
