"""A pod: the ads (and slate) that fill one break, as the break record stores them.

Values only: the decision (`stitcher.decision`) makes pods, the break record keeps one as JSON,
and the stitchers read it to fill slots. `slot_count` is the one rule for how many origin segments
a break of a given length replaces; `nearest` the one rule for choosing a rendition by bandwidth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from stitcher.catalog import AdRendition

SLATE_ID = "slate"
T = TypeVar("T")


def nearest(bandwidth: int, options: Iterable[T], rate: Callable[[T], int]) -> T:
    """The option whose bandwidth (`rate`) is nearest `bandwidth` by ratio; a tie goes to the
    higher one. ValueError when there is no option."""
    return min(
        options,
        key=lambda o: (abs(math.log(max(rate(o), 1) / max(bandwidth, 1))), -rate(o)),
    )


@dataclass(frozen=True)
class Creative:
    """An ad as the decision sees it: its conditioned duration and renditions for one ladder."""

    id: str
    duration: float  # conditioned: whole segments
    renditions: tuple[AdRendition, ...]


@dataclass(frozen=True)
class PodItem:
    id: str
    kind: str  # "ad" | "slate"
    duration: float
    variants: tuple[tuple[int, str], ...]  # (channel rung bandwidth, absolute playlist URL)

    def playlist_for(self, bandwidth: int) -> str:
        """The item's playlist for a rung: the same bandwidth, else the nearest (`nearest`)."""
        same = dict(self.variants).get(bandwidth)
        return same or nearest(bandwidth, self.variants, lambda v: v[0])[1]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "duration": self.duration,
            "variants": {str(bw): url for bw, url in self.variants},
        }

    @classmethod
    def from_json(cls, data: dict) -> PodItem:
        return cls(
            data["id"],
            data.get("kind", "ad"),
            float(data["duration"]),
            tuple((int(bw), url) for bw, url in data["variants"].items()),
        )


@dataclass(frozen=True)
class Pod:
    pod_id: str
    items: tuple[PodItem, ...]

    @property
    def duration(self) -> float:
        return sum(item.duration for item in self.items)

    def to_json(self) -> dict:
        return {"podId": self.pod_id, "items": [item.to_json() for item in self.items]}

    @classmethod
    def from_json(cls, data: dict) -> Pod:
        return cls(data["podId"], tuple(PodItem.from_json(item) for item in data["items"]))


def slot_count(duration: float, segment: float) -> int:
    """How many origin segments ("slots") a break of `duration` seconds replaces: its length to the
    nearest segment, a tie rounding up, at least one. The origin emulator snaps its splices by the
    same rule, and `breaks.plan_break` places every break by it, so a pod chosen for the count fills
    exactly the slots it gets: a 30 s break of 1.92 s segments is 16 slots, room for a 30 s ad
    (conditioned to 16 segments, 30.72 s)."""
    return max(1, math.floor(duration / segment + 0.5 + 1e-9))
