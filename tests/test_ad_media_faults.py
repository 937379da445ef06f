"""Ad media that cannot be read changes nothing already served and fails no viewer request (T7).

The whole stack on loopback on a fake clock (tests/stitcher_stack.py) with a fault in front of the
real media server: its ad and slate playlists fail (an HTTP error or a dropped connection) for one
rung or for all of them, from before a break is recorded until some time into it, then recover.
Viewers poll the master and every variant; every playlist goes into the project's validator (T1 per
variant: URI, EXTINF, discontinuity number and PDT of every media sequence number) and every
answer must be 200. Before the fix such a break answered 502 on the failing rung while its ad
playlist could not be read. A hypothesis test then fails media-server requests at random, per URL
and per request, through minutes of random breaks in every cue format.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from rig.validator import Checker
from stitcher.clock import FakeClock
from stitcher.kv import open_kv
from tests.driving import random_qa_cues
from tests.stitcher_stack import make_stack

VARIANTS = ("hi", "lo")


class Outage:
    """Which media-server requests fail: playlists of `rung` ("all": every rung) while `on`."""

    def __init__(self, rung: str, how: object = 503, rate: float = 1.0, seed: int = 0):
        self.rung, self.how, self.rate, self.on = rung, how, rate, False
        self.rng = random.Random(seed)
        self.failed = 0

    def __call__(self, request):
        if not self.on or not request.path.endswith(".m3u8"):
            return None
        if self.rung != "all" and f"/{self.rung}/" not in request.path:
            return None
        if self.rng.random() >= self.rate:
            return None
        self.failed += 1
        return self.how


async def watch(
    stack, checker: Checker, now: float, viewer: str, statuses: Counter, seen: dict[str, set[str]]
) -> None:
    """One viewer's round: the master and every variant, into the validator."""
    response = await stack.client.get("/ssai/news/master.m3u8")
    statuses[response.status] += 1
    checker.observe_master(
        "http://stitcher.test/ssai/news/master.m3u8", await response.text(), now, viewer=viewer
    )
    for variant in VARIANTS:
        response = await stack.client.get(f"/ssai/news/{variant}.m3u8")
        text = await response.text()
        statuses[response.status] += 1
        if response.status != 200:
            continue
        checker.observe_media(
            f"http://stitcher.test/ssai/news/{variant}.m3u8", text, now, viewer=viewer
        )
        seen[variant] |= {
            line.split("/")[4]
            for line in text.splitlines()
            if "/ads/" in line and not line.startswith("#")
        }


