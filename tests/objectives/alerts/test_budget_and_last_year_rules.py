"""Two rule conditions of issue 14: a budget's spend forecast beyond it by X %, and a change compared with the
same period last year (like for like on a running period)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import translation

from metrics.models import KpiDefinition
from metrics.recompute.services import kpi_values_recompute
from objectives.alerts.evaluation import alerts_evaluate_scheduled
from objectives.alerts.rules import alert_rule_clean, alert_rule_create
from objectives.models import Alert, AlertState, Budget
from objectives.notifications import emails, webhooks
from tests import factories
from tests.metrics.kpi_support import PARIS, order, spend

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 11, 12, tzinfo=dt.UTC)  # 11 November: 10 days of 30 gone


@pytest.fixture
def budget(team_a, team_b):
    """3 000 € of acquisition in November for team A; 150 € spent each day of 1–10 November (1 500 €), and
    spend of team B and of another category that do not count."""
    for day in range(1, 11):
        spend(team_a, dt.date(2026, 11, day), "acquisition", 150)
        spend(team_a, dt.date(2026, 11, day), "retention", 999)
        spend(team_b, dt.date(2026, 11, day), "acquisition", 999)
    return Budget.objects.create(
        team=team_a,
        name="Acquisition novembre",
        category="acquisition",
        amount=D(3000),
        start_date=dt.date(2026, 11, 1),
        end_date=dt.date(2026, 11, 30),
    )


def test_a_budget_rule_fires_on_the_forecast_overrun(team_a, manager_a, budget):
    # given rules at 20 % and 60 % beyond the budget
    low = alert_rule_create(
        user=manager_a, team=team_a, data={"condition": "budget_over", "budget": budget.pk, "threshold": 20}
    )
    high = alert_rule_create(
        user=manager_a, team=team_a, data={"condition": "budget_over", "budget": budget.pk, "threshold": 60}
    )
    # when judged on 11 November: 1 500 € in 10 days of 30 → forecast 1 500 × 30 / 10 = 4 500 €,
    # (4 500 − 3 000) / 3 000 = 50 % beyond the budget
    alerts_evaluate_scheduled(now=NOW)
    # then the 20 % rule fires with 50 %, the 60 % one does not
    alert = Alert.objects.get()
    assert (alert.rule, alert.state, alert.value, alert.period_start) == (
        low,
        AlertState.FIRING,
        D(50),
        dt.date(2026, 11, 1),
    )
    assert not Alert.objects.filter(rule=high).exists()
    # and it reads as a budget alert, in words, in e-mails and webhooks
    with translation.override("fr"):
        assert "Budget « Acquisition novembre »" in emails.alert_title(alert=alert, kind="fired")
        assert emails.alert_summary(alert=alert).startswith("Dépenses en route pour 50")
    assert emails.alert_sparkline(alert=alert) == []
    payload = webhooks.alert_payload(alert=alert, event="alert.firing")["data"]
    assert (payload["kpi"], payload["budget"], payload["value"]) == (None, budget.pk, 50.0)


def test_the_budget_alert_resolves_when_spend_slows(team_a, manager_a, budget):
    alert_rule_create(
        user=manager_a, team=team_a, data={"condition": "budget_over", "budget": budget.pk, "threshold": 20}
    )
    alerts_evaluate_scheduled(now=NOW)
    # when nothing more is spent until 21 November: 1 500 in 20 days → forecast 2 250 € (−25 %): cleared
    alerts_evaluate_scheduled(now=NOW + dt.timedelta(days=10))
    assert Alert.objects.get().state == AlertState.RESOLVED


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"condition": "budget_over", "threshold": 10}, "budget"),  # no budget
        ({"condition": "budget_over", "threshold": -5, "budget": "mine"}, "threshold"),  # negative overrun
        ({"condition": "budget_over", "budget": "theirs", "threshold": 10}, "budget"),  # another team's
        ({"condition": "above", "kpi": "revenue", "threshold": 1, "budget": "mine"}, "budget"),  # not a budget rule
        ({"condition": "above", "kpi": "revenue", "threshold": 1, "compare_with": "last_year"}, "compare_with"),
        ({"condition": "change_below", "kpi": "revenue", "threshold": -30, "compare_with": "x"}, "compare_with"),
    ],
)
def test_rule_fields_are_checked(team_a, team_b, budget, data, field):
    call_command("load_kpi_catalogue", verbosity=0)
    theirs = Budget.objects.create(
        team=team_b, name="B", category="other", amount=1, start_date=budget.start_date, end_date=budget.end_date
    )
    data = {
        **data,
        **({"budget": {"mine": budget.pk, "theirs": theirs.pk}[data["budget"]]} if "budget" in data else {}),
    }
    with pytest.raises(ValidationError) as error:
        alert_rule_clean(team=team_a, data=data)
    assert field in error.value.message_dict


def test_a_sub_teams_budget_may_be_watched(team_a, make_team, manager_a):
    digital = make_team("digital", parent=team_a)
    budget = Budget.objects.create(
        team=digital, name="D", category="other", amount=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 2)
    )
    clean = alert_rule_clean(team=team_a, data={"condition": "budget_over", "budget": budget.pk, "threshold": 0})
    assert clean["budget"] == budget and clean["name"] == "D — Dépenses prévues au-delà du budget de X % (0)"


# --------------------------------------------------------------------------- the same period last year


def test_a_change_rule_compares_with_the_same_days_last_year(team_a):
    call_command("load_kpi_catalogue", verbosity=0)
    revenue = KpiDefinition.objects.get(code="revenue")
    # given 100 € a day on 1–4 November and 1–4 December 2026, and 250 € a day on 1–4 December 2025
    for day in range(1, 5):
        order(team_a, dt.datetime(2026, 11, day, 10, tzinfo=PARIS), 100)
        order(team_a, dt.datetime(2026, 12, day, 10, tzinfo=PARIS), 100)
        order(team_a, dt.datetime(2025, 12, day, 10, tzinfo=PARIS), 250)
    kpi_values_recompute(start=dt.date(2025, 12, 1), end=dt.date(2026, 12, 5), team_ids=[team_a.pk])
    previous = factories.alert_rule(
        team=team_a, kpi=revenue, name="vs mois dernier", condition="change_below", threshold=-30
    )
    last_year = factories.alert_rule(
        team=team_a,
        kpi=revenue,
        name="vs an dernier",
        condition="change_below",
        threshold=-30,
        compare_with="last_year",
    )
    # when judged on 4 December 2026
    alerts_evaluate_scheduled(now=dt.datetime(2026, 12, 4, 18, tzinfo=dt.UTC))
    # then vs 1–4 November (400 vs 400): 0 %, nothing; vs 1–4 December 2025 (400 vs 1 000): −60 %, it fires
    fired = Alert.objects.filter(period_start=dt.date(2026, 12, 1))
    assert [(a.rule, a.value) for a in fired] == [(last_year, D(-60))]
    assert not Alert.objects.filter(rule=previous).exists()
