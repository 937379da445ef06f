"""The breaks a `rig soak` run makes, of every kind the rig knows, spread over the run.

A kind is how a break comes about (a cue at the origin, in each SCTE-35 carriage and command, or
the stitcher's `/cue` API) and what happens to it (plays out, returns to network early, is
cancelled before it starts, runs longer than its pod). Pure: the run (`rig.soak.run`) posts them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Kind", "KINDS", "kinds", "schedule"]

MIN_INTERVAL = 20.0  # seconds between two breaks' posts (a longer break delays the next one)


@dataclass(frozen=True)
class Kind:
    name: str
    via: str  # "origin": a splice posted at the origin (a real cue); "api": POST /cue
    seconds: float  # the break's planned duration
    format: str | None = None  # the origin's cue carriage (origin_emulator.config.CUE_FORMATS)
    command: str | None = None  # splice_insert | time_signal
    end_after: float | None = None  # return to network this many seconds after the start
    cancel: bool = False  # cancelled before it starts (posted with a pre-roll)
    what: str = ""


KINDS = (
    Kind(
        "scte35-insert", "origin", 12, "scte35", "splice_insert", what="EXT-X-SCTE35, splice_insert"
    ),
    Kind(
        "daterange-signal", "origin", 10, "daterange", "time_signal", what="DATERANGE, time_signal"
    ),
    Kind("cue-out", "origin", 14, "cue-out", "splice_insert", what="EXT-X-CUE-OUT/-CONT/-IN"),
    Kind("oatcls", "origin", 10, "oatcls", "splice_insert", what="EXT-OATCLS-SCTE35 (Elemental)"),
    Kind("api-cue", "api", 10, what="the stitcher's POST /cue"),
    Kind(
        "early-return",
        "origin",
        20,
        "scte35",
        "splice_insert",
        end_after=6.0,
        what="origin splice, back to network 6 s after it began",
    ),
    Kind(
        "cancelled",
        "origin",
        10,
        "daterange",
        "splice_insert",
        cancel=True,
        what="origin splice cancelled during its pre-roll",
    ),
    Kind(
        "api-early-return",
        "api",
        16,
        end_after=6.0,
        what="POST /cue, then DELETE 6 s after it began",
    ),
    Kind("long", "origin", 40, "scte35", "time_signal", what="longer than a pod: slate fills"),
)


def kinds(names: list[str] | None) -> tuple[Kind, ...]:
    """The kinds called `names`, in that order (default: every kind); ValueError for a name no
    kind has."""
    if not names:
        return KINDS
    by_name = {k.name: k for k in KINDS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(
            f"unknown break kind(s) {', '.join(unknown)}; the kinds are: {', '.join(by_name)}"
        )
    return tuple(by_name[n] for n in names)


def schedule(
    breaks: int,
    seconds: float,
    warm_up: float,
    tail: float,
    among: tuple[Kind, ...] = KINDS,
) -> list[tuple[float, Kind]]:
    """`breaks` breaks, each kind of `among` in turn, evenly from `warm_up` to `seconds - tail`
    (offsets in seconds from the start of the run). ValueError when they cannot fit."""
    if breaks < 0:
        raise ValueError("the number of breaks must be ≥ 0")
    if not breaks:
        return []
    span = seconds - warm_up - tail
    interval = span / breaks
    if span <= 0 or interval < MIN_INTERVAL:
        raise ValueError(
            f"{breaks} breaks do not fit in {seconds:g} s (after {warm_up:g} s of warm-up and"
            f" {tail:g} s at the end, one every {max(interval, 0):.0f} s; at least"
            f" {MIN_INTERVAL:g} s each)"
        )
    return [(warm_up + i * interval, among[i % len(among)]) for i in range(breaks)]
