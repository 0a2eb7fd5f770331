"""Incremental recompute: after an ingest, the dirty-mark recompute (weeks and months combined from stored days,
quarters and years from stored months) stores exactly what a recompute from scratch stores."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from metrics.activity.ingest import activity_ingest
from metrics.engine.fold import CellFold
from metrics.models import DirtyMark, KpiDefinition, KpiValue
from metrics.recompute import services
from metrics.recompute.services import dirty_marks_recompute, kpi_values_recompute
from tests.metrics.kpi_support import at, customer, deal, lead, order, q, ticket

pytestmark = pytest.mark.usefixtures("catalogue")


D = dt.date
# Stored cells from October 2025 to June 2026: the quarters and years around them are only partly stored
# as months, so the incremental path also reads records for the months it lacks.
START, END = D(2025, 10, 1), D(2026, 7, 1)
TODAY = dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC)


def snapshot() -> dict:
    """Every stored cell: (kpi, team, granularity, period, segment) → (value, components)."""
    return {
        (code, team, granularity, period, segment): (value, components)
        for code, team, granularity, period, segment, value, components in KpiValue.objects.values_list(
            "kpi__code", "team_id", "granularity", "period_start", "segment", "value", "components"
        )
    }


def from_scratch() -> dict:
    KpiValue.objects.all().delete()
    kpi_values_recompute(start=START, end=END, notify=False)
    return snapshot()


def organisation(make_team):
    sales = make_team("sales")
    north = make_team("north", parent=sales)
    south = make_team("south", parent=sales)
    return sales, north, south


def named(record, external_id: str):
    """The record under an external id the ingests below refer to."""
    type(record).objects.filter(pk=record.pk).update(external_id=external_id)
    return record


def activity(north, south) -> dict:
    """Orders, customers, leads, deals and tickets over two years, a few after today (10 February 2026)."""
    smb = named(customer(north, at(2025, 3, 2), segment="smb"), "C-SMB")
    big = named(customer(north, at(2025, 11, 20), at(2026, 1, 20), segment="enterprise"), "C-BIG")
    other = customer(south, at(2025, 12, 1), segment="smb")
    for when, amount, status, channel, who in [
        (at(2025, 2, 3, 10), "120.10", "completed", "web", smb),
        (at(2025, 8, 30, 23, 30), "80.25", "completed", "store", smb),
        (at(2025, 11, 20, 9), "45.00", "completed", "web", big),
        (at(2025, 12, 29), "300.00", "returned", "web", big),
        (at(2026, 1, 5, 8), "19.99", "completed", "store", big),
        (at(2026, 1, 6, 8), "5.01", "abandoned", "web", None),
        (at(2026, 3, 15), "70.00", "completed", "web", smb),  # after today, in the first quarter
        (at(2026, 9, 1), "10.00", "completed", "store", smb),  # after today, beyond the stored months
    ]:
        named(order(north, when, amount, status=status, channel=channel, customer=who), f"O-{when:%Y%m%d%H%M}")
    order(south, at(2025, 12, 10), "33.33", channel="web", customer=other, is_upsell=True)
    order(south, at(2026, 2, 2), "66.67", channel="store", customer=other, is_cross_sell=True)
    lead(north, at(2025, 12, 3), converted_at=at(2026, 1, 4), first_response_at=at(2025, 12, 3, 4))
    deal(north, at(2025, 11, 2), 1000, status="won", closed=at(2026, 1, 10), probability=100)
    deal(south, at(2026, 1, 8), 500, probability=40)
    ticket(south, at(2026, 1, 12), first_response_at=at(2026, 1, 12, 3), resolved_at=at(2026, 1, 13))
    return {"smb": smb, "big": big}


def ingest_orders(team, records: list[dict]) -> None:
    activity_ingest(kind="orders", records=records, default_team_id=team.pk, writable_team_ids=None)


@time_machine.travel(TODAY, tick=False)
def test_incremental_recompute_stores_exactly_a_full_recompute(make_team):
    # given two years of activity of two sub-teams, every KPI recomputed from October 2025 to June 2026
    sales, north, south = organisation(make_team)
    activity(north, south)
    kpi_values_recompute(start=START, end=END, notify=False)
    # when north ingests orders (one at 23:30 on New Year's Eve, one moved from November to February, one
    # re-sent unchanged) and the dirty marks are recomputed
    ingest_orders(
        north,
        [
            {"external_id": "N-1", "ordered_at": "2026-01-15T10:00:00+01:00", "amount": "12.34", "channel": "web",
             "customer": "C-SMB", "is_upsell": True},
            {"external_id": "N-2", "ordered_at": "2025-12-31T23:30:00+01:00", "amount": "0.66", "channel": "phone",
             "customer": "C-BIG"},
            {"external_id": "O-202511200900", "ordered_at": "2026-02-05T09:00:00+01:00", "amount": "45.00",
             "channel": "web", "customer": "C-BIG"},
            {"external_id": "N-3", "ordered_at": "2026-02-09T18:00:00+01:00", "amount": "7.00", "status": "returned",
             "channel": "store"},
        ],
    )  # fmt: skip
    assert DirtyMark.objects.filter(team=north, record_kind="orders").exists()
    dirty_marks_recompute()
    incremental = snapshot()
    # then every stored cell is the one a recompute from scratch gives, value and components alike
    assert not DirtyMark.objects.exists()
    scratch = from_scratch()
    assert {key: cell for key, cell in incremental.items() if key[3] < END} == scratch
    # (the only other cells are the next periods a prev() reads, beyond the recomputed range)
    assert {key[3] for key in incremental.keys() - scratch.keys()} <= {D(2027, 1, 1)}
    # and the ingest did change the long periods: the 2025 revenue of sales lost the moved 45 and gained 0.66
    # (120.10 + 80.25 + 0.66 completed in 2025 = 201.01, plus south's 33.33 = 234.34)
    assert incremental[("revenue", sales.pk, "year", D(2025, 1, 1), "")][0] == q("234.34")
    # and 2026's first quarter: 19.99 + 12.34 + 45.00 + 70.00 (north) + 66.67 (south) = 214.00
    assert incremental[("revenue", sales.pk, "quarter", D(2026, 1, 1), "")][0] == q("214.00")
    # and its channel breakdown has the new "phone" channel in December and in 2025, not in 2026
    assert incremental[("revenue", north.pk, "year", D(2025, 1, 1), "channel=phone")][0] == q("0.66")
    assert ("revenue", north.pk, "year", D(2026, 1, 1), "channel=phone") not in incremental


def january_and_february_recomputed(make_team):
    """North's orders of 5 January (10.00) and 5 February 2026 (20.00), recomputed; north."""
    _sales, north, _south = organisation(make_team)
    order(north, at(2026, 1, 5), "10.00")
    order(north, at(2026, 2, 5), "20.00")
    kpi_values_recompute(start=D(2026, 1, 1), end=D(2026, 3, 1), notify=False)
    return north


