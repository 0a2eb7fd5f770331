"""GET /api/v1/kpis/<code>/drivers/: the numbers, the parameter errors, team isolation, the schema."""

from decimal import Decimal

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.metrics.kpi_support import at, deal

pytestmark = pytest.mark.usefixtures("catalogue")

URL = "/api/v1/kpis/win_rate/drivers/"
FEBRUARY = {"team": "team-a", "start": "2026-02-01", "end": "2026-02-28"}


@pytest.fixture
def deals(team_a, team_b):
    """Team A's win rate: January Ana 3 won / 4, Bob 1 / 4 (50 %); February Ana 6 / 8, Bob 1 / 2 (70 %).
    (Hand-computed in tests/metrics/kpis/test_drivers.py.) Team B: one won deal in each month."""
    for owner, won, lost, month in (("ana", 3, 1, 1), ("bob", 1, 3, 1), ("ana", 6, 2, 2), ("bob", 1, 1, 2)):
        for status, count in (("won", won), ("lost", lost)):
            for _ in range(count):
                deal(team_a, at(2026, month, 2), 10, status=status, closed=at(2026, month, 3), owner=owner)
    for month in (1, 2):
        deal(team_b, at(2026, month, 2), 10, status="won", closed=at(2026, month, 3), owner="zoe")


def test_drivers_of_a_team_between_two_months(api_client, viewer_a, deals):
    api_client.force_authenticate(viewer_a)
    response = api_client.get(URL, FEBRUARY, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    method = body.pop("method")
    labels = [item.pop("label") for item in body["formula"]]
    assert body == {
        "kpi": "win_rate",
        "team": "team-a",
        "unit": "%",
        "start": "2026-02-01",
        "end": "2026-02-28",
        "compare_start": "2026-01-01",  # a whole month: the whole previous month
        "compare_end": "2026-01-31",
        "value": 70.0,
        "compared_value": 50.0,
        "change": 20.0,
        "change_percent": 40.0,
        # won 10 + 250/77 = 13.246… pts, lost 10 − 250/77 = 6.753… pts (Shapley), in % of 50: 26.5 and 13.5
        "formula": [
            {"measure": "won", "contribution": 13.25, "percent": 26.5},
            {"measure": "lost", "contribution": 6.75, "percent": 13.5},
        ],
        "formula_note": "",
        # Bob: rate (50 − 25) × (0.2 + 0.5) / 2 = 8.75, mix (0.2 − 0.5) × (37.5 − 60) = 6.75;
        # Ana: rate 0, mix (0.8 − 0.5) × (75 − 60) = 4.5
        "segments": {
            "owner": [
                {"segment": "bob", "label": "Bob", "contribution": 15.5, "percent": 31.0, "rate": 8.75, "mix": 6.75},
                {"segment": "ana", "label": "Ana", "contribution": 4.5, "percent": 9.0, "rate": 0.0, "mix": 4.5},
            ]
        },
        "segment_notes": {},
    }
    assert labels[0].startswith("Deals") and "Shapley" in method and "mix effect" in method
    parts = [Decimal(str(item["contribution"])) for item in body["segments"]["owner"]]
    assert sum(parts) == Decimal("20")


def test_explicit_compare_span_and_french_words(api_client, viewer_a, deals):
    api_client.force_authenticate(viewer_a)
    params = {**FEBRUARY, "compare_start": "2026-02-01", "compare_end": "2026-02-28", "dimension": "owner"}
    body = api_client.get(URL, params, HTTP_ACCEPT_LANGUAGE="fr").json()
    # the same span: no change, every part zero
    assert body["change"] == 0.0 and {item["contribution"] for item in body["formula"]} == {0.0}
    assert body["compare_start"] == "2026-02-01"
    assert "Shapley" in body["method"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-02-01", "end": "2026-02-28"}, "team", "required"),
        ({**FEBRUARY, "start": "2026-13-01"}, "start", "Date has wrong format"),
        ({**FEBRUARY, "end": "2026-01-01"}, "start", "on or before end"),
        ({**FEBRUARY, "compare_start": "2026-01-01"}, "compare_end", "together"),
        ({**FEBRUARY, "compare_start": "2026-01-31", "compare_end": "2026-01-01"}, "compare_start", "on or before"),
        ({**FEBRUARY, "dimension": "colour"}, "dimension", "no 'colour' breakdown (breakdowns: owner)"),
        ({**FEBRUARY, "start": "2010-01-01"}, "start", "At most 3700 days"),
    ],
)
def test_bad_parameters_get_a_message_per_field(api_client, viewer_a, params, field, message):
    api_client.force_authenticate(viewer_a)
    response = api_client.get(URL, params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_unknown_kpi_is_not_found(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)
    assert api_client.get("/api/v1/kpis/nope/drivers/", FEBRUARY).status_code == 404


def test_another_teams_drivers_are_answered_as_an_unknown_team(api_client, manager_b, deals):
    api_client.force_authenticate(manager_b)
    theirs = api_client.get(URL, FEBRUARY, HTTP_ACCEPT_LANGUAGE="en")
    unknown = api_client.get(URL, {**FEBRUARY, "team": "team-zz"}, HTTP_ACCEPT_LANGUAGE="en")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"].replace("team-a", "team-zz") == unknown.json()["detail"]
    assert "value" not in theirs.json() and "segments" not in theirs.json()
    # while their own team answers
    assert api_client.get(URL, {**FEBRUARY, "team": "team-b"}).json()["value"] == 100.0


def test_api_keys_read_their_own_teams_drivers_only(key_client, team_a, deals):
    client = key_client(team_a, "read")
    assert client.get(URL, FEBRUARY).json()["change"] == 20.0
    assert client.get(URL, {**FEBRUARY, "team": "team-b"}).status_code == 404


def test_anonymous_callers_get_nothing(api_client, deals):
    assert api_client.get(URL, FEBRUARY).status_code in (401, 403)


def test_the_schema_documents_the_endpoint(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/kpis/{code}/drivers/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"team", "start", "end", "compare_start", "compare_end", "dimension"} <= names
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = schema["components"]["schemas"][body]["properties"]
    assert {"value", "compared_value", "change", "formula", "segments", "method"} <= set(properties)
    assert {"400", "404"} <= set(operation["responses"])
