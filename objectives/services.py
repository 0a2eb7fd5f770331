"""Writes about objectives, targets and phases, and the progress refresh: the only doors for them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import selectors as account_selectors
from accounts.models import Team, User
from objectives import kpi_data, progress, smart
from objectives.models import Judged, Objective, ObjectiveState, Phasing, Target, TargetPhase

TARGET_FIELDS = ("kpi", "segment", "target_value", "baseline_value", "judged", "warning_percent", "critical_percent")
HISTORY_PERIODS = 4
# Chart points: weekly up to this many days, monthly beyond.
WEEKLY_CHART_MAX_DAYS = 124
# Progress statuses whose arrival is announced (objectives.notify), with their event.
NOTIFIED_STATUSES = {"at_risk": "objective.at_risk", "achieved": "objective.achieved"}


class ObjectiveError(Exception):
    """An objective or its targets could not be saved; `errors` says which field (and target) and why.

    `errors` maps field names to lists of messages; under "targets", one such dict per target.
    """

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


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
    return kpi_data.value_over(kpi=kpi, team=team, segment=segment, start=window_start, end=window_end)


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
    return kpi_data.values_over(kpi=kpi, team=team, segment=segment, windows=windows)


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
                kpi_name=kpi_data.kpi_name(kpi) if kpi is not None else "",
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
# Create, update, delete
# ---------------------------------------------------------------------------
def _validate_objective(
    *, team: Team, owner: User | None, parent: Objective | None, start_date, due_date, objective_id=None
) -> dict:
    errors: dict[str, list[str]] = {}
    if start_date and due_date and due_date < start_date:
        errors["due_date"] = [_("The due date must be on or after the start date.")]
    if parent is not None:
        allowed = account_selectors.team_ids_with_ancestors([team.pk])
        if parent.team_id not in allowed:
            errors["parent"] = [_("The parent objective must belong to this team or to a parent team.")]
        elif objective_id is not None:
            current: Objective | None = parent
            while current is not None:
                if current.pk == objective_id:
                    errors["parent"] = [_("An objective cannot be below itself.")]
                    break
                current = current.parent
    if owner is not None and account_selectors.team_role_of(owner, team) is None:
        errors["owner"] = [_("The owner must be a member of the team.")]
    return errors


def _validate_targets(targets: Sequence[dict]) -> list[dict]:
    errors: list[dict] = []
    for data in targets:
        target_errors: dict[str, list[str]] = {}
        if data.get("kpi") is None:
            target_errors["kpi"] = [_("Choose a KPI.")]
        if data.get("target_value") is None:
            target_errors["target_value"] = [_("Enter a target value.")]
        warning = Decimal(data.get("warning_percent") or progress.DEFAULT_WARNING_PERCENT)
        critical = Decimal(data.get("critical_percent") or progress.DEFAULT_CRITICAL_PERCENT)
        if not (0 < critical <= warning <= 100):
            target_errors["critical_percent"] = [
                _("Thresholds must satisfy 0 < critical ≤ warning ≤ 100 (% of the expected pace).")
            ]
        if data.get("judged", Judged.PERIOD) not in Judged.values:
            target_errors["judged"] = [_("Choose how the target is judged.")]
        errors.append(target_errors)
    if not targets:
        return [{"non_field_errors": [_("Add at least one target.")]}]
    return errors if any(errors) else []


def _save_targets(*, objective: Objective, targets: Sequence[dict]) -> None:
    """Update targets given with an `id`, create the others, delete those no longer listed."""
    existing = {t.pk: t for t in objective.targets.all()}
    keep: set[int] = set()
    end = period_end(objective)
    for data in targets:
        target = existing.get(data.get("id")) if data.get("id") else None
        if target is None:
            target = Target(objective=objective)
        for name in TARGET_FIELDS:
            if name in data and data[name] is not None:
                setattr(target, name, data[name])
            elif name in ("segment",):
                setattr(target, name, data.get(name) or "")
        if data.get("baseline_value") is None:
            target.baseline_value = baseline_default(
                kpi=target.kpi,
                team=objective.team,
                segment=target.segment,
                start=objective.start_date,
                end=end,
                judged=target.judged,
            )
        target.save()
        keep.add(target.pk)
    objective.targets.exclude(pk__in=keep).delete()


def _check(objective_errors: dict, target_errors: list[dict]) -> None:
    if target_errors:
        objective_errors = {**objective_errors, "targets": target_errors}
    if objective_errors:
        raise ObjectiveError(objective_errors)


@transaction.atomic
def objective_create(
    *,
    team: Team,
    title: str,
    start_date: date,
    due_date: date,
    targets: Sequence[dict],
    owner: User | None = None,
    description: str = "",
    relevance_note: str = "",
    parent: Objective | None = None,
    state: str = ObjectiveState.ACTIVE,
    today: date | None = None,
) -> Objective:
    """Create an objective with its targets (baselines defaulted from history) and compute its progress.

    Raises ObjectiveError with messages per field and per target. SMART warnings never block.
    """
    errors = _validate_objective(team=team, owner=owner, parent=parent, start_date=start_date, due_date=due_date)
    _check(errors, _validate_targets(targets))
    objective = Objective.objects.create(
        team=team,
        owner=owner,
        title=title,
        description=description or "",
        relevance_note=relevance_note or "",
        parent=parent,
        start_date=start_date,
        due_date=due_date,
        state=state,
    )
    _save_targets(objective=objective, targets=targets)
    return objective_progress_refresh(objective=objective, today=today)


@transaction.atomic
def objective_update(*, objective: Objective, targets: Sequence[dict] | None = None, today=None, **fields) -> Objective:
    """Change some fields of an objective (and, when `targets` is given, its targets); recompute progress."""
    allowed = {"title", "description", "relevance_note", "parent", "owner", "start_date", "due_date", "state"}
    unknown = set(fields) - allowed
    if unknown:
        raise ObjectiveError({name: [_("This field cannot be changed.")] for name in unknown})
    candidate = {name: fields.get(name, getattr(objective, name)) for name in allowed}
    errors = _validate_objective(
        team=objective.team,
        owner=candidate["owner"],
        parent=candidate["parent"],
        start_date=candidate["start_date"],
        due_date=candidate["due_date"],
        objective_id=objective.pk,
    )
    _check(errors, _validate_targets(targets) if targets is not None else [])
    dates_changed = (candidate["start_date"], candidate["due_date"]) != (objective.start_date, objective.due_date)
    for name, value in fields.items():
        setattr(objective, name, "" if value is None and name in ("description", "relevance_note") else value)
    objective.save()
    if targets is not None:
        _save_targets(objective=objective, targets=targets)
    if dates_changed:
        # Phases belong to the old months: re-spread them the same way over the new ones.
        for target in objective.targets.exclude(phasing=Phasing.NONE):
            mode = target.phasing if target.phasing != Phasing.MANUAL else Phasing.EVEN
            target_phasing_set(target=target, mode=mode)
    return objective_progress_refresh(objective=objective, today=today)


def objective_delete(*, objective: Objective) -> None:
    """Delete an objective with its targets; its child objectives lose their parent."""
    objective.delete()


# ---------------------------------------------------------------------------
# Phasing
# ---------------------------------------------------------------------------
def last_year_monthly(*, target: Target) -> dict[int, Decimal]:
    """The KPI's stored monthly values over the 12 months before the objective, by month number."""
    objective = target.objective
    months = progress.months_between(objective.start_date, period_end(objective))
    first = months[0].replace(year=months[0].year - 1)
    last = progress.next_month(months[-1].replace(year=months[-1].year - 1))
    values = kpi_data.monthly_values(kpi=target.kpi, team=objective.team, segment=target.segment, start=first, end=last)
    return {month.month: value for month, value in values.items() if value is not None}


