"""Issue 18: every alert e-mail and webhook for a change carries the drivers of that change, and they add up to it.

The drivers are computed once when the alert fires (objectives.alerts.drivers) and kept on its history row: the
webhook's `drivers`, the e-mail's line and the alert page read the same numbers. Real catalogue, real recompute,
real evaluation; figures hand-computed from the orders below."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from accounts.roles import Role
from metrics.kpis.catalogue import COMPLETED, event, kpi
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import KpiDefinition
from objectives.alerts import drivers as alert_drivers
from objectives.alerts.evaluation import alerts_evaluate_scheduled
from objectives.alerts.events import alert_event_record
from objectives.models import Alert, AlertEvent, AlertRule, Notification, WebhookDelivery, WebhookEndpoint
from objectives.notifications import delivery, outbox, webhooks
from tests import factories
from tests.metrics.kpi_support import at, deal, order, values

JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
# Early March: February is the closed period before the running one, judged against the whole of January.
NOW = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)


@pytest.fixture
def catalogue(db):
    """The shipped KPI catalogue, plus revenue written as orders × average basket (the same value, two measures)."""
    cache.clear()  # no recompute debounce left by an earlier test
    kpi_catalogue_load()
    basket = event("basket", "orders", "avg", "ordered_at", field="amount", filters=[COMPLETED])
    orders_count = event("orders", "orders", "count", "ordered_at", filters=[COMPLETED])
    entry = kpi(
        "revenue_by_basket",
        "sales",
        ("CA (commandes × panier)", "Revenue (orders × basket)"),
        ("", ""),
        "€",
        "higher",
        "orders * basket",
        [orders_count, basket],
        segments=("channel",),
    )
    kpi_catalogue_load(entries=[entry])


@pytest.fixture
def endpoint(team_a):
    return WebhookEndpoint.objects.create(team=team_a, name="CRM", url="https://93.184.216.34/hook")


def fire(code: str, team, *, condition: str = "change_below", threshold: int = 20) -> Alert:
    """Recompute January and February, evaluate a monthly rule on `code` early March; return February's alert."""
    values(code, team, start=JAN, end=MAR)
    AlertRule.objects.create(
        team=team,
        name="Baisse",
        kpi=KpiDefinition.objects.get(code=code),
        granularity="month",
        condition=condition,
        threshold=threshold,
    )
    with time_machine.travel(NOW, tick=False):
        alerts_evaluate_scheduled(now=timezone.now())
    return Alert.objects.get(period_start=FEB)


def total(parts: list[dict], key: str = "contribution") -> Decimal:
    """Exact sum of JSON numbers (read back as the decimals they were written from)."""
    return sum((Decimal(str(part[key])) for part in parts), Decimal(0))


def send_emails() -> None:
    delivery.notifications_email_send(now=NOW)


# --------------------------------------------------------------------------- a revenue drop, by measure


