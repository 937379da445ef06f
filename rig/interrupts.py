"""Ending a wall-clock run of a rig command early on Ctrl-C (or SIGTERM), still reporting what it
saw."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


def run_until_interrupted(main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """`asyncio.run(main(stop))`, where SIGINT and SIGTERM set `stop` instead of killing the run."""

    async def wrapped() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        return await main(stop)

    return asyncio.run(wrapped())
