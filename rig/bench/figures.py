"""The figures of a `rig bench load` results JSON: read safely and written as report text.

Any part of the results may be absent, null or of the wrong type; reading it gives None (or an
empty list or dict) and writing None gives "—". Pure.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "DASH",
    "TARGETS",
    "at",
    "cells",
    "count",
    "dicts",
    "fixed",
    "ms",
    "numbers",
    "order",
    "pct",
    "rate",
    "ratio",
    "section",
    "times",
    "where",
]

DASH = "—"
TARGETS = ("stitcher", "edge", "nginx-static", "aiohttp-bare")  # the order of tables and legends


def cells(results: dict) -> list[dict]:
    """The open-loop cells, in the order of TARGETS (others last), then by viewer count."""
    return sorted(dicts(results.get("cells")), key=order)


def order(entry: dict) -> tuple[int, float]:
    """Where an entry naming a target (and a viewer count) sorts."""
    target = entry.get("target")
    rank = TARGETS.index(target) if target in TARGETS else len(TARGETS)
    return rank, at(entry, "viewers") or 0


def dicts(value: Any) -> list[dict]:
    """The dicts of a list (nothing when it is not one)."""
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def section(mapping: Any, key: str) -> dict:
    """The dict at `key` (empty when absent, null or not a dict)."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, dict) else {}


def at(mapping: Any, *keys: str) -> Any:
    """The number at `keys` down nested dicts, or None when absent, null or not a number."""
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
    return mapping if _number(mapping) else None


def numbers(value: Any) -> list:
    """The numbers of a list (nothing when it is not one)."""
    return [v for v in value if _number(v)] if isinstance(value, list) else []


def ratio(a: float | None, b: float | None) -> float | None:
    """a ÷ b, or None when either is missing or b is 0."""
    return a / b if a is not None and b else None


def where(cell: dict) -> str:
    """A cell named for the reader: its target and viewer count."""
    return f"{cell.get('target') or DASH}, {count(at(cell, 'viewers'))} viewers"


def times(value: float | None) -> str:
    """A ratio: 0.82×."""
    return DASH if value is None else f"{value:.2f}×"


def ms(value: float | None) -> str:
    """Milliseconds to three significant figures or so."""
    if value is None:
        return DASH
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def rate(value: float | None) -> str:
    """Requests per second, whole."""
    return DASH if value is None else f"{value:,.0f}"


def count(value: float | None) -> str:
    """A count, with thousands separated."""
    return DASH if value is None else f"{value:,}"


def fixed(value: float | None, digits: int) -> str:
    """A figure to `digits` decimals."""
    return DASH if value is None else f"{value:,.{digits}f}"


def pct(value: float | None) -> str:
    """A fraction as a percentage."""
    return DASH if value is None else f"{value * 100:.1f} %"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
