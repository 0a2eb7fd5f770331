"""Alert rule evaluation: pure judging functions, then the locked, idempotent update of alerts.

A rule is judged on observations — one KPI cell (with the period it is compared with), one
objective target, the freshness of a KPI's data, or a budget's spend forecast — each giving a
verdict: breach, clear (recovered past the recovery threshold), hold (between the two: the
hysteresis band) or skip (no value, too small a sample, no previous period: nothing is judged
and nothing changes). An anomaly rule's verdict is the value against the band its own history predicts
(metrics.kpis.anomalies): no threshold, complete periods only, and the band kept on the alert's history.

Verdicts move the rule's alert for that (team, segment, period) through its states
(pending → firing → acknowledged → resolved). Each rule is evaluated inside one transaction
holding its row lock, so concurrent workers take turns; an observation of data already judged
(not newer than `alert.data_computed_at`) changes nothing, so re-running is harmless.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.selectors import team_ids_with_descendants
from metrics.kpis.anomalies import Band, K, anomaly_band, history_start, kpi_histories
from metrics.kpis.comparisons import LAST_YEAR, PREVIOUS, Comparison, comparison_values, earlier_period_start
from metrics.kpis.freshness import kpi_latest_record_at
from metrics.kpis.periods import (
    local_date,
    local_midnight,
    period_end,
    period_floor,
    period_shift,
    period_starts,
    today_local,
)
from metrics.kpis.selectors import CellQuery, kpi_cells, value_change
from objectives.alerts.events import alert_event_record
from objectives.budgets.selectors import budget_burns
from objectives.models import (
    Alert,
    AlertCondition,
    AlertEventKind,
    AlertRule,
    AlertState,
    CompareBasis,
    ObjectiveState,
    ProgressStatus,
    Target,
)
from objectives.models.alerts import (
    BUDGET_CONDITIONS,
    CHANGE_CONDITIONS,
    FRESHNESS_CONDITIONS,
    KPI_CONDITIONS,
    OPEN_STATES,
    TARGET_CONDITIONS,
)

VALUE_QUANTUM = Decimal("1e-10")
DAYS_QUANTUM = Decimal("0.01")
SECONDS_PER_DAY = Decimal(86400)


# Target statuses that breach each target condition; any other status is a recovery.
TARGET_BREACHES = {
    AlertCondition.AT_RISK: {ProgressStatus.AT_RISK, ProgressStatus.OFF_TRACK, ProgressStatus.MISSED},
    AlertCondition.OFF_TRACK: {ProgressStatus.OFF_TRACK, ProgressStatus.MISSED},
}


class Verdict(StrEnum):
    BREACH = "breach"
    CLEAR = "clear"
    HOLD = "hold"
    SKIP = "skip"


@dataclass(frozen=True)
class Judgement:
    """A verdict and the quantity judged (the KPI value, the change in %, the progress %, the days)."""

    verdict: Verdict
    value: Decimal | None = None
    band: dict | None = None  # anomaly rules: the expected band judged against (AlertEvent.band)


SKIP = Judgement(Verdict.SKIP)


def quantize(value: Decimal | None) -> Decimal | None:
    """A quantity at the stored precision of Alert.value (10 decimals)."""
    if value is None:
        return None
    try:
        return Decimal(value).quantize(VALUE_QUANTUM)
    except InvalidOperation:
        return None


def sample_size(*, components: dict | None, sample_measure: str = "") -> Decimal | None:
    """The number of records a KPI value was computed from: the named component, else the largest one."""
    numbers: dict[str, Decimal] = {}
    for name, raw in (components or {}).items():
        if isinstance(raw, bool) or raw is None:
            continue
        try:
            numbers[name] = Decimal(str(raw))
        except InvalidOperation:
            continue
    if sample_measure:
        return numbers.get(sample_measure)
    return max(numbers.values(), default=None)


def change_percent(*, value: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """(value − previous) / |previous| × 100; None without a non-zero previous value."""
    return value_change(value, previous)[1]


def level_judge(
    *, condition: str, value: Decimal | None, threshold: Decimal, recovery: Decimal | None = None
) -> Judgement:
    """`above`: breach over the threshold, clear at or under the recovery level; `below` mirrors it."""
    if value is None:
        return SKIP
    recovery = threshold if recovery is None else recovery
    # `below` is `above` on the opposite numbers.
    sign = -1 if condition == AlertCondition.BELOW else 1
    if sign * value > sign * threshold:
        verdict = Verdict.BREACH
    elif sign * value <= sign * recovery:
        verdict = Verdict.CLEAR
    else:
        verdict = Verdict.HOLD
    return Judgement(verdict, value)


def change_judge(
    *,
    condition: str,
    value: Decimal | None,
    previous: Decimal | None,
    threshold: Decimal,
    recovery: Decimal | None = None,
    floor: Decimal | None = None,
) -> Judgement:
    """A change vs the previous period in %: `change_above` breaches over +threshold, `change_below`
    under −threshold (given positive or negative), only when the absolute change reaches `floor`."""
    percent = change_percent(value=value, previous=previous)
    if percent is None:
        return SKIP
    threshold = abs(threshold)
    recovery = threshold if recovery is None else abs(recovery)
    signed = percent if condition == AlertCondition.CHANGE_ABOVE else -percent
    big_enough = floor is None or abs(Decimal(value) - Decimal(previous)) >= floor
    if signed > threshold and big_enough:
        verdict = Verdict.BREACH
    elif signed <= recovery:
        verdict = Verdict.CLEAR
    else:
        # Past the threshold on too small a base, or inside the hysteresis band.
        verdict = Verdict.HOLD
    return Judgement(verdict, percent)


def target_judge(*, condition: str, status: str, progress_percent: Decimal | None = None) -> Judgement:
    """A target breaches `at_risk` when at risk or worse, `off_track` when off track or missed."""
    breach = status in TARGET_BREACHES[AlertCondition(condition)]
    return Judgement(Verdict.BREACH if breach else Verdict.CLEAR, progress_percent)


def freshness_judge(*, days: Decimal | None, threshold: Decimal, recovery: Decimal | None = None) -> Judgement:
    """No data for more than `threshold` days (or never any) breaches; data within `recovery` days clears."""
    if days is None:
        return Judgement(Verdict.BREACH, None)
    return level_judge(condition=AlertCondition.ABOVE, value=days, threshold=threshold, recovery=recovery)


@dataclass(frozen=True)
class Observation:
    """What one evaluation saw of one cell: the raw inputs of a judgement and when that data was computed."""

    team_id: int
    segment: str
    period_start: dt.date
    stamp: dt.datetime
    value: Decimal | None = None
    previous: Decimal | None = None
    components: dict = field(default_factory=dict)
    status: str = ""
    days: Decimal | None = None
    band: Band | None = None  # anomaly rules: the band the value is expected in (None: not enough history)


def _judge_kpi(rule: AlertRule, obs: Observation) -> Judgement:
    if rule.threshold is None:
        return SKIP
    if rule.min_sample:
        sample = sample_size(components=obs.components, sample_measure=rule.sample_measure)
        if sample is None or sample < rule.min_sample:
            return SKIP
    if rule.condition in (AlertCondition.ABOVE, AlertCondition.BELOW):
        return level_judge(
            condition=rule.condition, value=obs.value, threshold=rule.threshold, recovery=rule.recovery_threshold
        )
    return change_judge(
        condition=rule.condition,
        value=obs.value,
        previous=obs.previous,
        threshold=rule.threshold,
        recovery=rule.recovery_threshold,
        floor=rule.change_floor,
    )


def anomaly_judge(*, value: Decimal | None, band: Band | None) -> Judgement:
    """Outside its expected band breaches, inside clears; no value or no band (too little history, too small a
    sample) judges nothing. The judgement carries the band and how far outside it the value is."""
    if value is None or band is None:
        return SKIP
    verdict = Verdict.CLEAR if band.contains(float(value)) else Verdict.BREACH
    return Judgement(verdict, value, band=band.document(value))


def _judge_anomaly(rule: AlertRule, obs: Observation) -> Judgement:
    if rule.min_sample:
        sample = sample_size(components=obs.components, sample_measure=rule.sample_measure)
        if sample is None or sample < rule.min_sample:
            return SKIP
    return anomaly_judge(value=obs.value, band=obs.band)


def _judge_target(rule: AlertRule, obs: Observation) -> Judgement:
    return target_judge(condition=rule.condition, status=obs.status, progress_percent=obs.value)


def _judge_freshness(rule: AlertRule, obs: Observation) -> Judgement:
    if rule.threshold is None:
        return SKIP
    return freshness_judge(days=obs.days, threshold=rule.threshold, recovery=rule.recovery_threshold)


def _judge_budget(rule: AlertRule, obs: Observation) -> Judgement:
    """The forecast spend's overrun of the budget, in % of it, above the threshold."""
    if rule.threshold is None:
        return SKIP
    return level_judge(
        condition=AlertCondition.ABOVE, value=obs.value, threshold=rule.threshold, recovery=rule.recovery_threshold
    )


