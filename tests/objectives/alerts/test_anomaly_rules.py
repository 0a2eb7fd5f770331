"""Anomaly alert rules (issue 18, item 4): no threshold to give; a value outside the band its own history predicts
fires, with the band kept on the firing row and carried by the webhook, the e-mail and the alert page; a normal
day, the running day and a rate from a small sample do not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from metrics.models import KpiValue
from objectives.alerts.evaluation import alerts_evaluate_scheduled, kpi_observations
from objectives.alerts.forms import AlertRuleForm
from objectives.models import Alert, AlertEvent, AlertRule, WebhookDelivery, WebhookEndpoint
from objectives.notifications import delivery
from tests import factories

pytestmark = pytest.mark.django_db

# Tuesday 10 March 2026: Monday the 9th is the last complete day, judged; the 10th is running.
NOW = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
YESTERDAY, TODAY = dt.date(2026, 3, 9), dt.date(2026, 3, 10)
HISTORY_DAYS = 70  # ten weeks: enough for STL (eight)


def store_history(kpi, team, *, weekday=1000, weekend=600, components=None) -> None:
    """Ten weeks before YESTERDAY without noise: `weekday` Monday to Friday, `weekend` Saturday and Sunday."""
    for back in range(1, HISTORY_DAYS + 1):
        day = YESTERDAY - dt.timedelta(days=back)
        value = weekend if day.weekday() >= 5 else weekday
        factories.kpi_value(
            kpi=kpi, team=team, granularity="day", period_start=day, value=value, components=components or {"x": value}
        )


def anomaly_rule(team, kpi, **extra) -> AlertRule:
    return AlertRule.objects.create(
        team=team, name="Anomalie", kpi=kpi, granularity="day", condition="anomaly", **extra
    )


def evaluate() -> None:
    with time_machine.travel(NOW, tick=False):
        alerts_evaluate_scheduled(now=timezone.now())


# A history without noise has no spread: the band is its floor, 1 % of the expectation in logarithms, K = 3.5
# of them either side: 1 000 × e^±0.035 = 965.605 … 1 035.620 for a Monday.
LOWER, UPPER = 1000 * 2.718281828459045**-0.035, 1000 * 2.718281828459045**0.035


@pytest.fixture
def endpoint(team_a):
    return WebhookEndpoint.objects.create(team=team_a, name="CRM", url="https://93.184.216.34/hook")


def test_a_spike_fires_with_its_band_on_the_row_in_the_webhook_and_the_email(
    team_a, manager_a, revenue, endpoint, django_capture_on_commit_callbacks
):
    # Given ten quiet weeks and a Monday at 3 000 € (and today's first hours at 100 €, running: not judged)
    store_history(revenue, team_a)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=3000)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=TODAY, value=100)
    anomaly_rule(team_a, revenue)
    # When the rules are evaluated
    with django_capture_on_commit_callbacks(execute=False):
        evaluate()
    # Then Monday's alert fires, and today's running value is not judged
    alert = Alert.objects.get()
    assert (alert.period_start, alert.state, alert.value, alert.threshold) == (YESTERDAY, "firing", Decimal(3000), None)
    band = AlertEvent.objects.get(alert=alert, kind="fired").band
    assert band["method"] == "stl" and band["side"] == "above"
    assert band["expected"] == pytest.approx(1000, rel=1e-4)
    assert (band["lower"], band["upper"]) == (pytest.approx(LOWER, rel=1e-4), pytest.approx(UPPER, rel=1e-4))
    # (3 000 − 1 035.62) / 1 035.62 = +189.7 % above the upper bound
    assert band["distance"] == pytest.approx((3000 - UPPER) * 100 / UPPER, abs=0.02)
    # The webhook carries the same band
    assert WebhookDelivery.objects.get(endpoint=endpoint).payload["band"] == band
    # The e-mail (manager-a reads French) says the value, the band and how far outside, in French formats
    delivery.notifications_email_send(now=NOW)
    (message,) = mail.outbox
    assert "3\u00a0000\u00a0€" in message.body
    assert "965,61\u00a0€–1\u00a0036\u00a0€" in message.body
    assert "+189,7\u00a0%" in message.body
    html = message.alternatives[0][0]
    assert "965,61\u00a0€–1\u00a0036\u00a0€" in html


def test_a_normal_day_does_not_fire(team_a, manager_a, revenue):
    store_history(revenue, team_a)
    # 1 030 € on a Monday: within 965.61–1 036 €
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=1030)
    anomaly_rule(team_a, revenue)
    evaluate()
    assert not Alert.objects.exists()


def test_a_dip_fires_below_the_band(team_a, manager_a, revenue):
    store_history(revenue, team_a)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=600)
    anomaly_rule(team_a, revenue)
    evaluate()
    band = AlertEvent.objects.get(kind="fired").band
    # (600 − 965.6) / 965.6 = −37.9 % under the lower bound
    assert band["side"] == "below"
    assert band["distance"] == pytest.approx((600 - LOWER) * 100 / LOWER, abs=0.02)


def test_without_enough_history_nothing_fires(team_a, manager_a, revenue):
    # Three days of history: no band, whatever the value
    for back in (1, 2, 3):
        factories.kpi_value(
            kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY - dt.timedelta(days=back), value=1000
        )
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=100_000)
    anomaly_rule(team_a, revenue)
    evaluate()
    assert not Alert.objects.exists()


def test_a_rate_from_a_small_sample_never_fires(team_a, manager_a, churn):
    # Ten weeks at 50 % of 100 customers, then 0 % of 10: under the 30 records a rate needs, not judged
    store_history(churn, team_a, weekday=50, weekend=50, components={"lost": 50, "customers": 100})
    factories.kpi_value(
        kpi=churn, team=team_a, granularity="day", period_start=YESTERDAY, value=0,
        components={"lost": 0, "customers": 10},
    )  # fmt: skip
    anomaly_rule(team_a, churn)
    evaluate()
    assert not Alert.objects.exists()


def test_a_rate_from_a_large_sample_fires_beyond_its_sampling_error(team_a, manager_a, churn):
    # The same history, then 10 % of 200 customers: the band is the sampling band, 50 ± 100 × 3 × √(0.25 / 200)
    # = 50 ± 10.61 points (wider than the flat history's 50 ± 3.5 × 0.5): 10 % is outside it
    store_history(churn, team_a, weekday=50, weekend=50, components={"lost": 50, "customers": 100})
    factories.kpi_value(
        kpi=churn, team=team_a, granularity="day", period_start=YESTERDAY, value=10,
        components={"lost": 20, "customers": 200},
    )  # fmt: skip
    anomaly_rule(team_a, churn)
    evaluate()
    band = AlertEvent.objects.get(kind="fired").band
    assert (band["lower"], band["upper"]) == (pytest.approx(39.393398), pytest.approx(60.606602))


def test_rule_form_needs_no_threshold_for_an_anomaly(team_a, revenue):
    form = AlertRuleForm(
        data={
            "condition": "anomaly",
            "kpi": "revenue",
            "granularity": "day",
            "pending_count": 1,
            "severity": "warning",
        },
        team=team_a,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["threshold"] is None


def test_rule_page_creates_an_anomaly_rule_without_threshold(client, team_a, manager_a, revenue):
    client.force_login(manager_a)
    response = client.post(
        f"/teams/{team_a.slug}/alert-rules/new/",
        {"condition": "anomaly", "kpi": "revenue", "granularity": "day", "pending_count": 1, "severity": "warning"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AlertRule.objects.get(team=team_a)
    assert (rule.condition, rule.threshold) == ("anomaly", None)


def test_alert_page_shows_the_band_to_its_team_only(client, team_a, manager_a, manager_b, revenue):
    store_history(revenue, team_a)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=3000)
    anomaly_rule(team_a, revenue)
    evaluate()
    alert = Alert.objects.get()
    client.force_login(manager_a)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "data-band" in page and "965,61\u00a0€–1\u00a0036\u00a0€" in page and "+189,7\u00a0%" in page
    # Another team's manager gets a 404 and sees nothing of it
    client.force_login(manager_b)
    response = client.get(f"/alerts/{alert.pk}/")
    assert response.status_code == 404
    assert "1\u00a0036" not in response.content.decode()
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code in (403, 404)


def store_demo_revenue(kpi, team) -> dict[dt.date, float]:
    """The demo's daily revenue (bench/anomalies.py: the demo's order generator, completed orders by day) for the
    two years up to YESTERDAY, stored as the team's day cells; returned by day."""
    from bench import anomalies as bench

    series, _injected, _peaks = bench.demo_revenue(7, end=TODAY, inject=False)
    series = {day: value for day, value in series.items() if day <= YESTERDAY}
    now = timezone.now()
    KpiValue.objects.bulk_create(
        KpiValue(
            kpi=kpi,
            team=team,
            granularity="day",
            period_start=day,
            value=Decimal(str(round(value, 2))),
            components={"x": round(value, 2)},
            computed_at=now,
        )  # fmt: skip
        for day, value in series.items()
    )
    return series