def first_of_february_ingested(north) -> None:
    """An order of 1 February 2026 (5.00) ingested, and the dirty marks recomputed."""
    ingest_orders(north, [{"external_id": "N-9", "ordered_at": "2026-02-01T10:00:00+01:00", "amount": "5.00"}])
    dirty_marks_recompute()


@time_machine.travel(TODAY, tick=False)
def test_a_quarter_of_a_sum_is_combined_from_the_stored_months(make_team):
    # given orders in January and February 2026, recomputed, then January's stored revenue altered by hand
    north = january_and_february_recomputed(make_team)
    revenue = KpiDefinition.objects.get(code="revenue")
    january = KpiValue.objects.filter(kpi=revenue, team=north, granularity="month", period_start=D(2026, 1, 1))
    january.filter(segment="").update(value=Decimal(1000), components={"revenue": 1000})
    # when an order of 1 February is ingested and the dirty marks recomputed
    first_of_february_ingested(north)
    # then the quarter is January's stored 1000 + February's recomputed 25 (20 + 5), not a rescan of the orders
    quarter = KpiValue.objects.filter(kpi=revenue, team=north, granularity="quarter", period_start=D(2026, 1, 1))
    assert quarter.get(segment="").value == q(1025)
    # and the order count of the quarter is January's stored 1 + February's 2
    assert KpiValue.objects.get(
        kpi__code="orders", team=north, granularity="quarter", period_start=D(2026, 1, 1), segment=""
    ).value == q(3)


