"""A fleet of simulated viewers: N `Viewer`s of one stream on one session, clock and validator.

The fleet reads the stream once before it starts (`probe`: `StreamUnavailable` when it is not a
stream), runs every viewer as an asyncio task, adds and removes viewers while it runs, counts
each violation for the viewer whose playlist first showed it, keeps the latest failed fetches
(`errors`), and reports per viewer and in total. Side effects: HTTP requests to the stream's
servers.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import aiohttp

from rig.playhead import choose_variant
from rig.validator import Checker, Violation
from rig.viewers.viewer import Viewer, ViewerState, describe
from stitcher.clock import Clock
from stitcher.playlist import MasterPlaylist, MediaPlaylist, parse_playlist

REQUEST_TIMEOUT = 10.0  # seconds, per request
ERRORS_KEPT = 1000  # the latest failed fetches a fleet remembers (time, viewer, what failed)


class StreamUnavailable(Exception):
    """The URL cannot be read as an HLS stream (connection, HTTP status, not a playlist, no such
    variant)."""


class Fleet:
    """N simulated viewers of `url` sharing one session, one clock and one validator.

    Viewers created here join `join_spread`-random seconds after `run` starts (or at the given
    `join_after` offsets); `add` / `remove` change the fleet while it runs. `variant`: a name,
    'random', 'lowest' or 'highest'. `on_violation` sees each violation as the checker finds it.
    Under a FakeClock every viewer (and `run`, when given `seconds`) waits on the clock between
    loads.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        clock: Clock,
        url: str,
        count: int,
        *,
        join_spread: float = 0.0,
        join_after: list[float | None] | None = None,
        variant: str = "random",
        head: bool = False,
        seed: int | None = None,
        timeout: float = REQUEST_TIMEOUT,
        checker: Checker | None = None,
        on_violation: Callable[[Violation], None] | None = None,
    ):
        self.session, self.clock, self.url = session, clock, url
        self.join_spread, self.variant, self.head = join_spread, variant, head
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.rng = random.Random(seed)
        self.checker = checker if checker is not None else Checker()
        self._forward = on_violation or self.checker.on_violation
        self.checker.on_violation = self._on_violation
        self.viewers: list[Viewer] = []
        self.errors: deque[tuple[float, str, str]] = deque(maxlen=ERRORS_KEPT)
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.probed = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._offsets: dict[str, float] = {}
        self._by_name: dict[str, Viewer] = {}
        for k in range(count):
            self._create(join_after[k] if join_after and k < len(join_after) else None)

    # ---------------------------------------------------------------- control

    def _create(self, after: float | None) -> Viewer:
        delay = after if after is not None else self.rng.uniform(0.0, self.join_spread)
        # `run` re-bases the join time on its start
        viewer = Viewer(self, f"viewer-{len(self.viewers)}", self.clock.now() + delay)
        self._offsets[viewer.name] = delay
        self._by_name[viewer.name] = viewer
        self.viewers.append(viewer)
        if self.started_at is not None and self.ended_at is None:
            self._tasks[viewer.name] = asyncio.create_task(viewer.run(), name=viewer.name)
        return viewer

    def add(self, n: int, after: float | None = None) -> list[str]:
        """Add `n` viewers joining `after` seconds from now (default: random in [0,
        join_spread])."""
        return [self._create(after).name for _ in range(n)]

    def remove(self, n: int) -> list[str]:
        """Stop the `n` most recently added viewers still watching (they stay in the report)."""
        gone = [v for v in self.viewers if v.left_at is None][-n:] if n > 0 else []
        for viewer in gone:
            viewer.left_at = self.clock.now()
            viewer.freeze()
        return [v.name for v in gone]

    @property
    def running(self) -> int:
        """Viewer tasks still running (joined or waiting to join)."""
        return sum(not t.done() for t in self._tasks.values())

    async def probe(self) -> None:
        """Read the URL once (and the chosen variant); raise StreamUnavailable when it is not a
        stream."""
        media_url = self.url
        try:
            async with self.session.get(self.url, timeout=self.timeout) as response:
                text = await response.text()
                if response.status != 200:
                    raise StreamUnavailable(f"GET {self.url} returned HTTP {response.status}")
            playlist = parse_playlist(text)
            if isinstance(playlist, MasterPlaylist):
                policy = self.variant if self.variant not in ("random",) else "lowest"
                media_url = urljoin(
                    self.url, choose_variant(playlist, policy, random.Random(0)).uri
                )
                async with self.session.get(media_url, timeout=self.timeout) as response:
                    text = await response.text()
                    if response.status != 200:
                        raise StreamUnavailable(f"GET {media_url} returned HTTP {response.status}")
                if not isinstance(parse_playlist(text), MediaPlaylist):
                    raise StreamUnavailable(f"{media_url} is not a media playlist")
        except (TimeoutError, aiohttp.ClientError, UnicodeError, ValueError) as exc:
            where = self.url if media_url == self.url else media_url
            raise StreamUnavailable(f"{where}: {describe(exc)}") from exc
        except LookupError as exc:
            raise StreamUnavailable(str(exc)) from exc
        self.probed = True

    async def run(self, stop: asyncio.Event, seconds: float | None = None) -> dict[str, Any]:
        """Run every viewer until `stop` is set or `seconds` of clock time passed; returns
        `report()`."""
        if not self.probed:
            await self.probe()
        self.started_at = self.clock.now()
        for viewer in self.viewers:
            viewer.join_at = self.started_at + self._offsets[viewer.name]
            if viewer.left_at is None:
                self._tasks[viewer.name] = asyncio.create_task(viewer.run(), name=viewer.name)
        try:
            if seconds is None:
                await stop.wait()
            else:
                await self.clock.sleep(seconds, stop)
        finally:
            self.ended_at = self.clock.now()
            for viewer in self.viewers:
                if viewer.until is None:
                    viewer.freeze()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        return self.report()

    def _on_violation(self, violation: Violation) -> None:
        viewer = self._by_name.get(violation.viewer or "")
        if viewer is not None:
            viewer.violations[violation.rule] += 1
        if self._forward is not None:
            self._forward(violation)

    # ---------------------------------------------------------------- views

    def snapshot(self) -> list[ViewerState]:
        """The viewers still watching (or waiting to join), now."""
        return [v.state() for v in self.viewers if v.left_at is None]

    def report(self) -> dict[str, Any]:
        """Per viewer and totals, ready for `json.dumps`; `ok` is no stall and no violation."""
        viewers = [v.report() for v in self.viewers]
        late = [
            {
                "viewer": r["id"],
                "joined_at": r["joined_at"],
                "first_segment": r["first_segment"],
                "stalls": len(r["stalls"]),
                "violations": r["violations"],
                "ok": not r["stalls"] and not r["violations"],
            }
            for r in viewers
            if r["first_playlist_in_break"]
        ]
        interstitials: dict[str, dict[str, Any]] = {}
        for r in viewers:
            for item in r["interstitials"]:
                interstitials.setdefault(
                    item["id"], {k: item[k] for k in ("id", "start_date", "duration")}
                )
        stalls = sum(len(r["stalls"]) for r in viewers)
        violations = sum(self.checker.counts.values())
        totals = {
            "viewers": len(viewers),
            "watching": sum(v.left_at is None for v in self.viewers),
            "stalls": stalls,
            "stall_seconds": round(sum(r["stall_seconds"] for r in viewers), 3),
            "violations": violations,
            "violations_by_rule": dict(sorted(self.checker.counts.items())),
            "fetch_errors": sum(r["fetch_errors"] for r in viewers),
            "playlists_fetched": sum(r["playlists_fetched"] for r in viewers),
            "segments_fetched": sum(r["segments_fetched"] for r in viewers),
            "segments_skipped": sum(r["segments_skipped"] for r in viewers),
            "breaks": sum(len(r["breaks"]) for r in viewers),
            "ads_seen": dict(
                sorted(Counter(a for r in viewers for b in r["breaks"] for a in b["ads"]).items())
            ),
            "interstitials": len(interstitials),
            "late_joiners": len(late),
            "late_joiners_ok": sum(item["ok"] for item in late),
        }
        return {
            "url": self.url,
            "ok": stalls == 0 and violations == 0,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "seconds": round((self.ended_at or self.clock.now()) - self.started_at, 3)
            if self.started_at is not None
            else 0.0,
            "totals": totals,
            "late_joiners": late,
            "interstitials": list(interstitials.values()),
            "viewers": viewers,
            "examples": [v.to_dict() for v in self.checker.violations[:20]],
        }
