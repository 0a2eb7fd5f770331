"""One number everywhere: for the same KPI, team and period, the dashboard card, the objective page, the digest
and the scorecard API show the same value, target and status (issue 14, acceptance)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from metrics.models import KpiDefinition
from metrics.recompute.services import kpi_values_recompute
from objectives import services
from objectives.dashboards.team import team_dashboard
from objectives.models import Target
from objectives.notifications.digest import digest_for_user
from tests.metrics.kpi_support import PARIS, deal, order

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 16, tzinfo=dt.UTC)  # 17:00 in Paris: today's orders count


@pytest.fixture
def quarter(team_a, manager_a):
    """Q4 2026 for team A: 1 000 € of orders each day of 1 October – 20 November (today included, 51 days), and
    deals closed: 7 won and 13 lost (35 % win rate). An objective for the quarter: 120 000 € and 45 %."""
    call_command("load_kpi_catalogue", verbosity=0)
    day = dt.date(2026, 10, 1)
    while day <= TODAY:
        order(team_a, dt.datetime(day.year, day.month, day.day, 10, tzinfo=PARIS), 1000)
        day += dt.timedelta(days=1)
    for i in range(20):
        closed = dt.datetime(2026, 10, 1 + i, 12, tzinfo=PARIS)
        deal(team_a, closed - dt.timedelta(days=3), 100, status="won" if i < 7 else "lost", closed=closed)
    kpi_values_recompute(start=dt.date(2026, 7, 1), end=dt.date(2026, 11, 21), team_ids=[team_a.pk])
    revenue, win_rate = KpiDefinition.objects.filter(code__in=["revenue", "win_rate"]).order_by("code")
    return services.objective_create(
        team=team_a,
        owner=manager_a,
        title="T4",
        description="",
        start_date=dt.date(2026, 10, 1),
        due_date=dt.date(2026, 12, 31),
        targets=[
            {"kpi": revenue, "target_value": Decimal(120000)},
            {"kpi": win_rate, "target_value": Decimal(45)},
        ],
        today=TODAY,
    )


@time_machine.travel(NOW, tick=False)
def test_card_objective_page_digest_and_api_agree(client, api_client, team_a, manager_a, quarter):
    targets = {t.kpi.code: t for t in Target.objects.filter(objective=quarter).select_related("kpi")}
    # the objective's values so far: 51 days × 1 000 € = 51 000 € (today's order included); 7 / 20 = 35 %
    assert targets["revenue"].current_value == Decimal(51000)
    assert targets["win_rate"].current_value == Decimal(35)

    cards = {c["code"]: c for c in team_dashboard(team=team_a, period="this_quarter", today=TODAY)["cards"]}
    api_client.force_authenticate(manager_a)
    scorecard = api_client.get(f"/api/v1/teams/{team_a.slug}/scorecard/?period=quarter").json()
    api_cards = {c["kpi"]: c for c in scorecard["cards"]}
    digest = digest_for_user(user=manager_a, today=TODAY, frequency="weekly")
    [row] = [o for t in digest["teams"] for o in t["objectives"] if o["id"] == quarter.pk]
    digest_targets = {t["kpi_name"]: t for t in row["targets"]}
    client.force_login(manager_a)
    page = client.get(f"/teams/{team_a.slug}/objectives/{quarter.pk}/")
    assert page.status_code == 200
    page_targets = {t.kpi.code: t for t in page.context["objective"].targets.all()}

    for code in ("revenue", "win_rate"):
        target = targets[code]
        card = cards[code]
        name = target.kpi.name
        # the value: the card's quarter to date, the API's, the objective's, the digest's, the page's
        values = {
            Decimal(card["value"]),
            Decimal(str(api_cards[code]["value"])),
            target.current_value,
            digest_targets[name]["current_value"],
            page_targets[code].current_value,
        }
        assert len(values) == 1, (code, values)
        # the target of the quarter shown is the objective's own
        assert card["target"]["value"] == target.target_value == Decimal(str(api_cards[code]["target"]))
        # one status, one forecast, one recommendation
        statuses = {
            card["target"]["status"],
            api_cards[code]["status"],
            target.status,
            digest_targets[name]["status"],
            page_targets[code].status,
        }
        assert len(statuses) == 1, (code, statuses)
        assert card["target"]["forecast"] == target.forecast_value == digest_targets[name]["forecast_value"]
        assert card["target"]["recommendation"] == target.recommendation == api_cards[code]["recommendation"]
    # a rate's progress is a gap in points: 35 − 45 = −10 pts, never a % of the way from a missing baseline
    assert (
        cards["win_rate"]["target"]["gap"] == Decimal(-10) and cards["win_rate"]["target"]["progress_percent"] is None
    )
    # a sum's progress: 51 000 of 120 000 = 42,5 %
    assert cards["revenue"]["target"]["progress_percent"] == Decimal("42.50")