@time_machine.travel(TODAY, tick=False)
def test_the_period_before_read_by_prev_comes_from_its_own_stored_cell(make_team):
    # given orders in January and February 2026, recomputed, then January's stored monthly revenue altered by
    # hand in every KPI holding it
    north = january_and_february_recomputed(make_team)
    january = KpiValue.objects.filter(team=north, granularity="month", period_start=D(2026, 1, 1), segment="")
    for cell in january.filter(components__has_key="revenue"):
        KpiValue.objects.filter(pk=cell.pk).update(components={**cell.components, "revenue": 1000})
    # when an order of 1 February is ingested and the dirty marks recomputed
    first_of_february_ingested(north)
    # then February's growth reads January from its stored month (1000), not from January's 31 stored days (10):
    # 100 × (25 − 1000) / 1000 = −97.5
    growth = KpiValue.objects.get(
        kpi__code="sales_growth_rate", team=north, granularity="month", period_start=D(2026, 2, 1), segment=""
    )
    assert growth.components == {"revenue": 25, "prev(revenue)": 1000}
    assert growth.value == q("-97.5")


@time_machine.travel(TODAY, tick=False)
def test_customer_states_unchanged_by_new_orders_come_from_their_stored_cells(make_team):
    # given January and February recomputed, then February's stored count of customers at its start altered by
    # hand in the customer lifetime value (revenue per buyer over the share of customers lost)
    north = january_and_february_recomputed(make_team)
    clv = KpiValue.objects.get(
        kpi__code="customer_lifetime_value", team=north, granularity="month", period_start=D(2026, 2, 1), segment=""
    )
    KpiValue.objects.filter(pk=clv.pk).update(components={**clv.components, "customers_start": 999})
    # when an order of 1 February is ingested (no customer changes) and the dirty marks recomputed
    first_of_february_ingested(north)
    # then the February cell was recomputed (revenue 25 from 20 + 5) with the customers read from the stored cell,
    # not from a histogram of the customers (none, so 0)
    clv.refresh_from_db()
    assert clv.components["revenue"] == 25
    assert clv.components["customers_start"] == 999


@time_machine.travel(TODAY, tick=False)
def test_a_recompute_by_chunks_of_periods_stores_exactly_a_recompute_in_one_go(make_team, monkeypatch):
    # given the same two years of activity, every KPI recomputed in one chunk per granularity
    sales, north, south = organisation(make_team)
    activity(north, south)
    whole = from_scratch()
    # when the periods are computed three (KPI, team) cells at a time: one period per chunk (45 KPIs × 3 teams
    # per period), so every prev(), share of a longer period and distinct count crosses a chunk's start
    monkeypatch.setattr(services, "CHUNK_CELLS", 3)
    chunked = from_scratch()
    # then every stored cell, value and components alike, is the same
    assert chunked == whole
    assert len(whole) > 1000


def test_period_chunks_hold_at_most_chunk_cells_and_every_period_once(monkeypatch):
    monkeypatch.setattr(services, "CHUNK_CELLS", 1000)
    days = [D(2026, 1, 1) + dt.timedelta(days=k) for k in range(10)]
    # 1,000 cells / (50 KPIs × 6 teams = 300 per period) → 3 periods a chunk
    assert services.period_chunks(days, cells_per_period=300) == [days[0:3], days[3:6], days[6:9], days[9:10]]
    # more cells per period than a chunk holds: one period a chunk
    assert services.period_chunks(days[:2], cells_per_period=5000) == [days[:1], days[1:2]]


