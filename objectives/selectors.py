"""Reads about objectives for pages and the API, as querysets or plain dicts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import Team, User
from metrics.kpis.labels import segment_label, value_names
from metrics.kpis.ranges import monthly_values, value_over, values_over
from metrics.kpis.selectors import kpi_name
from metrics.models import KpiUnit
from objectives import progress, smart
from objectives.models import Judged, Objective, Phasing, ProgressStatus, Target


def objectives_of_team(*, team: Team, status: str | None = None) -> QuerySet[Objective]:
    """A team's objectives with their targets and KPIs, optionally of one progress status."""
    objectives = (
        Objective.objects.filter(team=team)
        .select_related("owner", "parent", "team")
        .prefetch_related("targets__kpi")
        .order_by("due_date", "title")
    )
    if status in ProgressStatus.values:
        objectives = objectives.filter(progress_status=status)
    return objectives


def status_counts(*, team: Team) -> dict[str, int]:
    """How many of the team's objectives are in each progress status."""
    counts = dict.fromkeys(ProgressStatus.values, 0)
    for status in Objective.objects.filter(team=team).values_list("progress_status", flat=True):
        counts[status] += 1
    return counts


def bar_percent(target: Target) -> float:
    """Width of a progress bar, 0–100."""
    if target.progress_percent is None:
        return 0.0
    return float(min(max(target.progress_percent, Decimal(0)), Decimal(100)))


# Why a target gets its recommendation (objectives.progress.target_outlook), in words.
RECOMMENDATION_REASONS = {
    "on_track": gettext_lazy("On track: keep the current effort."),
    "within_best": gettext_lazy("The team has reached the pace required before."),
    "beyond_best": gettext_lazy("The pace required is beyond anything in the team's history."),
    "no_history": gettext_lazy("Not enough history to weigh the pace required."),
    "nearly_over": gettext_lazy("Less than a tenth of the period is left."),
    "missed": gettext_lazy("The target can no longer be met."),
}


def target_rows(*, objective: Objective) -> list[dict]:
    """The targets of an objective with everything the detail page shows."""
    rows = []
    targets = list(objective.targets.select_related("kpi").prefetch_related("phases"))
    names = value_names(t.segment for t in targets)  # owners' and campaigns' names, if a segment names some
    for target in targets:
        plan_months = progress.months_between(objective.start_date, period_end(objective))
        phases = list(target.phases.all())
        rows.append(
            {
                "target": target,
                "kpi_name": kpi_name(target.kpi),
                "segment_label": segment_label(target.segment, names=names),
                "unit": target.kpi.unit,
                "bar_percent": bar_percent(target),
                "chart_id": f"chart-data-{target.pk}",
                "chart": target.chart,
                "months": len(plan_months),
                "phases": phases,
                "phasing_check": phasing_check(target=target, phases=phases),
                "reason": str(RECOMMENDATION_REASONS.get(target.recommendation_reason, "")),
                # A level (rate, average, end value) is read as its gap to the target, in the KPI's unit.
                "gap": target.current_value - target.target_value
                if target.current_value is not None and not (target.kpi.additive and target.judged == "period")
                else None,
                "pace_ratio": target.required_pace / target.pace_so_far
                if target.required_pace is not None and target.pace_so_far
                else None,
            }
        )
    return rows


def phasing_check(*, target: Target, phases=None) -> progress.SumCheck | None:
    """For additive KPIs judged over the period: do the monthly values add up to the target?"""
    phases = list(target.phases.all()) if phases is None else phases
    if not phases or not (target.kpi.additive and target.judged == "period"):
        return None
    return progress.sum_check(parts=[p.value for p in phases], whole=target.target_value)


def cascade(*, objective: Objective) -> dict:
    """The child objectives with their targets, and per parent target whether the children's targets on the
    same KPI (and segment) add up to it — for additive KPIs only."""
    children = list(
        objective.children.select_related("team", "owner").prefetch_related("targets__kpi").order_by("team__name")
    )
    by_kpi: dict[tuple[int, str], list[tuple[Objective, Target]]] = defaultdict(list)
    for child in children:
        for target in child.targets.all():
            by_kpi[(target.kpi_id, target.segment)].append((child, target))
    rows = []
    for target in objective.targets.select_related("kpi"):
        contributions = by_kpi.get((target.kpi_id, target.segment), [])
        check = None
        if target.kpi.additive and target.judged == "period" and contributions:
            check = progress.sum_check(parts=[t.target_value for _c, t in contributions], whole=target.target_value)
        rows.append(
            {
                "target": target,
                "kpi_name": kpi_name(target.kpi),
                "additive": bool(target.kpi.additive),
                "contributions": [{"objective": c, "target": t} for c, t in contributions],
                "check": check,
            }
        )
    return {"children": children, "rows": rows}


