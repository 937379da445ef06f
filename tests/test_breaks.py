"""The break ledger: placing breaks on the origin's grid, atomic writes, and "only the future
changes"."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stitcher.breaks import (
    BreakError,
    BreakLedger,
    BreakOverlap,
    BreakRecord,
    BreakTooLate,
    Grid,
    Ledger,
    Retention,
    plan_break,
    returns_at,
    shorten,
    slot_at,
)
from stitcher.clock import FakeClock
from stitcher.kv import open_kv
from stitcher.pod import Pod, PodItem

D = 2.0
VARIANTS = ((1000, "http://ads/x.m3u8"),)


def pod(*durations: float, slate: float = 0.0) -> Pod:
    items = [PodItem(f"ad-{i}", "ad", d, VARIANTS) for i, d in enumerate(durations)]
    if slate:
        items.append(PodItem("slate", "slate", slate, VARIANTS))
    return Pod("p", tuple(items))


def grid_at(origin, now: float) -> Grid:
    return Grid.of(origin.media("hi", now), D)


def test_grid_from_a_fresh_origin_playlist(make_channel, clock):
    origin = make_channel(break_every=0)
    grid = grid_at(origin, clock.now())
    timeline = origin.timeline
    newest = timeline.last_published(clock.now())
    assert grid.anchor == timeline.start(newest)
    assert grid.earliest == timeline.start(newest + 2)  # the segment after next
    assert grid.snap(timeline.start(newest + 7) + 0.6) == timeline.start(newest + 7)
    assert grid.snap(timeline.start(newest + 7) + 1.4) == timeline.start(newest + 8)


def test_an_announced_break_starts_on_time(make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    start = tl.start(tl.in_production(clock.now()) + 4)
    record = plan_break(
        "news",
        "7",
        "scte35",
        start,
        30,
        pod(10, 16, slate=4),
        grid_at(origin, clock.now()),
        clock.now(),
    )
    assert record.ad_start == record.start == start and record.end == start + 30
    assert record.points == (
        start,
        start + 10,
        start + 26,
        start + 30,
    )  # each item, then the return
    assert record.discontinuities == 4


def test_a_late_cue_only_replaces_slots_nobody_has_served(make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    newest = tl.last_published(clock.now())
    start = tl.start(newest)  # the break began with the segment already out
    record = plan_break(
        "news", "8", "scte35", start, 20, pod(10, 10), grid_at(origin, clock.now()), clock.now()
    )
    assert record.start == start and record.ad_start == tl.start(newest + 2)
    assert record.points == (
        tl.start(newest + 2),
        tl.start(newest + 2) + 10,
        start + 20,
    )  # the second ad is cut at the end
    with pytest.raises(BreakTooLate):
        plan_break(
            "news",
            "9",
            "scte35",
            tl.start(newest - 3),
            6,
            pod(6),
            grid_at(origin, clock.now()),
            clock.now(),
        )


def test_shorten_and_cancel(make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    start = tl.start(tl.in_production(clock.now()) + 3)
    record = plan_break(
        "news", "1", "manual", start, 30, pod(10, 10, 10), grid_at(origin, clock.now()), clock.now()
    )
    cancelled = shorten(record, grid_at(origin, clock.now()), clock.now())
    assert cancelled.cancelled and cancelled.points == ()
    clock.set(start + 11.5)  # the second ad is playing
    shortened = shorten(record, grid_at(origin, clock.now()), clock.now())
    assert shortened.end == grid_at(origin, clock.now()).earliest == start + 12
    assert shortened.points == (start, start + 10, start + 12)
    at_origin = shorten(
        record, grid_at(origin, clock.now()), clock.now(), at=start + 20
    )  # the origin's CUE-IN
    assert at_origin.end == start + 20 and at_origin.points == (start, start + 10, start + 20)
    clock.set(start + 29)
    with pytest.raises(BreakError, match="can no longer be shortened"):
        shorten(record, grid_at(origin, clock.now()), clock.now())


def test_the_interstitial_end_is_fixed_once_it_may_have_been_served(make_channel, clock):
    """SGAI announces [adStart, interstitialEnd) from the first segment published after the break
    was recorded (stitcher.sgai): an early return moves the end only until that segment is out."""
    origin = make_channel(break_every=0)
    tl = origin.timeline
    start = tl.start(tl.in_production(clock.now()) + 4)
    record = plan_break(
        "news", "1", "manual", start, 30, pod(10, 10, 10), grid_at(origin, clock.now()), clock.now()
    )
    assert record.interstitial_end == record.end == record.sgai_end == start + 30
    early = shorten(
        record, grid_at(origin, clock.now()), clock.now(), at=start + 10
    )  # the announcing segment is still in production
    assert early.end == early.interstitial_end == start + 10
    clock.set(
        tl.start(tl.in_production(record.created) + 1) + 0.1
    )  # the segment that announces it is out: a stitcher may serve it
    kept = shorten(record, grid_at(origin, clock.now()), clock.now(), at=start + 10)
    assert kept.end == start + 10 and kept.interstitial_end == kept.sgai_end == start + 30
    clock.set(start + 11.5)
    late = shorten(record, grid_at(origin, clock.now()), clock.now())
    assert late.end == start + 12 and late.sgai_end == start + 30
    assert BreakRecord.from_json(late.to_json()) == late and late.to_json()[
        "interstitialEnd"
    ].endswith("Z")
    assert Retention(window=12).ttl(late, clock.now()) == pytest.approx(
        start + 30 - clock.now() + 12 + 2 + 120
    )  # outlives the interstitial


def test_records_without_an_interstitial_end_still_read_and_compare(make_channel, clock):
    """Records written before the field existed: the interstitial ends at endTime, and the stored
    JSON round-trips byte for byte (the ledger's compare-and-set compares it)."""
    origin = make_channel(break_every=0)
    tl = origin.timeline
    start = tl.start(tl.in_production(clock.now()) + 4)
    record = plan_break(
        "news", "1", "manual", start, 30, pod(10, 20), grid_at(origin, clock.now()), clock.now()
    )
    old = {k: v for k, v in record.to_json().items() if k != "interstitialEnd"}
    read = BreakRecord.from_json(old)
    assert read.interstitial_end is None and read.sgai_end == read.end == start + 30
    assert read.to_json() == old
    cancelled = shorten(read, grid_at(origin, clock.now()), clock.now())
    assert (
        cancelled.cancelled
        and cancelled.interstitial_end is None
        and "interstitialEnd" not in cancelled.to_json()
    )
    cancelled = shorten(record, grid_at(origin, clock.now()), clock.now())
    assert cancelled.cancelled and cancelled.interstitial_end == cancelled.end
    clock.set(start + 11.5)
    assert (
        shorten(read, grid_at(origin, clock.now()), clock.now()).sgai_end == start + 30
    )  # seen: keeps endTime's value


def test_record_json_round_trip(make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    start = tl.start(tl.in_production(clock.now()) + 3)
    record = plan_break(
        "news",
        "42",
        "scte35",
        start,
        30.5,
        pod(10, slate=20.5),
        grid_at(origin, clock.now()),
        clock.now(),
        scte35="/DAl",
    )
    data = record.to_json()
    assert {
        "channelId",
        "eventId",
        "source",
        "startTime",
        "duration",
        "endTime",
        "decision",
        "createdAt",
        "scte35Data",
        "adStart",
        "discontinuities",
    } <= set(data)
    assert BreakRecord.from_json(data) == record
    assert BreakRecord.from_json(data).to_json() == data


def test_short_pods_are_filled_with_slate_after_a_splice(make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    start = tl.start(tl.in_production(clock.now()) + 4)
    record = plan_break(
        "news", "7", "scte35", start, 30, pod(10), grid_at(origin, clock.now()), clock.now()
    )
    assert record.points == (start, start + 10, start + 30)  # the ad, the filler slate, the return
    assert (
        slot_at([record], start + 12, 1).item == 1 and slot_at([record], start + 12, 1).offset == 2
    )
    with pytest.raises(BreakError, match="no items"):
        plan_break(
            "news",
            "8",
            "scte35",
            start + 40,
            30,
            Pod("p", ()),
            grid_at(origin, clock.now()),
            clock.now(),
        )


def test_ledger_arithmetic():
    ledger = Ledger()
    a = BreakRecord("c", "a", "manual", 100, 10, 110, 100, pod(10), (100.0, 110.0), 0, 0)
    b = BreakRecord("c", "b", "manual", 200, 10, 210, 200, pod(4, 6), (200.0, 204.0, 210.0), 0, 0)
    ledger = ledger.with_break(a, horizon=0).with_break(b, horizon=0)
    assert (ledger.total, ledger.version) == (5, 2)
    assert ledger.added_before(99, 1) == 0
    assert (
        ledger.added_before(110, 1) == 1
        and ledger.added_before(111, 1) == 1
        and ledger.added_before(111.1, 1) == 2
    )
    assert (
        ledger.added_before(205, 1) == 3
        and ledger.added_before(205.5, 1) == 4
        and ledger.added_before(300, 1) == 5
    )
    assert ledger.overlapping("x", 105, 120) == "a" and ledger.overlapping("x", 110, 200) is None
    pruned = ledger.with_break(
        BreakRecord("c", "c", "manual", 400, 4, 404, 400, pod(4), (400.0, 404.0), 0, 0), horizon=150
    )
    assert set(pruned.breaks) == {"b@0", "c@0"} and pruned.total == 7
    assert pruned.added_before(300, 1) == 5  # forgetting a past break changes nothing
    cancelled = pruned.with_break(
        BreakRecord("c", "c", "manual", 400, 4, 400, 400, pod(4), (), 0, 0, cancelled=True),
        horizon=150,
    )
    assert cancelled.total == 5 and "c@0" not in cancelled.breaks
    # an event id used again later is a new break: the old one's past points stay counted
    reused = pruned.with_break(
        BreakRecord("c", "a", "manual", 500, 4, 504, 500, pod(4), (500.0, 504.0), 1, 1), horizon=0
    )
    assert reused.total == 9 and reused.added_before(450, 1) == 7


async def test_create_is_atomic_and_refuses_overlaps(kv, make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    ledger = BreakLedger(kv, lambda channel: Retention(window=12))
    start = tl.start(tl.in_production(clock.now()) + 3)
    record = plan_break(
        "news", "1", "scte35", start, 10, pod(10), grid_at(origin, clock.now()), clock.now()
    )
    stored, created = await ledger.create(record, clock.now())
    assert created and stored.ledger_after == 2
    again, created = await ledger.create(record, clock.now())
    assert not created and again == stored
    clash = plan_break(
        "news", "2", "manual", start + 4, 10, pod(10), grid_at(origin, clock.now()), clock.now()
    )
    with pytest.raises(BreakOverlap):
        await ledger.create(clash, clock.now())
    assert (await ledger.ledger("news")).total == 2
    assert [r.event_id for r in await ledger.records("news")] == ["1"]
    # racing writers: many monitors create the same break at once -> one record, counted once
    other = plan_break(
        "news", "3", "scte35", start + 20, 6, pod(6), grid_at(origin, clock.now()), clock.now()
    )
    results = await asyncio.gather(*(ledger.create(other, clock.now()) for _ in range(8)))
    assert sum(created for _, created in results) == 1
    assert (await ledger.ledger("news")).total == 4


async def test_record_ttl_outlives_every_window(kv, make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    ledger = BreakLedger(kv, lambda channel: Retention(window=12))
    start = tl.start(tl.in_production(clock.now()) + 3)
    record, _ = await ledger.create(
        plan_break(
            "news", "1", "scte35", start, 10, pod(10), grid_at(origin, clock.now()), clock.now()
        ),
        clock.now(),
    )
    clock.set(
        record.end + 12 + 2 + 100
    )  # its last slot left every window long ago, minus the margin
    assert await ledger.get("news", "1") is not None
    clock.advance(30)
    assert await ledger.get("news", "1") is None


async def test_update_is_compare_and_set(kv, make_channel, clock):
    origin = make_channel(break_every=0)
    tl = origin.timeline
    ledger = BreakLedger(kv, lambda channel: Retention(window=12))
    start = tl.start(tl.in_production(clock.now()) + 3)
    record, _ = await ledger.create(
        plan_break(
            "news",
            "1",
            "scte35",
            start,
            30,
            pod(10, 10, 10),
            grid_at(origin, clock.now()),
            clock.now(),
        ),
        clock.now(),
    )
    clock.set(start + 11.5)
    shortened = await ledger.update(
        record, shorten(record, grid_at(origin, clock.now()), clock.now()), clock.now()
    )
    assert (await ledger.ledger("news")).total == 3
    with pytest.raises(BreakError, match="changed meanwhile"):
        await ledger.update(
            record, shorten(record, grid_at(origin, clock.now()), clock.now()), clock.now()
        )
    assert await ledger.get("news", "1") == shortened


# ---------------------------------------------------------------- property: only the future changes


def published_view(origin, records, ledger: Ledger, now: float) -> dict[int, tuple]:
    """What a stitcher would make of every segment published at `now` (slot, return, DS offset)."""
    tl = origin.timeline
    view = {}
    for n in tl.window_range(now):
        pdt = tl.start(n)
        view[n] = (
            slot_at(records, pdt, D / 2),
            returns_at(records, pdt, D / 2),
            ledger.added_before(pdt, D / 2),
        )
    return view


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(["sqlite"]))
def test_the_ledger_never_changes_a_published_slot(make_channel, small_settings, seed, backend):
    """Random cues (pre-rolls, late detections, duplicates), cancels and early returns over an
    hour."""
    rng = random.Random(seed)
    origin = make_channel(break_every=0)
    clock = FakeClock(small_settings.origin.epoch + 86_400.5)

    async def scenario() -> int:
        with tempfile.TemporaryDirectory() as folder:
            kv = open_kv(f"sqlite://{Path(folder)}/kv.db", clock)
            ledger = BreakLedger(kv, lambda channel: Retention(window=12))
            first_seen: dict[int, tuple] = {}
            announced: dict[str, tuple] = {}
            withdrawn: set[str] = set()
            writes = 0
            try:
                for _ in range(1800):  # an hour in 2 s steps
                    clock.advance(rng.choice([0.5, 1.5, 2.0, 3.0]))
                    now = clock.now()
                    grid = grid_at(origin, now)
                    roll = rng.random()
                    if roll < 0.08:  # a cue: on time, with pre-roll, or detected late
                        start = now + rng.uniform(-20, 20)
                        durations = [rng.choice([2, 4, 10, 16]) for _ in range(rng.randint(0, 4))]
                        record = None
                        try:
                            record = plan_break(
                                "news",
                                str(rng.randint(1, 40)),
                                "scte35",
                                start,
                                rng.uniform(1, 40),
                                pod(*durations, slate=rng.choice([0, 3.3])),
                                grid,
                                now,
                            )
                            await ledger.create(record, now)
                            writes += 1
                        except BreakError:
                            pass
                    elif roll < 0.12:  # an early return or a cancel of any known break
                        records = await ledger.records("news")
                        if records:
                            target = rng.choice(records)
                            at = now + rng.uniform(-5, 30) if rng.random() < 0.5 else None
                            try:
                                await ledger.update(target, shorten(target, grid, now, at), now)
                                writes += 1
                            except BreakError:
                                pass
                    records = await ledger.records("news")
                    view = published_view(origin, records, await ledger.ledger("news"), now)
                    for n, seen in view.items():
                        assert first_seen.setdefault(n, seen) == seen, (
                            f"segment {n} changed after it was published"
                        )
                    newest_end = Grid.of(origin.media("hi", now), D).newest_end
                    # SGAI: an announced interstitial (its announcing segment is out) never changes
                    # (T4) but may be withdrawn
                    for record in records:
                        if newest_end > record.created:
                            # withdrawn before any of its slots was published (hls.js drops a future
                            # one)
                            if record.cancelled:
                                if (
                                    record.entry not in withdrawn
                                ):  # seen in the step that cancelled it
                                    assert record.ad_start > grid.anchor, (
                                        f"interstitial {record.entry} withdrawn after it began"
                                    )
                                    withdrawn.add(record.entry)
                                continue
                            shown = (record.ad_start, record.sgai_end)
                            assert announced.setdefault(record.entry, shown) == shown, (
                                f"interstitial {record.entry} changed"
                            )
            finally:
                await kv.close()
            return writes

    writes = asyncio.run(scenario())
    assert writes > 0
