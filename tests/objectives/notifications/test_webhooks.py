"""Outgoing webhooks against a receiver running in the test: every signature verified with the secret,
retries with growing backoff after 500, private addresses refused, no redirects, secrets never logged."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone, translation

from objectives.models import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
)
from objectives.notifications import delivery as deliveries
from objectives.notifications import outbox, webhooks
from objectives.notifications import tasks as notification_tasks
from objectives.notifications.tasks import webhook_delivery_send_task
from tests import factories

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- the receiver


class Receiver:
    """An HTTP server on 127.0.0.1 that checks each request's signature with `secret` on its own
    (hmac + hashlib, not the code under test) and answers the planned statuses in turn (then 200)."""

    def __init__(self):
        self.secret = ""
        self.statuses: list[int] = []
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers.get("X-KPI-Timestamp", "")
                signature = self.headers.get("X-KPI-Signature", "")
                expected = (
                    "sha256="
                    + hmac.new(receiver.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                )
                receiver.requests.append(
                    {
                        "path": self.path,
                        "body": body,
                        "json": json.loads(body),
                        "timestamp": timestamp,
                        "signature": signature,
                        "verified": hmac.compare_digest(expected, signature),
                        "event": self.headers.get("X-KPI-Event"),
                    }
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver():
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English here (French is checked once below)."""
    with translation.override("en"):
        yield


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def firing_alert(team_a, churn):
    rule = factories.alert_rule(
        team=team_a, name="Attrition haute", condition="above", kpi=churn, threshold=D("10"), severity="critical"
    )
    return factories.alert(
        rule=rule,
        team=team_a,
        period_start=dt.date(2026, 11, 1),
        state="firing",
        severity="critical",
        value=D("12.5"),
        threshold=D("10"),
        fired_at=timezone.now(),
    )


def endpoint_for(receiver: Receiver, team, **extra) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.create(team=team, name="Receiver", url=receiver.url, **extra)
    receiver.secret = endpoint.secret
    return endpoint


# --------------------------------------------------------------------------- signing


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    # given the secret "s3cret", timestamp 1700000000 and body {"a":1}
    body = b'{"a":1}'
    # then the header is sha256= + HMAC-SHA256("s3cret", "1700000000.{"a":1}"), computed here with hmac directly
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert webhooks.signature_compute(secret="s3cret", timestamp=1700000000, body=body) == f"sha256={expected}"
    assert webhooks.signature_verify(secret="s3cret", timestamp="1700000000", body=body, signature=f"sha256={expected}")
    assert not webhooks.signature_verify(
        secret="other", timestamp="1700000000", body=body, signature=f"sha256={expected}"
    )
    assert not webhooks.signature_verify(
        secret="s3cret", timestamp="1700000001", body=body, signature=f"sha256={expected}"
    )


# --------------------------------------------------------------------------- delivery, retries


def test_an_alert_is_delivered_after_a_500_then_a_200_with_every_signature_verified(
    receiver, allow_private, firing_alert, team_a, monkeypatch
):
    # given a team endpoint whose receiver answers 500 once, then 200
    endpoint = endpoint_for(receiver, team_a)
    receiver.statuses = [500]
    notified = outbox.alert_notify(alert=firing_alert, event=factories.alert_event(alert=firing_alert, kind="fired"))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert {"webhook": endpoint.pk, "url": receiver.url} in notified
    countdowns = []
    original_retry = webhook_delivery_send_task.retry

    def retry_spy(*args, **kwargs):
        countdowns.append(kwargs["countdown"])
        return original_retry(*args, **kwargs)

    monkeypatch.setattr(webhook_delivery_send_task, "retry", retry_spy)

    # when the task runs (eagerly: its retry runs at once instead of after the countdown)
    webhook_delivery_send_task.apply(args=[delivery.pk], kwargs={"expected_attempts": 0})

    # then two requests, both signed correctly, with the same body (same delivery id)
    assert [r["verified"] for r in receiver.requests] == [True, True]
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    payload = receiver.requests[1]["json"]
    assert payload["id"] == delivery.pk
    assert payload["event"] == "alert.firing"
    assert payload["team"] == "team-a"
    assert payload["data"] == {
        "alert": firing_alert.pk,
        "rule": firing_alert.rule.pk,
        "rule_name": "Attrition haute",
        "kpi": "churn_rate",
        "budget": None,
        "segment": "",
        "granularity": "month",
        "period_start": "2026-11-01",
        "value": 12.5,
        "threshold": 10.0,
        "condition": "above",
        "state": "firing",
        "severity": "critical",
        "url": f"http://127.0.0.1:8000/alerts/{firing_alert.pk}/",
    }
    assert receiver.requests[1]["event"] == "alert.firing"
    # and one retry, 30 s after the first failure
    assert countdowns == [30]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("succeeded", 2, 200)
    assert delivery.error == ""
    assert delivery.delivered_at is not None


