"""Driving a FakeClock through a run of concurrent tasks without real sleeping."""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

from stitcher.clock import FakeClock

T = TypeVar("T")


async def drive(clock: FakeClock, coroutine: Coroutine[Any, Any, T], sleepers: int, step: float = 0.25) -> T:
    """Run `coroutine` to completion, advancing the clock by `step` whenever `sleepers` tasks wait on it.

    Fake time never passes while a task is busy (e.g. in the middle of an HTTP exchange), so a
    run of tens of minutes of stream takes about a second and behaves as if every request were instant.
    """
    task = asyncio.ensure_future(coroutine)
    loops = 0
    while not task.done():
        if clock.sleepers >= sleepers:
            clock.advance(step)
        await asyncio.sleep(0)
        loops += 1
        assert loops < 5_000_000, "the run does not finish"
    return task.result()
