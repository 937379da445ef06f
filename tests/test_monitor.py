"""The SCTE-35 monitor end to end: real origin emulator (fake clock), real KV (SQLite and Redis).

Every cue the origin emits, in every format and command, becomes exactly one correct break record
before the first slot it replaces is published; early returns and cancels shorten it; two
monitors racing create each break once; a hanging origin does not delay another channel.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math

import pytest
from aiohttp import web

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from stitcher.breaks import BreakLedger, Retention
from stitcher.clock import FakeClock
from stitcher.kv import open_kv
from stitcher.monitor import Monitor


class WatchedClock(FakeClock):
    """The fake clock, knowing which task waits on it and until when. The monitor names its watch
    tasks `monitor-<channel>`, so a test moves time on only once the task it drives is waiting, and
    every interval of fake time is then exactly one poll, however fast the machine is."""

    def __init__(self, start: float):
        super().__init__(start)
        self.waiting: dict[str, float] = {}  # task name -> when its sleep ends
        self._changed: asyncio.Event | None = None

    async def sleep(self, seconds: float, stop: asyncio.Event | None = None) -> bool:
        name = asyncio.current_task().get_name()
        self.waiting[name] = self.now() + max(0.0, seconds)
        if self._changed is not None:
            self._changed.set()
        try:
            return await super().sleep(seconds, stop)
        finally:
            self.waiting.pop(name, None)

    async def asleep(self, name: str, timeout: float = 10.0) -> None:
        """Until task `name` waits on the clock for a moment still ahead (it finished its work)."""
        try:
            async with asyncio.timeout(timeout):
                while self.waiting.get(name, -math.inf) <= self.now():
                    self._changed = asyncio.Event()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"task {name} did not wait on the clock within {timeout} s"
            ) from None


@pytest.fixture
def clock(clock) -> WatchedClock:
    """conftest's fake clock (same instant), watched."""
    return WatchedClock(clock.now())


async def run_until(rig, clock, until: float, step: float = 1.0) -> list:
    """Poll once per `step` of fake time until `until`; returns (time, outcome) of every poll."""
    polls = []
    while clock.now() < until:
        clock.advance(step)
        polls.append((clock.now(), await rig.monitor.poll(rig.channel)))
    return polls


@pytest.mark.parametrize("fmt, command", list(itertools.product(CUE_FORMATS, CUE_COMMANDS)))
async def test_every_cue_becomes_one_record_before_its_first_slot(rig, clock, fmt, command):
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 12, 8, fmt, command)
    polls = await run_until(rig, clock, tl.end(splice.end) + 10)
    created = [(t, r) for t, o in polls for r in o.created]
    assert len(created) == 1, created
    when, record = created[0]
    assert record.event_id == {
        "daterange": f"splice-{splice.event_id}",
        "scte35": f"scte35-{splice.event_id}",
    }.get(fmt, f"cue-{round(tl.start(splice.start) * 1000)}")
    assert record.start == tl.start(splice.start) and record.duration == pytest.approx(12.0)
    assert record.end == tl.start(splice.end)
    assert record.source == "scte35"
    assert (record.scte35 is not None) == (
        fmt != "cue-out"
    )  # a bare CUE-OUT carries no SCTE-35 bytes
    first_slot = tl.published_count(record.ad_start)  # the origin segment the first ad replaces
    assert tl.start(first_slot) == record.ad_start
    assert when < tl.end(
        first_slot
    )  # written before that segment was published: nobody served it yet
    if fmt == "daterange":
        assert record.ad_start == record.start  # announced 8 s ahead: the break starts on time
    else:
        assert record.ad_start - record.start <= 2 * 2.0  # cue visible only with its first segment
    assert [r.event_id for r in await rig.ledger.records("news")] == [record.event_id]
    ledger = await rig.ledger.ledger("news")
    assert ledger.total == record.discontinuities
    assert sum(len(o.latencies) for _, o in polls) == 1


