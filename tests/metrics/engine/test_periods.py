"""Periods in Europe/Paris: calendar maths, and bucketing of instants around midnight and DST changes."""

import datetime as dt

import pytest

from metrics.engine.periods import (
    local_midnight,
    period_end,
    period_floor,
    period_shift,
    period_starts,
    utc_offset_changes,
)
from tests.metrics.kpi_support import at, order, q, values

D = dt.date


@pytest.mark.parametrize(
    ("day", "granularity", "floor", "end"),
    [
        (D(2026, 3, 29), "day", D(2026, 3, 29), D(2026, 3, 30)),
        (D(2026, 3, 29), "week", D(2026, 3, 23), D(2026, 3, 30)),  # a Sunday: its ISO week began on Monday 23
        (D(2026, 3, 30), "week", D(2026, 3, 30), D(2026, 4, 6)),
        (D(2026, 1, 1), "week", D(2025, 12, 29), D(2026, 1, 5)),  # ISO week 1 of 2026 starts in 2025
        (D(2026, 2, 28), "month", D(2026, 2, 1), D(2026, 3, 1)),
        (D(2026, 12, 31), "month", D(2026, 12, 1), D(2027, 1, 1)),
        (D(2026, 5, 17), "quarter", D(2026, 4, 1), D(2026, 7, 1)),
        (D(2026, 12, 31), "quarter", D(2026, 10, 1), D(2027, 1, 1)),
        (D(2026, 7, 4), "year", D(2026, 1, 1), D(2027, 1, 1)),
    ],
)
def test_period_floor_and_end(day, granularity, floor, end):
    assert period_floor(day, granularity) == floor
    assert period_end(floor, granularity) == end


def test_period_starts_cover_the_dates_half_open():
    assert period_starts(start=D(2026, 1, 15), end=D(2026, 3, 1), granularity="month") == [D(2026, 1, 1), D(2026, 2, 1)]
    assert period_starts(start=D(2026, 1, 15), end=D(2026, 3, 2), granularity="month") == [
        D(2026, 1, 1),
        D(2026, 2, 1),
        D(2026, 3, 1),
    ]
    assert period_starts(start=D(2026, 1, 1), end=D(2026, 1, 1), granularity="day") == []
    assert period_shift(D(2026, 1, 1), "quarter", -1) == D(2025, 10, 1)
    assert period_shift(D(2026, 3, 31), "month", 1) == D(2026, 4, 1)


def test_local_midnights_follow_dst():
    # 29 March 2026 lasts 23 hours in Paris, 25 October 2026 lasts 25 hours
    def utc(day):
        return local_midnight(day).astimezone(dt.UTC)

    assert utc(D(2026, 3, 30)) - utc(D(2026, 3, 29)) == dt.timedelta(hours=23)
    assert utc(D(2026, 10, 26)) - utc(D(2026, 10, 25)) == dt.timedelta(hours=25)
    assert local_midnight(D(2026, 3, 30)).utcoffset() == dt.timedelta(hours=2)


def test_days_around_the_spring_dst_change_are_bucketed_in_paris_time(catalogue, team_a):
    # given orders at 00:30 and 23:30 Paris time on 29 March 2026 (UTC+1 then UTC+2: 23:30 UTC on
    # 28 March and 21:30 UTC on 29 March), and one at midnight of 30 March (22:00 UTC on 29 March)
    order(team_a, at(2026, 3, 29, 0, 30), 1)
    order(team_a, at(2026, 3, 29, 23, 30), 2)
    order(team_a, at(2026, 3, 30), 4)
    # then 29 March holds 1 + 2 = 3, 30 March 4; the ISO week of 23 March holds 3 and that of 30 March 4
    days = values("revenue", team_a, granularity="day", start=D(2026, 3, 28), end=D(2026, 3, 31))
    assert days == {D(2026, 3, 28): q(0), D(2026, 3, 29): q(3), D(2026, 3, 30): q(4)}
    weeks = values("revenue", team_a, granularity="week", start=D(2026, 3, 23), end=D(2026, 4, 6))
    assert weeks == {D(2026, 3, 23): q(3), D(2026, 3, 30): q(4)}


