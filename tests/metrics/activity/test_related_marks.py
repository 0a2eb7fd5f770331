"""A change of a record that other kinds read through a relation (a customer's segment, its acquisition date)
marks the dates of the records reading it, so their KPI cells are recomputed at once, not at night."""

import datetime as dt

import pytest
import time_machine

from metrics.activity.ingest import activity_ingest
from metrics.models import DirtyMark, KpiValue
from metrics.recompute.services import dirty_marks_recompute, kpi_values_recompute
from tests.metrics.kpi_support import at, customer, order, q

pytestmark = pytest.mark.usefixtures("catalogue")


D = dt.date
TODAY = dt.datetime(2026, 4, 10, 12, tzinfo=dt.UTC)
ACQUIRED = "2025-06-01T00:00:00+02:00"


def first_quarter(team, acquired: dt.datetime):
    """C (smb, acquired then) orders 100 on 5 January and 50 on 20 February; D (pme) 30 on 10 February; the
    quarter recomputed, no mark left. Returns C."""
    c = customer(team, acquired, segment="smb")
    d = customer(team, at(2025, 6, 1), segment="pme")
    order(team, at(2026, 1, 5, 10), "100.00", customer=c)
    order(team, at(2026, 2, 20, 10), "50.00", customer=c)
    order(team, at(2026, 2, 10, 10), "30.00", customer=d)
    kpi_values_recompute(start=D(2026, 1, 1), end=D(2026, 4, 1), notify=False)
    DirtyMark.objects.all().delete()
    return c


@pytest.fixture
def sales(make_team):
    team = make_team("sales")
    return team, first_quarter(team, at(2025, 6, 1))


def value(code: str, team, granularity: str, period: dt.date, segment: str = ""):
    cell = KpiValue.objects.filter(
        kpi__code=code, team=team, granularity=granularity, period_start=period, segment=segment
    ).first()
    return cell.value if cell else None


def ingest_customer(team, c, **fields) -> None:
    record = {"external_id": c.external_id, "acquired_at": ACQUIRED, "segment": c.segment, **fields}
    activity_ingest(kind="customers", records=[record], default_team_id=team.pk, writable_team_ids=None)


@time_machine.travel(TODAY, tick=False)
def test_a_customer_s_new_segment_moves_all_their_orders_to_it_in_the_breakdowns(make_team):
    # given E (smb), signed on 1 February 2026 after a first order on 5 January (100), then 50 on 20 February,
    # and D (pme) 30 on 10 February
    team = make_team("sales")
    e = first_quarter(team, at(2026, 2, 1))
    assert value("revenue", team, "month", D(2026, 1, 1), "customer_segment=smb") == q(100)
    # when E's segment becomes pme (E's own mark runs from 1 February, E being still a customer, to today)
    record = {"external_id": e.external_id, "acquired_at": "2026-02-01T00:00:00+01:00", "segment": "pme"}
    activity_ingest(kind="customers", records=[record], default_team_id=team.pk, writable_team_ids=None)
    # then the dates of E's orders are marked for orders, 5 January to 20 February included
    mark = DirtyMark.objects.get(team=team, record_kind="orders")
    assert (mark.period_start, mark.period_end) == (D(2026, 1, 5), D(2026, 2, 21))
    dirty_marks_recompute()
    # and the pme revenue is E's and D's: January 100 (before E's own mark), February 50 + 30 = 80, the quarter
    # 180; smb has none left
    assert value("revenue", team, "month", D(2026, 1, 1), "customer_segment=pme") == q(100)
    assert value("revenue", team, "month", D(2026, 1, 1), "customer_segment=smb") is None
    assert value("revenue", team, "month", D(2026, 2, 1), "customer_segment=pme") == q(80)
    assert value("revenue", team, "quarter", D(2026, 1, 1), "customer_segment=pme") == q(180)
    assert value("revenue", team, "quarter", D(2026, 1, 1), "customer_segment=smb") is None
    # buyers too, from the days' shares: 2 pme buyers in the quarter (E and D)
    assert value("buying_customers", team, "quarter", D(2026, 1, 1), "customer_segment=pme") == q(2)


@time_machine.travel(TODAY, tick=False)
def test_a_new_acquisition_date_changes_the_new_customer_revenue_of_their_orders(sales):
    team, c = sales
    assert value("new_net_revenue", team, "quarter", D(2026, 1, 1)) == q(0)
    # when C turns out to have been acquired on 2 January 2026 rather than 1 June 2025
    ingest_customer(team, c, acquired_at="2026-01-02T09:00:00+01:00")
    dirty_marks_recompute()
    # then C's orders of 5 January (100) and 20 February (50) are revenue from a customer acquired in the same
    # quarter and year: 150; in the same month only January's: 100, February none
    assert value("new_net_revenue", team, "quarter", D(2026, 1, 1)) == q(150)
    assert value("new_net_revenue", team, "year", D(2026, 1, 1)) == q(150)
    assert value("new_net_revenue", team, "month", D(2026, 1, 1)) == q(100)
    assert value("new_net_revenue", team, "month", D(2026, 2, 1)) == q(0)


@time_machine.travel(TODAY, tick=False)
def test_a_field_no_kpi_reads_through_the_customer_marks_no_order(sales):
    team, c = sales
    ingest_customer(team, c, name="Dupont SA")
    assert DirtyMark.objects.filter(team=team, record_kind="customers").exists()
    assert not DirtyMark.objects.filter(record_kind="orders").exists()