HISTORY_PERIODS = 4


# Chart points: weekly up to this many days, monthly beyond.
WEEKLY_CHART_MAX_DAYS = 124


def today_local() -> date:
    """Today in the organisation's time zone."""
    return timezone.localdate()


def period_end(objective: Objective) -> date:
    """End (exclusive) of the objective's period: the day after its due date."""
    return objective.due_date + timedelta(days=1)


# ---------------------------------------------------------------------------
# Plans and baselines
# ---------------------------------------------------------------------------
def target_plan(*, target: Target, objective: Objective | None = None) -> progress.TargetPlan:
    """The pure-maths view of a target (objectives.progress)."""
    objective = objective or target.objective
    phases = ()
    if target.phasing != Phasing.NONE:
        phases = tuple(progress.Phase(p.month, p.value) for p in target.phases.all())
    return progress.TargetPlan(
        start=objective.start_date,
        end=period_end(objective),
        target=target.target_value,
        baseline=target.baseline_value,
        minimum=target.minimum_value,
        stretch=target.stretch_value,
        direction=target.kpi.direction,
        additive=bool(target.kpi.additive),
        judged=target.judged,
        warning_percent=target.warning_percent,
        critical_percent=target.critical_percent,
        phases=phases,
    )


def baseline_window(*, start: date, end: date, judged: str) -> tuple[date, date]:
    """Where a default baseline is read: the preceding period of the same length, or the month before."""
    if judged == Judged.END:
        return progress.month_start(start - timedelta(days=1)), progress.month_start(start)
    return progress.previous_window(start, end)


def baseline_default(
    *, kpi, team: Team, segment: str = "", start: date, end: date, judged: str = Judged.PERIOD
) -> Decimal | None:
    """The KPI's value over the period preceding the objective (of the same length; the month before for
    end-judged targets); None when it has no value there."""
    window_start, window_end = baseline_window(start=start, end=end, judged=judged)
    return value_over(kpi=kpi, team=team, segment=segment, start=window_start, end=window_end)


def kpi_history(
    *, kpi, team: Team, segment: str = "", start: date, end: date, judged: str = Judged.PERIOD
) -> list[Decimal | None]:
    """The KPI over the HISTORY_PERIODS periods of the objective's length before it, oldest first."""
    window_start, window_end = baseline_window(start=start, end=end, judged=judged)
    windows = []
    for _i in range(HISTORY_PERIODS):
        windows.append((window_start, window_end))
        if judged == Judged.END:
            window_end, window_start = window_start, progress.month_start(window_start - timedelta(days=1))
        else:
            window_end, window_start = window_start, window_start - (window_end - window_start)
    windows.reverse()
    return values_over(kpi=kpi, team=team, segment=segment, windows=windows)


# ---------------------------------------------------------------------------
# SMART
# ---------------------------------------------------------------------------
def smart_assess(
    *,
    team: Team | None,
    title: str = "",
    description: str = "",
    owner: User | None = None,
    start_date: date | None = None,
    due_date: date | None = None,
    parent: Objective | None = None,
    relevance_note: str = "",
    targets: Sequence[dict] = (),
) -> dict[str, dict]:
    """Assess an objective, saved or still being typed; targets are dicts with `kpi` (a KpiDefinition or
    None), `target_value`, `baseline_value`, `judged`, `segment`."""
    smart_targets = []
    dated = start_date is not None and due_date is not None and due_date >= start_date
    for data in targets:
        kpi = data.get("kpi")
        judged = data.get("judged") or Judged.PERIOD
        segment = data.get("segment") or ""
        baseline = data.get("baseline_value")
        history: list[Decimal | None] = []
        if kpi is not None and team is not None and dated:
            end = due_date + timedelta(days=1)
            if baseline is None:
                baseline = baseline_default(
                    kpi=kpi, team=team, segment=segment, start=start_date, end=end, judged=judged
                )
            history = kpi_history(kpi=kpi, team=team, segment=segment, start=start_date, end=end, judged=judged)
        smart_targets.append(
            smart.SmartTarget(
                kpi_code=kpi.code if kpi is not None else None,
                kpi_name=kpi_name(kpi) if kpi is not None else "",
                unit=kpi.unit if kpi is not None else "",
                direction=kpi.direction if kpi is not None else progress.HIGHER,
                judged=judged,
                target_value=data.get("target_value"),
                baseline_value=baseline,
                history=history,
            )
        )
    return smart.assess(
        smart.SmartInput(
            title=title or "",
            description=description or "",
            has_team=team is not None,
            has_owner=owner is not None,
            start_date=start_date,
            due_date=due_date,
            has_parent=parent is not None,
            relevance_note=relevance_note or "",
            targets=smart_targets,
        )
    )


