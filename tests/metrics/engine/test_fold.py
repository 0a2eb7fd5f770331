"""CellFold: means and medians of longer periods from what the days' queries kept, across chunks of days."""

import datetime as dt
from decimal import Decimal

from metrics.engine.fold import CellFold
from metrics.engine.measures import MeasureSpec
from metrics.engine.queries import Window

D = dt.date
MEDIAN = MeasureSpec(source="orders", aggregate="median", field="amount", date_field="ordered_at")
MEAN = MeasureSpec(source="orders", aggregate="avg", field="amount", date_field="ordered_at")
TEAM = 1


def test_means_and_medians_of_weeks_months_and_quarters_add_up_from_the_days_kept_across_chunks():
    # given the raw amounts a median read, and the exact partials a mean read, on four days around the end of
    # January 2026, computed in two chunks (31 January is a Saturday: the week of 26 January spans both)
    fold = CellFold()
    median_days = {
        (TEAM, D(2026, 1, 30)): {"": [5, 1.0]},
        (TEAM, D(2026, 1, 31)): {"": [3]},
        (TEAM, D(2026, 2, 1)): {"": [10, 2]},
        (TEAM, D(2026, 2, 2)): {"": [8.0, 7]},
    }
    mean_days = {
        (TEAM, D(2026, 1, 30)): {"": {"s": Decimal("10.50"), "n": 2}},
        (TEAM, D(2026, 1, 31)): {"": {"s": None, "n": 0}},  # orders without an amount: a cell, no value
        (TEAM, D(2026, 2, 1)): {"": {"s": Decimal("4.50"), "n": 1}},
    }
    for chunk in ([D(2026, 1, 30), D(2026, 1, 31)], [D(2026, 2, 1), D(2026, 2, 2)]):
        kept = {
            (MEDIAN, None): {cell: v for cell, v in median_days.items() if cell[1] in chunk},
            (MEAN, None): {cell: v for cell, v in mean_days.items() if cell[1] in chunk},
        }
        fold.add(granularity="day", periods=chunk, results={}, shares={}, kept=kept)
    fold.complete("day")
    wanted = [(MEDIAN, None), (MEAN, None)]

    # then the weeks: 1, 2, 3, 5, 10 → 3; 7, 8 → 7.5 (the mean of the middle two); (10.50 + 4.50) / 3 = 5
    weeks, _, _ = fold.cells(wanted=wanted, window=Window("week", (D(2026, 1, 26), D(2026, 2, 2))))
    week_26, week_2 = (TEAM, D(2026, 1, 26)), (TEAM, D(2026, 2, 2))
    assert weeks[(MEDIAN, None)] == {week_26: {"": Decimal("3")}, week_2: {"": Decimal("7.5")}}
    assert weeks[(MEAN, None)] == {week_26: {"": Decimal("5")}}
    # and the months: 1, 3, 5 → 3 and 2, 7, 8, 10 → 7.5; 10.50 / 2 and 4.50 / 1
    months, _, kept = fold.cells(wanted=wanted, window=Window("month", (D(2026, 1, 1), D(2026, 2, 1))))
    january, february = (TEAM, D(2026, 1, 1)), (TEAM, D(2026, 2, 1))
    assert months[(MEDIAN, None)] == {january: {"": Decimal("3")}, february: {"": Decimal("7.5")}}
    assert months[(MEAN, None)] == {january: {"": Decimal("5.25")}, february: {"": Decimal("4.5")}}
    # and the days' own values are left as they were (each longer period holds values of its own)
    assert sorted(median_days[(TEAM, D(2026, 1, 30))][""]) == [1, 5]
    assert mean_days[(TEAM, D(2026, 1, 30))][""] == {"s": Decimal("10.50"), "n": 2}

    # when the months are folded in turn, the quarter is 1, 2, 3, 5, 7, 8, 10 → 5 and 15.00 / 3 = 5
    fold.add(granularity="month", periods=[D(2026, 1, 1), D(2026, 2, 1)], results={}, shares={}, kept=kept)
    fold.complete("month")
    quarters, _, _ = fold.cells(wanted=wanted, window=Window("quarter", (D(2026, 1, 1),)))
    quarter = (TEAM, D(2026, 1, 1))
    assert quarters == {(MEDIAN, None): {quarter: {"": Decimal("5")}}, (MEAN, None): {quarter: {"": Decimal("5")}}}