JUDGES: dict[str, Callable[[AlertRule, Observation], Judgement]] = {
    **dict.fromkeys(KPI_CONDITIONS, _judge_kpi),
    **dict.fromkeys(TARGET_CONDITIONS, _judge_target),
    **dict.fromkeys(FRESHNESS_CONDITIONS, _judge_freshness),
    **dict.fromkeys(BUDGET_CONDITIONS, _judge_budget),
    AlertCondition.ANOMALY: _judge_anomaly,
}


def observation_judge(*, rule: AlertRule, observation: Observation) -> Judgement:
    """The verdict of `rule` on one observation (no database access)."""
    return JUDGES[rule.condition](rule, observation)


@dataclass
class EvaluationResult:
    """What an evaluation did: rules judged and history rows written, by kind."""

    rules: int = 0
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: EvaluationResult) -> None:
        self.rules += other.rules
        for kind, count in other.events.items():
            self.events[kind] += count

    @property
    def event_count(self) -> int:
        return sum(self.events.values())


def rules_due(*, now: dt.datetime) -> Q:
    """Rules that are evaluated at `now`: active and not snoozed."""
    return Q(active=True) & (Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))


def _cell_key(rule: AlertRule, team_id: int, segment: str, period_start: dt.date) -> tuple:
    # A freshness rule watches one stream of data: its open alert stays the same while the silence lasts,
    # though the date of the last record (its period) is only known when data comes back.
    if rule.condition in FRESHNESS_CONDITIONS:
        return (team_id, segment)
    return (team_id, segment, period_start)


