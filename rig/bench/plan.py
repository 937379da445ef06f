"""What one `rig bench load` run measures: its targets, viewer counts, durations and pacing."""

from __future__ import annotations

from dataclasses import dataclass

from rig.bench.wrk import Pacing

TARGETS = ("stitcher", "edge", "nginx-static", "aiohttp-bare")
PAIRS = (("stitcher", "aiohttp-bare"), ("edge", "nginx-static"))  # (ours, its baseline)
QUICK = {"viewers": [300], "seconds": 5.0, "closed_seconds": 2.0, "rounds": 1, "fleet": 20}


@dataclass(frozen=True)
class Plan:
    """What one `rig bench load` run measures."""

    viewers: list[int]
    targets: list[str]
    seconds: float = 20.0  # per open-loop cell
    closed_seconds: float = 5.0  # per closed-loop run
    rounds: int = 3  # closed-loop runs of each target, interleaved (the median counts)
    connections: int = 64  # of the closed-loop runs
    reload: Pacing = Pacing(1.0, 3.0)
    timeout: float = 2.0
    channel: str = "news"
    mode: str = "ssai"
    fleet: int = 200
    cue_every: float = 45.0  # seconds between the /cue breaks the bench asks for (0: none)
    cue_seconds: float = 16.0
    workers: int = 1  # of a rig the bench starts
    scaling: bool = True
    quick: bool = False

    @property
    def edge(self) -> bool:
        return "edge" in self.targets

    def cell_seconds(self) -> float:
        """One open-loop cell, with its pauses around the load."""
        return self.seconds + 3.5

    def watch_seconds(self, targets: int) -> float:
        """How long the validating fleet watches: the cells of `targets` targets."""
        return len(self.viewers) * targets * self.cell_seconds() + 5

    def estimate(self) -> float:
        """Seconds the measurements take."""
        cells = len(self.viewers) * len(self.targets) * self.cell_seconds()
        closed = self.rounds * len(self.targets) * (self.closed_seconds + 2)
        pairs = sum(all(t in self.targets for t in pair) for pair in PAIRS)
        closed += self.rounds * pairs * (self.closed_seconds + 2)  # side by side
        scaling = 4 * (self.closed_seconds + 4) if self.scaling else 0
        return cells + closed + scaling + 10
