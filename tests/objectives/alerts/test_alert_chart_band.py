"""An anomaly alert's chart carries the band each charted day was expected in (the page's embedded JSON)."""

import datetime as dt
import json
import math
import re

import pytest

from objectives.models import Alert, AlertRule
from tests import factories
from tests.objectives.alerts.test_anomaly_rules import (
    LOWER,
    UPPER,
    YESTERDAY,
    anomaly_rule,
    evaluate,
    store_history,
)

pytestmark = pytest.mark.django_db


def chart_of(client, alert) -> dict:
    html = client.get(f"/alerts/{alert.pk}/").content.decode()
    found = re.search(r'<script id="alert-chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page embeds its chart's data"
    return json.loads(found.group(1))


def test_the_anomaly_alert_chart_carries_the_expected_band(client, team_a, manager_a, manager_b, revenue):
    # Given ten quiet weeks (1 000 € a weekday, 600 € on weekends) and Monday 9 March at 3 000 €: it fires
    store_history(revenue, team_a)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=3000)
    anomaly_rule(team_a, revenue)
    evaluate()
    alert = Alert.objects.get()
    # When its manager opens the alert
    client.force_login(manager_a)
    chart = chart_of(client, alert)
    # Then the chart's twelve days (26 February – 9 March) each have their band: a history without noise gives
    # the floor, e^±(3.5 × 0.01) around the same weekday's level
    assert chart["labels"][0] == "2026-02-26" and chart["labels"][-1] == "2026-03-09"
    band = chart["band"]
    assert len(band["lower"]) == len(band["upper"]) == len(chart["labels"]) == 12
    monday = chart["highlight"]
    assert (band["lower"][monday], band["upper"][monday]) == (pytest.approx(LOWER), pytest.approx(UPPER))
    saturday = chart["labels"].index("2026-03-07")
    assert band["lower"][saturday] == pytest.approx(600 * math.exp(-0.035))
    assert band["upper"][saturday] == pytest.approx(600 * math.exp(0.035))
    # and 3 000 € is drawn above its band; the normal days inside theirs
    assert chart["values"][monday] == 3000 > band["upper"][monday]
    assert all(
        lower <= value <= upper
        for i, (value, lower, upper) in enumerate(zip(chart["values"], band["lower"], band["upper"], strict=True))
        if i != monday
    )
    # Another team's manager gets a 404 and no chart
    client.force_login(manager_b)
    response = client.get(f"/alerts/{alert.pk}/")
    assert response.status_code == 404 and "alert-chart-data" not in response.content.decode()


def test_a_threshold_rule_s_chart_has_no_band(client, team_a, manager_a, revenue):
    store_history(revenue, team_a)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=3000)
    AlertRule.objects.create(
        team=team_a, name="Plus de 2 000", kpi=revenue, granularity="day", condition="above", threshold=2000
    )
    evaluate()
    client.force_login(manager_a)
    chart = chart_of(client, Alert.objects.get())
    assert chart["band"] is None and chart["threshold"] == 2000


def test_the_chart_reads_values_and_history_in_one_query(team_a, revenue, django_assert_num_queries):
    from objectives.alerts.selectors import alert_chart

    store_history(revenue, team_a)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=3000)
    anomaly_rule(team_a, revenue)
    evaluate()
    alert = Alert.objects.select_related("rule__kpi", "team").get()
    with django_assert_num_queries(1):
        chart = alert_chart(alert=alert)
    assert chart["band"]["upper"][-1] == pytest.approx(UPPER)
    assert dt.date.fromisoformat(chart["labels"][-1]) == YESTERDAY