def test_days_around_the_autumn_dst_change_are_bucketed_in_paris_time(catalogue, team_a):
    # given orders at 02:30 Paris on 25 October 2026 (happens twice: 00:30 and 01:30 UTC),
    # at 23:59 Paris (22:59 UTC) and at midnight of 26 October (23:00 UTC on the 25th)
    order(team_a, dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC), 1)
    order(team_a, dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC), 2)
    order(team_a, at(2026, 10, 25, 23, 59), 4)
    order(team_a, at(2026, 10, 26), 8)
    # then the 25-hour day holds 1 + 2 + 4 = 7, the 26th 8; October 7, November none
    days = values("revenue", team_a, granularity="day", start=D(2026, 10, 25), end=D(2026, 10, 27))
    assert days == {D(2026, 10, 25): q(7), D(2026, 10, 26): q(8)}
    assert values("orders", team_a, start=D(2026, 10, 1), end=D(2026, 12, 1)) == {
        D(2026, 10, 1): q(4),
        D(2026, 11, 1): q(0),
    }


def test_state_measures_on_dst_days(catalogue, team_a):
    from tests.metrics.kpi_support import customer

    # given a customer acquired at 23:30 Paris on 29 March 2026 (21:30 UTC) and churned at 00:30 on 30 March
    customer(team_a, at(2026, 3, 29, 23, 30), churned=at(2026, 3, 30, 0, 30))
    customer(team_a, at(2026, 3, 28, 12), churned=at(2026, 3, 30, 0, 30))
    # then on 29 March: one active at start (the second), both active at end; lost on 30 March: both
    active = values("active_customers", team_a, granularity="day", start=D(2026, 3, 28), end=D(2026, 3, 31))
    assert active == {D(2026, 3, 28): q(1), D(2026, 3, 29): q(2), D(2026, 3, 30): q(0)}
    churn = values("churn_rate", team_a, granularity="day", start=D(2026, 3, 29), end=D(2026, 3, 31))
    assert churn == {D(2026, 3, 29): q(0), D(2026, 3, 30): q(100)}


@pytest.mark.parametrize("years", [(2026, 2027), (1985, 1986), (2080, 2081)], ids=["recent", "1980s", "2080s"])
def test_local_period_of_an_instant_matches_the_zone_rules_around_each_offset_change(team_a, years):
    # given orders one second before, at, and one second after every Paris offset change of two years, in the
    # recent years (the short CASE on SQLite) and far from today (its whole tree)
    from zoneinfo import ZoneInfo

    from django.db.models import DateField

    from metrics.engine.queries import LocalTrunc
    from metrics.models import Order

    paris = ZoneInfo("Europe/Paris")
    _first, changes = utc_offset_changes("Europe/Paris", *years)
    assert len(changes) == 4
    instants = [
        (at_utc + dt.timedelta(seconds=shift)).replace(tzinfo=dt.UTC)
        for at_utc, _offset in changes
        for shift in (-1, 0, 1, 3600 * 21 + 30 * 60)  # and at 22:30 UTC, a day later in Paris in summer only
    ]
    for instant in instants:
        order(team_a, instant, 1)
    # then the day and month SQL gives each are those of Paris' rules (zoneinfo)
    for kind in ("day", "month"):
        found = dict(
            Order.objects.annotate(
                p=LocalTrunc("ordered_at", kind, output_field=DateField(), tzinfo=paris)
            ).values_list("ordered_at", "p")
        )
        for instant in instants:
            local = instant.astimezone(paris).date()
            assert found[instant] == (local if kind == "day" else local.replace(day=1)), (kind, instant)