def _alert_open(*, rule: AlertRule, obs: Observation, judgement: Judgement, now: dt.datetime) -> Alert:
    firing = rule.pending_count <= 1
    return Alert.objects.create(
        rule=rule,
        team_id=obs.team_id,
        segment=obs.segment,
        period_start=obs.period_start,
        state=AlertState.FIRING if firing else AlertState.PENDING,
        severity=rule.severity,
        value=quantize(judgement.value),
        threshold=rule.threshold,
        breach_count=1,
        data_computed_at=obs.stamp,
        fired_at=now if firing else None,
    )


def _alert_advance(
    *, rule: AlertRule, alert: Alert, obs: Observation, judgement: Judgement, now: dt.datetime
) -> list[str]:
    """Apply a verdict on new data to an open alert; return the kinds of the events written."""
    value = quantize(judgement.value)
    verdict = judgement.verdict
    if alert.state == AlertState.PENDING:
        alert.data_computed_at = obs.stamp
        alert.value = value
        if verdict != Verdict.BREACH:
            # Not confirmed: the breach was a blip; nobody heard of it, so nobody hears of its end.
            alert.state = AlertState.RESOLVED
            alert.resolved_at = now
            alert.save()
            alert_event_record(alert=alert, kind=AlertEventKind.RESOLVED, band=judgement.band)
            return [AlertEventKind.RESOLVED]
        alert.breach_count += 1
        if alert.breach_count >= rule.pending_count:
            alert.state = AlertState.FIRING
            alert.fired_at = now
            alert.save()
            alert_event_record(alert=alert, kind=AlertEventKind.FIRED, notify=True, band=judgement.band)
            return [AlertEventKind.FIRED]
        alert.save()
        alert_event_record(alert=alert, kind=AlertEventKind.BREACH, band=judgement.band)
        return [AlertEventKind.BREACH]
    # Firing or acknowledged.
    if verdict == Verdict.CLEAR:
        alert.state = AlertState.RESOLVED
        alert.resolved_at = now
        alert.value = value
        alert.data_computed_at = obs.stamp
        alert.save()
        alert_event_record(alert=alert, kind=AlertEventKind.RESOLVED, notify=True, band=judgement.band)
        return [AlertEventKind.RESOLVED]
    if value != alert.value:
        # Still in breach (or within the hysteresis band): keep the figure current without disturbing anyone.
        alert.value = value
        alert.data_computed_at = obs.stamp
        alert.save()
        alert_event_record(alert=alert, kind=AlertEventKind.UPDATED, band=judgement.band)
        return [AlertEventKind.UPDATED]
    return []


