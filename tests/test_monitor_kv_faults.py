"""The SCTE-35 monitor while its KV is unavailable, and after it comes back (fake clock).

Three real outages, each on a real store: the SQLite file's directory gone (renamed away before
the store first connects, then renamed back), the SQLite file write-locked by another connection
(reads still work, the break write fails after the ad decision), and a private redis-server
stopped and restarted on the same port. For each: a poll that meets the outage does not end the
monitor's watch, it is counted in the channel's state and logged as a warning naming the store,
and no cue is lost: once the KV is back the next pass writes exactly one record for it - before
its first slot if there is still time, else only over slots nobody can have been served.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from rig.redis_server import start_redis
from stitcher.kv import open_kv
from tests.kv.support import require_redis_server
from tests.test_monitor import WatchedClock


@pytest.fixture
def clock(clock) -> WatchedClock:
    return WatchedClock(clock.now())


class DirectoryGone:
    """SQLite whose directory is renamed away: the store (not yet connected) cannot open it."""

    def __init__(self, tmp_path, clock):
        self.dir, self.away = tmp_path / "kv", tmp_path / "kv.away"
        self.dir.mkdir()
        self.kv = open_kv(f"sqlite://{self.dir}/kv.db", clock)
        self.names = f"SQLite KV {self.dir}/kv.db: unable to open database file"

    async def down(self):
        self.dir.rename(self.away)

    async def up(self):
        self.away.rename(self.dir)

    async def close(self):
        await self.kv.close()


class WriteLocked:
    """SQLite (connected, WAL) whose write lock another connection holds."""

    def __init__(self, tmp_path, clock):
        self.path = tmp_path / "kv.db"
        self.kv = open_kv(f"sqlite://{self.path}", clock, busy_timeout=0.05)
        self.names = f"SQLite KV {self.path}: database is locked"
        self.other: sqlite3.Connection | None = None

    async def down(self):
        await self.kv.ping()  # the store has its connection: the lock is what it meets
        self.other = sqlite3.connect(self.path, isolation_level=None)
        self.other.execute("BEGIN IMMEDIATE")

    async def up(self):
        self.other.execute("ROLLBACK")
        self.other.close()
        self.other = None

    async def close(self):
        if self.other is not None:
            self.other.close()
        await self.kv.close()


class RedisStopped:
    """A private redis-server, stopped and started again on the same port."""

    async def open(self, clock):
        require_redis_server()
        self.server = await start_redis()
        self.kv = open_kv(self.server.url, clock, command_timeout=1.0)
        self.names = f"Redis KV {self.server.url} is unavailable"
        await self.kv.ping()
        return self

    async def down(self):
        await asyncio.to_thread(self.server.stop)

    async def up(self):
        self.server = await start_redis(port=self.server.port)

    async def close(self):
        await self.kv.close()
        await asyncio.to_thread(self.server.stop)


@pytest.fixture(params=["sqlite-directory-gone", "sqlite-write-locked", "redis-stopped"])
async def outage(request, tmp_path, clock):
    if request.param == "redis-stopped":
        made = await RedisStopped().open(clock)
    else:
        kind = DirectoryGone if request.param == "sqlite-directory-gone" else WriteLocked
        made = kind(tmp_path, clock)
    yield made
    await made.close()


@pytest.fixture
def kv(outage):
    """Overrides conftest's `kv`: the rig's ledger and monitor use the store that goes down."""
    return outage.kv


def logged(caplog, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "stitcher.monitor" and text in r.getMessage()]


async def watch_through_outage(rig, clock, outage, event_id, back, until):
    """Watch `news` with the KV down until `back(state)` holds (checked after each poll, at most
    60 polls), then up until `until`. Returns (failures, last_error, watch ended, time) as they
    were at the end of the outage, and when the record was first in KV."""
    stop = asyncio.Event()
    await outage.down()
    task = asyncio.create_task(rig.monitor.watch("news", stop), name="monitor-news")
    try:
        await clock.asleep("monitor-news")
        state = rig.monitor.states["news"]
        while not back(state):
            assert state.polls < 60, "the outage never ended"
            clock.advance(rig.monitor.interval)
            await clock.asleep("monitor-news")
        during = (state.failures, state.last_error, task.done(), clock.now())
        await outage.up()
        seen = None
        while clock.now() < until:
            clock.advance(rig.monitor.interval)
            await clock.asleep("monitor-news")
            if seen is None and await rig.ledger.get("news", event_id) is not None:
                seen = clock.now()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    return during, seen


async def test_a_cue_met_during_an_outage_becomes_one_record_in_time(rig, clock, outage, caplog):
    caplog.set_level(logging.INFO, logger="stitcher.monitor")
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 12, 8, "daterange", "splice_insert")
    event_id = f"splice-{splice.event_id}"
    during, seen = await watch_through_outage(
        rig, clock, outage, event_id, lambda state: state.failures == 3, tl.end(splice.end) + 4
    )
    failures, last_error, ended, back = during
    assert failures == 3 and not ended  # the polls that met the cue failed; the watch went on
    assert seen == back + rig.monitor.interval  # the first pass with the KV back wrote it
    assert outage.names in last_error
    warnings = logged(caplog, "channel=news poll failed: ")
    assert len(warnings) == 3 and {r.levelno for r in warnings} == {logging.WARNING}
    assert all(outage.names in r.getMessage() for r in warnings)
    state = rig.monitor.states["news"]
    assert state.failures == 3 and state.last_error == ""  # recovered: no failure since
    records = await rig.ledger.records("news")
    assert [r.event_id for r in records] == [event_id]
    record = records[0]
    assert record.start == record.ad_start == tl.start(splice.start)  # on time despite outage
    assert record.end == tl.start(splice.end)
    assert seen < tl.end(tl.published_count(record.ad_start))  # before its first slot was out
    assert len(logged(caplog, f"break created channel=news id={event_id} ")) == 1
    assert (await rig.ledger.ledger("news")).total == record.discontinuities


async def test_a_cue_whose_start_passes_during_an_outage_replaces_only_unserved_slots(
    rig, clock, outage
):
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 16, 2, "daterange", "time_signal")
    start = tl.start(splice.start)
    event_id = f"splice-{splice.event_id}"
    during, seen = await watch_through_outage(
        rig, clock, outage, event_id, lambda _: clock.now() >= start + 5, tl.end(splice.end) + 4
    )
    failures, _, ended, back = during
    assert failures >= 5 and not ended  # failed at least from the break's start on
    assert seen == back + rig.monitor.interval
    assert seen > start  # written late, once the KV was back ...
    records = await rig.ledger.records("news")
    assert [r.event_id for r in records] == [event_id]
    record = records[0]
    assert record.start == start and record.end == tl.start(splice.end)
    assert start < record.ad_start < record.end  # ... so the ads start later, on the grid ...
    assert record.ad_start in {tl.start(n) for n in range(splice.start, splice.end)}
    assert seen < tl.end(tl.published_count(record.ad_start))  # ... in a slot not yet served
