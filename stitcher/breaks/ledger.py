"""The discontinuity ledger: every discontinuity the stitcher has added, and where, in one value.

A window's DISCONTINUITY-SEQUENCE is the origin's plus `added_before` its first segment, read from
one ledger value, so a stitcher never mixes two moments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stitcher.breaks.record import BreakRecord


@dataclass(frozen=True)
class Ledger:
    total: int = 0
    version: int = 0
    breaks: dict[str, dict] = field(
        default_factory=dict
    )  # eventId -> {"start", "end", "points"} (epoch seconds)

    @classmethod
    def from_json(cls, data: dict | None) -> Ledger:
        if not data:
            return cls()
        return cls(int(data["total"]), int(data["version"]), dict(data.get("breaks", {})))

    def to_json(self) -> dict:
        return {"total": self.total, "version": self.version, "breaks": self.breaks}

    def added_at_or_after(self, t: float, tolerance: float) -> int:
        """Discontinuities at or after time `t` (a point counts when it is >= t - tolerance)."""
        return sum(
            1 for entry in self.breaks.values() for p in entry["points"] if p >= t - tolerance
        )

    def added_before(self, t: float, tolerance: float) -> int:
        """Discontinuities the stitcher added before the segment starting at `t`: DS = origin's +
        this."""
        return self.total - self.added_at_or_after(t, tolerance)

    def overlapping(self, entry: str, start: float, end: float) -> str | None:
        for other, data in self.breaks.items():
            if (
                other != entry
                and data.get("points")
                and start < data["end"]
                and data["start"] < end
            ):
                return other.rpartition("@")[0] or other
        return None

    def with_break(self, record: BreakRecord, horizon: float) -> Ledger:
        """The ledger after writing `record`, forgetting breaks wholly before `horizon`."""
        old = self.breaks.get(record.entry)
        delta = record.discontinuities - (len(old["points"]) if old else 0)
        kept = {
            k: v
            for k, v in self.breaks.items()
            if k != record.entry and v["points"] and v["points"][-1] >= horizon
        }
        if record.points:
            kept[record.entry] = {
                "start": record.ad_start,
                "end": record.end,
                "points": list(record.points),
            }
        return Ledger(self.total + delta, self.version + 1, kept)