def test_a_revenue_drop_carries_measure_drivers_adding_up_in_the_webhook_and_the_email(
    catalogue, team_a, manager_a, endpoint, django_capture_on_commit_callbacks
):
    # Given January: 4 completed orders of 50 € = 200 €; February: 2 orders of 70 € = 140 € (−60 €, −30 %).
    for channel in ("email", "email", "web", ""):
        order(team_a, at(2026, 1, 5), 50, channel=channel)
    for channel in ("email", "web"):
        order(team_a, at(2026, 2, 5), 70, channel=channel)
    # When a rule "revenue falls by more than 20 %" is evaluated
    with django_capture_on_commit_callbacks(execute=False):
        alert = fire("revenue_by_basket", team_a)
    # Then it fires, and its firing row keeps the drivers, hand-computed (Shapley for a product of two):
    # orders (2 − 4) × (50 + 70) / 2 = −120 € = −60 pts of 200 €; basket (70 − 50) × (4 + 2) / 2 = +60 € = +30 pts
    assert alert.state == "firing" and alert.value == Decimal("-30")
    fired = AlertEvent.objects.get(alert=alert, kind="fired")
    drivers = WebhookDelivery.objects.get(endpoint=endpoint).payload["drivers"]
    assert fired.drivers["change"] == drivers["change"]  # the webhook sends what the row keeps
    assert (drivers["value"], drivers["compared_value"], drivers["change"], drivers["change_percent"]) == (
        140.0,
        200.0,
        -60.0,
        -30.0,
    )
    assert (drivers["start"], drivers["end"], drivers["compare_start"], drivers["compare_end"]) == (
        "2026-02-01",
        "2026-02-28",
        "2026-01-01",
        "2026-01-31",
    )
    assert [(p["measure"], p["contribution"], p["percent"]) for p in drivers["formula"]] == [
        ("orders", -120.0, -60.0),
        ("basket", 60.0, 30.0),
    ]
    # and the parts add up to the change exactly, in € and in points
    assert total(drivers["formula"]) == Decimal("-60")
    assert total(drivers["formula"], "percent") == Decimal("-30")
    # A product reading a mean has no breakdown by channel: none given, and why
    assert drivers["segments"] == {} and "ni une somme ni un rapport de sommes" in drivers["segment_notes"]["channel"]
    assert "labels" not in drivers and drivers["method"]
    # and the rest of the payload is as before
    assert WebhookDelivery.objects.get().payload["data"]["value"] == -30.0

    # When the e-mail goes out (manager-a reads French), it says it in one line, in French number formats
    send_emails()
    (message,) = mail.outbox
    short = fired.drivers["labels"]["fr"]["formula_short"]
    assert short["orders"] == "commandes"
    # « CA (commandes × panier) −30 % : commandes −60 pts, moyenne de « montant » sur les commandes +30 pts »
    head = "CA (commandes × panier) −30\u00a0%"
    parts = f"{short['orders']} −60\u00a0pts, {short['basket']} +30\u00a0pts"
    (line,) = [text for text in message.body.splitlines() if head in text]
    assert line.endswith(f"{head} : {parts}") or line.endswith(f"{head}: {parts}")  # « : » once the .po is in
    assert parts in message.alternatives[0][0].replace("&#x27;", "'")


# --------------------------------------------------------------------------- a revenue drop, by segment


def test_a_revenue_drop_carries_the_top_three_channels_adding_up_with_the_rest(
    catalogue, team_a, manager_a, make_user, endpoint, django_capture_on_commit_callbacks, monkeypatch
):
    # Given revenue (the sum of completed orders) by channel:
    # January  e-mail 300, web 200, social 100, none 50 = 650 €
    # February e-mail 150, web 180, social 120, none 40 = 490 €: −160 €, −160 / 650 = −24.6 %
    for month, amounts in (
        (1, {"email": 300, "web": 200, "social": 100, "": 50}),
        (2, {"email": 150, "web": 180, "social": 120, "": 40}),
    ):
        for channel, amount in amounts.items():
            order(team_a, at(2026, month, 5), amount, channel=channel)
    english = make_user("anna", team=team_a, role=Role.MANAGER, language="en")
    computed = []
    original = alert_drivers.kpi_drivers
    monkeypatch.setattr(alert_drivers, "kpi_drivers", lambda **kw: computed.append(kw) or original(**kw))
    # When "revenue falls by more than 20 %" is evaluated, with two managers to tell
    with django_capture_on_commit_callbacks(execute=False):
        alert = fire("revenue", team_a)
    # Then the drivers were computed once for the event, not once per recipient
    assert len(computed) == 1
    assert Notification.objects.filter(alert=alert).count() == 2
    drivers = WebhookDelivery.objects.get(endpoint=endpoint).payload["drivers"]
    assert (drivers["value"], drivers["compared_value"], drivers["change"], drivers["change_percent"]) == (
        490.0,
        650.0,
        -160.0,
        -24.6,
    )
    assert total(drivers["formula"]) == Decimal("-160")
    # Each channel's own change: e-mail −150, social +20, web −20, none −10 (largest first; equal parts by name).
    # In points of 650 €: −23.08, +3.08, −3.08, −1.54, rounded by largest remainder to add up to −24.6:
    # −23.1, +3.1, −3.1, −1.5.
    channels = drivers["segments"]["channel"]
    assert [(s["segment"], s["contribution"], s["percent"]) for s in channels] == [
        ("email", -150.0, -23.1),
        ("social", 20.0, 3.1),
        ("web", -20.0, -3.1),
    ]
    # the top three and the rest add up to the change exactly
    rest = drivers["segments_other"]["channel"]
    assert rest == {"count": 1, "contribution": -10.0, "percent": -1.5}
    assert total(channels) + Decimal(str(rest["contribution"])) == Decimal("-160")
    assert total(channels, "percent") + Decimal(str(rest["percent"])) == Decimal("-24.6")

    # When the e-mails go out, each reads the same numbers in its reader's language
    send_emails()
    by_reader = {message.to[0]: message.body for message in mail.outbox}
    fired = AlertEvent.objects.get(alert=alert, kind="fired")
    revenue_fr = fired.drivers["labels"]["fr"]["formula_short"]["revenue"]
    revenue_en = fired.drivers["labels"]["en"]["formula_short"]["revenue"]
    # « Chiffre d'affaires −24,6 % (dont E-mail −23,1 pts) : <revenue> −24,6 pts »
    french = by_reader[manager_a.email]
    assert "Chiffre d'affaires −24,6\u00a0% (" in french and "E-mail −23,1\u00a0pts)" in french
    assert f"{revenue_fr} −24,6\u00a0pts\n" in french
    english_line = by_reader[english.email].split("What drove the change: ")[1].splitlines()[0]
    assert english_line == f"Revenue −24.6\u00a0% (of which E-mail −23.1\u00a0pts): {revenue_en} −24.6\u00a0pts"

    # And the alert page shows them too: the line and each part
    client = Client()
    client.force_login(manager_a)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "data-drivers" in page
    assert (
        escape("Chiffre d'affaires −24,6\u00a0% (dont E-mail") in page
        or escape("Chiffre d'affaires −24,6\u00a0% (of which E-mail") in page
    )
    assert "−3,1\u00a0pts" in page  # web, among the top three channels


