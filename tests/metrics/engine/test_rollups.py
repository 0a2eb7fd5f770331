"""Team roll-up and period roll-up: a parent team and a long period are computed over the union of
their facts, never from children's or sub-periods' values."""

import datetime as dt
from decimal import Decimal

import pytest

from metrics.models import KpiValue
from metrics.recompute.services import kpi_values_recompute
from tests.metrics.kpi_support import at, customer, customers, deal, lead, order, q, values

pytestmark = pytest.mark.usefixtures("catalogue")


D = dt.date
JAN, FEB, MAR, APR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)


@pytest.fixture
def tree(make_team):
    """Sales → (North, South)."""
    sales = make_team("sales")
    return sales, make_team("north", parent=sales), make_team("south", parent=sales)


def test_parent_counts_a_customer_buying_from_two_sub_teams_once(tree):
    sales, north, south = tree
    # given one customer ordering from North (100) and South (50), and another ordering from South (30)
    both, other = customer(north, at(2025, 1, 1)), customer(south, at(2025, 1, 1))
    order(north, at(2026, 1, 5), 100, customer=both)
    order(south, at(2026, 1, 6), 50, customer=both)
    order(south, at(2026, 1, 7), 30, customer=other)
    # then North has 1 buyer, South 2, Sales 2 (not 1 + 2); revenue per customer at Sales 180 / 2 = 90
    assert values("buying_customers", north, start=JAN, end=FEB) == {JAN: q(1)}
    assert values("buying_customers", south, start=JAN, end=FEB) == {JAN: q(2)}
    assert values("buying_customers", sales, start=JAN, end=FEB) == {JAN: q(2)}
    assert values("revenue_per_customer", sales, start=JAN, end=FEB) == {JAN: q(90)}


def test_parent_median_is_the_median_of_all_facts(tree):
    sales, north, south = tree
    # given lead responses after 1 h and 3 h in North and 10 h in South
    for team, hours in ((north, 1), (north, 3), (south, 10)):
        lead(team, at(2026, 1, 5), first_response_at=at(2026, 1, 5, hours))
    # then North 2 h, South 10 h, Sales the median of [1, 3, 10] = 3 h (not the mean of medians, 6 h)
    assert values("lead_response_time", north, start=JAN, end=FEB) == {JAN: q(2)}
    assert values("lead_response_time", sales, start=JAN, end=FEB) == {JAN: q(3)}


def test_parent_ratio_pools_the_facts(tree):
    sales, north, south = tree
    # given North wins 1 of 1 closed deals and South 1 of 4
    deal(north, at(2026, 1, 2), 10, status="won", closed=at(2026, 1, 3))
    deal(south, at(2026, 1, 2), 10, status="won", closed=at(2026, 1, 3))
    for _ in range(3):
        deal(south, at(2026, 1, 2), 10, status="lost", closed=at(2026, 1, 3))
    # then Sales wins 2 / 5 = 40 % (not the mean of 100 % and 25 %)
    assert values("win_rate", sales, start=JAN, end=FEB) == {JAN: q(40)}


def test_parent_state_measures_cover_sub_teams(tree):
    sales, north, south = tree
    # given 3 customers at the start of January in North and 1 in South, of whom the South one is lost
    customers(north, 3, at(2025, 6, 1))
    customer(south, at(2025, 6, 1), churned=at(2026, 1, 10))
    # then Sales: churn 1 / 4 = 25 %, 3 active at the end
    assert values("churn_rate", sales, start=JAN, end=FEB) == {JAN: q(25)}
    assert values("active_customers", sales, start=JAN, end=FEB) == {JAN: q(3)}


def test_recomputing_a_sub_team_also_recomputes_its_ancestors(tree):
    sales, north, _south = tree
    order(north, at(2026, 1, 5), 100)
    # when only North is recomputed
    kpi_values_recompute(start=JAN, end=FEB, team_ids=[north.pk], granularities=["month"])
    # then Sales' value is stored too
    stored = KpiValue.objects.get(kpi__code="revenue", team=sales, granularity="month", period_start=JAN, segment="")
    assert stored.value == q(100)


def test_quarter_and_year_ratios_are_computed_from_their_own_records(team_a):
    # given January: 1 won of 1 closed (100 %); February: 1 won of 4 closed (25 %)
    deal(team_a, at(2026, 1, 2), 10, status="won", closed=at(2026, 1, 3))
    deal(team_a, at(2026, 2, 2), 10, status="won", closed=at(2026, 2, 3))
    for _ in range(3):
        deal(team_a, at(2026, 2, 2), 10, status="lost", closed=at(2026, 2, 3))
    # then the first quarter and the year are 2 / 5 = 40 % — not the mean of the months (62.5 %)
    assert values("win_rate", team_a, start=JAN, end=MAR) == {JAN: q(100), FEB: q(25)}
    assert values("win_rate", team_a, granularity="quarter", start=JAN, end=APR) == {JAN: q(40)}
    assert values("win_rate", team_a, granularity="year", start=JAN, end=APR) == {JAN: q(40)}


def test_quarter_median_and_state_measures(team_a):
    # given lead responses of 1 h in January, 2 h and 30 h in February and 4 h in March
    for month, hours in ((1, 1), (2, 2), (2, 30), (3, 4)):
        lead(team_a, at(2026, month, 5), first_response_at=at(2026, month, 5) + dt.timedelta(hours=hours))
    # and 10 customers at the start of the quarter, 1 lost in January and 1 in March
    customers(team_a, 8, at(2025, 6, 1))
    customer(team_a, at(2025, 6, 1), churned=at(2026, 1, 10))
    customer(team_a, at(2025, 6, 1), churned=at(2026, 3, 10))
    # then the quarter's median is that of [1, 2, 4, 30] = 3 h; its churn 2 / 10 = 20 %
    # (the months: 10 %, 0 %, 1 / 9 = 11.1 %)
    assert values("lead_response_time", team_a, granularity="quarter", start=JAN, end=APR) == {JAN: q(3)}
    assert values("churn_rate", team_a, granularity="quarter", start=JAN, end=APR) == {JAN: q(20)}
    months = values("churn_rate", team_a, start=JAN, end=APR)
    assert months == {JAN: q(10), FEB: q(0), MAR: q(Decimal(100) / 9)}


def test_weeks_are_iso_weeks_starting_on_monday(team_a):
    # given orders on Sunday 4 January 2026 and Monday 5 January 2026
    order(team_a, at(2026, 1, 4, 12), 1)
    order(team_a, at(2026, 1, 5, 12), 2)
    # then they fall in the weeks of Monday 29 December 2025 and Monday 5 January 2026
    assert values("revenue", team_a, granularity="week", start=D(2025, 12, 29), end=D(2026, 1, 12)) == {
        D(2025, 12, 29): q(1),
        D(2026, 1, 5): q(2),
    }
