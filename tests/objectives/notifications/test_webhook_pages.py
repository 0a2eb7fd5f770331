"""Webhook settings page: managers add, edit, delete and test endpoints; secret shown once; delivery log; isolation."""

import pytest

from objectives.models import WebhookDelivery, WebhookDeliveryState, WebhookEndpoint
from objectives.notifications import webhooks

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hook"  # a global address literal: no DNS lookup, not refused


@pytest.fixture(autouse=True)
def public_only(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False


@pytest.fixture
def endpoint_a(team_a):
    return WebhookEndpoint.objects.create(team=team_a, name="Ops A", url=PUBLIC_URL)


def test_manager_adds_a_webhook_and_sees_its_secret_once(client, manager_a, team_a):
    client.force_login(manager_a)
    response = client.post(
        "/teams/team-a/webhooks/", {"name": "Ops", "url": PUBLIC_URL, "events": ["alert.firing"], "active": "on"}
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.team, endpoint.name, endpoint.events, endpoint.active) == (team_a, "Ops", ["alert.firing"], True)
    first = client.get("/teams/team-a/webhooks/").content.decode()
    assert endpoint.secret in first and "Copiez-le maintenant" in first
    second = client.get("/teams/team-a/webhooks/").content.decode()
    assert endpoint.secret not in second and f"{endpoint.secret[:4]}••••••••" in second


def test_a_private_address_is_refused_with_the_reason(client, manager_a):
    client.force_login(manager_a)
    response = client.post("/teams/team-a/webhooks/", {"name": "local", "url": "http://10.0.0.5/hook"})
    assert response.status_code == 400
    assert response.context["form"].errors["url"] == [
        "L’adresse 10.0.0.5 est privée, locale ou réservée\xa0: les webhooks ne peuvent pas y être envoyés."
    ]
    assert not WebhookEndpoint.objects.exists()


def test_manager_edits_and_deletes_a_webhook(client, manager_a, endpoint_a):
    client.force_login(manager_a)
    secret = endpoint_a.secret
    client.post(f"/teams/team-a/webhooks/{endpoint_a.pk}/edit/", {"name": "Ops 2", "url": PUBLIC_URL})
    endpoint_a.refresh_from_db()
    assert (endpoint_a.name, endpoint_a.active, endpoint_a.secret) == ("Ops 2", False, secret)
    client.post(f"/teams/team-a/webhooks/{endpoint_a.pk}/delete/")
    assert not WebhookEndpoint.objects.exists()


def test_send_a_test_event_reports_the_result_and_logs_it(client, manager_a, endpoint_a, monkeypatch):
    sent = []

    def fake_deliver(**kwargs):
        sent.append(kwargs)
        return webhooks.AttemptResult(ok=True, status=204, error="")

    monkeypatch.setattr(webhooks, "deliver", fake_deliver)
    client.force_login(manager_a)
    response = client.post(f"/teams/team-a/webhooks/{endpoint_a.pk}/test/", follow=True)
    assert [(k["url"], k["event"]) for k in sent] == [(PUBLIC_URL, "test")]
    html = response.content.decode()
    assert "Événement de test livré (HTTP 204)." in html
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDeliveryState.SUCCEEDED
    assert f'data-delivery="{delivery.pk}"' in html


def test_a_failed_test_event_says_why(client, manager_a, endpoint_a, monkeypatch):
    monkeypatch.setattr(
        webhooks, "deliver", lambda **kwargs: webhooks.AttemptResult(ok=False, status=500, error="HTTP 500")
    )
    client.force_login(manager_a)
    html = client.post(f"/teams/team-a/webhooks/{endpoint_a.pk}/test/", follow=True).content.decode()
    assert "Échec de l’événement de test : HTTP 500" in html


def test_delivery_log_costs_a_constant_number_of_queries(client, manager_a, endpoint_a, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(manager_a)
    WebhookDelivery.objects.create(endpoint=endpoint_a, event="test", payload={})
    with CaptureQueriesContext(connection) as queries:
        client.get("/teams/team-a/webhooks/")
    other = WebhookEndpoint.objects.create(team=endpoint_a.team, name="Other", url=PUBLIC_URL)
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=e, event="test", payload={}) for e in (endpoint_a, other) for _ in range(30)]
    )
    with django_assert_num_queries(len(queries)):
        response = client.get("/teams/team-a/webhooks/")
    # 61 deliveries stored: the log shows the last 50
    assert len(response.context["deliveries"]) == 50


def test_members_and_viewers_may_not_see_webhooks(client, viewer_a, endpoint_a):
    client.force_login(viewer_a)
    assert client.get("/teams/team-a/webhooks/").status_code == 403
    assert client.post(f"/teams/team-a/webhooks/{endpoint_a.pk}/delete/").status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint_a.pk).exists()


def test_another_teams_manager_gets_404_and_nothing_changes(client, manager_b, endpoint_a, monkeypatch):
    monkeypatch.setattr(webhooks, "deliver", lambda **kwargs: pytest.fail("nothing may be sent"))
    client.force_login(manager_b)
    assert client.get("/teams/team-a/webhooks/").status_code == 404
    assert client.post("/teams/team-a/webhooks/", {"name": "x", "url": PUBLIC_URL}).status_code == 404
    for action in ("edit", "delete", "test"):
        assert client.post(f"/teams/team-a/webhooks/{endpoint_a.pk}/{action}/").status_code == 404
        # their own team's URL with team A's webhook id: still nothing
        assert client.post(f"/teams/team-b/webhooks/{endpoint_a.pk}/{action}/").status_code == 404
    endpoint_a.refresh_from_db()
    assert endpoint_a.name == "Ops A" and WebhookEndpoint.objects.count() == 1
    assert not WebhookDelivery.objects.exists()
