"""GET /api/v1/kpis/ and /api/v1/kpis/<code>/values/: shape, team isolation, parameter errors, and the
read selectors' constant query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.kpis import selectors
from metrics.models import KpiDefinition
from metrics.recompute.services import kpi_values_recompute
from tests.metrics.kpi_support import at, deal, order, q

pytestmark = pytest.mark.usefixtures("catalogue")

D = dt.date
JAN, FEB, MAR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)
URL = "/api/v1/kpis/win_rate/values/"


@pytest.fixture
def computed(team_a, team_b):
    """Win rate of team A: January 1 won / 4 closed = 25 %, February none closed (no value), March 100 %."""
    deal(team_a, at(2026, 1, 2), 10, status="won", closed=at(2026, 1, 3), owner="ana")
    for _ in range(3):
        deal(team_a, at(2026, 1, 2), 10, status="lost", closed=at(2026, 1, 3), owner="bob")
    deal(team_a, at(2026, 3, 2), 10, status="won", closed=at(2026, 3, 3), owner="ana")
    deal(team_b, at(2026, 1, 2), 10, status="won", closed=at(2026, 1, 3))
    order(team_a, at(2026, 1, 5), 100)
    order(team_a, at(2026, 2, 5), 150)
    kpi_values_recompute(start=JAN, end=D(2026, 4, 1), granularities=["month", "quarter"])


def test_definitions_are_listed_for_authenticated_callers(api_client, viewer_a):
    assert api_client.get("/api/v1/kpis/").status_code in (401, 403)
    api_client.force_authenticate(viewer_a)
    body = api_client.get("/api/v1/kpis/", {"category": "support"}).json()
    codes = [kpi["code"] for kpi in body["results"]]
    assert codes == [
        "first_contact_resolution_rate",
        "ticket_first_response_time",
        "ticket_first_response_time_avg",
        "ticket_resolution_time",
        "tickets",
    ]
    first = body["results"][0]
    assert (
        first["unit"] == "%" and first["direction"] == "higher" and first["formula"] == "100 * one_contact / contacted"
    )
    assert [m["name"] for m in first["measures"]] == ["one_contact", "contacted"]
    assert api_client.get("/api/v1/kpis/").json()["count"] == 55


def test_values_of_a_team(api_client, viewer_a, computed):
    api_client.force_authenticate(viewer_a)
    response = api_client.get(
        URL, {"team": "team-a", "granularity": "month", "start": "2026-01-01", "end": "2026-03-31"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "kpi": "win_rate",
        "team": "team-a",
        "granularity": "month",
        "segment": "",
        "results": [
            {"period_start": "2026-01-01", "value": 25.0, "components": {"won": 1, "lost": 3}},
            {"period_start": "2026-02-01", "value": None, "components": {"won": 0, "lost": 0}},
            {"period_start": "2026-03-01", "value": 100.0, "components": {"won": 1, "lost": 0}},
        ],
    }


def test_values_by_segment_and_default_granularity(api_client, viewer_a, computed):
    api_client.force_authenticate(viewer_a)
    # the quarter: Ana won 2 of 2
    body = api_client.get(
        URL,
        {
            "team": "team-a",
            "granularity": "quarter",
            "start": "2026-01-01",
            "end": "2026-03-31",
            "segment": "owner=ana",
        },  # fmt: skip
    ).json()
    assert body["results"] == [{"period_start": "2026-01-01", "value": 100.0, "components": {"won": 2, "lost": 0}}]
    # without a granularity the KPI's default (month) is used; periods meeting [start, end] are returned
    body = api_client.get(URL, {"team": "team-a", "start": "2026-02-15", "end": "2026-03-01"}).json()
    assert body["granularity"] == "month"
    assert [r["period_start"] for r in body["results"]] == ["2026-02-01", "2026-03-01"]


def test_another_teams_values_are_not_found(api_client, manager_b, computed):
    api_client.force_authenticate(manager_b)
    response = api_client.get(URL, {"team": "team-a", "start": "2026-01-01", "end": "2026-03-31"})
    assert response.status_code == 404
    assert "results" not in response.json()


def test_api_keys_read_their_own_team_only(key_client, team_a, team_b, computed):
    client = key_client(team_a, "read")
    ok = client.get(URL, {"team": "team-a", "start": "2026-01-01", "end": "2026-01-31"})
    assert ok.status_code == 200 and ok.json()["results"][0]["value"] == 25.0
    assert client.get(URL, {"team": "team-b", "start": "2026-01-01", "end": "2026-01-31"}).status_code == 404


def test_unknown_kpi_is_not_found(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)
    assert api_client.get("/api/v1/kpis/nope/values/", {"team": "team-a"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({}, "team", "required"),
        ({"team": "team-a", "granularity": "hour"}, "granularity", "not a valid choice"),
        ({"team": "team-a", "start": "2026-13-01"}, "start", "Date has wrong format"),
        ({"team": "team-a", "start": "2026-03-01", "end": "2026-01-01"}, "start", "on or before end"),
        ({"team": "team-a", "segment": "owner"}, "segment", "<dimension>=<value>"),
        ({"team": "team-a", "segment": "colour=red"}, "segment", "no 'colour' breakdown (breakdowns: owner)"),
        ({"team": "team-a", "granularity": "day", "start": "2020-01-01", "end": "2026-01-01"}, "start", "At most 1000"),
    ],
)
def test_bad_parameters_get_a_message_per_field(api_client, viewer_a, params, field, message):
    api_client.force_authenticate(viewer_a)
    response = api_client.get(URL, params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_values_endpoint_cost_does_not_grow_with_periods(api_client, viewer_a, computed):
    api_client.force_authenticate(viewer_a)
    counts = []
    for end in ("2026-01-31", "2026-03-31"):
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get(URL, {"team": "team-a", "start": "2026-01-01", "end": end}).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


# --------------------------------------------------------------------------- selectors


def test_series_selector_is_one_query(team_a, computed, django_assert_num_queries):
    kpi = KpiDefinition.objects.get(code="revenue")
    with django_assert_num_queries(1):
        series = selectors.kpi_value_series(kpi=kpi, team=team_a, granularity="month", start=JAN, end=D(2026, 3, 31))
    assert [(item["period_start"], item["value"]) for item in series] == [(JAN, q(100)), (FEB, q(150)), (MAR, q(0))]


def test_latest_values_with_previous_period_and_change(team_a, computed, django_assert_num_queries):
    kpis = list(KpiDefinition.objects.filter(code__in=["revenue", "win_rate", "tickets"]).order_by("code"))
    # when the dashboard asks on 20 February for the latest monthly values of three KPIs
    with django_assert_num_queries(2):
        latest = selectors.kpi_latest_values(team=team_a, kpis=kpis, today=D(2026, 2, 20))
    by_code = {item["kpi"].code: item for item in latest}
    # then revenue: February 150 vs January 100: +50, +50 %
    revenue = by_code["revenue"]
    assert (revenue["period_start"], revenue["value"], revenue["previous_value"]) == (FEB, q(150), q(100))
    assert (revenue["change"], revenue["change_percent"]) == (q(50), Decimal(50))
    # win rate: February has no value, so no change
    assert (by_code["win_rate"]["value"], by_code["win_rate"]["previous_value"]) == (None, q(25))
    assert by_code["win_rate"]["change"] is None
    # tickets: stored as 0 (counts over no records), with a 0 % previous → no relative change
    assert by_code["tickets"]["value"] == q(0) and by_code["tickets"]["change_percent"] is None


def test_latest_values_query_count_is_constant(team_a, computed, django_assert_num_queries):
    with django_assert_num_queries(3):
        latest = selectors.kpi_latest_values(team=team_a, today=D(2026, 3, 20))
    assert len(latest) == 55
