"""Progress lines for long media jobs: a redrawn bar on a terminal, a line per quarter elsewhere
(logs, CI)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

LabelledProgress = Callable[[str, float, float], None]  # (label, seconds done, seconds total)


def progress_printer(stream: TextIO | None = None) -> LabelledProgress:
    """A callback `report(label, done, total)` that draws one bar per label (on stderr by
    default)."""
    stream = stream if stream is not None else sys.stderr
    interactive = stream.isatty()
    shown: dict[str, int] = {}

    def report(label: str, done: float, total: float) -> None:
        fraction = min(1.0, done / total) if total else 1.0
        if interactive:
            bar = "#" * round(fraction * 30)
            end = "\n" if fraction >= 1 else "\r"
            stream.write(f"  {label:<32} [{bar:<30}] {done:5.1f}/{total:g} s{end}")
        else:
            quarter = int(fraction * 4)
            if shown.get(label, -1) >= quarter:
                return
            shown[label] = quarter
            stream.write(f"  {label}: {fraction:4.0%} ({done:.1f}/{total:g} s of media)\n")
        stream.flush()

    return report