async def test_early_return_at_the_origin_shortens_the_record(rig, clock):
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 20, 8, "daterange", "splice_insert")
    await run_until(rig, clock, tl.end(splice.start + 3))
    returned = rig.origin.delete_splice(splice.event_id, clock.now())
    polls = await run_until(rig, clock, tl.end(splice.end) + 6)
    updated = [r for _, o in polls for r in o.updated]
    assert len(updated) == 1
    record = updated[0]
    assert record.end >= tl.start(returned.stop) and record.end < tl.start(splice.end)
    assert (await rig.ledger.get("news", record.event_id)) == record
    assert (await rig.ledger.ledger("news")).total == record.discontinuities


async def test_a_cancelled_announcement_cancels_the_record(rig, clock):
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 10, 10, "daterange", "time_signal")
    await run_until(rig, clock, clock.now() + 3)  # announced and recorded
    assert await rig.ledger.get("news", f"splice-{splice.event_id}") is not None
    rig.origin.delete_splice(splice.event_id, clock.now())
    await run_until(rig, clock, tl.end(splice.end) + 6)
    record = await rig.ledger.get("news", f"splice-{splice.event_id}")
    assert record.cancelled and record.points == ()
    assert (await rig.ledger.ledger("news")).total == 0


async def test_two_monitors_create_each_break_once(rig, clock, kv_url):
    second_kv = open_kv(kv_url, clock)  # another client of the same store
    try:
        other = Monitor(
            rig.catalog,
            BreakLedger(second_kv, lambda slug: Retention(window=12)),
            rig.monitor.decisions,
            rig.session,
            clock,
        )
        tl = rig.origin.timeline
        splices = [rig.origin.post_splice(clock.now(), 6, 8, "daterange", "splice_insert")]
        created = []
        for _ in range(100):
            clock.advance(1.0)
            if clock.now() > tl.end(splices[-1].end) + 4 and len(splices) < 4:
                splices.append(
                    rig.origin.post_splice(
                        clock.now(), 6, 4, CUE_FORMATS[len(splices)], "time_signal"
                    )
                )
            outcomes = await asyncio.gather(rig.monitor.poll(rig.channel), other.poll(rig.channel))
            created += [r.event_id for o in outcomes for r in o.created]
        assert len(created) == len(set(created)) == len(splices) == 4
        assert len(await rig.ledger.records("news")) == 4
    finally:
        await second_kv.close()


async def test_a_hanging_origin_does_not_delay_another_channel(rig, clock, aiohttp_server):
    arrived = asyncio.Event()

    async def hang(request):
        arrived.set()
        await asyncio.Event().wait()

    app = web.Application()
    app.router.add_get("/{tail:.*}", hang)
    stuck = await aiohttp_server(app)
    rig.catalog.put_channel(
        dataclasses.replace(
            rig.channel, slug="stuck", origin_url=str(stuck.make_url("/stuck/master.m3u8"))
        )
    )
    rig.monitor.fetch_timeout = 0.2  # real seconds: aiohttp timeouts run on the wall clock
    stop = asyncio.Event()
    task = asyncio.create_task(rig.monitor.run(stop, refresh=3600))
    steps = 20
    try:
        await clock.asleep("monitor-news")  # the first poll is done
        await asyncio.wait_for(arrived.wait(), 10)  # and the stuck origin holds a request
        for _ in range(steps):  # one poll of news per interval while the other channel hangs
            clock.advance(rig.monitor.interval)
            await clock.asleep("monitor-news")
        good = rig.monitor.states["news"]
        assert good.polls == steps + 1 and good.failures == 0
        await clock.asleep("monitor-stuck")  # its poll ran into the timeout (0.2 s of real time)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    good, bad = rig.monitor.states["news"], rig.monitor.states["stuck"]
    assert good.polls == steps + 1 and good.failures == 0
    assert bad.failures >= 1 and "did not answer within 0.2 s" in bad.last_error


async def test_an_origin_down_is_reported_not_fatal(rig, clock):
    await rig.server.close()
    rig.monitor.fetch_timeout = 0.5
    stop = asyncio.Event()
    task = asyncio.create_task(rig.monitor.watch("news", stop), name="monitor-news")
    polls = 20
    try:
        await clock.asleep("monitor-news")
        for _ in range(polls - 1):
            clock.advance(rig.monitor.interval)
            await clock.asleep("monitor-news")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    state = rig.monitor.states["news"]
    assert state.failures == state.polls == polls and state.last_error
