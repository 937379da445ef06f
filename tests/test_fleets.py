"""Simulated viewers of the stream on screen (rig.fleets): one fleet per channel and mode, on the
real stitcher stack and a fake clock."""

from __future__ import annotations

import asyncio

from rig.fleets import Fleets, label


def test_label():
    assert label("http://127.0.0.1:8080/sgai/news/master.m3u8") == "news/sgai"


async def test_viewers_follow_the_stream_on_screen(stack, clock):
    base = str(stack.client.make_url("")).rstrip("/")
    shown = {"mode": "ssai"}
    stop = asyncio.Event()
    fleets = Fleets(stack.session, clock, lambda: f"{base}/{shown['mode']}/news/master.m3u8", stop)
    sleepers = clock.sleepers  # the KV's sweeper waits on the clock too

    async def scenario() -> None:
        fleets.add(2)
        await clock.sleep(20)
        shown["mode"] = "sgai"
        fleets.add(1)
        await clock.sleep(20)
        assert sorted(s.id.split(" ")[0] for s in fleets.snapshot()) == [
            "news/sgai",
            "news/ssai",
            "news/ssai",
        ]
        assert all(
            s.state in ("content", "ad", "slate") for s in fleets.snapshot()
        )  # joined and playing
        assert (
            fleets.remove(1)
            and [s.id.split(" ")[0] for s in fleets.snapshot()].count("news/sgai") == 0
        )
        assert fleets.remove(
            1
        )  # the stream on screen has none left: the last one that has gives one up
        assert [s.id.split(" ")[0] for s in fleets.snapshot()] == ["news/ssai"]
        stop.set()
        await fleets.close()

    task = asyncio.ensure_future(scenario())
    for _ in range(
        2_000_000
    ):  # fake time moves only while the scenario and every viewer wait on the clock
        if task.done():
            break
        watching = sum(1 for f in fleets.fleets.values() for v in f.viewers if v.left_at is None)
        if clock.sleepers >= sleepers + 1 + watching:
            clock.advance(0.25)
        await asyncio.sleep(0)
    task.result()
