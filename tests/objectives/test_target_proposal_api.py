"""GET /api/v1/objectives/target-proposal/ and the band and relative fields of targets in the objectives API."""

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.services import api_key_create
from objectives.models import Objective
from tests.objectives.test_proposals import seasonal_revenue

pytestmark = pytest.mark.django_db

URL = "/api/v1/objectives/target-proposal/"
JANUARY = {"kpi": "revenue", "team": "team-a", "start": "2026-01-01", "end": "2026-01-31"}


@pytest.fixture
def history(revenue, team_a, store):
    for month, value in seasonal_revenue().items():
        store(revenue, team_a, "month", month, value)
        store(revenue, team_a, "day", month, value)
    return revenue


@time_machine.travel("2026-01-01 09:00:00+01:00", tick=False)
def test_a_manager_gets_the_proposal_with_its_probabilities(api_client, manager_a, history):
    api_client.force_authenticate(manager_a)
    response = api_client.get(URL, JANUARY, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.json()
    data = response.json()
    # hand-computed in test_proposals: last year 132; 132 / 145.20 / 158.40 reached by 22, 15 and 7 of 24
    assert (data["kpi"], data["team"], data["start"], data["end"], data["method"]) == (
        "revenue",
        "team-a",
        "2026-01-01",
        "2026-01-31",
        "seasonal",
    )
    assert data["last_year"] == 132 and data["best"] == 253 and data["previous"] == 253
    assert data["proposals"] == [
        {"level": "minimum", "value": 132, "reached": 22, "outcomes": 24, "probability_percent": 91.7},
        {"level": "target", "value": 145.2, "reached": 15, "outcomes": 24, "probability_percent": 62.5},
        {"level": "stretch", "value": 158.4, "reached": 7, "outcomes": 24, "probability_percent": 29.2},
    ]
    assert data["path"] == [
        {"month": "2026-01-01", "last_year": 132, "minimum": 132, "target": 145.2, "stretch": 158.4}
    ]
    assert data["words"].startswith("Same period last year: 132")


@time_machine.travel("2026-01-01 09:00:00+01:00", tick=False)
def test_without_history_nothing_is_proposed(api_client, manager_a, revenue):
    api_client.force_authenticate(manager_a)
    data = api_client.get(URL, JANUARY).json()
    assert (data["method"], data["proposals"], data["path"]) == ("none", [], [])


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"kpi": None}, {"kpi": ["This field is required."]}),
        ({"kpi": "nope"}, {"kpi": ["Unknown KPI 'nope'."]}),
        ({"start": "2026-02-01"}, {"start": ["start must be on or before end."]}),
        ({"end": "2028-01-02"}, {"end": ["At most 731 days (732 asked): narrow the dates."]}),
        ({"start": "01/01/2026"}, {"start": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        (
            {"segment": "colour=red"},
            {"segment": ["Choose a breakdown of this KPI, as <breakdown>=<value> (breakdowns: none)."]},
        ),
        ({"team": None}, {"team": ["This field is required."]}),
    ],
)
def test_a_malformed_query_is_a_400_saying_what_is_wrong(api_client, manager_a, revenue, params, errors):
    api_client.force_authenticate(manager_a)
    query = {k: v for k, v in {**JANUARY, **params}.items() if v is not None}
    response = api_client.get(URL, query, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == errors


def test_the_longest_span_is_accepted(api_client, manager_a, revenue):
    api_client.force_authenticate(manager_a)
    # 1 January 2026 – 1 January 2028: 365 + 365 + 1 = 731 days, both included
    response = api_client.get(URL, {**JANUARY, "end": "2028-01-01"})
    assert response.status_code == 200


@time_machine.travel("2026-01-01 09:00:00+01:00", tick=False)
def test_another_team_gets_a_404_and_nothing_of_the_history(api_client, manager_b, history):
    api_client.force_authenticate(manager_b)
    response = api_client.get(URL, JANUARY)
    assert response.status_code == 404
    assert "132" not in response.content.decode()
    # and an API key of team B, too
    _key, secret = api_key_create(team=manager_b.memberships.get().team, name="crm", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert client.get(URL, JANUARY).status_code == 404
    # while its own team is answered (with no history: nothing proposed)
    assert client.get(URL, {**JANUARY, "team": "team-b"}).json()["method"] == "none"


def test_anonymous_callers_are_refused(api_client, revenue, team_a):
    assert api_client.get(URL, JANUARY).status_code in (401, 403)


def test_schema_documents_the_proposal(api_client, manager_a):
    api_client.force_authenticate(manager_a)
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/objectives/target-proposal/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"kpi", "team", "start", "end", "segment"}
    assert "200" in operation["responses"]
    target = schema["components"]["schemas"]["TargetInRequest"]["properties"]
    assert {"minimum_value", "stretch_value", "relative_basis", "relative_percent"} <= set(target)


@time_machine.travel("2026-01-01 09:00:00+01:00", tick=False)
def test_targets_with_a_band_and_a_relative_value_through_the_api(api_client, manager_a, history):
    api_client.force_authenticate(manager_a)
    body = {
        "team": "team-a",
        "title": "January",
        "start_date": "2026-01-01",
        "due_date": "2026-01-31",
        # January 2025 = 132: +10 % → 145.20
        "targets": [
            {
                "kpi": "revenue",
                "relative_basis": "last_year",
                "relative_percent": 10,
                "minimum_value": 132,
                "stretch_value": 158.4,
            }
        ],
    }
    response = api_client.post("/api/v1/objectives/", body, format="json")
    assert response.status_code == 201, response.json()
    target = response.json()["targets"][0]
    assert (target["target_value"], target["minimum_value"], target["stretch_value"]) == (145.2, 132, 158.4)
    assert (target["relative_basis"], target["relative_percent"]) == ("last_year", 10)
    # a minimum above the computed target is refused, per target
    body["targets"][0]["minimum_value"] = 150
    response = api_client.post("/api/v1/objectives/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {"targets": [{"minimum_value": ["The minimum must be at or below the target."]}]}
    assert Objective.objects.count() == 1
