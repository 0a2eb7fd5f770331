"""REST API of alert rules, alerts and notifications (DESIGN.md §9): shapes, roles, API keys, team isolation."""

from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import api_key_create
from objectives.models import Alert, AlertRule, AlertState, Notification
from tests import factories

pytestmark = pytest.mark.django_db

RULES = "/api/v1/alert-rules/"
ALERTS = "/api/v1/alerts/"


def key_client(team, scopes: str) -> APIClient:
    _api_key, key = api_key_create(team=team, name=f"crm-{scopes}", scopes=scopes.split(","))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_ACCEPT_LANGUAGE="en")
    return client


@pytest.fixture
def alert_a(team_a, revenue):
    return factories.alert_with_rule(team=team_a, kpi=revenue)


@pytest.fixture
def alert_b(team_b, revenue):
    return factories.alert_with_rule(team=team_b, kpi=revenue, name="CA B")


def test_manager_creates_a_rule_as_in_the_contract(api_client, manager_a, revenue):
    api_client.force_authenticate(manager_a)
    body = {"team": "team-a", "kpi": "revenue", "granularity": "month", "condition": "above", "threshold": 1000}
    response = api_client.post(RULES, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    rule = AlertRule.objects.get()
    assert data["id"] == rule.pk
    assert (data["team"], data["kpi"], data["granularity"], data["condition"]) == (
        "team-a",
        "revenue",
        "month",
        "above",
    )
    assert data["threshold"] == 1000 and data["target"] is None and data["recipients"] == []
    assert rule.created_by == manager_a
    # read back, list
    assert api_client.get(f"{RULES}{rule.pk}/").json()["name"] == data["name"]
    assert [r["id"] for r in api_client.get(RULES).json()["results"]] == [rule.pk]


def test_rule_errors_are_json_with_a_message_per_field(api_client, manager_a, revenue):
    api_client.force_authenticate(manager_a)
    api_client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    response = api_client.post(
        RULES, {"team": "team-a", "kpi": "nope", "condition": "above", "threshold": 1}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"kpi": ["Unknown KPI 'nope'."]}
    response = api_client.post(RULES, {"team": "team-a", "kpi": "revenue", "condition": "above"}, format="json")
    assert response.json() == {"threshold": ["This condition needs a threshold."]}
    response = api_client.post(
        RULES,
        {"team": "team-a", "kpi": "revenue", "condition": "above", "threshold": 1, "pending_count": 0},
        format="json",
    )
    assert response.json() == {"pending_count": ["The number of consecutive breaches must be at least 1."]}
    assert not AlertRule.objects.exists()


def test_viewer_reads_rules_but_may_not_create_them(api_client, viewer_a, revenue):
    api_client.force_authenticate(viewer_a)
    body = {"team": "team-a", "kpi": "revenue", "condition": "above", "threshold": 1000}
    assert api_client.post(RULES, body, format="json").status_code == 403
    assert api_client.get(RULES).status_code == 200
    assert not AlertRule.objects.exists()


def test_another_teams_user_gets_404_on_rules_and_nothing_changes(api_client, manager_b, alert_a):
    rule = alert_a.rule
    api_client.force_authenticate(manager_b)
    body = {"team": "team-a", "kpi": "revenue", "condition": "above", "threshold": 1}
    assert api_client.post(RULES, body, format="json").status_code == 404
    assert api_client.get(f"{RULES}{rule.pk}/").status_code == 404
    assert api_client.patch(f"{RULES}{rule.pk}/", {"threshold": 5}, format="json").status_code == 404
    assert api_client.delete(f"{RULES}{rule.pk}/").status_code == 404
    assert api_client.get(RULES).json()["results"] == []
    assert api_client.get(RULES, {"team": "team-a"}).status_code == 404
    rule.refresh_from_db()
    assert rule.threshold == Decimal(1000) and AlertRule.objects.count() == 1


def test_manager_patches_and_deletes_a_rule(api_client, manager_a, alert_a):
    rule = alert_a.rule
    api_client.force_authenticate(manager_a)
    response = api_client.patch(f"{RULES}{rule.pk}/", {"threshold": 1500, "severity": "critical"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["threshold"], response.json()["severity"]) == (1500, "critical")
    assert api_client.delete(f"{RULES}{rule.pk}/").status_code == 204
    assert not AlertRule.objects.exists() and not Alert.objects.exists()


def test_alert_list_items_carry_the_contract_fields(api_client, viewer_a, alert_a, alert_b):
    api_client.force_authenticate(viewer_a)
    response = api_client.get(ALERTS, {"team": "team-a", "state": "firing"})
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["id"] == alert_a.pk
    assert item["rule"] == alert_a.rule_id and item["rule_name"] == "CA élevé"
    assert (item["team"], item["kpi"], item["period_start"]) == ("team-a", "revenue", "2026-03-01")
    assert (item["value"], item["threshold"], item["state"]) == (1250.5, 1000, "firing")


def test_alert_list_filters_by_state_and_severity(api_client, manager_a, team_a, revenue, alert_a):
    resolved = factories.alert_with_rule(
        team=team_a, kpi=revenue, state=AlertState.RESOLVED, name="old", period_start=date(2026, 1, 1)
    )
    api_client.force_authenticate(manager_a)
    assert [a["id"] for a in api_client.get(ALERTS, {"state": "open"}).json()["results"]] == [alert_a.pk]
    assert [a["id"] for a in api_client.get(ALERTS, {"state": "resolved"}).json()["results"]] == [resolved.pk]
    assert len(api_client.get(ALERTS).json()["results"]) == 2
    assert api_client.get(ALERTS, {"severity": "critical"}).json()["results"] == []
    assert api_client.get(ALERTS, {"state": "melted"}).status_code == 400


def test_alert_list_costs_a_constant_number_of_queries(
    api_client, manager_a, team_a, revenue, alert_a, django_assert_max_num_queries
):
    for month in range(1, 3):
        factories.alert_with_rule(team=team_a, kpi=revenue, name=f"r{month}", period_start=date(2025, month, 1))
    api_client.force_authenticate(manager_a)
    # session user: memberships, team tree, count, page — and nothing per alert (3 alerts here)
    with django_assert_max_num_queries(6):
        response = api_client.get(ALERTS)
    assert len(response.json()["results"]) == 3


def test_alert_detail_has_its_history(api_client, viewer_a, alert_a):
    api_client.force_authenticate(viewer_a)
    data = api_client.get(f"{ALERTS}{alert_a.pk}/").json()
    assert [e["kind"] for e in data["history"]] == ["fired"]
    assert data["history"][0]["value"] == 1250.5


def test_member_acknowledges_with_a_comment_and_the_history_shows_it(api_client, make_user, team_a, alert_a):
    member = make_user("member-a", team=team_a, role=Role.MEMBER)
    api_client.force_authenticate(member)
    response = api_client.post(f"{ALERTS}{alert_a.pk}/acknowledge/", {"comment": "On regarde"}, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["state"] == "acknowledged" and data["acknowledged_by"] == "member-a"
    assert [(e["kind"], e["actor"], e["comment"]) for e in data["history"]][-1] == (
        "acknowledged",
        "member-a",
        "On regarde",
    )


def test_resolving_twice_answers_409_with_the_reason(api_client, manager_a, alert_a):
    api_client.force_authenticate(manager_a)
    api_client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    first = api_client.post(f"{ALERTS}{alert_a.pk}/resolve/", {"note": "fixed"}, format="json")
    assert first.status_code == 200 and first.json()["state"] == "resolved"
    second = api_client.post(f"{ALERTS}{alert_a.pk}/resolve/", {}, format="json")
    assert second.status_code == 409
    assert second.json() == {"detail": "This alert is already resolved."}


def test_viewer_may_not_acknowledge(api_client, viewer_a, alert_a):
    api_client.force_authenticate(viewer_a)
    assert api_client.post(f"{ALERTS}{alert_a.pk}/acknowledge/", {}, format="json").status_code == 403
    alert_a.refresh_from_db()
    assert alert_a.state == AlertState.FIRING


def test_another_teams_user_gets_404_on_alerts_and_nothing_changes(api_client, manager_b, alert_a):
    api_client.force_authenticate(manager_b)
    assert api_client.get(f"{ALERTS}{alert_a.pk}/").status_code == 404
    assert api_client.post(f"{ALERTS}{alert_a.pk}/acknowledge/", {}, format="json").status_code == 404
    assert api_client.post(f"{ALERTS}{alert_a.pk}/resolve/", {}, format="json").status_code == 404
    assert api_client.get(ALERTS).json()["results"] == []
    alert_a.refresh_from_db()
    assert alert_a.state == AlertState.FIRING and alert_a.events.count() == 1


def test_read_key_reads_its_team_only_and_cannot_write(team_a, team_b, alert_a, alert_b):
    client = key_client(team_a, "read")
    assert [a["id"] for a in client.get(ALERTS).json()["results"]] == [alert_a.pk]
    assert client.get(f"{ALERTS}{alert_b.pk}/").status_code == 404
    assert [r["id"] for r in client.get(RULES).json()["results"]] == [alert_a.rule_id]
    assert client.post(f"{ALERTS}{alert_a.pk}/acknowledge/", {}, format="json").status_code == 403
    body = {"team": "team-a", "kpi": "revenue", "condition": "above", "threshold": 1}
    assert client.post(RULES, body, format="json").status_code == 403
    assert AlertRule.objects.count() == 2


def test_write_key_creates_rules_and_acknowledges_in_its_team_only(team_a, team_b, alert_a, alert_b):
    client = key_client(team_a, "read,write")
    body = {"team": "team-a", "kpi": "revenue", "condition": "below", "threshold": 10}
    assert client.post(RULES, body, format="json").status_code == 201
    assert client.post(RULES, {**body, "team": "team-b"}, format="json").status_code == 404
    response = client.post(f"{ALERTS}{alert_a.pk}/acknowledge/", {"comment": "bot"}, format="json")
    assert response.status_code == 200 and response.json()["acknowledged_by"] is None
    assert client.post(f"{ALERTS}{alert_b.pk}/acknowledge/", {}, format="json").status_code == 404
    alert_b.refresh_from_db()
    assert alert_b.state == AlertState.FIRING
    assert AlertRule.objects.filter(team=team_b).count() == 1


def test_notifications_are_the_users_own_and_marked_read(api_client, manager_a, manager_b, team_a, team_b):
    mine = [
        Notification.objects.create(user=manager_a, team=team_a, event="alert.firing", title=f"n{i}") for i in range(3)
    ]
    theirs = Notification.objects.create(user=manager_b, team=team_b, event="alert.firing", title="b")
    api_client.force_authenticate(manager_a)
    assert {n["id"] for n in api_client.get("/api/v1/notifications/").json()["results"]} == {n.pk for n in mine}
    response = api_client.post("/api/v1/notifications/read/", {"ids": [mine[0].pk, theirs.pk]}, format="json")
    assert response.json() == {"marked": 1, "unread": 2}
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert api_client.post("/api/v1/notifications/read/", {}, format="json").json() == {"marked": 2, "unread": 0}


def test_api_key_has_no_notifications(team_a):
    client = key_client(team_a, "read,write")
    assert client.get("/api/v1/notifications/").status_code == 403
    assert client.post("/api/v1/notifications/read/", {}, format="json").status_code == 403


def test_the_schema_documents_the_alert_routes_without_warnings():
    # The alert part of /api/v1/schema/, generated from the alert routes alone, full urlconf for enum names
    from django.urls import include, path
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    from objectives.alerts import api as alerts_api
    from objectives.notifications import api as notifications_api

    patterns = [path("api/v1/", include(alerts_api.urlpatterns + notifications_api.urlpatterns))]
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    assert (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache)) == ({}, {})
    assert set(schema["paths"]) == {
        "/api/v1/alert-rules/",
        "/api/v1/alert-rules/{id}/",
        "/api/v1/alerts/",
        "/api/v1/alerts/{id}/",
        "/api/v1/alerts/{id}/acknowledge/",
        "/api/v1/alerts/{id}/resolve/",
        "/api/v1/notifications/",
        "/api/v1/notifications/read/",
    }
    # created, or one of the errors documented for every operation with a body (kpiplatform/api_schema.py)
    assert set(schema["paths"]["/api/v1/alert-rules/"]["post"]["responses"]) == {
        "201", "400", "401", "403", "404", "413", "415", "429", "503"
    }  # fmt: skip
    alert_fields = schema["components"]["schemas"]["AlertOut"]["properties"]
    assert {"rule", "team", "kpi", "period_start", "value", "state"} <= set(alert_fields)
