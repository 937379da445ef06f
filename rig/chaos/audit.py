"""Every origin splice of a `rig chaos` run against the break records the monitor made of it.

While the run goes on, the origin's splice list (`GET /control/{channel}/splices`, which shows a
splice from its announcement until it has left the window) and the break records in the KV
(`BreakLedger.records`, ended breaks too until they expire) are read every second, so every
splice the origin announced and every record made are known. A splice with no record whose start
is its splice point is lost, one with two is duplicated; a record no splice explains is counted
too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

from stitcher.breaks import BreakLedger, BreakRecord, Retention
from stitcher.clock import Clock, SystemClock
from stitcher.kv import KVError, open_kv

__all__ = ["Splice", "BreakAudit"]

MATCH = 1.0  # seconds between a splice point and a record's start that still make a pair


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Splice:
    channel: str
    id: int
    announced: float  # epoch seconds: when its cue appeared
    start: float  # the splice point
    cancelled: bool = False
    records: list[str] = field(default_factory=list)  # the break records made of it (eventId)


class BreakAudit:
    """What the origin announced, and (`settle`) what the monitor recorded of it."""

    def __init__(
        self,
        origin: str,
        channels: list[str],
        kv_url: str,
        clock: Clock | None = None,
        api: str | None = None,
    ):
        """`api`: read the records from the stitcher's `GET /v1/channels/{channel}/breaks` at
        this base URL instead of the KV (a KV only the rig can see: its own disk); it lists a
        break from its creation to its end, and the audit reads it every second."""
        self.origin, self.channels, self.kv_url = origin.rstrip("/"), channels, kv_url
        self.api = api.rstrip("/") if api else None
        self.clock = clock or SystemClock()
        self.splices: dict[tuple[str, int], Splice] = {}
        self.records: dict[tuple[str, str], BreakRecord] = {}  # (channel, eventId) -> latest
        self.unexplained: list[dict] = []
        self.misread = 0  # reads of the origin or the KV that failed (it may be the fault)

    async def watch(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Each second until `stop`: read every channel's splice list at the origin and its break
        records in the KV (records expire a while after their break ends, so an hour's run cannot
        wait for the end to read them; a read that fails, the fault at work, is tried again)."""
        if self.api is not None:
            await self._every_second(session, stop, lambda c: self._read_listed(session, c))
            return
        async with open_kv(self.kv_url, self.clock) as kv:
            ledger = BreakLedger(kv, lambda _: Retention(window=3600.0))
            await self._every_second(session, stop, lambda c: self.read_records(ledger, c))
            for channel in self.channels:
                await self.read_records(ledger, channel)

    async def _every_second(
        self,
        session: aiohttp.ClientSession,
        stop: asyncio.Event,
        records: Callable[[str], Awaitable[None]],
    ) -> None:
        """Until `stop`: each channel's splices at the origin and its records, every second."""
        while not stop.is_set():
            for channel in self.channels:
                await self._read(session, channel)
                await records(channel)
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass

    async def read_records(self, ledger: BreakLedger, channel: str) -> None:
        """Note every record of the channel the KV holds now (a failed read is counted)."""
        try:
            for record in await ledger.records(channel):
                self.records[(channel, record.event_id)] = record
        except KVError:
            self.misread += 1

    async def _get_json(self, session: aiohttp.ClientSession, url: str) -> dict | None:
        """The JSON answer at `url`, or None (counted) when it cannot be read now."""
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status == 200:
                    return await response.json()
        except (TimeoutError, aiohttp.ClientError, ValueError):
            pass
        self.misread += 1
        return None

    async def _read_listed(self, session: aiohttp.ClientSession, channel: str) -> None:
        body = await self._get_json(session, f"{self.api}/v1/channels/{channel}/breaks")
        try:
            for item in body["breaks"] if body is not None else ():
                record = BreakRecord.from_json(item)
                self.records[(channel, record.event_id)] = record
        except (ValueError, KeyError):
            self.misread += 1

    async def _read(self, session: aiohttp.ClientSession, channel: str) -> None:
        body = await self._get_json(session, f"{self.origin}/control/{channel}/splices")
        if body is None:
            return
        for item in body["splices"]:
            key = (channel, int(item["id"]))
            known = self.splices.get(key)
            if known is None:
                known = self.splices[key] = Splice(
                    channel, key[1], _epoch(item["announce"]), _epoch(item["start"])
                )
            known.cancelled = item["cancelled"] is not None

    def settle(self, since: float, until: float) -> list[Splice]:
        """The splices announced in [since, until), each with the records made of it; records
        starting in that span that no splice the origin showed explains go to `unexplained`."""
        for splice in self.splices.values():
            splice.records.clear()
        self.unexplained.clear()
        for (channel, _), record in sorted(self.records.items()):
            if record.source == "manual" or not since <= record.start < until:
                continue
            pair = [
                s
                for s in self.splices.values()
                if s.channel == channel and abs(s.start - record.start) <= MATCH
            ]
            for splice in pair:
                splice.records.append(record.event_id)
            if not pair and not record.cancelled:
                self.unexplained.append(
                    {"channel": channel, "eventId": record.event_id, "start": record.start}
                )
        return [
            s
            for s in sorted(self.splices.values(), key=lambda s: s.announced)
            if since <= s.announced < until and not s.cancelled
        ]