# --------------------------------------------------------------------------- no drivers: the alert still goes out


def test_a_kpi_without_a_compared_value_still_alerts_with_drivers_null(
    catalogue, team_a, manager_a, endpoint, django_capture_on_commit_callbacks
):
    # Given deals closed in February only: win rate 1 won / 2 closed = 50 %, and none in January (no value)
    deal(team_a, at(2026, 2, 2), 10, status="won", closed=at(2026, 2, 3), owner="ana")
    deal(team_a, at(2026, 2, 2), 10, status="lost", closed=at(2026, 2, 3), owner="ana")
    # When a rule "win rate below 60 %" is evaluated
    with django_capture_on_commit_callbacks(execute=False):
        alert = fire("win_rate", team_a, condition="below", threshold=60)
    # Then it fires and is delivered, with no drivers: there is no change to split
    assert alert.state == "firing" and alert.value == Decimal(50)
    assert AlertEvent.objects.get(alert=alert, kind="fired").drivers is None
    payload = WebhookDelivery.objects.get(endpoint=endpoint).payload
    assert payload["drivers"] is None and payload["data"]["value"] == 50.0
    send_emails()
    (message,) = mail.outbox
    assert "−" not in message.body.split("Gravité")[1].split("\n\n")[0]  # no drivers line after the figures
    assert not {"What drove the change", "Ce qui explique la variation"} & set(message.body.splitlines())


def test_a_failing_breakdown_never_stops_the_alert(team_a, manager_a, endpoint, revenue, monkeypatch):
    # Given a breakdown that fails outright (a KPI without measures, here forced)
    def broken(**kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(alert_drivers, "kpi_drivers", broken)
    rule = factories.alert_rule(team=team_a, name="Bas", condition="below", kpi=revenue, threshold=Decimal(100))
    alert = factories.alert(rule=rule, period_start=dt.date(2026, 11, 1), value=Decimal(50), fired_at=timezone.now())
    # When the alert fires
    event = alert_event_record(alert=alert, kind="fired", notify=True)
    # Then it is recorded and delivered, with drivers null
    assert event.drivers is None
    assert WebhookDelivery.objects.get(endpoint=endpoint).payload["drivers"] is None


def test_other_events_carry_drivers_null(team_a, endpoint, revenue):
    rule = factories.alert_rule(team=team_a, name="Bas", condition="below", kpi=revenue, threshold=Decimal(100))
    alert = factories.alert(rule=rule, period_start=dt.date(2026, 11, 1), value=Decimal(50), fired_at=timezone.now())
    event = factories.alert_event(alert=alert, kind="resolved")
    assert webhooks.alert_payload(alert=alert, event="alert.resolved", alert_event=event)["drivers"] is None
    outbox.alert_notify(alert=alert, event=event)
    assert WebhookDelivery.objects.get().payload["drivers"] is None