def alert_rule_apply(
    *, rule_id: int, observations: Sequence[Observation], now: dt.datetime | None = None
) -> EvaluationResult:
    """Judge one rule's observations and move its alerts, under the rule's row lock; one transaction."""
    now = now or timezone.now()
    result = EvaluationResult()
    if not observations:
        return result
    with transaction.atomic():
        # Concurrent evaluations of the same rule wait here, then see what the first one wrote.
        rule = AlertRule.objects.select_for_update().filter(rules_due(now=now), pk=rule_id).first()
        if rule is None:
            return result
        result.rules = 1
        alerts = Alert.objects.select_for_update().filter(rule=rule).order_by("id")
        if rule.condition not in FRESHNESS_CONDITIONS:
            periods = [obs.period_start for obs in observations]
            alerts = alerts.filter(period_start__gte=min(periods), period_start__lte=max(periods))
        open_by_cell: dict[tuple, Alert] = {}
        last_by_cell: dict[tuple, Alert] = {}
        for alert in alerts:
            key = _cell_key(rule, alert.team_id, alert.segment, alert.period_start)
            last_by_cell[key] = alert
            if alert.state in OPEN_STATES:
                open_by_cell[key] = alert
        for obs in observations:
            key = _cell_key(rule, obs.team_id, obs.segment, obs.period_start)
            last = last_by_cell.get(key)
            if last is not None and last.data_computed_at is not None and obs.stamp <= last.data_computed_at:
                continue  # this data was judged already (perhaps resolved by hand since): nothing new
            judgement = observation_judge(rule=rule, observation=obs)
            if judgement.verdict == Verdict.SKIP:
                continue
            alert = open_by_cell.get(key)
            if alert is None:
                if judgement.verdict != Verdict.BREACH:
                    continue
                alert = _alert_open(rule=rule, obs=obs, judgement=judgement, now=now)
                kind = AlertEventKind.FIRED if alert.state == AlertState.FIRING else AlertEventKind.PENDING
                alert_event_record(alert=alert, kind=kind, notify=kind == AlertEventKind.FIRED, band=judgement.band)
                kinds = [kind]
            else:
                kinds = _alert_advance(rule=rule, alert=alert, obs=obs, judgement=judgement, now=now)
            last_by_cell[key] = alert
            if alert.state in OPEN_STATES:
                open_by_cell[key] = alert
            else:
                open_by_cell.pop(key, None)
            for kind in kinds:
                result.events[kind] += 1
    return result


def kpi_observations(
    *, rules: Sequence[AlertRule], periods: Callable[[AlertRule], Iterable[dt.date]], today: dt.date | None = None
) -> dict[int, list[Observation]]:
    """Observations of KPI rules on their periods: one query per KPI for all its rules, previous periods included.

    A change rule compares a period with the previous one or, when the rule says so, with the same period last
    year (`compare_with`). On a period still running on `today` it compares like for like, with the same first
    days of that period (metrics.kpis.comparisons: 2 queries per KPI and granularity); without such a value
    (a segment, a prev() KPI) it has no previous value and judges nothing, rather than raise a false alarm
    against a whole period.
    """
    today = today or today_local()
    by_kpi: dict[int, list[AlertRule]] = defaultdict(list)
    for rule in rules:
        by_kpi[rule.kpi_id].append(rule)
    observations: dict[int, list[Observation]] = {}
    for kpi_id, kpi_rules in by_kpi.items():
        wanted = {rule.pk: _judged_periods(rule, periods(rule), today) for rule in kpi_rules}
        spans = [(_compared_start(rule, starts[0]), starts[-1]) for rule in kpi_rules if (starts := wanted[rule.pk])]
        if not spans:
            continue
        query = CellQuery(
            kpi_ids=(kpi_id,),
            granularities=tuple({rule.granularity for rule in kpi_rules}),
            segments=tuple({rule.segment for rule in kpi_rules}),
            first=min(s for s, _e in spans),
            last=max(e for _s, e in spans),
        )
        cells = {
            (c.team_id, c.granularity, c.segment, c.period_start): (c.value, c.components, c.computed_at)
            for c in kpi_cells(team_ids={rule.team_id for rule in kpi_rules}, queries=[query])
        }
        to_date = _running_comparisons(kpi_rules, wanted, today)
        bands = _anomaly_bands(kpi_id, kpi_rules, wanted, cells)
        for rule in kpi_rules:
            found = []
            for start in wanted[rule.pk]:
                cell = cells.get((rule.team_id, rule.granularity, rule.segment, start))
                if cell is None:
                    continue
                previous = _compared_start(rule, start)
                before = cells.get((rule.team_id, rule.granularity, rule.segment, previous))
                running = to_date.get((rule.granularity, start, _basis(rule)))
                if running is not None:
                    same_days = running.value(rule.team_id, rule.kpi_id) if not rule.segment else None
                    before = (same_days,) if not rule.segment and running.has(rule.team_id, rule.kpi_id) else None
                found.append(
                    Observation(
                        team_id=rule.team_id,
                        segment=rule.segment,
                        period_start=start,
                        stamp=cell[2],
                        value=cell[0],
                        previous=before[0] if before is not None else None,
                        components=cell[1] or {},
                        band=bands.get((rule.pk, start)),
                    )
                )
            observations[rule.pk] = found
    return observations


