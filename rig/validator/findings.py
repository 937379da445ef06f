"""What the validator's checks yield, and the tolerances they judge by.

`Finding`: one broken rule in one playlist; `Violation`: a finding as reported (which variant,
which viewer, when); `Tolerances`: every tolerance and factor, with its default. A rule id that is
not in the catalogue (`rig.validator.rules`) raises `UnknownRule` when either is built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rig.validator import rules as catalogue


@dataclass(frozen=True)
class Tolerances:
    """Every tolerance and factor the validator uses, with its default.

    pdt: allowed |PDT(n+1) − (PDT(n) + EXTINF(n))| in seconds (1 ms of millisecond rounding + 5 ms).
    pdt_equal: allowed difference when comparing the PDT of one segment in two places where at
        least one PDT is derived (EXTINFs summed from an earlier PDT) rather than written.
    extinf: allowed difference of one segment's EXTINF value between two playlists.
    date: allowed |END-DATE − (START-DATE + DURATION)| of a DATERANGE.
    stall_factor, stall: R10 — a viewer that sees no new segment for more than
        stall_factor × TARGETDURATION + stall seconds reports a stall.
    future: T3 — a last segment may end at most this many seconds after the observation time.
    drift_factor, drift: T3 — latency may grow at most drift_factor × TARGETDURATION + drift
        seconds above the smallest latency the viewer has seen for that variant.
    window_multiple, retention_margin: per-segment history is kept for
        window_multiple × (longest window seen, in segments) + retention_margin segments.
    """

    pdt: float = 0.006
    pdt_equal: float = 0.0015
    extinf: float = 1e-6
    date: float = 0.001
    stall_factor: float = 1.5
    stall: float = 0.5
    future: float = 1.0
    drift_factor: float = 1.5
    drift: float = 0.5
    window_multiple: int = 2
    retention_margin: int = 16


@dataclass(frozen=True)
class Finding:
    """One broken rule in one playlist. `key` (default: the message) de-duplicates it.

    `rule` must be an id of the catalogue (`rig.validator.rules`): an unknown one raises
    `UnknownRule`.
    """

    rule: str
    message: str
    msn: int | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        catalogue.rule(self.rule)


@dataclass(frozen=True)
class Violation:
    """One broken rule, seen in `variant` (a playlist URL) by `viewer` at `at` (epoch seconds).

    `rule` must be an id of the catalogue (`rig.validator.rules`; `UnknownRule` otherwise);
    `message` is the detail of this finding, `meaning` the rule's one line. `line()` and
    `to_dict()` carry both.
    """

    rule: str
    message: str
    variant: str
    viewer: str | None = None
    msn: int | None = None
    at: float = 0.0

    def __post_init__(self) -> None:
        catalogue.rule(self.rule)

    @property
    def meaning(self) -> str:
        """What the rule requires, in one line (from the catalogue)."""
        return catalogue.rule(self.rule).meaning

    def line(self) -> str:
        """One human-readable line: `[T1] variant=... viewer=... msn=... message — meaning`."""
        parts = [f"[{self.rule}]", f"variant={self.variant}"]
        if self.viewer is not None:
            parts.append(f"viewer={self.viewer}")
        if self.msn is not None:
            parts.append(f"msn={self.msn}")
        return " ".join(parts + [self.message, "—", self.meaning])

    def to_dict(self) -> dict[str, Any]:
        known = catalogue.rule(self.rule)
        return {**asdict(self), "meaning": known.meaning, "reference": known.reference}