def test_on_the_demo_revenue_an_injected_spike_fires_and_an_ordinary_day_does_not(team_a, manager_a, revenue):
    series = store_demo_revenue(revenue, team_a)
    rule = anomaly_rule(team_a, revenue)
    # The demo's own Monday: an ordinary day, no alert
    evaluate()
    assert not Alert.objects.exists()
    # The same Monday at three times its revenue (recomputed later): it fires, above its band
    factories.kpi_value(
        kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=round(series[YESTERDAY] * 3, 2)
    )
    evaluate()
    alert = Alert.objects.get(rule=rule)
    band = AlertEvent.objects.get(alert=alert, kind="fired").band
    assert (alert.period_start, band["side"], band["method"]) == (YESTERDAY, "above", "stl")
    assert band["lower"] < series[YESTERDAY] < band["upper"]  # the original value was within it


def test_the_history_of_all_anomaly_rules_of_a_kpi_is_read_in_one_query(
    team_a, team_b, revenue, django_assert_num_queries
):
    # Given anomaly rules of two teams on the same KPI, each with its history and a spike
    for team in (team_a, team_b):
        store_history(revenue, team)
        factories.kpi_value(kpi=revenue, team=team, granularity="day", period_start=YESTERDAY, value=3000)
    rules = [anomaly_rule(team, revenue) for team in (team_a, team_b)]
    rules = list(AlertRule.objects.filter(pk__in=[r.pk for r in rules]).select_related("kpi").order_by("pk"))
    # When their observations are gathered: the judged cells in one query, both histories in one more
    with django_assert_num_queries(2):
        found = kpi_observations(rules=rules, periods=lambda r: [YESTERDAY, TODAY], today=TODAY)
    # Then each rule judges yesterday only (today is running), against a band from its own history
    for rule in rules:
        (observation,) = found[rule.pk]
        assert observation.period_start == YESTERDAY and observation.band.method == "stl"
        assert observation.band.upper == pytest.approx(UPPER, rel=1e-4)