def _judged_periods(rule: AlertRule, periods: Iterable[dt.date], today: dt.date) -> list[dt.date]:
    """The periods a KPI rule judges, oldest first: an anomaly rule judges complete periods only.

    A running period's value is partial (this morning's revenue, the first days of a week), and its band is
    built from complete periods: judged against it, every period would start as a dip. Like-for-like bands
    (the same hours of past days) would need values by hour that are not stored. So a daily anomaly rule
    judges yesterday once today starts, a weekly one last week on Monday: a day late at most for daily rules.
    """
    starts = sorted(set(periods))
    if rule.condition == AlertCondition.ANOMALY:
        starts = [start for start in starts if period_end(start, rule.granularity) <= today]
    return starts


def _anomaly_bands(
    kpi_id: int, rules: Sequence[AlertRule], wanted: dict[int, list[dt.date]], cells: dict[tuple, tuple]
) -> dict[tuple[int, dt.date], Band | None]:
    """The expected band of each judged cell of the KPI's anomaly rules, by (rule id, period start), from the
    KPI's history of each rule's (team, granularity, segment) read in one query (metrics.kpis.anomalies).

    The band's width is metrics.kpis.anomalies.K robust standard deviations, or the rule's threshold when it
    has one (an expert's override; the form leaves it empty). Rates and the NPS count their sample as the rule
    does (`sample_measure`, else the largest component): a small sample gives no band and never fires."""
    anomaly_rules = [r for r in rules if r.condition == AlertCondition.ANOMALY and wanted[r.pk]]
    if not anomaly_rules:
        return {}
    histories = kpi_histories(
        kpi_id=kpi_id,
        cells={(r.team_id, r.granularity, r.segment) for r in anomaly_rules},
        first=min(history_start(wanted[r.pk][0], r.granularity) for r in anomaly_rules),
        last=max(wanted[r.pk][-1] for r in anomaly_rules),
    )
    bands: dict[tuple[int, dt.date], Band | None] = {}
    for rule in anomaly_rules:
        history = histories.get((rule.team_id, rule.granularity, rule.segment), {})
        k = float(rule.threshold) if rule.threshold is not None and rule.threshold > 0 else K
        for start in wanted[rule.pk]:
            cell = cells.get((rule.team_id, rule.granularity, rule.segment, start))
            if cell is None or cell[0] is None:
                continue
            bands[(rule.pk, start)] = rule_band(rule, history, at=start, components=cell[1] or {}, k=k)
    return bands


def rule_band(rule: AlertRule, history, *, at: dt.date, components: dict, k: float) -> Band | None:
    """The band an anomaly rule judges the cell of period `at` against (its sample counted as the rule says)."""
    return anomaly_band(
        history,
        at=at,
        granularity=rule.granularity,
        unit=rule.kpi.unit,
        components=components,
        n=sample_size(components=components, sample_measure=rule.sample_measure),
        k=k,
    )


