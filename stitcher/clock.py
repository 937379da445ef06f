"""Clocks: the only way time enters the project.

Every time-dependent component takes a `Clock` instead of reading the system clock, so tests
drive hours of live stream in milliseconds with `FakeClock`. Real processes use `SystemClock`.

`Clock.sleep` returns early (returns False) when the given `asyncio.Event` is set, so periodic
loops stop promptly: `while not await clock.sleep(max(0, interval - elapsed), stop): ...`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds."""

    async def sleep(self, seconds: float, stop: asyncio.Event | None = None) -> bool:
        """Wait; True when the time passed, False when `stop` was set first."""


class SystemClock:
    """The wall clock (`time.time`) and real sleeping."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float, stop: asyncio.Event | None = None) -> bool:
        if stop is None:
            await asyncio.sleep(max(0.0, seconds))
            return True
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return True
        return False


class FakeClock:
    """A clock that moves only when told to (`advance`, `set`); sleepers wake as it passes them."""

    def __init__(self, start: float = 1_767_225_600.0):  # 2026-01-01T00:00:00Z
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._counter = itertools.count()

    def now(self) -> float:
        return self._now

    def __call__(self) -> float:
        return self._now

    def set(self, when: float) -> None:
        if when < self._now:
            raise ValueError("a clock never goes backwards")
        self._now = float(when)
        self._wake()

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    def _wake(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(True)

    async def sleep(self, seconds: float, stop: asyncio.Event | None = None) -> bool:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._counter), future))
        self._wake()
        if stop is None:
            return await future
        stopper = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({future, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if future in done:
            return True
        future.cancel()
        return False

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())
