"""Shares of longer periods (metrics.engine.shares): days and months store, for distinct counts and `in_period`
measures, their part of each longer period; an incremental recompute adds them up instead of rescanning."""

import dataclasses
import datetime as dt
import random
from collections import defaultdict

import pytest
import time_machine

from metrics.activity.ingest import activity_ingest
from metrics.engine.compute import KpiPlan
from metrics.engine.hierarchy import team_closure_sync
from metrics.engine.periods import period_floor, period_starts
from metrics.engine.queries import Window
from metrics.engine.shares import shares_compute
from metrics.models import KpiDefinition, KpiValue
from metrics.recompute.services import dirty_marks_recompute, kpi_values_recompute
from tests.metrics.kpi_support import at, customer, order, q

pytestmark = pytest.mark.usefixtures("catalogue")


D = dt.date
TODAY = dt.datetime(2026, 4, 10, 12, tzinfo=dt.UTC)


def shares(code: str, team, granularity: str, period: dt.date, segment: str = "") -> dict:
    return KpiValue.objects.get(
        kpi__code=code, team=team, granularity=granularity, period_start=period, segment=segment
    ).shares


def first_quarter(team):
    """A orders on 5 and 20 January and 3 March (web, store, web); B on 10 and 11 February (web)."""
    a = customer(team, at(2025, 6, 1), segment="smb")
    b = customer(team, at(2025, 6, 1), segment="smb")
    order(team, at(2026, 1, 5, 10), "10.00", customer=a, channel="web")
    order(team, at(2026, 1, 20, 10), "10.00", customer=a, channel="store")
    order(team, at(2026, 2, 10, 10), "10.00", customer=b, channel="web")
    order(team, at(2026, 2, 11, 10), "10.00", customer=b, channel="web")
    order(team, at(2026, 3, 3, 10), "10.00", customer=a, channel="web")
    return a, b


@time_machine.travel(TODAY, tick=False)
def test_days_and_months_store_their_share_of_each_longer_period_s_distinct_counts(make_team):
    team = make_team("sales")
    first_quarter(team)
    kpi_values_recompute(start=D(2026, 1, 1), end=D(2026, 4, 1), notify=False)
    # A buyer counts in the period in which their first order of the longer period falls: A's first order of
    # January, of the quarter and of the year is on 5 January; of March, on 3 March; B's on 10 February.
    assert shares("buying_customers", team, "day", D(2026, 1, 5)) == {
        "buying_customers@week": 1, "buying_customers@month": 1,
        "buying_customers@quarter": 1, "buying_customers@year": 1,
    }  # fmt: skip
    assert shares("buying_customers", team, "day", D(2026, 1, 20))["buying_customers@year"] == 0
    assert shares("buying_customers", team, "day", D(2026, 3, 3))["buying_customers@month"] == 1
    assert shares("buying_customers", team, "day", D(2026, 3, 3))["buying_customers@year"] == 0
    # A repeat buyer counts where their second order falls: A on 20 January, B on 11 February.
    assert shares("repeat_purchase_rate", team, "day", D(2026, 1, 20))["repeat_customers@year"] == 1
    assert shares("repeat_purchase_rate", team, "day", D(2026, 2, 11))["repeat_customers@quarter"] == 1
    assert shares("repeat_purchase_rate", team, "day", D(2026, 2, 10))["repeat_customers@quarter"] == 0
    # Months: January holds A, February B, March nobody new to the year (A was already counted).
    assert [shares("buying_customers", team, "month", D(2026, m, 1))["buying_customers@year"] for m in (1, 2, 3)] == [
        1,
        1,
        0,
    ]
    # Per channel: A's first web order of the year is on 5 January, their first store order on 20 January.
    assert shares("buying_customers", team, "day", D(2026, 1, 20), "channel=store")["buying_customers@year"] == 1
    assert shares("buying_customers", team, "day", D(2026, 3, 3), "channel=web")["buying_customers@year"] == 0
    # and the sums are the distinct counts: 2 buyers and 2 repeat buyers in the quarter (A: 3 orders, B: 2)
    quarter = KpiValue.objects.get(
        kpi__code="repeat_purchase_rate", team=team, granularity="quarter", period_start=D(2026, 1, 1), segment=""
    )
    assert quarter.components == {"buying_customers": 2, "repeat_customers": 2}


