"""Driving tests through live stream: a FakeClock through concurrent tasks without real sleeping,
and random QA cues at the origin emulator."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from stitcher.clock import FakeClock

T = TypeVar("T")


async def drive(
    clock: FakeClock, coroutine: Coroutine[Any, Any, T], sleepers: int, step: float = 0.25
) -> T:
    """Run `coroutine` to completion, advancing the clock by `step` whenever `sleepers` tasks wait
    on it.

    Fake time never passes while a task is busy (e.g. in the middle of an HTTP exchange), so a
    run of tens of minutes of stream takes about a second and behaves as if every request were
    instant.
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


def random_qa_cues(
    rng: random.Random,
    origin,
    now: float,
    posted: list[int],
    post_rate: float = 1 / 50,
    return_rate: float = 1 / 120,
    durations: Sequence[float] = (8, 12, 20),
    prerolls: Sequence[float] = (0, 4, 8, 12),
) -> None:
    """One step of random QA at the origin emulator: maybe a splice (any cue format and command, a
    random duration and pre-roll; an overlap is refused by the origin and skipped), maybe an early
    return or cancel of a splice posted before. Appends the ids of new splices to `posted`."""
    if rng.random() < post_rate:
        try:
            splice = origin.post_splice(
                now,
                rng.choice(durations),
                rng.choice(prerolls),
                rng.choice(CUE_FORMATS),
                rng.choice(CUE_COMMANDS),
            )
            posted.append(splice.event_id)
        except ValueError:
            pass  # an overlap: refused by the origin
    if posted and rng.random() < return_rate:
        try:
            origin.delete_splice(rng.choice(posted), now)
        except (ValueError, LookupError):
            pass  # already over