def _basis(rule: AlertRule) -> str:
    return LAST_YEAR if rule.compare_with == CompareBasis.LAST_YEAR else PREVIOUS


def _compared_start(rule: AlertRule, start: dt.date) -> dt.date:
    """The period a change rule compares the period starting on `start` with (level rules: the previous one)."""
    basis = _basis(rule) if rule.condition in CHANGE_CONDITIONS else PREVIOUS
    return earlier_period_start(start, rule.granularity, basis)


def _running_comparisons(
    rules: Sequence[AlertRule], wanted: dict[int, list[dt.date]], today: dt.date
) -> dict[tuple[str, dt.date, str], Comparison]:
    """For the change rules of one KPI, the like-for-like comparison of each period running on `today`, by
    (granularity, period start, basis)."""
    running: dict[tuple[str, dt.date, str], set[int]] = defaultdict(set)
    for rule in rules:
        if rule.condition not in CHANGE_CONDITIONS:
            continue
        for start in wanted[rule.pk]:
            if start <= today < period_end(start, rule.granularity):
                running[(rule.granularity, start, _basis(rule))].add(rule.team_id)
    return {
        (granularity, start, basis): comparison_values(
            kpis=[rules[0].kpi],
            team_ids=team_ids,
            granularity=granularity,
            period_start=start,
            today=today,
            basis=basis,
        )
        for (granularity, start, basis), team_ids in running.items()
    }


def target_observations(*, rules: Sequence[AlertRule]) -> dict[int, list[Observation]]:
    """Observations of target rules: each target's last computed status (active objectives only); one query."""
    targets = Target.objects.filter(
        pk__in={rule.target_id for rule in rules},
        objective__state=ObjectiveState.ACTIVE,
        computed_at__isnull=False,
    ).select_related("objective")
    by_id = {target.pk: target for target in targets}
    observations: dict[int, list[Observation]] = {}
    for rule in rules:
        target = by_id.get(rule.target_id)
        if target is None:
            continue
        observations[rule.pk] = [
            Observation(
                team_id=rule.team_id,
                segment=rule.segment,
                period_start=target.objective.start_date,
                stamp=target.computed_at,
                value=target.progress_percent,
                status=target.status,
            )
        ]
    return observations


def freshness_observations(*, rules: Sequence[AlertRule], now: dt.datetime) -> dict[int, list[Observation]]:
    """Observations of no-data rules: how many days since the KPI's sources last saw a record of the team."""
    observations: dict[int, list[Observation]] = {}
    today = local_date(now)
    for rule in rules:
        last = kpi_latest_record_at(kpi=rule.kpi, team_ids=team_ids_with_descendants([rule.team_id]), now=now)
        days = None
        if last is not None:
            days = (Decimal(str((now - last).total_seconds())) / SECONDS_PER_DAY).quantize(
                DAYS_QUANTUM, rounding=ROUND_HALF_UP
            )
        # The silence is new data once a day: a pending count then counts days, and re-runs within
        # the day change nothing; a record arriving later is newer still.
        stamp = local_midnight(today) if last is None else max(last, local_midnight(today))
        observations[rule.pk] = [
            Observation(
                team_id=rule.team_id,
                segment=rule.segment,
                period_start=local_date(last) if last is not None else today,
                stamp=stamp,
                days=days,
            )
        ]
    return observations


def budget_observations(*, rules: Sequence[AlertRule], today: dt.date) -> dict[int, list[Observation]]:
    """Observations of budget rules on their running budgets: the forecast spend's overrun of the budget in % of
    it (objectives.budgets.selectors, two queries for all the rules). Spend data arrives by day: the day is the
    observation's stamp, so a pending count counts days."""
    running = {
        rule.budget_id: rule.budget
        for rule in rules
        if rule.budget is not None and rule.budget.start_date <= today <= rule.budget.end_date
    }
    burns = {burn.budget.pk: burn for burn in budget_burns(budgets=list(running.values()), today=today)}
    observations: dict[int, list[Observation]] = {}
    for rule in rules:
        burn = burns.get(rule.budget_id)
        if burn is None:
            continue
        amount = burn.budget.amount
        overrun = None
        if burn.forecast is not None and amount > 0:
            overrun = (burn.forecast - amount) * 100 / amount
        observations[rule.pk] = [
            Observation(
                team_id=rule.team_id,
                segment="",
                period_start=burn.budget.start_date,
                stamp=local_midnight(today),
                value=overrun,
                components={"spent": burn.spent, "forecast": burn.forecast, "budget": amount},
            )
        ]
    return observations