def test_backoff_doubles_and_the_delivery_fails_after_six_attempts(receiver, allow_private, team_a, monkeypatch):
    # given a receiver that always answers 500
    endpoint = endpoint_for(receiver, team_a)
    receiver.statuses = [500] * 10
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test", payload={"event": "test"})
    countdowns = []
    original_retry = webhook_delivery_send_task.retry

    def retry_spy(*args, **kwargs):
        countdowns.append(kwargs["countdown"])
        return original_retry(*args, **kwargs)

    monkeypatch.setattr(webhook_delivery_send_task, "retry", retry_spy)

    # when the task runs with its retries
    webhook_delivery_send_task.apply(args=[delivery.pk], kwargs={"expected_attempts": 0})

    # then 30 s × 2ⁿ between attempts: 30, 60, 120, 240, 480, and no 7th attempt
    assert countdowns == [30, 60, 120, 240, 480]
    assert len(receiver.requests) == 6
    assert all(r["verified"] for r in receiver.requests)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("failed", 6, 500)
    assert delivery.error.startswith("HTTP 500")
    assert delivery.next_attempt_at is None


def test_next_attempt_is_due_after_the_backoff_and_a_stale_retry_does_nothing(receiver, allow_private, team_a):
    # given a failed first attempt at a fixed instant
    endpoint = endpoint_for(receiver, team_a)
    receiver.statuses = [500, 200]
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test", payload={"event": "test"})
    at = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    deliveries.webhook_delivery_attempt(delivery_id=delivery.pk, expected_attempts=0, now=at)
    delivery.refresh_from_db()
    # then the next attempt is due 30 s later
    assert delivery.next_attempt_at == at + dt.timedelta(seconds=30)
    # and without an expectation the row is not claimed before then
    assert deliveries.webhook_delivery_attempt(delivery_id=delivery.pk, now=at + dt.timedelta(seconds=29)) is None
    # and a duplicate message still expecting 0 attempts is ignored
    assert deliveries.webhook_delivery_attempt(delivery_id=delivery.pk, expected_attempts=0) is None
    assert len(receiver.requests) == 1
    # when it is due, the attempt goes out and succeeds
    done = deliveries.webhook_delivery_attempt(delivery_id=delivery.pk, now=at + dt.timedelta(seconds=30))
    assert (done.state, done.attempts) == ("succeeded", 2)
    # and a run after success sends nothing
    assert deliveries.webhook_delivery_attempt(delivery_id=delivery.pk, expected_attempts=2) is None
    assert len(receiver.requests) == 2


def test_the_sweep_enqueues_due_deliveries_only(receiver, allow_private, team_a):
    # given one delivery due and one whose next attempt is in the future
    from kpiplatform.celery import app

    app.conf.task_always_eager = True
    try:
        endpoint = endpoint_for(receiver, team_a)
        now = timezone.now()
        due = WebhookDelivery.objects.create(
            endpoint=endpoint, event="test", payload={"event": "test"}, attempts=1, next_attempt_at=now
        )
        later = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="test",
            payload={"event": "test"},
            attempts=1,
            next_attempt_at=now + dt.timedelta(minutes=5),
        )
        # when the sweep runs
        result = notification_tasks.deliveries_sweep(now=now)
    finally:
        app.conf.task_always_eager = False
    # then only the due one was sent
    assert result == {"emails": 0, "webhooks": 1}
    assert [r["json"]["id"] for r in receiver.requests] == [due.pk]
    assert WebhookDelivery.objects.get(pk=due.pk).state == "succeeded"
    assert WebhookDelivery.objects.get(pk=later.pk).state == "pending"


def test_send_test_event_delivers_once_synchronously(receiver, allow_private, team_a):
    endpoint = endpoint_for(receiver, team_a)
    delivery = deliveries.webhook_test_send(endpoint=endpoint)
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["verified"] is True
    assert request["json"]["event"] == "test"
    assert request["json"]["id"] == delivery.pk