async def metric(stack, name: str) -> float:
    text = await (await stack.client.get("/metrics")).text()
    return sum(float(line.split(" ")[1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.parametrize("cue_format", CUE_FORMATS)
@pytest.mark.parametrize(
    "rung,how,until",
    [("hi", 503, 3.0), ("hi", "drop", 8.0), ("all", "drop", 8.0), ("hi", 404, 3.0)],
    ids=["hi-short", "hi-long", "all-long", "hi-missing"],
)
async def test_an_unreadable_ad_playlist_changes_no_number_and_fails_no_request(
    cue_format,
    rung,
    how,
    until,
    aiohttp_server,
    aiohttp_client,
    make_channel,
    clock,
    kv,
    tmp_path,
    small_settings,
    small_content,
):
    """The outage starts before the break is recorded and ends `until` seconds after its first slot
    starts (the origin publishes it 2 s later): short, the variant answers its last good output
    meanwhile and then plays the ads; long, the item's slots of that variant get the slate and keep
    it after recovery; a 404 (the ad does not exist), however short, gets them the slate at once.
    Either way every segment keeps its URI and number, and no request fails."""
    outage = Outage(rung, how)
    stack = await make_stack(
        aiohttp_server,
        aiohttp_client,
        make_channel(break_every=0, cue_format=cue_format),
        clock,
        kv,
        tmp_path,
        small_settings,
        small_content,
        media_faults=outage,
    )
    try:
        checker, statuses = Checker(), Counter()
        seen = {v: set() for v in VARIANTS}
        start = clock.now()
        splice, first_slot = None, None
        while clock.now() - start < 60:
            clock.advance(0.5)
            now = clock.now()
            if splice is None and now - start >= 6:
                outage.on = True
                splice = stack.origin.post_splice(now, 12, 8, cue_format, CUE_COMMANDS[0])
                first_slot = stack.origin.timeline.start(splice.start)
            if splice is not None and outage.on and now >= first_slot + until:
                outage.on = False
            if round(now * 2) % 2 == 0:
                await stack.monitor.poll(stack.channel)
            await watch(stack, checker, now, f"v{int(now * 2) % 3}", statuses, seen)
        assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
        assert set(statuses) == {200}, statuses
        assert outage.failed > 0
        healthy = [v for v in VARIANTS if rung != "all" and v != rung]
        for variant in healthy:
            assert seen[variant] & {"house-1", "house-2"}, seen  # the break was stitched
        stand_ins = await metric(stack, 'stitcher_errors_total{kind="ad_playlist_stand_in"}')
        if how == 404:
            missing = await metric(stack, 'stitcher_errors_total{kind="ad_playlist_missing"}')
            assert missing > 0 and not seen[rung] & {"house-1", "house-2"}, seen
        elif until <= 3.0:
            assert stand_ins == 0 and seen[rung] & {"house-1", "house-2"}, (
                seen
            )  # the last good output bridged it
        else:
            assert stand_ins > 0
    finally:
        await stack.session.close()
        stack.catalog.close()


# --------------------------------------------------------------------------- random faults


async def _random_run(
    seed: int, rate: float, how: object, small_settings, small_content, make_channel, directory
) -> tuple[Checker, Counter, int]:
    clock = FakeClock(small_settings.origin.epoch + 86_400.5)
    kv = open_kv(f"sqlite:///{directory}/kv.db", clock)
    await kv.start()
    servers: list = []

    async def server(app):
        s = TestServer(app)
        await s.start_server()
        servers.append(s)
        return s

    async def client(app):
        c = TestClient(TestServer(app))
        await c.start_server()
        servers.append(c)
        return c

    outage = Outage("all", how, rate, seed)
    stack = await make_stack(
        server,
        client,
        make_channel(break_every=0),
        clock,
        kv,
        directory,
        small_settings,
        small_content,
        media_faults=outage,
    )
    rng = random.Random(seed)
    checker, statuses = Checker(), Counter()
    seen = {v: set() for v in VARIANTS}
    posted: list = []
    try:
        start = clock.now()
        while clock.now() - start < 4 * 60:
            clock.advance(0.5)
            now = clock.now()
            outage.on = (
                rng.random() < 0.5 if int(now) % 10 == 0 else outage.on
            )  # outages of ~10 s, on and off
            random_qa_cues(
                rng,
                stack.origin,
                now,
                posted,
                1 / 30,
                1 / 200,
                durations=(8, 12),
                prerolls=(0, 4, 8),
            )
            if rng.random() < 1 / 80:
                await stack.client.post(
                    "/v1/channels/news/cue", json={"duration": rng.choice([6, 10])}
                )
            if round(now * 2) % 2 == 0:
                await stack.monitor.poll(stack.channel)
            await watch(stack, checker, now, f"v{int(now * 2) % 3}", statuses, seen)
    finally:
        await stack.session.close()
        stack.catalog.close()
        for s in reversed(servers):
            await s.close()
        await kv.close()
    return checker, statuses, outage.failed


def test_random_ad_media_failures_never_change_what_was_served(
    small_settings, small_content, make_channel, tmp_path_factory
):
    """Random failures per URL and per request (HTTP errors or dropped connections, any rate), four
    minutes of random breaks in every cue format: 0 violations, every answer 200."""
    failures = []

    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.integers(0, 2**16),
        st.sampled_from([0.3, 0.7, 1.0]),
        st.sampled_from([502, 503, 404, "drop"]),
    )
    def run(seed, rate, how):
        checker, statuses, failed = asyncio.run(
            _random_run(
                seed,
                rate,
                how,
                small_settings,
                small_content,
                make_channel,
                tmp_path_factory.mktemp("faults"),
            )
        )
        failures.append(failed)
        assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
        assert set(statuses) == {200}, statuses

    run()
    assert sum(failures) > 0  # the faults really happened
