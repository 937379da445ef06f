"""The origin's live timeline is a pure function of (clock, epoch, media): checked over hours."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from origin_emulator.timeline import DISCONTINUITY_JUMP_TICKS, Timeline
from stitcher.ts import PTS_MODULO

EPOCH = 1_767_225_600.0


def make(durations=(2.0, 2.0, 2.0, 2.0), window=6, every=0) -> Timeline:
    first = tuple(126_000 + round(sum(durations[:i]) * 90_000) for i in range(len(durations)))
    return Timeline(EPOCH, tuple(durations), first, window, every)


def test_segments_are_published_when_complete():
    t = make()
    assert t.last_published(EPOCH) == -1
    assert t.last_published(EPOCH + 1.999) == -1
    assert t.last_published(EPOCH + 2.0) == 0
    assert t.last_published(EPOCH + 7.5) == 2
    assert t.in_production(EPOCH + 7.5) == 3
    assert list(t.window_range(EPOCH + 100.0)) == list(range(44, 50))
    assert t.window_range(EPOCH - 5) == range(0, 0)


def test_window_advances_in_real_time_for_hours():
    t = make()
    previous = t.window_range(EPOCH + 20)
    for step in range(1, 4 * 3600):  # four hours, one look per second
        now = EPOCH + 20 + step
        window = t.window_range(now)
        assert len(window) == 6
        assert window.start >= previous.start and window.start - previous.start <= 1
        newest_end = t.end(window[-1])
        assert 0 <= now - newest_end < 2.0  # never behind live by a segment or more (T3)
        previous = window


def test_uneven_segment_durations_keep_pdt_contiguous():
    t = make(durations=(2.0, 1.96, 2.04, 2.0))
    for n in range(0, 200):
        assert t.end(n) == pytest.approx(t.start(n + 1))
        assert t.published_count(t.end(n)) == n + 1
        assert t.published_count(t.end(n) - 0.001) == n
    assert t.target_duration == 2


def test_loop_wrap_offsets_are_continuous():
    t = make()
    for n in range(0, 40):
        assert t.pts(n + 1) - t.pts(n) == 180_000  # every segment 2 s later, across every wrap
    far = 10**7  # loop offsets wrap modulo 2^33 as real broadcast PTS do
    assert (t.pts(far + 1) - t.pts(far)) % PTS_MODULO == 180_000


def test_injected_discontinuities_number_like_r7_and_r8():
    t = make(every=5)
    assert [n for n in range(0, 16) if t.discontinuity(n)] == [5, 10, 15]
    for first in range(0, 30):
        # DISCONTINUITY-SEQUENCE + tags seen inside the window = each segment's number
        number = t.discontinuity_sequence(first)
        for n in range(first, first + 6):
            if t.discontinuity(n):
                number += 1
            assert number == t.discontinuity_number(n)
    assert t.pts(5) - t.pts(4) == 180_000 + DISCONTINUITY_JUMP_TICKS


def test_availability_r12():
    t = make()
    now = EPOCH + 1000.5
    last = t.last_published(now)
    assert t.available(last, now)
    assert not t.available(last + 1, now)  # not published yet
    left = t.window_range(now).start - 1  # just left the window
    assert t.available(left, now)
    # available until (left the window) + its duration + the window duration
    n = 100
    gone = t.end(n + t.window) + t.duration(n) + t.window_seconds
    assert t.available(n, gone)
    assert not t.available(n, gone + 0.01)


@settings(max_examples=200)
@given(st.floats(min_value=0, max_value=10 * 86400), st.floats(min_value=0.5, max_value=60))
def test_splice_boundaries(after, duration):
    t = make()
    start = t.first_at_or_after(EPOCH + after)
    assert t.start(start) >= EPOCH + after - 1e-6
    assert t.start(start - 1) < EPOCH + after
    end = t.snap_end(start, duration)
    assert end > start
    actual = t.start(end) - t.start(start)
    assert abs(actual - duration) <= 1.0 + 1e-6 or (end == start + 1 and duration < 2)