def _apply_all(*, observations: dict[int, list[Observation]], now: dt.datetime) -> EvaluationResult:
    # One transaction per rule: a rule that fails (and is retried) does not undo the others.
    result = EvaluationResult()
    for rule_id in sorted(observations):
        result.add(alert_rule_apply(rule_id=rule_id, observations=observations[rule_id], now=now))
    return result


# After a recompute, KPI rules judge the current period and this many before it (a late import for last
# quarter's months still alerts; a nightly rebuild of two years of history does not).
LOOKBACK_PERIODS = 2


def alerts_evaluate_cells(
    *,
    kpi_ids: Iterable[int] | None,
    team_ids: Iterable[int] | None,
    granularities: Iterable[str],
    start: dt.date,
    end: dt.date,
    now: dt.datetime | None = None,
) -> EvaluationResult:
    """After a recompute: judge the KPI rules on these KPIs and teams over the cells [start, end) of their
    granularity, and the no-data rules on these KPIs and teams (data may have come back)."""
    now = now or timezone.now()
    rules = AlertRule.objects.filter(rules_due(now=now), kpi__isnull=False).select_related("kpi")
    if kpi_ids is not None:
        rules = rules.filter(kpi_id__in=list(kpi_ids))
    if team_ids is not None:
        # The signal names every team whose values changed, ancestors included.
        rules = rules.filter(team_id__in=list(team_ids))
    rules = list(rules)
    granularities = set(granularities)
    kpi_rules = [r for r in rules if r.condition in KPI_CONDITIONS and r.granularity in granularities]

    today = local_date(now)

    def periods(rule: AlertRule) -> list[dt.date]:
        # The engine recomputed every period meeting [start, end); `start` is already the earliest one's start.
        # Only recent periods are judged: a rebuilt history must not flood people with alerts on closed periods.
        first = period_shift(period_floor(today, rule.granularity), rule.granularity, -LOOKBACK_PERIODS)
        return [p for p in period_starts(start=start, end=end, granularity=rule.granularity) if p >= first]

    observations = kpi_observations(rules=kpi_rules, periods=periods, today=today)
    freshness = [r for r in rules if r.condition in FRESHNESS_CONDITIONS]
    observations.update(freshness_observations(rules=freshness, now=now))
    return _apply_all(observations=observations, now=now)


def alerts_evaluate_targets(
    *, kpi_ids: Iterable[int] | None = None, team_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> EvaluationResult:
    """After a progress refresh: judge the target rules on targets reading these KPIs for these teams (None: all)."""
    now = now or timezone.now()
    rules = AlertRule.objects.filter(rules_due(now=now), target__isnull=False)
    if kpi_ids is not None:
        rules = rules.filter(target__kpi_id__in=list(kpi_ids))
    if team_ids is not None:
        rules = rules.filter(target__objective__team_id__in=list(team_ids))
    observations = target_observations(rules=list(rules))
    return _apply_all(observations=observations, now=now)


def alerts_evaluate_scheduled(*, now: dt.datetime | None = None) -> EvaluationResult:
    """Every active rule: KPI rules on the current and previous period of their granularity, target rules,
    no-data rules and budget rules."""
    now = now or timezone.now()
    today = local_date(now)
    rules = list(AlertRule.objects.filter(rules_due(now=now)).select_related("kpi", "budget"))

    def periods(rule: AlertRule) -> list[dt.date]:
        current = period_floor(today, rule.granularity)
        return [period_shift(current, rule.granularity, -1), current]

    observations = kpi_observations(
        rules=[r for r in rules if r.condition in KPI_CONDITIONS], periods=periods, today=today
    )
    observations.update(target_observations(rules=[r for r in rules if r.condition in TARGET_CONDITIONS]))
    observations.update(
        freshness_observations(rules=[r for r in rules if r.condition in FRESHNESS_CONDITIONS], now=now)
    )
    observations.update(budget_observations(rules=[r for r in rules if r.condition in BUDGET_CONDITIONS], today=today))
    return _apply_all(observations=observations, now=now)
