"""What one stitcher replica has served of a channel's SSAI windows, and the break view it renders
so as never to contradict it: a break it learnt of only after it had passed some of the break's
slots through as content plays from the first slot it has not served.

Every replica reading the KV in time renders the shared view as it is (a break is recorded before
its first slot is published, `stitcher.breaks.plan_break`). One that could not read it in time
(the store frozen or restarting, or past its grace period, when breaks that begin later are
passed through, `stitcher.modes.degrade`) has served content in slots the view now gives to ads;
rendering the view as it is would change those segments and the DISCONTINUITY-SEQUENCE behind
its viewers' backs (T1). So such a break starts, for this replica, at the end of what it served
(its pod from the first item, as a break joined late is planned), or not at all when it is over
by then, and the discontinuities it renders for it replace the record's in the ledger's count.

The discontinuities that leaves out (the record's that were never rendered) are owed: they are
rendered as extra EXT-X-DISCONTINUITY tags on the first content segment this replica publishes
next (a segment may carry several, RFC 8216bis 6.2.2), after which every later segment has the
shared view's discontinuity number again. Once the late break and that segment have left the
window, the replica's playlists are the shared view's again, and a restart loses nothing.

Side effects: none; the memory is the replica's own and a restart loses it (docs/faults.md says
what that costs while a late break is still in the window).
How and why: docs/faults.md, "An SSAI break the replica learnt of late".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from stitcher.breaks import BreakRecord, Grid, Ledger, slot_at
from stitcher.breaks.record import discontinuity_points
from stitcher.modes import BreakView

__all__ = ["Served", "Rendering", "FORGET_AFTER", "CATCH_UP"]

FORGET_AFTER = 3600.0  # seconds a break that left the view is remembered (it may come back)
CATCH_UP = "catch-up"  # the ledger entry of the extra discontinuities (no break has this key)


@dataclass
class _Known:
    since: float  # content was served up to here while this replica did not render the break
    seen: float  # clock time it was last in the view
    delta: int = 0  # discontinuities this replica renders for the break, less the record's
    present: bool = True


@dataclass(frozen=True)
class Rendering:
    """What a replica renders: the view as it serves it, the extra discontinuities (segment start
    -> tags), and the breaks found late just now (to be logged)."""

    view: BreakView
    extra: dict[float, int]
    late: tuple[BreakRecord, ...] = ()


class Served:
    """One channel's memory in one replica (see the module docstring)."""

    def __init__(self) -> None:
        self.end: float | None = None  # the newest segment end served in SSAI
        self._known: dict[str, _Known] = {}
        self._settled = 0  # the deltas of breaks forgotten
        self._extra: dict[float, int] = {}  # segment start -> extra tags placed there
        self._placed = 0  # every extra tag placed so far

    def view(
        self,
        view: BreakView,
        grid: Grid,
        starts: Sequence[float],
        now: float,
        tolerance: float,
    ) -> Rendering:
        """The rendering of a window whose segments start at `starts` (see the module docstring)."""
        late: list[BreakRecord] = []
        records: list[BreakRecord] = []
        breaks = dict(view.ledger.breaks)
        for each in self._known.values():
            each.present = False
        for record in view.records:
            known = self._known.get(record.entry)
            if known is None:
                since = self.end if self.end is not None else float("-inf")
                known = self._known[record.entry] = _Known(since, now)
                if _playing(record) and since > record.ad_start + tolerance:
                    late.append(record)
            known.present, known.seen = True, now
            mine = _from(record, known.since, grid, tolerance)
            known.delta = len(mine.points) - len(record.points)
            if mine is not record and record.entry in breaks:
                if mine.points:
                    breaks[record.entry] = {
                        "start": mine.ad_start,
                        "end": mine.end,
                        "points": list(mine.points),
                    }
                else:
                    del breaks[record.entry]
            records.append(mine)
        self._forget(now, starts)
        self._place(records, starts, tolerance)
        if self._extra:
            points = [t for t, n in sorted(self._extra.items()) for _ in range(n)]
            breaks[CATCH_UP] = {"start": points[0], "end": points[-1], "points": points}
        total = view.ledger.total + self._offset()
        if not late and total == view.ledger.total and breaks == view.ledger.breaks:
            return Rendering(view, {})
        ledger = Ledger(total, view.ledger.version, breaks)
        return Rendering(BreakView(tuple(records), ledger), dict(self._extra), tuple(late))

    def served(self, end: float | None) -> None:
        """A window ending at `end` was served: breaks not in the view have content to there."""
        if end is None:
            return
        self.end = end if self.end is None else max(self.end, end)
        for known in self._known.values():
            if not known.present:
                known.since = max(known.since, self.end)

    def _offset(self) -> int:
        """Discontinuities rendered less those of the shared view: the deltas, and the extra
        tags that make up for them."""
        return self._settled + sum(k.delta for k in self._known.values()) + self._placed

    def _place(self, records: Sequence[BreakRecord], starts: Sequence[float], tolerance: float):
        """Owed discontinuities go on the first segment not served yet that is content (no slot
        of a break), all of them on that one."""
        owed = -self._offset()
        if owed <= 0 or self.end is None:
            return
        for start in starts:
            if start >= self.end - tolerance and slot_at(records, start, tolerance) is None:
                self._extra[start] = self._extra.get(start, 0) + owed
                self._placed += owed
                return

    def _forget(self, now: float, starts: Sequence[float]) -> None:
        for entry in [e for e, k in self._known.items() if now - k.seen > FORGET_AFTER]:
            self._settled += self._known.pop(entry).delta
        if starts:  # extra tags before the window no longer count for anything
            for t in [t for t in self._extra if t < starts[0] - 1e-3]:
                del self._extra[t]


def _playing(record: BreakRecord) -> bool:
    return not record.cancelled and bool(record.points)


def _from(record: BreakRecord, since: float, grid: Grid, tolerance: float) -> BreakRecord:
    """`record` as this replica plays it: from the first slot at or after `since`."""
    if not _playing(record) or since <= record.ad_start + tolerance:
        return record
    start = max(record.ad_start, grid.snap(since))
    if start < since - tolerance:
        start = round(start + grid.segment, 3)
    points = discontinuity_points(start, record.end, record.pod, grid)
    return replace(record, ad_start=min(start, record.end), points=points)
