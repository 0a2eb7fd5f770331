"""Organisation overview: every team the user sees, in a constant number of queries, nothing of the others."""

import datetime as dt
from decimal import Decimal

import pytest

from metrics.models import KpiMeasure
from objectives.dashboards.overview import organisation_overview
from objectives.models import Alert, AlertRule, Objective
from tests import factories

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 15)


@pytest.fixture
def org(make_team, make_user, make_kpi, store):
    """A sales team and a support team both seen by one member; a third team she does not see."""
    sales, support, other = make_team("ventes", kind="sales"), make_team("sav", kind="support"), make_team("autre")
    user = make_user("ines", team=sales)
    from accounts.services import membership_set

    membership_set(user=user, team=support, role="viewer")
    revenue, orders = make_kpi("revenue"), make_kpi("orders", unit="n")
    KpiMeasure.objects.create(
        kpi=revenue, name="x", source="orders", aggregate="sum", field="amount", date_field="ordered_at"
    )
    # On 15 March, revenue 50 € a day so far (750 € to date) against 40 € a day in February: the same 15 days
    # of February made 600 €, so +25 % (150 / 600) — not −33 % against all of February (1,120 €).
    factories.daily_values(kpi=revenue, team=sales, first=dt.date(2026, 2, 1), last=dt.date(2026, 2, 28), value=40)
    factories.daily_values(kpi=revenue, team=sales, first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 15), value=50)
    store(revenue, sales, "month", dt.date(2026, 3, 1), 750)
    store(revenue, sales, "month", dt.date(2026, 2, 1), 1120)
    # orders 30 in March, no day of February stored: no comparison
    store(orders, sales, "month", dt.date(2026, 3, 1), 30)
    store(revenue, other, "month", dt.date(2026, 3, 1), 999)
    for team, status in ((sales, "at_risk"), (sales, "at_risk"), (sales, "on_track"), (other, "off_track")):
        Objective.objects.create(
            team=team, title=status, start_date=TODAY, due_date=TODAY, progress_status=status, state="active"
        )
    rule = AlertRule.objects.create(team=sales, name="r", kpi=revenue, condition="below", threshold=Decimal(1))
    Alert.objects.create(rule=rule, team=sales, period_start=TODAY, state="firing", severity="critical")
    return user, sales, support


def test_overview_sums_up_each_visible_team(org, django_assert_num_queries):
    user, sales, support = org
    # visible teams (team tree, memberships, teams: 3), objectives by status, open alerts, chosen cards,
    # KPI definitions, values, and the like-for-like comparison (the KPIs' measures, February's first 15 days):
    # 10 queries, whatever the number of teams
    with django_assert_num_queries(10):
        overview = organisation_overview(user=user, today=TODAY)
    rows = {row["team"].slug: row for row in overview["teams"]}
    assert set(rows) == {"ventes", "sav"}  # not "autre"
    ventes = rows["ventes"]
    assert [(s["status"], s["count"]) for s in ventes["objectives"]] == [("at_risk", 2), ("on_track", 1)]
    assert (ventes["objectives_total"], ventes["alerts"], ventes["alerts_total"]) == (3, {"critical": 1}, 1)
    cards = {c["kpi"].code: c for c in ventes["cards"]}
    assert (cards["revenue"]["value"], cards["revenue"]["change_percent"]) == (Decimal(750), Decimal("25.0"))
    assert cards["revenue"]["colour"] == "good"
    assert (cards["orders"]["value"], cards["orders"]["change_percent"]) == (Decimal(30), None)
    assert rows["sav"]["objectives_total"] == rows["sav"]["alerts_total"] == 0


def test_overview_page_in_french_and_linked_from_home(client, org):
    user, _sales, _support = org
    client.force_login(user)
    assert 'href="/dashboard/"' in client.get("/").content.decode()
    html = client.get("/dashboard/").content.decode()
    assert "Vue d’ensemble de l’organisation" in html
    assert 'data-team="ventes"' in html and 'data-team="sav"' in html
    assert 'data-team="autre"' not in html and "999" not in html


def test_overview_status_chips_follow_each_language_typography(client, org):
    user, _sales, _support = org
    client.force_login(user)
    assert "À risque : 2" in client.get("/dashboard/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "At risk: 2" in client.get("/dashboard/").content.decode()