def target_phasing_propose(*, target: Target, mode: str) -> list[progress.Phase] | None:
    """Monthly values for `mode` (even or seasonal) without saving them; None when seasonal has no history."""
    plan = target_plan(target=target)
    plan = progress.TargetPlan(**{**plan.__dict__, "phases": ()})
    if mode == Phasing.SEASONAL:
        return progress.phases_seasonal(plan=plan, last_year=last_year_monthly(target=target))
    return progress.phases_even(plan=plan)


@transaction.atomic
def target_phasing_set(
    *, target: Target, mode: str, values: dict[date, Decimal] | None = None, today: date | None = None
) -> list[TargetPhase]:
    """Phase a target over its months: even, seasonal (last year's shape) or manual (`values` by month).

    `none` removes the phasing. Manual values must cover exactly the objective's months; for additive
    KPIs a sum that differs from the target is allowed but reported (see phasing_check).
    """
    objective = target.objective
    months = progress.months_between(objective.start_date, period_end(objective))
    if mode not in Phasing.values:
        raise ObjectiveError({"mode": [_("Unknown phasing mode.")]})
    if mode == Phasing.NONE:
        target.phases.all().delete()
        phases: list[progress.Phase] = []
    elif mode == Phasing.MANUAL:
        values = values or {}
        missing = [m for m in months if m not in values]
        extra = [m for m in values if m not in months]
        if missing or extra:
            raise ObjectiveError({"values": [_("Give one value for each month of the objective.")]})
        phases = [progress.Phase(m, Decimal(values[m])) for m in months]
    else:
        proposed = target_phasing_propose(target=target, mode=mode)
        if proposed is None:
            raise ObjectiveError(
                {"mode": [_("Last year's monthly values of this KPI are missing: seasonal phasing is not possible.")]}
            )
        phases = proposed
    target.phases.all().delete()
    rows = TargetPhase.objects.bulk_create(TargetPhase(target=target, month=p.month, value=p.value) for p in phases)
    target.phasing = mode
    target.save(update_fields=["phasing"])
    objective_progress_refresh(objective=objective, today=today)
    return rows


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
    values = kpi_data.values_over(kpi=target.kpi, team=objective.team, segment=target.segment, windows=known)
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
        "unit": target.kpi.unit,
    }


