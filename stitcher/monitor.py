"""The SCTE-35 monitor: watch every active channel's origin, turn cues into break records ahead of
time.

Side effects: HTTP GETs to origins, KV writes, logging.
How and why: docs/stitcher.md, "`stitcher.monitor`".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiohttp

from stitcher.breaks import BreakError, BreakLedger, BreakRecord, Grid, plan_break, shorten
from stitcher.catalog import Catalog, Channel
from stitcher.clock import Clock
from stitcher.decision import DecisionSource
from stitcher.detect import DetectedBreak, Detection, detect
from stitcher.kv import KVError
from stitcher.origin import OriginUnavailable, origin_playlist
from stitcher.playlist import MediaPlaylist

log = logging.getLogger("stitcher.monitor")


@dataclass
class ChannelState:
    """What one channel's poller remembers between polls (a cache: losing it loses nothing)."""

    media_url: str | None = None
    seen: dict[str, float] = field(
        default_factory=dict
    )  # break id -> when the monitor first saw its cue
    done: set[str] = field(
        default_factory=set
    )  # break ids fully handled (record written or refused)
    polls: int = 0
    failures: int = 0
    last_error: str = ""


@dataclass
class Outcome:
    """What one poll did (for tests, metrics and the TUI)."""

    created: list[BreakRecord] = field(default_factory=list)
    updated: list[BreakRecord] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (break id, reason)
    latencies: list[float] = field(default_factory=list)
    problems: tuple[str, ...] = ()


def visible_since(playlist: MediaPlaylist, msn: int) -> float | None:
    """When the segment `msn` of a live playlist was published (its end), if the playlist is
    dated."""
    times = playlist.segment_times()
    index = msn - playlist.media_sequence
    if times is None or not 0 <= index < len(times):
        return None
    return times[index] + playlist.segments[index].duration