def test_a_failed_test_event_is_not_retried(receiver, allow_private, team_a):
    endpoint = endpoint_for(receiver, team_a)
    receiver.statuses = [503]
    delivery = deliveries.webhook_test_send(endpoint=endpoint)
    assert (delivery.state, delivery.response_status, delivery.next_attempt_at) == ("failed", 503, None)


def test_redirects_are_not_followed(receiver, allow_private, team_a):
    # given a receiver answering 302 to /elsewhere
    endpoint = endpoint_for(receiver, team_a)
    receiver.statuses = [302]
    delivery = deliveries.webhook_test_send(endpoint=endpoint)
    # then one request only, and the attempt counts as failed
    assert len(receiver.requests) == 1
    assert (delivery.state, delivery.response_status) == ("failed", 302)


# --------------------------------------------------------------------------- address guard


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/hook",
        "http://192.168.1.20/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    errors = webhooks.webhook_url_errors(url)
    assert len(errors) == 1
    assert "private, local or reserved" in errors[0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "must start with https:// or http://"),
        ("https:///nohost", "no host"),
        ("https://user:pw@93.184.216.34/hook", "Credentials"),
    ],
)
def test_malformed_urls_are_refused(url, message):
    assert message in webhooks.webhook_url_errors(url)[0]


def test_address_errors_are_translated():
    with translation.override("fr"):
        assert webhooks.webhook_url_errors("http://10.1.2.3/hook") == [
            "L’adresse 10.1.2.3 est privée, locale ou réservée\u00a0: les webhooks ne peuvent pas y être envoyés."
        ]


def test_a_public_address_is_accepted_and_the_setting_allows_private_ones(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert webhooks.webhook_url_errors("https://93.184.216.34/hook") == []
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert webhooks.webhook_url_errors("http://127.0.0.1:8080/hook") == []


def test_delivery_to_a_loopback_receiver_is_refused_without_connecting(receiver, team_a, settings):
    # given the setting off and an endpoint on 127.0.0.1 (saved before the setting changed)
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = endpoint_for(receiver, team_a)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test", payload={"event": "test"})
    # when an attempt is made
    done = deliveries.webhook_delivery_attempt(delivery_id=delivery.pk, expected_attempts=0)
    # then nothing reached the receiver and the log says why
    assert receiver.requests == []
    assert (done.state, done.response_status) == ("pending", None)
    assert "127.0.0.1 is private, local or reserved" in done.error


def test_a_hostname_resolving_to_loopback_is_refused_at_send_time(receiver, team_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = WebhookEndpoint.objects.create(
        team=team_a, name="Local", url=receiver.url.replace("127.0.0.1", "localhost")
    )
    delivery = deliveries.webhook_test_send(endpoint=endpoint)
    assert receiver.requests == []
    assert delivery.state == "failed"
    assert "private, local or reserved" in delivery.error


# --------------------------------------------------------------------------- secrets


def test_the_secret_and_signature_are_never_logged_nor_stored(receiver, allow_private, team_a, caplog):
    endpoint = endpoint_for(receiver, team_a)
    receiver.statuses = [500, 200]
    caplog.set_level(logging.DEBUG)
    failed = deliveries.webhook_test_send(endpoint=endpoint)
    delivered = deliveries.webhook_test_send(endpoint=endpoint)
    signatures = [r["signature"] for r in receiver.requests]
    assert len(signatures) == 2 and all(s.startswith("sha256=") for s in signatures)
    logged = caplog.text
    assert "failed" in logged and "delivered" in logged
    for secret_text in [endpoint.secret, *signatures, *(s.removeprefix("sha256=") for s in signatures)]:
        assert secret_text not in logged
        for row in (failed, delivered):
            assert secret_text not in json.dumps(row.payload)
            assert secret_text not in row.error


def test_an_endpoint_deactivated_after_the_event_gets_nothing(receiver, allow_private, team_a):
    endpoint = endpoint_for(receiver, team_a)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test", payload={"event": "test"})
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    done = deliveries.webhook_delivery_attempt(delivery_id=delivery.pk, expected_attempts=0)
    assert receiver.requests == []
    assert done.state == WebhookDeliveryState.FAILED
