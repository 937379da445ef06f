"""The SGAI interstitials one viewer saw: each DATERANGE of the interstitial class, by ID.

A viewer notes each interstitial the first time a playlist lists it (its START-DATE, DURATION and
when it was seen), when its playhead reached the start, and which one holds the playhead now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stitcher.playlist import DateRange, MediaPlaylist

INTERSTITIAL = "com.apple.hls.interstitial"


@dataclass
class Interstitial:
    id: str
    start_date: str | None
    start: float | None
    duration: float | None
    first_seen: float
    reached_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start_date": self.start_date,
            "duration": self.duration,
            "first_seen": self.first_seen,
            "reached_at": self.reached_at,
        }


class Interstitials:
    """The interstitials seen so far, in the order they first appeared."""

    def __init__(self) -> None:
        self.seen: dict[str, Interstitial] = {}

    def note(self, playlist: MediaPlaylist, now: float) -> list[DateRange]:
        """Note the interstitials of `playlist` not seen before; returns all it lists."""
        try:
            interstitials = [d for d in playlist.dateranges if d.klass == INTERSTITIAL]
        except ValueError:  # a DATERANGE that cannot be read (the validator reports it)
            interstitials = []
        for daterange in interstitials:
            ident = daterange.attributes.text("ID")
            if ident is None or ident in self.seen:
                continue
            try:
                start: float | None = (
                    daterange.start_date.timestamp() if daterange.start_date else None
                )
                duration = daterange.duration
            except ValueError:  # a bad START-DATE or DURATION (the validator reports it)
                start, duration = None, None
            self.seen[ident] = Interstitial(
                ident, daterange.attributes.text("START-DATE"), start, duration, now
            )
        return interstitials

    def reach(self, pdt: float, now: float) -> None:
        """The playhead is at `pdt`: every interstitial starting at or before it is reached."""
        for item in self.seen.values():
            if item.reached_at is None and item.start is not None and pdt >= item.start:
                item.reached_at = now

    def holding(self, pdt: float | None) -> str | None:
        """The ID of the interstitial whose range holds `pdt` (None: none, or no playhead)."""
        return next(
            (
                i.id
                for i in self.seen.values()
                if pdt is not None
                and i.start is not None
                and i.start <= pdt < i.start + (i.duration or 0.0)
            ),
            None,
        )

    def report(self) -> list[dict[str, Any]]:
        return [i.to_dict() for i in self.seen.values()]
