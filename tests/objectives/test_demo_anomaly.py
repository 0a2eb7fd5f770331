"""The demo's anomaly rule: after `make run`'s seeding, recompute and alert evaluation, exactly its injected
anomaly (yesterday's revenue spike) fires; the demo's ordinary days, weekends and December days do not."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from metrics.demo import ANOMALY_FACTOR
from metrics.models import Order
from objectives.alerts.evaluation import (
    Verdict,
    alerts_evaluate_cells,
    alerts_evaluate_scheduled,
    kpi_observations,
    observation_judge,
)
from objectives.models import Alert, AlertRule

pytestmark = pytest.mark.django_db

# A Tuesday of December: the injected day is Monday 14 December; the two weekends and the first half of
# December before it are judged too.
NOW = dt.datetime(2026, 12, 15, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 15)
INJECTED = dt.date(2026, 12, 14)


def revenue_of(day: dt.date) -> float:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    orders = Order.objects.filter(
        team__slug="ventes", status="completed", ordered_at__gte=start, ordered_at__lt=start + dt.timedelta(days=1)
    )
    return float(sum(orders.values_list("amount", flat=True)))


@time_machine.travel(NOW, tick=False)
def test_after_the_demo_s_start_only_the_injected_anomaly_fires():
    # given `make run`'s start: the catalogue, the demo (default size) and a synchronous recompute
    call_command("load_kpi_catalogue", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    call_command("recompute_kpis", "--sync", stdout=StringIO())
    # when the alerts are judged as after a recompute of the whole history (the recompute's task) and by the
    # 15-minute schedule
    alerts_evaluate_cells(
        kpi_ids=None, team_ids=None, granularities=["day"], start=dt.date(2024, 12, 1), end=TODAY + dt.timedelta(1)
    )
    alerts_evaluate_scheduled()
    # then the anomaly rule has exactly one open alert, on the injected day, above its band
    rule = AlertRule.objects.select_related("kpi").get(team__slug="ventes", name="CA du jour inhabituel")
    (alert,) = Alert.objects.filter(rule=rule)
    assert (alert.period_start, alert.state) == (INJECTED, "firing")
    # The injected day's revenue is ANOMALY_FACTOR (20) times the average day of the 4 weeks before it
    # (orders of those days summed from the stored records, the same sum as the revenue KPI).
    baseline = sum(revenue_of(INJECTED - dt.timedelta(days=n)) for n in range(1, 29)) / 28
    assert float(alert.value) == pytest.approx(ANOMALY_FACTOR * baseline, abs=0.05)
    # and every day of the last eight weeks (weekends and December included) judged by the rule: only the
    # injected one is outside its band
    days = [TODAY - dt.timedelta(days=n) for n in range(1, 57)]
    observations = kpi_observations(rules=[rule], periods=lambda _rule: days, today=TODAY)[rule.pk]
    assert len(observations) == 56
    flagged = [
        o.period_start for o in observations if observation_judge(rule=rule, observation=o).verdict == Verdict.BREACH
    ]
    assert flagged == [INJECTED]
