"""Like-for-like comparisons: a running period against the same first days of the previous one, rebuilt from the
stored days exactly as the engine computes a period (counts, sums, distinct counts through their shares, ratios)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from metrics.kpis.comparisons import comparison_span, comparison_values
from metrics.models import KpiDefinition
from metrics.recompute.services import kpi_values_recompute
from tests.metrics.kpi_support import at, customer, order, q, ticket

pytestmark = pytest.mark.usefixtures("catalogue")

D = dt.date
CODES = ("revenue", "orders", "buying_customers", "average_purchase_value", "repeat_purchase_rate")


def test_a_running_month_is_compared_with_the_same_days_of_the_previous_one():
    # 4 December: 1–4 December against 1–4 November; a quarter to date; the 31st against a 30-day month
    span = comparison_span(granularity="month", period_start=D(2026, 12, 1), today=D(2026, 12, 4))
    assert (span.start, span.end, span.to_date) == (D(2026, 11, 1), D(2026, 11, 4), True)
    span = comparison_span(granularity="quarter", period_start=D(2026, 10, 1), today=D(2026, 11, 15))
    assert (span.start, span.end) == (D(2026, 7, 1), D(2026, 8, 15))  # 46 days each
    span = comparison_span(granularity="month", period_start=D(2026, 12, 1), today=D(2026, 12, 31))
    assert (span.start, span.end, span.to_date) == (D(2026, 11, 1), D(2026, 11, 30), False)
    # a closed period: the whole previous one
    span = comparison_span(granularity="month", period_start=D(2026, 11, 1), today=D(2026, 12, 4))
    assert (span.start, span.end, span.to_date) == (D(2026, 10, 1), D(2026, 10, 31), False)


def test_steady_activity_shows_no_change_on_the_4th_of_a_month(team_a):
    # given, every day from 5 January to 4 March 2026, two completed orders of 100 €: one by a regular customer
    # A, one by a customer who buys that day only
    regular = customer(team_a, at(2025, 12, 1))
    day = D(2026, 1, 5)
    while day <= D(2026, 3, 4):
        order(team_a, at(day.year, day.month, day.day, 10), 100, customer=regular)
        order(team_a, at(day.year, day.month, day.day, 15), 100, customer=customer(team_a, at(2025, 12, 1)))
        day += dt.timedelta(days=1)
    kpi_values_recompute(start=D(2026, 1, 1), end=D(2026, 3, 5), team_ids=[team_a.pk])
    kpis = list(KpiDefinition.objects.filter(code__in=CODES))

    # when March is compared on the 4th
    compared = comparison_values(
        kpis=kpis, team_ids=[team_a.pk], granularity="month", period_start=D(2026, 3, 1), today=D(2026, 3, 4)
    )

    # then each KPI is its value over 1–4 February, counted by hand: 8 orders of 100 € = 800 €; buyers A and
    # the 4 one-day customers = 5; 800 / 8 = 100 € a basket; repeat buyers (2 orders or more) / buyers = 1 / 5
    by_code = {kpi.code: compared.value(team_a.pk, kpi.pk) for kpi in kpis}
    assert by_code == {
        "revenue": Decimal("800.0000000000"),
        "orders": Decimal("8.0000000000"),
        "buying_customers": Decimal("5.0000000000"),
        "average_purchase_value": Decimal("100.0000000000"),
        "repeat_purchase_rate": Decimal("20.0000000000"),
    }
    with translation.override("fr"):
        assert compared.span.label == "1er–4 fév. 2026"  # the one date style (kpiplatform.dates)
    with translation.override("en"):
        assert compared.span.label == "1–4 Feb 2026"
    # and March to date (its stored value) is the same: steady activity, no change
    from metrics.models import KpiValue

    march = dict(
        KpiValue.objects.filter(
            kpi__in=kpis, team=team_a, granularity="month", segment="", period_start=D(2026, 3, 1)
        ).values_list("kpi__code", "value")
    )
    assert march == by_code


def test_a_median_is_compared_over_the_same_first_days_computed_from_the_records(team_a):
    # given a ticket on each day of February at 10:00, the one of day d answered d hours later
    for day in range(1, 29):
        ticket(team_a, at(2026, 2, day, 10), first_response_at=at(2026, 2, day, 10 + day) if day <= 11 else None)
    kpi_values_recompute(start=D(2026, 2, 1), end=D(2026, 3, 5), team_ids=[team_a.pk])
    median = KpiDefinition.objects.get(code="ticket_first_response_time")  # a median: days cannot rebuild it
    compared = comparison_values(
        kpis=[median], team_ids=[team_a.pk], granularity="month", period_start=D(2026, 3, 1), today=D(2026, 3, 4)
    )
    # then 4 March is compared with 1–4 February: answered after 1, 2, 3 and 4 hours → median (2 + 3) / 2 = 2.5 h
    # (all of February would give the median of 1…11 hours: 6 h)
    assert compared.value(team_a.pk, median.pk) == q("2.5")


def test_a_kpi_reading_prev_has_no_comparison_on_a_running_period(team_a):
    for day in range(1, 29):
        order(team_a, at(2026, 2, day, 10), 100)
    kpi_values_recompute(start=D(2026, 2, 1), end=D(2026, 3, 5), team_ids=[team_a.pk])
    growth = KpiDefinition.objects.get(code="sales_growth_rate")
    compared = comparison_values(
        kpis=[growth], team_ids=[team_a.pk], granularity="month", period_start=D(2026, 3, 1), today=D(2026, 3, 4)
    )
    # its running value reads all of February, 1–4 February's would read late January: they do not compare
    assert not compared.has(team_a.pk, growth.pk)


def test_the_same_period_last_year_on_request():
    # 4 December 2026 against 1–4 December 2025; a closed month against the same whole month a year earlier;
    # a week against the week 52 weeks before (same weekdays)
    span = comparison_span(granularity="month", period_start=D(2026, 12, 1), today=D(2026, 12, 4), basis="last_year")
    assert (span.start, span.end, span.to_date) == (D(2025, 12, 1), D(2025, 12, 4), True)
    span = comparison_span(granularity="month", period_start=D(2026, 11, 1), today=D(2026, 12, 4), basis="last_year")
    assert (span.start, span.end, span.to_date) == (D(2025, 11, 1), D(2025, 11, 30), False)
    span = comparison_span(granularity="quarter", period_start=D(2026, 10, 1), today=D(2026, 11, 15), basis="last_year")
    assert (span.start, span.end) == (D(2025, 10, 1), D(2025, 11, 15))
    span = comparison_span(granularity="week", period_start=D(2026, 11, 30), today=D(2026, 12, 2), basis="last_year")
    assert (span.start, span.end, span.start.weekday()) == (D(2025, 12, 1), D(2025, 12, 3), 0)
