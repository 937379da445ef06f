"""The live timeline of a looped channel: a pure function of the clock, the epoch and the media.

How and why: docs/origin.md, "`origin_emulator.timeline`".
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from functools import cached_property

from stitcher.ts import CLOCK, PTS_MODULO

DISCONTINUITY_JUMP_TICKS = 10 * CLOCK  # timestamps jump 10 s at an injected origin discontinuity


@dataclass(frozen=True)
class Timeline:
    epoch: float
    durations: tuple[float, ...]  # local segment durations (seconds)
    first_pts: tuple[int, ...]  # video PTS of each local segment's first frame (90 kHz)
    window: int = 6
    discontinuity_every: int = 0

    @cached_property
    def _starts(self) -> tuple[float, ...]:
        return (0.0, *itertools.accumulate(self.durations))

    @property
    def loop_seconds(self) -> float:
        return self._starts[-1]

    @property
    def loop_ticks(self) -> int:
        return round(self.loop_seconds * CLOCK)

    @property
    def per_loop(self) -> int:
        return len(self.durations)

    @property
    def target_duration(self) -> int:
        return max(1, max(round(d) for d in self.durations))

    @property
    def window_seconds(self) -> float:
        return self.window * max(self.durations)

    # ------------------------------------------------------------------ positions

    def start(self, n: int) -> float:
        """Epoch seconds at which segment n begins (its PROGRAM-DATE-TIME)."""
        loop, local = divmod(n, self.per_loop)
        return self.epoch + loop * self.loop_seconds + self._starts[local]

    def duration(self, n: int) -> float:
        return self.durations[n % self.per_loop]

    def end(self, n: int) -> float:
        return self.start(n) + self.duration(n)

    def published_count(self, now: float) -> int:
        """How many segments are complete (published) at `now`."""
        elapsed = now - self.epoch
        if elapsed < 0:
            return 0
        loop, rest = divmod(elapsed, self.loop_seconds)
        local = (
            bisect.bisect_right(self._starts, rest + 1e-9) - 1
        )  # segments fully done in this loop
        return int(loop) * self.per_loop + local

    def last_published(self, now: float) -> int:
        """MSN of the newest published segment (-1 when none is)."""
        return self.published_count(now) - 1

    def in_production(self, now: float) -> int:
        """MSN of the segment being produced at `now` (the first not yet published)."""
        return self.published_count(now)

    def first_at_or_after(self, when: float) -> int:
        """The first segment starting at or after `when` (a segment boundary for a splice)."""
        n = self.published_count(when)  # segment containing `when` (or starting exactly there)
        return n if self.start(n) >= when - 1e-9 else n + 1

    def window_range(self, now: float) -> range:
        last = self.last_published(now)
        return range(max(0, last - self.window + 1), last + 1)

    def available(self, n: int, now: float) -> bool:
        """R12: a segment is served from publication until (it left the window + its duration +
        window)."""
        if n < 0 or n > self.last_published(now):
            return False
        left_window = self.end(n + self.window)
        return now <= left_window + self.duration(n) + self.window_seconds

    # ------------------------------------------------------------------ discontinuities and clocks

    def discontinuity(self, n: int) -> bool:
        return bool(self.discontinuity_every) and n > 0 and n % self.discontinuity_every == 0

    def discontinuity_number(self, n: int) -> int:
        """R7: the discontinuity sequence number of segment n."""
        return n // self.discontinuity_every if self.discontinuity_every else 0

    def discontinuity_sequence(self, first: int) -> int:
        """EXT-X-DISCONTINUITY-SEQUENCE of a window starting at `first` (R8)."""
        return self.discontinuity_number(first) - (1 if self.discontinuity(first) else 0)

    def pts_offset(self, n: int) -> int:
        """Ticks added to the rendered segment's timestamps when serving segment n."""
        return (n // self.per_loop) * self.loop_ticks + self.discontinuity_number(
            n
        ) * DISCONTINUITY_JUMP_TICKS

    def pts(self, n: int) -> int:
        """PTS (90 kHz, 33-bit) of segment n's first video frame: where a splice at n happens."""
        return (self.first_pts[n % self.per_loop] + self.pts_offset(n)) % PTS_MODULO

    def snap_end(self, start: int, duration: float) -> int:
        """The segment boundary closest to `start + duration` (at least one segment later)."""
        origin = self.start(start)
        n = start + 1
        while self.start(n) - origin + self.duration(n) / 2 <= duration + 1e-9:
            n += 1
        return n
