"""`stitcher.served`: what one replica renders of the shared break view once it has served
segments the view did not know of (pure; on a grid of 2 s segments, no I/O)."""

from __future__ import annotations

from stitcher.breaks import Grid, Ledger, plan_break
from stitcher.modes import BreakView
from stitcher.served import CATCH_UP, Served
from tests.test_breaks import pod

D = 2.0
T0 = 1_000_000.0  # a segment boundary
GRID = Grid(T0 - D, T0, D)  # the newest segment ends at T0


def starts(first: float, count: int = 6) -> list[float]:
    return [first + i * D for i in range(count)]


def shared(*records) -> BreakView:
    ledger = Ledger()
    for record in records:
        ledger = ledger.with_break(record, 0.0)
    return BreakView(tuple(records), ledger)


def a_break(ads: tuple[float, ...] = (4.0, 4.0)):
    """Two 4 s ads in a 10 s break at T0, from T0 + 2 (the slot after next, as a writer at T0
    plans it) to T0 + 10."""
    return plan_break("news", "e1", "manual", T0, 10.0, pod(*ads), GRID, T0)


def test_a_replica_that_read_the_break_in_time_renders_the_shared_view():
    served, record = Served(), a_break()
    served.served(T0)
    view = shared(record)
    rendering = served.view(view, GRID, starts(T0 - 10), T0, D / 2)
    assert rendering.view is view and rendering.extra == {} and rendering.late == ()


def test_a_fresh_replica_renders_the_shared_view():
    view = shared(a_break())
    rendering = Served().view(view, GRID, starts(T0 + 4), T0 + 6, D / 2)
    assert rendering.view is view and not rendering.late


def test_a_break_learnt_of_late_plays_from_the_first_slot_not_served_and_repays_its_debt():
    served, record = Served(), a_break()
    assert record.ad_start == T0 + 2 and record.points == (T0 + 2, T0 + 6, T0 + 10)
    served.served(T0 + 4)  # the slot at T0 + 2 went out as content: the view did not hold it
    rendering = served.view(shared(record), GRID, starts(T0 - 6), T0 + 4, D / 2)
    (mine,) = rendering.view.records
    assert rendering.late == (record,)
    assert mine.ad_start == T0 + 4 and mine.points == (T0 + 4, T0 + 8, T0 + 10)  # pod from item 0
    assert rendering.view.ledger.total == record.discontinuities  # same count: nothing owed
    assert rendering.extra == {}


def test_a_break_over_before_it_was_learnt_of_is_not_played_and_its_discontinuities_are_repaid():
    served, record = Served(), a_break()
    served.served(T0 + 12)  # the whole break went out as content
    window = starts(T0 + 2)  # T0+2 .. T0+12: the last one not served yet
    rendering = served.view(shared(record), GRID, window, T0 + 12, D / 2)
    (mine,) = rendering.view.records
    assert mine.points == () and record.entry not in rendering.view.ledger.breaks
    # the three discontinuities never rendered go on the first segment not served yet
    assert rendering.extra == {T0 + 12: 3}
    assert rendering.view.ledger.breaks[CATCH_UP]["points"] == [T0 + 12] * 3
    assert rendering.view.ledger.total == 3
    # later windows: the extra tags stay where they are, then leave with the window
    served.served(T0 + 14)
    again = served.view(shared(record), GRID, starts(T0 + 4), T0 + 14, D / 2)
    assert again.extra == {T0 + 12: 3} and again.view.ledger.total == 3
    gone = served.view(shared(record), GRID, starts(T0 + 14), T0 + 26, D / 2)
    assert gone.extra == {} and gone.view.ledger.total == 3
    assert gone.view.ledger.added_before(T0 + 14, D / 2) == 3  # as the shared view counts


def test_a_break_passed_through_while_absent_from_the_view_keeps_its_served_slots():
    served, record = Served(), a_break()
    served.served(T0)
    served.view(shared(record), GRID, starts(T0 - 10), T0, D / 2)  # known, in time
    served.view(shared(), GRID, starts(T0 - 8), T0 + 2, D / 2)  # then gone (degraded)
    served.served(T0 + 6)  # T0+2 and T0+4 went out as content
    rendering = served.view(shared(record), GRID, starts(T0 - 4), T0 + 6, D / 2)
    (mine,) = rendering.view.records
    assert mine.ad_start == T0 + 6 and mine.points == (T0 + 6, T0 + 10)
    assert rendering.extra == {}  # owed one, but the next segments are the break's slots
    assert rendering.view.ledger.total == 2
    served.served(T0 + 10)
    after = served.view(shared(record), GRID, starts(T0 + 2), T0 + 10, D / 2)
    assert after.extra == {T0 + 10: 1}  # the return: the first content segment not served
    assert after.view.ledger.total == 3 == record.discontinuities
