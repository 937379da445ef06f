"""Simulated viewers of whatever stream is on screen: one `rig.viewers.Fleet` per stream URL.

The TUI adds and removes viewers of the channel and mode it shows (`url_for()` says which, at the
moment of the call); each stream gets its own fleet, started on first use and run until `stop`.
`snapshot()` lists every fleet's viewers, their ids prefixed with `channel/mode` so the panel says
what each one watches. It satisfies the TUI's `Viewers` protocol (`tui.sources`).

Side effects: through the fleets (HTTP requests to the streams), asyncio tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import aiohttp

from rig.viewers import Fleet, ViewerState
from stitcher.clock import Clock


def label(url: str) -> str:
    """`news/ssai` for `http://host/ssai/news/master.m3u8`."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return f"{parts[1]}/{parts[0]}" if len(parts) >= 3 else url


class Fleets:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        clock: Clock,
        url_for: Callable[[], str],
        stop: asyncio.Event,
    ):
        self.session, self.clock, self.url_for, self.stop = session, clock, url_for, stop
        self.fleets: dict[str, Fleet] = {}
        self._tasks: list[asyncio.Task] = []

    def _current(self) -> Fleet:
        url = self.url_for()
        fleet = self.fleets.get(url)
        if fleet is None:
            fleet = self.fleets[url] = Fleet(self.session, self.clock, url, 0)
            self._tasks.append(
                asyncio.create_task(fleet.run(self.stop), name=f"viewers {label(url)}")
            )
        return fleet

    def add(self, n: int) -> list[str]:
        return self._current().add(n)

    def remove(self, n: int) -> list[str]:
        """Stop `n` viewers of the stream on screen (or, when it has none, of the last stream that
        has)."""
        fleet = self._current()
        if not any(v.left_at is None for v in fleet.viewers):
            fleet = next(
                (
                    f
                    for f in reversed(self.fleets.values())
                    if any(v.left_at is None for v in f.viewers)
                ),
                fleet,
            )
        return fleet.remove(n)

    def snapshot(self) -> list[ViewerState]:
        return [
            replace(state, id=f"{label(url)} {state.id}")
            for url, fleet in self.fleets.items()
            for state in fleet.snapshot()
        ]

    async def close(self) -> None:
        """Wait for every fleet to finish (after `stop` is set); a fleet that failed is logged, not
        raised."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