class Monitor:
    def __init__(
        self,
        catalog: Catalog,
        ledger: BreakLedger,
        decisions: DecisionSource,
        session: aiohttp.ClientSession,
        clock: Clock,
        interval: float = 1.0,
        fetch_timeout: float = 2.0,
    ):
        self.catalog = catalog
        self.ledger = ledger
        self.decisions = decisions
        self.session = session
        self.clock = clock
        self.interval = interval
        self.fetch_timeout = fetch_timeout
        self.states: dict[str, ChannelState] = {}

    # ------------------------------------------------------------------ one poll

    async def media_playlist(self, channel: Channel, state: ChannelState) -> MediaPlaylist:
        playlist, state.media_url = await origin_playlist(
            self.session, channel, self.fetch_timeout, state.media_url
        )
        return playlist

    async def poll(self, channel: Channel) -> Outcome:
        """Fetch the origin once and bring the KV in line with the cues it shows."""
        state = self.states.setdefault(channel.slug, ChannelState())
        state.polls += 1
        playlist = await self.media_playlist(channel, state)
        now = self.clock.now()
        found: Detection = detect(playlist)
        outcome = Outcome(problems=found.problems)
        for problem in found.problems:
            log.warning("channel=%s cue problem: %s", channel.slug, problem)
        grid = Grid.of(playlist, channel.segment_duration)
        first_msn: dict[str, int] = {}
        for signal in found.signals:
            first_msn.setdefault(signal.break_id, signal.msn)
        for detected in found.breaks:
            try:
                await self._handle(
                    channel,
                    state,
                    detected,
                    playlist,
                    grid,
                    now,
                    first_msn.get(detected.break_id),
                    outcome,
                )
            except BreakError as exc:
                outcome.refused.append((detected.break_id, str(exc)))
                state.done.add(detected.break_id)
                log.info(
                    "channel=%s break=%s not written: %s", channel.slug, detected.break_id, exc
                )
        return outcome

    async def _handle(
        self,
        channel: Channel,
        state: ChannelState,
        detected: DetectedBreak,
        playlist: MediaPlaylist,
        grid: Grid,
        now: float,
        msn: int | None,
        outcome: Outcome,
    ) -> None:
        existing = await self.ledger.get(channel.slug, detected.break_id)
        if existing is None:
            if detected.break_id in state.done or detected.cancelled:
                return  # refused before, or cancelled before we ever wrote it
            if detected.duration is None:
                return  # a bare CUE-OUT: wait for a duration (or the CUE-IN) to know the break
            pod = await self.decisions.decide(channel, detected.duration, detected.break_id)
            record = plan_break(
                channel.slug,
                detected.break_id,
                "scte35",
                detected.start,
                detected.duration,
                pod,
                grid,
                now,
                detected.scte35,
            )
            if detected.returned_early and detected.end is not None and detected.end < record.end:
                record = (
                    shorten(record, grid, now, detected.end)
                    if detected.end > record.ad_start
                    else record
                )
            stored, created = await self.ledger.create(record, now)
            state.done.add(detected.break_id)
            if created:
                since = visible_since(playlist, msn) if msn is not None else None
                latency = (self.clock.now() - since) if since is not None else None
                if latency is not None:
                    outcome.latencies.append(latency)
                outcome.created.append(stored)
                log.info(
                    "break created channel=%s id=%s start=%s adStart=%s end=%s items=%d "
                    "discontinuities=%d latency=%s",
                    channel.slug,
                    stored.event_id,
                    stored.start,
                    stored.ad_start,
                    stored.end,
                    len(stored.pod.items),
                    stored.discontinuities,
                    f"{latency:.3f}" if latency is not None else "?",
                )
            return
        if existing.cancelled:
            return
        target = None
        if detected.cancelled:
            target = grid.earliest
        elif (
            detected.returned_early
            and detected.end is not None
            and detected.end < existing.end - 1e-3
        ):
            target = detected.end
        if target is None:
            return
        try:
            changed = shorten(existing, grid, now, target)
        except BreakError:
            return  # it ends by then anyway
        stored = await self.ledger.update(existing, changed, now)
        outcome.updated.append(stored)
        log.info(
            "break %s channel=%s id=%s end=%s",
            "cancelled" if stored.cancelled else "shortened",
            channel.slug,
            stored.event_id,
            stored.end,
        )

    # ------------------------------------------------------------------ the loops

    async def watch(self, slug: str, stop: asyncio.Event) -> None:
        """Poll one channel every `interval` until `stop` (or the channel leaves the catalog)."""
        state = self.states.setdefault(slug, ChannelState())
        while not stop.is_set():
            started = self.clock.now()
            channel = await asyncio.to_thread(self.catalog.find_channel, slug)
            if channel is None or channel.status != "active" or not channel.scte35_enabled:
                return
            try:
                await asyncio.wait_for(self.poll(channel), timeout=self.fetch_timeout * 3)
                state.last_error = ""
            except (TimeoutError, OriginUnavailable, KVError, BreakError) as exc:
                state.failures += 1
                state.last_error = str(exc) or exc.__class__.__name__
                state.media_url = None if isinstance(exc, OriginUnavailable) else state.media_url
                log.warning("channel=%s poll failed: %s", slug, state.last_error)
            elapsed = self.clock.now() - started
            if not await self.clock.sleep(max(0.0, self.interval - elapsed), stop):
                return

    async def run(self, stop: asyncio.Event, refresh: float = 10.0) -> None:
        """Watch every active channel concurrently; pick up added or removed channels every
        `refresh` s."""
        tasks: dict[str, asyncio.Task] = {}
        try:
            while not stop.is_set():
                channels = await asyncio.to_thread(self.catalog.channels)
                wanted = {c.slug for c in channels if c.status == "active" and c.scte35_enabled}
                for slug in wanted:
                    if slug not in tasks or tasks[slug].done():
                        tasks[slug] = asyncio.create_task(
                            self.watch(slug, stop), name=f"monitor-{slug}"
                        )
                if not await self.clock.sleep(refresh, stop):
                    break
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
