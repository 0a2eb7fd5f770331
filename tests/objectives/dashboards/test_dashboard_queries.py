"""The query parameters of the dashboard, the KPI detail page and its CSV and XLSX exports, and the scorecard API, go
through forms and serializers: a wrong one is a 400 naming it — checked before any export is written — and a date
outside the plausible window (kpiplatform.dates) is refused where it used to overflow (a 500)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
WINDOW = "enter a date from 1990-01-01 to 2100-12-31"


@pytest.fixture
def stored(team_a, revenue, store):
    store(revenue, team_a, "month", dt.date(2026, 2, 1), Decimal("1120"))
    store(revenue, team_a, "month", dt.date(2026, 3, 1), Decimal("1000"), segment="channel=email")
    return revenue


def scorecard(team) -> str:
    return f"/api/v1/teams/{team.slug}/scorecard/"


# --------------------------------------------------------------------------- the scorecard API


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("day", ["0001-01-01", "1989-12-31"])
def test_a_scorecard_date_before_the_window_is_a_400_naming_it(api_client, manager_a, team_a, stored, day):
    # given a manager of team A
    api_client.force_authenticate(manager_a)

    # when the scorecard is asked as of a day before 1990 (year 1 used to overflow counting the months back)
    response = api_client.get(scorecard(team_a), {"date": day}, HTTP_ACCEPT_LANGUAGE="en")

    # then a 400 names `date` and the window
    assert response.status_code == 400
    assert response.json() == {"date": [f"{day} is out of range: {WINDOW}."]}


@time_machine.travel(NOW, tick=False)
def test_a_scorecard_in_the_window_is_served(api_client, manager_a, team_a, stored):
    api_client.force_authenticate(manager_a)

    response = api_client.get(scorecard(team_a), {"date": "1990-01-01", "period": "year"})

    assert response.status_code == 200 and response.json()["start"] == "1990-01-01"


# --------------------------------------------------------------------------- the KPI detail and its exports


@pytest.mark.parametrize("export", ["export.csv", "export.xlsx", ""])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?at=9990-01-01", "at"),
        ("?at=0001-01-01", "at"),
        ("?at=2026-02-30", "at"),
        ("?range=forever", "range"),
        ("?granularity=hour", "granularity"),
    ],
)
def test_a_wrong_detail_parameter_is_a_400_page_before_any_export_is_written(
    client, viewer_a, team_a, stored, export, query, field
):
    client.force_login(viewer_a)

    response = client.get(f"/dashboard/team-a/kpi/revenue/{export}{query}", HTTP_ACCEPT_LANGUAGE="en")

    # a page naming the parameter, not a file
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html") and "Content-Disposition" not in response
    assert f'data-field="{field}"' in response.content.decode()


def test_the_400_page_names_the_window(client, viewer_a, team_a, stored):
    client.force_login(viewer_a)

    html = client.get("/dashboard/team-a/kpi/revenue/export.csv?at=9990-01-01", HTTP_ACCEPT_LANGUAGE="en")

    assert f"at: 9990-01-01 is out of range: {WINDOW}." in html.content.decode()


def test_a_wrong_detail_parameter_of_the_json_is_a_json_400(client, viewer_a, team_a, stored):
    client.force_login(viewer_a)

    response = client.get("/dashboard/team-a/kpi/revenue/data.json?range=forever", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "range" and "forever" in error["message"]


@time_machine.travel(NOW, tick=False)
def test_the_exports_still_follow_their_parameters(client, viewer_a, team_a, stored):
    client.force_login(viewer_a)

    csv = client.get("/dashboard/team-a/kpi/revenue/export.csv?range=3m&granularity=month&at=2026-03-01")
    page = client.get("/dashboard/team-a/kpi/revenue/?range=&granularity=&at=")

    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert page.status_code == 200
    detail = client.get("/dashboard/team-a/kpi/revenue/data.json?range=3m&at=2026-03-01").json()
    assert detail["breakdown"]["period_start"] == "2026-03-01"


# --------------------------------------------------------------------------- the dashboard


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?period=next_decade", "period"),
        ("?granularity=day", "granularity"),
        ("?compare=tomorrow", "compare"),
        ("?kpi=not a code", "kpi"),
    ],
)
def test_a_wrong_dashboard_parameter_is_a_400_naming_it(client, viewer_a, team_a, stored, query, field):
    client.force_login(viewer_a)

    page = client.get(f"/dashboard/team-a/{query}")
    data = client.get(f"/dashboard/team-a/data.json{query}")

    assert page.status_code == 400 and f'data-field="{field}"' in page.content.decode()
    assert data.status_code == 400 and [e["field"] for e in data.json()["errors"]] == [field]


def test_the_dashboard_still_follows_its_parameters(client, viewer_a, team_a, stored):
    client.force_login(viewer_a)

    response = client.get("/dashboard/team-a/data.json?period=last_month&granularity=week&compare=last_year&kpi=")

    assert response.status_code == 200
    assert response.json()["period"]["key"] == "last_month"


def test_a_too_long_focus_is_refused_on_the_editors(client, manager_a, team_a, stored):
    client.force_login(manager_a)

    for editor in ("cards", "charts"):
        response = client.get(f"/dashboard/team-a/{editor}/?focus=" + "x" * 500)
        assert response.status_code == 400
        assert 'data-field="focus"' in response.content.decode()
        assert client.get(f"/dashboard/team-a/{editor}/?focus=up:revenue").status_code == 200