@pytest.fixture
def folded(monkeypatch) -> list:
    """Per kpis_compute call given a fold: (granularity, how many measures the fold gave, the record models
    they count, their aggregates). The fold is used on this database whatever services.FOLD_VENDORS says: its
    cells must be the records' on both."""
    monkeypatch.setattr(services, "FOLD_VENDORS", {connection.vendor})
    calls: list = []
    real = CellFold.cells

    def spy(self, *, wanted, window):
        values, shares, kept = real(self, wanted=wanted, window=window)
        models, aggregates = {spec.model.__name__ for spec, _ in values}, {spec.aggregate for spec, _ in values}
        calls.append((window.granularity, len(values), models, aggregates))
        return values, shares, kept

    monkeypatch.setattr(CellFold, "cells", spy)
    return calls


# After the last order (1 September 2026): the days computed hold every record.
PAST_LAST_RECORD = D(2026, 9, 2)


@time_machine.travel(TODAY, tick=False)
def test_a_recompute_of_everything_stores_longer_periods_equal_to_their_records(make_team, folded, monkeypatch):
    # given two years of activity, every KPI recomputed from the earliest activity to after the last record:
    # weeks and months added up from the days just computed, quarters and years from the months (engine.fold),
    # in chunks of 30 days whose edges cut weeks and months (5,000 cells / (55 KPIs × 3 teams))
    sales, north, south = organisation(make_team)
    activity(north, south)
    start = services.activity_earliest_date()
    monkeypatch.setattr(services, "CHUNK_CELLS", 5000)
    # (asked longest first, as a caller may: still computed shortest first)
    longest_first = ["year", "quarter", "month", "week", "day"]
    kpi_values_recompute(start=start, end=PAST_LAST_RECORD, granularities=longest_first, notify=False)
    everything = snapshot()
    calls = len(folded)
    # when each longer granularity is recomputed alone, from the records
    for granularity in ("week", "month", "quarter", "year"):
        kpi_values_recompute(start=start, end=PAST_LAST_RECORD, granularities=[granularity], notify=False)
    # then every stored cell, value and components alike, is the same
    assert snapshot() == everything
    assert len([key for key in everything if key[2] != "day"]) > 300
    # and the first run did take the rollable and shared measures of each longer granularity from the fold
    # (counts, sums, distinct counts: 20-odd measures of the catalogue, with their segment dimensions)
    assert {g for g, pairs, _, _ in folded[:calls] if pairs > 20} == {"week", "month", "quarter", "year"}
    assert folded[calls:] == []  # a single granularity has nothing to fold
    # means and medians too, from what the days' queries kept: partial sums and counts, raw values (on SQLite,
    # where the fold runs: PostgreSQL's grouped Median and GROUPING SETS queries keep nothing, and are queried)
    if connection.vendor == "sqlite":
        for granularity in ("week", "month", "quarter", "year"):
            aggregates = set().union(*(a for g, _, _, a in folded[:calls] if g == granularity))
            assert {"avg", "median"} <= aggregates, granularity


@time_machine.travel(TODAY, tick=False)
def test_a_recompute_not_holding_every_record_reads_longer_periods_from_the_records(make_team, folded):
    # given orders after END (and, from START, customers and orders before it): the days recomputed do not hold
    # every order of a quarter, so no order measure is folded; leads, deals and tickets all lie in them
    _sales, north, south = organisation(make_team)
    activity(north, south)
    start = services.activity_earliest_date()
    kpi_values_recompute(start=START, end=END, notify=False)
    assert not any({"Order", "Customer"} & models for _, _, models, _ in folded)
    assert {"Lead", "Deal", "Ticket"} <= set().union(*(models for _, _, models, _ in folded))
    folded.clear()
    kpi_values_recompute(start=start, end=END, notify=False)  # from the earliest, but orders lie after END
    assert not any("Order" in models for _, _, models, _ in folded)
    assert any("Customer" in models for _, _, models, _ in folded)
    # and its cells are those of a recompute granularity by granularity
    everything = snapshot()
    for granularity in ("day", "week", "month", "quarter", "year"):
        kpi_values_recompute(start=start, end=END, granularities=[granularity], notify=False)
    assert snapshot() == everything
