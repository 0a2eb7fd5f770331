"""GET /api/v1/teams/<slug>/scorecard/: the dashboard's numbers through the API, replayable at a past date."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import api_key_create
from metrics.models import KpiMeasure
from objectives.dashboards.team import team_dashboard
from tests import factories

pytestmark = pytest.mark.django_db
D = dt.date
NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)  # 20 March 2026, noon


def url(team, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/teams/{team.slug}/scorecard/" + (f"?{query}" if query else "")


@pytest.fixture
def daily_revenue(team_a, revenue):
    """Revenue as a sum the days add up to: 40 € a day in February, 50 € a day from 1 to 20 March."""
    KpiMeasure.objects.create(
        kpi=revenue, name="x", source="orders", aggregate="sum", field="amount", date_field="ordered_at"
    )
    factories.daily_values(kpi=revenue, team=team_a, first=D(2026, 2, 1), last=D(2026, 2, 28), value=40)
    factories.daily_values(kpi=revenue, team=team_a, first=D(2026, 3, 1), last=D(2026, 3, 20), value=50)
    factories.kpi_value(kpi=revenue, team=team_a, period_start=D(2026, 2, 1), value=1120)
    factories.kpi_value(kpi=revenue, team=team_a, period_start=D(2026, 3, 1), value=1000)
    return revenue


@time_machine.travel(NOW, tick=False)
def test_the_scorecard_gives_the_dashboard_s_numbers(api_client, manager_a, team_a, daily_revenue):
    api_client.force_authenticate(manager_a)
    response = api_client.get(url(team_a, period="month"))
    assert response.status_code == 200, response.json()
    data = response.json()
    card = next(c for c in data["cards"] if c["kpi"] == "revenue")
    # 20 days of March at 50 € = 1 000 € against the same 20 days of February at 40 € = 800 €: +25 %
    assert (data["start"], data["end"], data["date"]) == ("2026-03-01", "2026-03-31", "2026-03-20")
    assert (card["value"], card["compared_value"], card["change"], card["change_unit"]) == (1000.0, 800.0, 25.0, "%")
    assert card["compared_span"] == {
        "start": "2026-02-01",
        "end": "2026-02-20",
        "like_for_like": True,
        "label": card["compared_span"]["label"],
    }
    # the same numbers as the dashboard's card
    dashboard = next(c for c in team_dashboard(team=team_a, today=D(2026, 3, 20))["cards"] if c["code"] == "revenue")
    assert (dashboard["value"], dashboard["previous_value"], dashboard["change"]) == (
        Decimal("1000"),
        Decimal("800"),
        Decimal("25.0"),
    )


@time_machine.travel(NOW, tick=False)
def test_a_past_date_replays_the_period_as_it_stood(api_client, manager_a, team_a, daily_revenue):
    api_client.force_authenticate(manager_a)
    card = next(c for c in api_client.get(url(team_a, date="2026-03-10")).json()["cards"] if c["kpi"] == "revenue")
    # on 10 March: 10 days at 50 € = 500 € (not the 1 000 € stored since), against 1–10 February: 400 €
    assert (card["value"], card["compared_value"], card["change"]) == (500.0, 400.0, 25.0)


@time_machine.travel(NOW, tick=False)
def test_the_scorecard_costs_the_same_queries_whatever_the_history(api_client, manager_a, team_a, daily_revenue):
    api_client.force_authenticate(manager_a)
    with CaptureQueriesContext(connection) as few:
        api_client.get(url(team_a, date="2026-03-10"))
    # a year of days more
    for offset in range(365):
        factories.kpi_value(
            kpi=daily_revenue,
            team=team_a,
            period_start=D(2025, 1, 1) + dt.timedelta(days=offset),
            value=10,
            granularity="day",
            components={"x": 10},
        )
    with CaptureQueriesContext(connection) as many:
        api_client.get(url(team_a, date="2026-03-10"))
    assert len(many) == len(few)


@time_machine.travel(NOW, tick=False)
def test_the_same_period_last_year_on_request(api_client, manager_a, team_a, daily_revenue):
    # given 30 € a day in March 2025: on 20 March 2026, 1 000 € against 20 × 30 = 600 € a year earlier, +66,7 %
    factories.daily_values(kpi=daily_revenue, team=team_a, first=D(2025, 3, 1), last=D(2025, 3, 31), value=30)
    api_client.force_authenticate(manager_a)
    data = api_client.get(url(team_a, compare="last_year")).json()
    card = next(c for c in data["cards"] if c["kpi"] == "revenue")
    assert (card["value"], card["compared_value"], card["change"]) == (1000.0, 600.0, 66.7)
    assert (card["compared_span"]["start"], card["compared_span"]["end"]) == ("2025-03-01", "2025-03-20")
    # the dashboard page offers the same choice and keeps it
    client = Client()
    client.force_login(manager_a)
    html = client.get(f"/dashboard/{team_a.slug}/?compare=last_year").content.decode()
    assert '<option value="last_year" selected>' in html


def test_another_team_sees_nothing(api_client, manager_b, team_a, key_client_for_b):
    api_client.force_authenticate(manager_b)
    assert api_client.get(url(team_a)).status_code == 404
    assert key_client_for_b.get(url(team_a)).status_code == 404


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "week"}, "period"),
        ({"date": "2026-13-01"}, "date"),
        ({"date": "2026-03-21"}, "date"),
        ({"compare": "yesterday"}, "compare"),
    ],
)
def test_bad_parameters_say_what_is_wrong(api_client, manager_a, team_a, params, field):
    api_client.force_authenticate(manager_a)
    response = api_client.get(url(team_a, **params))
    assert response.status_code == 400
    assert field in response.json()


@pytest.fixture
def key_client_for_b(team_b):
    """An integration of team B, with a read key."""
    _api_key, key = api_key_create(team=team_b, name="crm", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client
