"""Hours of origin timeline under a fake clock: every reload of every viewer passes the validator.

Three viewers join at different times and reload both variants; scheduled breaks, QA splices
(every format and command, random durations and pre-rolls), early returns and cancels happen
throughout; some channels inject origin discontinuities. Every playlist goes through the
project's validator (R1-R14, P1-P4, D1-D9, T1-T3) against every other playlist seen.
"""

from __future__ import annotations

import random

import pytest

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from origin_emulator.splices import SpliceError
from rig.validator import Checker


def soak(channel, clock, hours: float, seed: int) -> Checker:
    checker = Checker()
    rng = random.Random(seed)
    base = f"http://origin.test/{channel.name}"
    checker.observe_master(f"{base}/master.m3u8", channel.master().render(), clock.now())
    joined = [0.0, 7.3, 13.9]  # seconds after the start at which each viewer joins
    start = clock.now()
    posted: list[int] = []
    step, round_id = 0.5, 0
    while clock.now() - start < hours * 3600:
        clock.advance(step)
        now = clock.now()
        if rng.random() < 1 / 80:  # a QA splice about every 40 s of stream
            try:
                splice = channel.post_splice(
                    now,
                    rng.uniform(1, 25),
                    rng.uniform(0, 12),
                    rng.choice(CUE_FORMATS),
                    rng.choice(CUE_COMMANDS),
                )
                posted.append(splice.event_id)
            except SpliceError as exc:
                assert exc.status == 409  # only overlaps may be refused
        if posted and rng.random() < 1 / 60:  # return to network early, or cancel
            try:
                channel.delete_splice(rng.choice(posted), now)
            except (SpliceError, LookupError):
                pass
        viewer = int(now / step) % 3
        if now - start < joined[viewer]:
            continue
        round_id += 1
        for variant in ("hi", "lo"):
            text = channel.media(variant, now).render()
            checker.observe_media(
                f"{base}/{variant}/index.m3u8", text, now, viewer=f"v{viewer}", round_id=round_id
            )
    return checker


@pytest.mark.parametrize(
    "fmt, command, discontinuity_every, hours",
    [
        ("daterange", "splice_insert", 0, 2.0),
        ("daterange", "time_signal", 7, 0.5),
        ("cue-out", "time_signal", 0, 0.5),
        ("oatcls", "splice_insert", 11, 0.5),
        ("scte35", "time_signal", 0, 0.5),
    ],
)
def test_hours_of_origin_stream_are_clean(
    make_channel, clock, fmt, command, discontinuity_every, hours
):
    channel = make_channel(
        cue_format=fmt, cue_command=command, discontinuity_every=discontinuity_every
    )
    checker = soak(channel, clock, hours, seed=hash((fmt, command)) & 0xFFFF)
    summary = checker.summary()
    assert summary["violations"] == 0, [v.line() for v in checker.violations[:10]]
    assert summary["playlists_checked"] >= hours * 3600 / 0.5 * 2 * 0.9
    breaks = [s for s in channel.splices(clock.now(), since=clock.now() - hours * 3600)]
    assert len(breaks) >= hours * 60  # scheduled (every 60 s) and QA splices happened


def test_the_checker_sees_a_broken_origin(make_channel, clock):
    """The soak can fail: a window that loses a segment's discontinuity tag is caught."""
    channel = make_channel(discontinuity_every=5)
    checker = Checker()
    url = "http://origin.test/news/hi/index.m3u8"
    for _ in range(20):
        clock.advance(1.0)
        playlist = channel.media("hi", clock.now())
        text = playlist.render().replace("#EXT-X-DISCONTINUITY\n", "", 1)
        checker.observe_media(url, text, clock.now(), viewer="v")
    assert {v.rule for v in checker.violations} & {"T1", "R14", "P2"}
