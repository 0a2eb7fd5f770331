"""Acceptance of issue 7: a rule "churn above 20 %" on a team whose churn passes 20 % in one month yields
exactly one alert for that month, however many times the recompute runs, and it can be acknowledged
with a comment. Real catalogue, real `recompute_kpis --sync`, real signal, tasks and notifications."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from accounts.roles import Role
from kpiplatform.celery import app as celery_app
from metrics.models import Customer, KpiDefinition, KpiValue
from objectives.alerts.services import alert_acknowledge
from objectives.models import Alert, AlertEvent, AlertRule

PARIS = ZoneInfo("Europe/Paris")
MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def eager_tasks():
    """Run enqueued tasks in-process, as a worker would after the commit."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def recompute(capture) -> None:
    # Each run commits, so its after-commit hooks (signal → evaluation task) run, like in production.
    # Only the churn KPI, over the whole history: the other KPIs would only slow the test down.
    with capture(execute=True):
        call_command("recompute_kpis", "--sync", "--kpi", "churn_rate", verbosity=0)


@time_machine.travel(dt.datetime(2026, 5, 15, 10, tzinfo=dt.UTC), tick=False)
def test_churn_above_20_percent_fires_once_for_its_month_and_is_acknowledged(
    make_team, make_user, eager_tasks, django_capture_on_commit_callbacks
):
    # given a support team with a manager, and the shipped catalogue
    call_command("load_kpi_catalogue", verbosity=0)
    support = make_team("support-fr", name="Support France", kind="support")
    manager = make_user("claire", team=support, role=Role.MANAGER)
    churn = KpiDefinition.objects.get(code="churn_rate")
    rule = AlertRule.objects.create(
        team=support, name="Attrition > 20 %", kpi=churn, granularity="month", condition="above", threshold=20
    )
    # and 100 customers acquired on 20 May 2025, 25 of whom leave on 10 March 2026
    customers = Customer.objects.bulk_create(
        Customer(team=support, external_id=f"C-{i}", acquired_at=dt.datetime(2025, 5, 20, 9, tzinfo=PARIS))
        for i in range(100)
    )
    Customer.objects.filter(pk__in=[c.pk for c in customers[:25]]).update(
        churned_at=dt.datetime(2026, 3, 10, 14, tzinfo=PARIS)
    )

    # when the recompute runs three times
    for _run in range(3):
        recompute(django_capture_on_commit_callbacks)

    # then churn by month, by hand: March = 25 lost / 100 active on 1 March = 25 %; February = 0 / 100;
    # April = 0 / 75 — only March passes 20 %
    monthly = dict(
        KpiValue.objects.filter(kpi=churn, team=support, granularity="month", segment="").values_list(
            "period_start", "value"
        )
    )
    assert monthly[MARCH] == Decimal(25)
    assert (monthly[dt.date(2026, 2, 1)], monthly[dt.date(2026, 4, 1)]) == (Decimal(0), Decimal(0))
    # and exactly one alert, for March, fired once and announced once to the team's manager
    alert = Alert.objects.get()
    assert (alert.rule, alert.team, alert.period_start, alert.state) == (rule, support, MARCH, "firing")
    assert (alert.value, alert.threshold) == (Decimal(25), Decimal(20))
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["fired"]
    assert [entry.get("username") for entry in alert.events.get().notified] == ["claire"]
    assert [message.to for message in mail.outbox] == [["claire@example.test"]]

    # when the manager acknowledges it with a comment
    alert_acknowledge(alert=alert, user=manager, comment="Départs liés à la hausse de tarif : plan de rappel lancé.")

    # then it is acknowledged, with the comment in its history, and a fourth recompute changes nothing
    recompute(django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == ("acknowledged", manager)
    assert list(alert.events.order_by("id").values_list("kind", "actor", "comment")) == [
        ("fired", None, ""),
        ("acknowledged", manager.pk, "Départs liés à la hausse de tarif : plan de rappel lancé."),
    ]
    assert Alert.objects.count() == 1