@time_machine.travel(TODAY, tick=False)
def test_an_incremental_recompute_adds_up_the_stored_shares_instead_of_rescanning(make_team):
    # given the first quarter recomputed, then January's stored share of the year altered by hand
    team = make_team("sales")
    first_quarter(team)
    kpi_values_recompute(start=D(2026, 1, 1), end=D(2026, 4, 1), notify=False)
    january = KpiValue.objects.filter(
        kpi__code="buying_customers", team=team, granularity="month", period_start=D(2026, 1, 1), segment=""
    )
    january.update(shares={**january.get().shares, "buying_customers@year": 40})
    # when a new customer's order of 2 March is ingested and the dirty marks recomputed
    newcomer = customer(team, at(2025, 6, 1))
    type(newcomer).objects.filter(pk=newcomer.pk).update(external_id="C-NEW")
    activity_ingest(
        kind="orders",
        records=[{"external_id": "N-1", "ordered_at": "2026-03-02T10:00:00+01:00", "amount": "5.00",
                  "customer": "C-NEW"}],
        default_team_id=team.pk,
        writable_team_ids=None,
    )  # fmt: skip
    dirty_marks_recompute()
    # then the year's buyers are January's stored 40 + February's 1 (B) + March's 1 (the new customer; A was
    # counted in January), not a rescan of the orders (which would give 3)
    year = KpiValue.objects.get(
        kpi__code="buying_customers", team=team, granularity="year", period_start=D(2026, 1, 1), segment=""
    )
    assert year.value == q(42)
    # and March itself, recomputed from its days, has both its buyers: A (3 March) and the new customer
    assert KpiValue.objects.get(
        kpi__code="buying_customers", team=team, granularity="month", period_start=D(2026, 3, 1), segment=""
    ).value == q(2)


@time_machine.travel(TODAY, tick=False)
def test_in_period_measures_store_each_day_s_part_of_the_longer_period(make_team):
    # given a customer acquired on 20 January 2026 who orders on 25 January, 2 February and 1 March
    team = make_team("sales")
    new = customer(team, at(2026, 1, 20))
    for when in (at(2026, 1, 25), at(2026, 2, 2), at(2026, 3, 1)):
        order(team, when, "100.00", customer=new, channel="web")
    kpi_values_recompute(start=D(2026, 1, 1), end=D(2026, 4, 1), notify=False)
    # then 2 February's order is revenue from a customer acquired in the same quarter and year, not month
    feb = shares("new_net_revenue", team, "day", D(2026, 2, 2))
    assert (feb["new_net_revenue@month"], feb["new_net_revenue@quarter"], feb["new_net_revenue@year"]) == (0, 100, 100)
    # and the quarter's new-customer revenue is the three orders: 300
    assert KpiValue.objects.get(
        kpi__code="new_net_revenue", team=team, granularity="quarter", period_start=D(2026, 1, 1), segment=""
    ).value == q(300)


def test_the_shares_of_two_adjacent_windows_add_up_to_every_longer_period_s_distinct_counts(make_team):
    # given 90 completed orders drawn at random over the first half of 2026 (some at the same instant, some
    # without a customer), by 6 customers of 2 segments (one customer without) through 2 channels
    team = make_team("sales")
    rng = random.Random(7)
    people = [customer(team, at(2025, 6, 1), segment=segment) for segment in ("smb", "smb", "pme", "pme", "pme", "")]
    placed = []
    for _ in range(90):
        day = D(2026, 1, 1) + dt.timedelta(days=rng.randrange(181))
        who, channel = rng.choice([*people, None]), rng.choice(["web", "store"])
        order(team, at(day.year, day.month, day.day, rng.choice([9, 9, 23])), "10.00", customer=who, channel=channel)
        placed.append((day, who, channel))
    team_closure_sync()
    buyers = KpiPlan.of(KpiDefinition.objects.get(code="buying_customers")).measures["buying_customers"]
    specs = [dataclasses.replace(buyers, min_count=n) for n in (1, 2, 3)]
    pairs = [(spec, dimension) for spec in specs for dimension in (None, "channel", "customer_segment")]
    # when the days' shares are computed over two windows split on Wednesday 11 March (the second one reads
    # the history of its customers from 1 January)
    split, end = D(2026, 3, 11), D(2026, 7, 1)
    windows = [
        Window("day", tuple(period_starts(start=a, end=b, granularity="day")))
        for a, b in ((D(2026, 1, 1), split), (split, end))
    ]
    computed = [shares_compute(pairs=pairs, window=window, target_ids=[team.pk]) for window in windows]
    # then, summed over each week, month, quarter and year, they are the number of customers with at least n
    # orders in that period (in that channel, or of that segment, for the segment rows; no segment row for the
    # customer without one), counted here from the orders placed
    for spec, dimension in pairs:
        for granularity in ("week", "month", "quarter", "year"):
            summed: dict = defaultdict(int)
            for shares in computed:
                for (_, day), segments in shares[(spec, dimension)][granularity].items():
                    for segment, share in segments.items():
                        summed[(period_floor(day, granularity), segment)] += share
            counted: dict = defaultdict(lambda: defaultdict(int))
            for day, who, channel in placed:
                segment = {None: "", "channel": channel, "customer_segment": who and who.segment}[dimension]
                if who is not None and (segment or not dimension):
                    counted[(period_floor(day, granularity), segment)][who.pk] += 1
            expected = {
                key: sum(n >= spec.min_count for n in by_customer.values()) for key, by_customer in counted.items()
            }
            assert {k: v for k, v in summed.items() if v} == {k: v for k, v in expected.items() if v}, (
                spec.min_count,
                dimension,
                granularity,
            )