def objective_progress_refresh(*, objective: Objective, today: date | None = None) -> Objective:
    """Recompute and store every target's progress and the objective's status (its worst target's)."""
    today = today or today_local()
    now = timezone.now()
    statuses = []
    targets = list(objective.targets.select_related("kpi").prefetch_related("phases"))
    for target in targets:
        plan = target_plan(target=target, objective=objective)
        window = progress.value_window(plan, today)
        current = None
        if window is not None:
            current = kpi_data.value_over(
                kpi=target.kpi, team=objective.team, segment=target.segment, start=window[0], end=window[1]
            )
        result = progress.target_progress(plan=plan, current_value=current, today=today)
        target.current_value = result.current_value
        target.progress_percent = _round(result.progress_percent)
        target.expected_value_today = _round(result.expected_value_today)
        target.forecast_value = _round(result.forecast_value)
        target.required_daily_rate = _round(result.required_daily_rate)
        target.status = result.status
        target.computed_at = now
        target.chart = target_chart(target=target, plan=plan, today=today, result=result)
        statuses.append(result.status)
    Target.objects.bulk_update(
        targets,
        [
            "current_value",
            "progress_percent",
            "expected_value_today",
            "forecast_value",
            "required_daily_rate",
            "status",
            "computed_at",
            "chart",
        ],
    )
    previous_status = objective.progress_status
    objective.progress_status = progress.worst_status(statuses)
    objective.progress_computed_at = now
    objective.save(update_fields=["progress_status", "progress_computed_at"])
    if objective.progress_status != previous_status and objective.progress_status in NOTIFIED_STATUSES:
        # Only a change is news: refreshing an objective that stays at risk tells nobody again.
        from objectives.notify import objective_notify

        objective_notify(objective=objective, event=NOTIFIED_STATUSES[objective.progress_status])
    return objective


def _round(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return value.quantize(Decimal("0.000001"))
    except InvalidOperation:
        return None


def objectives_progress_refresh(
    *, kpi_ids: Iterable[int] | None = None, team_ids: Iterable[int] | None = None, today: date | None = None
) -> int:
    """Refresh active objectives whose targets read these KPIs for these teams (None = all); return how many."""
    objectives = Objective.objects.filter(state=ObjectiveState.ACTIVE).select_related("team")
    if kpi_ids is not None:
        objectives = objectives.filter(targets__kpi_id__in=list(kpi_ids))
    if team_ids is not None:
        objectives = objectives.filter(team_id__in=list(team_ids))
    count = 0
    for objective in objectives.distinct():
        objective_progress_refresh(objective=objective, today=today)
        count += 1
    return count