def objective_smart(*, objective: Objective) -> dict[str, dict]:
    """The SMART assessment of a saved objective."""
    targets = [
        {
            "kpi": t.kpi,
            "target_value": t.target_value,
            "baseline_value": t.baseline_value,
            "judged": t.judged,
            "segment": t.segment,
        }
        for t in objective.targets.all()
    ]
    return smart_assess(
        team=objective.team,
        title=objective.title,
        description=objective.description,
        owner=objective.owner,
        start_date=objective.start_date,
        due_date=objective.due_date,
        parent=objective.parent,
        relevance_note=objective.relevance_note,
        targets=targets,
    )


# ---------------------------------------------------------------------------
# Phasing
# ---------------------------------------------------------------------------
def last_year_monthly(*, target: Target) -> dict[int, Decimal]:
    """The KPI's stored monthly values over the 12 months before the objective, by month number."""
    objective = target.objective
    months = progress.months_between(objective.start_date, period_end(objective))
    first = months[0].replace(year=months[0].year - 1)
    last = progress.next_month(months[-1].replace(year=months[-1].year - 1))
    values = monthly_values(kpi=target.kpi, team=objective.team, segment=target.segment, start=first, end=last)
    return {month.month: value for month, value in values.items() if value is not None}


def target_phasing_propose(*, target: Target, mode: str) -> list[progress.Phase] | None:
    """Monthly values for `mode` (even or seasonal) without saving them; None when seasonal has no history."""
    plan = target_plan(target=target)
    plan = progress.TargetPlan(**{**plan.__dict__, "phases": ()})
    if mode == Phasing.SEASONAL:
        return progress.phases_seasonal(plan=plan, last_year=last_year_monthly(target=target))
    return progress.phases_even(plan=plan)


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------
def _chart_points(start: date, end: date) -> list[date]:
    """Dates at which the chart shows the cumulative value: weekly or month starts, plus the end."""
    if (end - start).days <= WEEKLY_CHART_MAX_DAYS:
        points = [start + timedelta(days=7 * i) for i in range(((end - start).days + 6) // 7)]
    else:
        points = [start, *[m for m in progress.months_between(start, end) if m > start]]
    return [*points, end]


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 6))


def target_chart(*, target: Target, plan: progress.TargetPlan, today: date, result) -> dict:
    """Series for the detail chart: value so far at each point, expected pace, target line, forecast."""
    objective = target.objective
    points = _chart_points(plan.start, plan.end)
    windows = []
    for point in points:
        window = progress.value_window(plan, point) if point <= max(today, plan.start) else None
        windows.append(window)
    known = [w for w in windows if w is not None]
    values = values_over(kpi=target.kpi, team=objective.team, segment=target.segment, windows=known)
    by_window = dict(zip(known, values, strict=True))
    actual = [_num(by_window[w]) if w is not None else None for w in windows]
    if plan.cumulative and actual and windows[0] is None:
        actual[0] = 0.0
    expected = [_num(progress.expected_value(plan, point)) for point in points]
    if not plan.cumulative:
        expected[0] = _num(plan.baseline if plan.baseline is not None else plan.target)
    forecast: list[float | None] = [None] * len(points)
    if result.forecast_value is not None and today < plan.end:
        # From the last measured point to the forecast at the end.
        last = max((i for i, v in enumerate(actual) if v is not None), default=None)
        if last is not None:
            forecast[last] = actual[last]
            forecast[-1] = _num(result.forecast_value)
    return {
        "labels": [p.isoformat() for p in points],
        "actual": actual,
        "expected": expected,
        "target": [_num(plan.target)] * len(points),
        "forecast": forecast,
        # The unit the chart writes after its numbers: none for a count (« 174 », never « 174 n »).
        "unit": "" if target.kpi.unit == KpiUnit.COUNT else target.kpi.unit,
    }
