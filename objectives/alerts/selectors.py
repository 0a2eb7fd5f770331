"""Reads for the alert pages, API and admin: alerts, rules, history, notifications and webhooks.

Every list is scoped to team ids the caller may see (None: every team, for staff) and
joins what its rows show, so a list costs a constant number of queries.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet

from accounts.models import Membership, Team, User
from accounts.selectors import team_ids_with_ancestors, team_ids_with_descendants
from metrics.kpis.anomalies import K, history_start
from metrics.kpis.labels import value_names
from metrics.kpis.periods import period_floor, period_shift
from metrics.kpis.selectors import kpi_value_series
from metrics.models import KpiUnit
from objectives.alerts.evaluation import rule_band
from objectives.models import (
    Alert,
    AlertCondition,
    AlertEvent,
    AlertEventKind,
    AlertRule,
    AlertSeverity,
    AlertState,
    Budget,
    Target,
)
from objectives.models.alerts import OPEN_STATES
from objectives.notifications.emails import alert_period, alert_unit, rule_unit

# The `state` filter: one state, "open" (pending, firing, acknowledged) or "all".
STATE_OPEN = "open"
STATE_ALL = "all"
CHART_PERIODS = 12
ALERT_JOINS = (
    "rule",
    "team",
    "rule__kpi",
    "rule__target__kpi",
    "rule__target__objective",
    "rule__budget",
    "acknowledged_by",
)


def _scoped(queryset: QuerySet, team_ids: set[int] | None, field: str = "team_id") -> QuerySet:
    return queryset if team_ids is None else queryset.filter(**{f"{field}__in": team_ids})


def alerts_for(
    *,
    team_ids: set[int] | None,
    state: str | None = None,
    team: Team | None = None,
    severity: str | None = None,
) -> QuerySet[Alert]:
    """Alerts of these teams, newest first, with their rule, team, KPI and target joined.

    `state`: a state, "open" or "all" (None: all).
    """
    alerts = _scoped(Alert.objects.select_related(*ALERT_JOINS), team_ids)
    if state == STATE_OPEN:
        alerts = alerts.filter(state__in=OPEN_STATES)
    elif state and state != STATE_ALL:
        alerts = alerts.filter(state=state)
    if team is not None:
        alerts = alerts.filter(team=team)
    if severity:
        alerts = alerts.filter(severity=severity)
    return alerts


def alert_for(*, team_ids: set[int] | None, pk: int) -> Alert | None:
    """One alert if it belongs to these teams (None otherwise, so others' alerts read as missing)."""
    return alerts_for(team_ids=team_ids).filter(pk=pk).first()


def alert_events(*, alert: Alert) -> QuerySet[AlertEvent]:
    """An alert's history, oldest first, with who acted."""
    return alert.events.select_related("actor").order_by("at", "id")


def alert_events_in_words(*, alert: Alert) -> list[AlertEvent]:
    """An alert's history, oldest first, each person notified named (`notified` entries get a `name`: the full
    name, else the user name); two queries."""
    events = list(alert_events(alert=alert))
    user_ids = {entry.get("user") for event in events for entry in event.notified or [] if isinstance(entry, dict)}
    users = User.objects.filter(pk__in=[pk for pk in user_ids if isinstance(pk, int)])
    names = {user.pk: user.get_full_name() or user.get_username() for user in users} if user_ids else {}
    for event in events:
        event.notified = [
            {**entry, "name": names.get(entry.get("user"), entry.get("username", ""))} if "user" in entry else entry
            for entry in event.notified or []
            if isinstance(entry, dict)
        ]
    return events


def fired_drivers(*, events: Iterable[AlertEvent]) -> dict | None:
    """What drove the change of an alert, as recorded when it fired (AlertEvent.drivers); None without it."""
    return next((event.drivers for event in events if event.kind == AlertEventKind.FIRED and event.drivers), None)


@dataclass(frozen=True)
class AlertsInWords:
    """Alerts ready to show: each with its `unit` (the value's and threshold's) and `period_label`, and the
    names of the owners and campaigns their segments name (for the `segment` filter)."""

    alerts: list[Alert]
    names: dict[str, str]


def alerts_in_words(*, alerts: Iterable[Alert]) -> AlertsInWords:
    """The alerts (with ALERT_JOINS) with what their rows write in words; at most two queries, for the names of
    owners and campaigns when a segment names some."""
    shown = list(alerts)
    for alert in shown:
        alert.unit = alert_unit(alert)
        alert.period_label = alert_period(alert)
    return AlertsInWords(alerts=shown, names=value_names(alert.segment for alert in shown))


@dataclass(frozen=True)
class RulesInWords:
    """Rules ready to show: each with its threshold's `unit`, and the names their segments name."""

    rules: list[AlertRule]
    names: dict[str, str]


def rules_in_words(*, rules: Iterable[AlertRule]) -> RulesInWords:
    """The rules (from `alert_rules_of`) with their threshold's unit; at most two more queries, for names."""
    shown = list(rules)
    for rule in shown:
        rule.unit = rule_unit(rule)
    return RulesInWords(rules=shown, names=value_names(rule.segment for rule in shown))


def alerts_with_events(*, team_ids: set[int] | None) -> QuerySet[Alert]:
    """Alerts with their history prefetched (API detail)."""
    events = Prefetch("events", queryset=AlertEvent.objects.select_related("actor").order_by("at", "id"))
    return alerts_for(team_ids=team_ids).prefetch_related(events)


def alert_counts(*, team_ids: set[int] | None, team: Team | None = None) -> dict[str, dict[str, int]]:
    """Number of alerts per state and per open severity, in one grouped query: {"state": {...}, "severity": {...}}."""
    alerts = alerts_for(team_ids=team_ids, team=team)
    counts: dict[str, dict[str, int]] = {
        "state": dict.fromkeys(AlertState.values, 0),
        "severity": dict.fromkeys(AlertSeverity.values, 0),
    }
    rows = alerts.order_by().values("state", "severity").annotate(n=Count("id"))
    for row in rows:
        counts["state"][row["state"]] += row["n"]
        if row["state"] in OPEN_STATES:
            counts["severity"][row["severity"]] += row["n"]
    counts["state"][STATE_OPEN] = sum(counts["state"][s] for s in OPEN_STATES)
    counts["state"][STATE_ALL] = sum(counts["state"][s] for s in AlertState.values)
    return counts


def alert_chart(*, alert: Alert) -> dict:
    """The watched KPI's recent values up to the alert's period, with its threshold, for a line chart.

    {"labels": ["YYYY-MM-DD", …], "values": [number|null, …], "threshold": number|null,
     "unit": str, "kpi": str, "highlight": index of the alert's period or null,
     "band": {"lower": [number|null, …], "upper": [number|null, …]} | null}.

    `band`: for an anomaly rule, the band each period was expected in, from the history before it, as the rule
    judges it (objectives.alerts.evaluation); null where the history is too short. One query either way: an
    anomaly rule's chart reads the history its bands need with the values it shows.
    """
    rule = alert.rule
    kpi = rule.kpi or (rule.target.kpi if rule.target_id else None)
    if kpi is None:
        return {}
    granularity = rule.granularity
    segment = alert.segment or (rule.target.segment if rule.target_id else rule.segment)
    start = period_shift(alert.period_start, granularity, -(CHART_PERIODS - 1))
    end = max(alert.period_start, period_shift(alert.period_start, granularity, 1))
    anomaly = rule.condition == AlertCondition.ANOMALY
    first = period_floor(start, granularity)
    series = kpi_value_series(
        kpi=kpi,
        team=alert.team,
        granularity=granularity,
        start=history_start(first, granularity) if anomaly else start,
        end=end,
        segment=segment,
    )
    history = {row["period_start"]: row["value"] for row in series}
    components = {row["period_start"]: row["components"] for row in series}
    series = [row for row in series if row["period_start"] >= first]
    labels: list[str] = []
    values: list[float | None] = []
    for row in series:
        labels.append(row["period_start"].isoformat())
        values.append(None if row["value"] is None else float(row["value"]))
    if alert.period_start.isoformat() not in labels:
        labels.append(alert.period_start.isoformat())
        values.append(None if alert.value is None else float(alert.value))
        order = sorted(range(len(labels)), key=lambda i: labels[i])
        labels = [labels[i] for i in order]
        values = [values[i] for i in order]
    threshold = alert.threshold if alert.threshold is not None else rule.threshold
    # Change and freshness thresholds are percentages or days, not KPI values: no line for them.
    drawn = rule.condition in ("above", "below") and threshold is not None
    return {
        "labels": labels,
        "values": values,
        "threshold": float(threshold) if drawn else None,
        # The unit the chart writes after its numbers: none for a count (« 3 », never « 3 n »).
        "unit": "" if kpi.unit == KpiUnit.COUNT else kpi.unit,
        "kpi": kpi.name,
        "highlight": labels.index(alert.period_start.isoformat()),
        "band": _chart_band(rule, labels, history, components) if anomaly else None,
    }


def _chart_band(rule: AlertRule, labels: list[str], history: dict, components: dict) -> dict | None:
    """The expected band of each charted period (lower and upper lists, null where there is none), as the
    anomaly rule judges it: its width (K, or the rule's threshold) and its sample measure."""
    k = float(rule.threshold) if rule.threshold is not None and rule.threshold > 0 else K
    # An amount that never went below 0 is not expected below it either (a linear band may reach under 0).
    floor = 0.0 if all(value is None or value >= 0 for value in history.values()) else None
    lower: list[float | None] = []
    upper: list[float | None] = []
    for label in labels:
        at = dt.date.fromisoformat(label)
        cell = components.get(at) or {}
        band = rule_band(rule, history, at=at, components=cell, k=k)
        lower.append(None if band is None else round(band.lower if floor is None else max(band.lower, floor), 6))
        upper.append(None if band is None else round(band.upper, 6))
    if all(value is None for value in upper):
        return None
    return {"lower": lower, "upper": upper}


def alert_rules_of(*, team_ids: set[int] | None, team: Team | None = None) -> QuerySet[AlertRule]:
    """Rules of these teams with their KPI, target and recipients, by team and name."""
    rules = AlertRule.objects.select_related(
        "team", "kpi", "target__kpi", "target__objective", "budget"
    ).prefetch_related("recipients")
    rules = _scoped(rules, team_ids)
    if team is not None:
        rules = rules.filter(team=team)
    return rules.order_by("team__name", "name", "id")


def alert_rule_for(*, team_ids: set[int] | None, pk: int) -> AlertRule | None:
    """One rule if it belongs to these teams."""
    return alert_rules_of(team_ids=team_ids).filter(pk=pk).first()


def rule_targets_for(*, team: Team) -> QuerySet[Target]:
    """Targets of the team's own objectives: what an objective rule of the team may watch."""
    return (
        Target.objects.filter(objective__team=team)
        .select_related("objective", "kpi")
        .order_by("objective__due_date", "objective__title", "id")
    )


def rule_budgets_for(*, team: Team) -> QuerySet[Budget]:
    """Budgets of the team and of the teams under it: what a budget rule of the team may watch."""
    return Budget.objects.filter(team_id__in=team_ids_with_descendants([team.pk])).order_by("-start_date", "name")


def rule_recipients_for(*, team: Team) -> QuerySet[User]:
    """People who may receive the team's alerts: members of the team or of a parent team."""
    ancestors = team_ids_with_ancestors([team.pk])
    user_ids = Membership.objects.filter(team_id__in=ancestors).values("user_id")
    return User.objects.filter(pk__in=user_ids, is_active=True).order_by("username")
