"""`rig.bench.fleet.Joining`: how many of the validating fleet's viewers are watching during a cell
(they join at uniformly random moments of the join spread and watch to the end), which the per
viewer-minute figures of the edge's cells count beside wrk's viewers."""

from __future__ import annotations

import bisect
import random

import pytest

from rig.bench.fleet import Joining


def test_the_average_follows_the_joins():
    joining = Joining(started=100.0, spread=10.0, viewers=100)
    assert joining.average(100.0, 110.0) == pytest.approx(50.0)  # joining: half, on average
    assert joining.average(110.0, 130.0) == pytest.approx(100.0)  # all joined
    assert joining.average(105.0, 115.0) == pytest.approx(87.5)
    assert joining.average(90.0, 100.0) == 0.0  # before the fleet started
    assert joining.average(120.0, 120.0) == 0.0  # an empty interval


def test_the_average_matches_simulated_joins():
    rng = random.Random(7)
    joins = sorted(rng.uniform(0.0, 40.0) for _ in range(100_000))
    joining = Joining(started=0.0, spread=40.0, viewers=len(joins))
    for start, end in [(0.0, 20.0), (10.0, 30.0), (35.0, 55.0)]:
        steps = [start + (end - start) * (k + 0.5) / 400 for k in range(400)]
        simulated = sum(bisect.bisect_right(joins, t) for t in steps) / len(steps)
        assert joining.average(start, end) == pytest.approx(simulated, rel=0.02)


def test_without_a_spread_everyone_is_there_at_once():
    assert Joining(started=0.0, spread=0.0, viewers=30).average(1.0, 2.0) == pytest.approx(30.0)
