"""Object builders shared by the tests: stored KPI values, objectives, alert rules, alerts and their events.

Each builder writes one thing through the ORM (or the one service that owns it) with keyword arguments and
defaults a test overrides only where its numbers matter. Fixtures stay thin wrappers around them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Team, User
from metrics.models import KpiDefinition, KpiValue
from objectives import services as objective_services
from objectives.models import Alert, AlertEvent, AlertRule, AlertState, Objective

# "Not given": lets `None` stay a value one can ask for (an alert without threshold or firing time).
_UNSET: Any = object()


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# --------------------------------------------------------------------------- KPI values


def kpi_value(
    *,
    kpi: KpiDefinition,
    team: Team,
    period_start: dt.date,
    value,
    granularity: str = "month",
    segment: str = "",
    components: dict | None = None,
    computed_at: dt.datetime | None = None,
) -> KpiValue:
    """Store one KPI cell directly (no engine), replacing the cell if it exists; computed now unless given.

    `components` are written only when given, so rewriting a cell's value keeps the components it had.
    """
    defaults: dict[str, Any] = {
        "value": _decimal(value),
        "computed_at": timezone.now() if computed_at is None else computed_at,
    }
    if components is not None:
        defaults["components"] = components
    stored, _created = KpiValue.objects.update_or_create(
        kpi=kpi, team=team, granularity=granularity, period_start=period_start, segment=segment, defaults=defaults
    )
    return stored


def daily_values(*, kpi: KpiDefinition, team: Team, first: dt.date, last: dt.date, value, measure: str = "x") -> None:
    """Store the same day cell on every day of [first, last], its one measure `measure` as the component (so the
    days can rebuild the first days of a period, metrics.kpis.comparisons)."""
    day = first
    while day <= last:
        kpi_value(kpi=kpi, team=team, granularity="day", period_start=day, value=value, components={measure: value})
        day += dt.timedelta(days=1)


# --------------------------------------------------------------------------- objectives


def objective(
    *,
    team: Team,
    owner: User | None,
    kpi: KpiDefinition,
    title: str = "Grow Q1 revenue online",
    description: str = "",
    start_date: dt.date = dt.date(2025, 1, 1),
    due_date: dt.date = dt.date(2025, 3, 31),
    target_value=Decimal("90000"),
    today: dt.date = dt.date(2025, 2, 1),
    **target,
) -> Objective:
    """An objective on one KPI (Q1 2025, 90 000 by default), created through the service as of `today`;
    `target` adds fields of its one target (baseline_value, phasing…)."""
    return objective_services.objective_create(
        team=team,
        owner=owner,
        title=title,
        description=description,
        start_date=start_date,
        due_date=due_date,
        targets=[{"kpi": kpi, "target_value": target_value, **target}],
        today=today,
    )


# --------------------------------------------------------------------------- alerts


def alert_rule(
    *,
    team: Team,
    kpi: KpiDefinition | None = None,
    name: str = "Seuil",
    condition: str = "above",
    threshold=10,
    **fields,
) -> AlertRule:
    """An alert rule of `team` on `kpi`; severity, granularity and the rest take the model's defaults unless given."""
    return AlertRule.objects.create(
        team=team, kpi=kpi, name=name, condition=condition, threshold=_decimal(threshold), **fields
    )


def alert(
    *,
    rule: AlertRule,
    state: str = AlertState.FIRING,
    period_start: dt.date = dt.date(2026, 11, 1),
    value=Decimal("12.5"),
    team: Team | None = None,
    severity: str | None = None,
    threshold=_UNSET,
    fired_at=_UNSET,
    **fields,
) -> Alert:
    """An alert of `rule`: for the rule's team, severity and threshold unless given; fired now unless pending."""
    if threshold is _UNSET:
        threshold = rule.threshold
    if fired_at is _UNSET:
        fired_at = None if state == AlertState.PENDING else timezone.now()
    return Alert.objects.create(
        rule=rule,
        team=team or rule.team,
        period_start=period_start,
        state=state,
        severity=severity or rule.severity,
        value=_decimal(value),
        threshold=_decimal(threshold),
        fired_at=fired_at,
        **fields,
    )


def alert_event(*, alert: Alert, kind: str = "fired", **fields) -> AlertEvent:
    """A history row of `alert`, carrying the alert's value and threshold unless given."""
    values = {"value": alert.value, "threshold": alert.threshold, **fields}
    return AlertEvent.objects.create(alert=alert, kind=kind, **values)


def alert_with_rule(
    *,
    team: Team,
    kpi: KpiDefinition,
    name: str = "CA élevé",
    state: str = AlertState.FIRING,
    period_start: dt.date = dt.date(2026, 3, 1),
    severity: str = "warning",
) -> Alert:
    """An alert with a rule of its own ("above 1 000", value 1 250.5) and the `fired` row of its history."""
    rule = alert_rule(team=team, kpi=kpi, name=name, threshold=1000)
    created = alert(rule=rule, state=state, period_start=period_start, severity=severity, value="1250.5")
    alert_event(alert=created, kind="fired")
    return created
