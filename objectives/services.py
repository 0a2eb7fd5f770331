"""Writes about objectives, targets and phases, and the progress refresh: the only doors for them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import selectors as account_selectors
from accounts.models import Team, User
from metrics.kpis.bounds import kpi_value_bounds
from metrics.kpis.ranges import value_over
from metrics.kpis.selectors import kpi_best_pace, kpi_best_value, kpi_name, kpi_segment_values
from objectives import progress
from objectives.models import Judged, Objective, ObjectiveState, Phasing, RelativeBasis, Target, TargetPhase
from objectives.notifications.outbox import objective_notify
from objectives.proposals import shift_months
from objectives.selectors import (
    baseline_default,
    period_end,
    target_chart,
    target_phasing_propose,
    target_plan,
    today_local,
)
from objectives.templatetags.kpi_format import kpi_value

TARGET_FIELDS = ("kpi", "segment", "target_value", "baseline_value", "judged", "warning_percent", "critical_percent")
# Optional fields a target may clear (None = no band, not relative); left out of the data = kept as they are.
TARGET_OPTIONAL_FIELDS = ("minimum_value", "stretch_value", "relative_basis", "relative_percent")


# Progress statuses whose arrival is announced (objectives.notifications.outbox), with their event.
NOTIFIED_STATUSES = {"at_risk": "objective.at_risk", "achieved": "objective.achieved"}


class ObjectiveError(Exception):
    """An objective or its targets could not be saved; `errors` says which field (and target) and why.

    `errors` maps field names to lists of messages; under "targets", one such dict per target.
    """

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


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


def _value_errors(kpi, value: Decimal | None) -> list[str]:
    """A target (or baseline) the KPI can reach: no negative count, no share above 100 %."""
    if kpi is None or value is None:
        return []
    low, high = kpi_value_bounds(kpi)
    unit = kpi.unit
    if low is not None and value < low:
        return [_("%(kpi)s cannot be below %(low)s.") % {"kpi": kpi_name(kpi), "low": kpi_value(low, unit)}]
    if high is not None and value > high:
        return [_("%(kpi)s cannot be above %(high)s.") % {"kpi": kpi_name(kpi), "high": kpi_value(high, unit)}]
    return []


def target_segment_errors(*, kpi, segment: str, team: Team | None) -> list[str]:
    """A target's segment: one of the KPI's breakdowns, with a value the team's data has."""
    if not segment or kpi is None:
        return []
    dimension, _sep, value = segment.partition("=")
    if dimension not in (kpi.segments or []) or not value:
        known = ", ".join(kpi.segments or []) or _("none")
        return [_("Choose a breakdown of this KPI, as <breakdown>=<value> (breakdowns: %(known)s).") % {"known": known}]
    if team is None:
        return []
    values = kpi_segment_values(kpi=kpi, team=team, dimension=dimension)
    if value not in values:
        listed = ", ".join(values[:12]) or _("none yet")
        return [
            _("No '%(value)s' in the team's data for %(dimension)s (known: %(known)s).")
            % {"value": value, "dimension": dimension, "known": listed}
        ]
    return []


def _validate_targets(targets: Sequence[dict], team: Team | None = None) -> list[dict]:
    errors: list[dict] = []
    for data in targets:
        target_errors: dict[str, list[str]] = {}
        if data.get("kpi") is None:
            target_errors["kpi"] = [_("Choose a KPI.")]
        basis = data.get("relative_basis") or ""
        if basis:
            target_errors.update(_relative_errors(data))
        elif data.get("target_value") is None:
            target_errors["target_value"] = [_("Enter a target value.")]
        elif data.get("relative_percent") is not None:
            target_errors["relative_basis"] = [_("Say what the change in percent is relative to.")]
        for field in ("target_value", "baseline_value", "minimum_value", "stretch_value"):
            if messages := _value_errors(data.get("kpi"), data.get(field)):
                target_errors[field] = messages
        if not basis and not target_errors:
            target_errors.update(_band_errors(data))
        if messages := target_segment_errors(kpi=data.get("kpi"), segment=data.get("segment") or "", team=team):
            target_errors["segment"] = messages
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


def _relative_errors(data: dict) -> dict[str, list[str]]:
    """A relative target: a known basis, a change in percent, and no typed baseline when the basis is the baseline
    (it is then the KPI over the preceding period, kept in step with the history)."""
    errors: dict[str, list[str]] = {}
    if data.get("relative_basis") not in RelativeBasis.values:
        errors["relative_basis"] = [_("Choose what the target is relative to.")]
    if data.get("relative_percent") is None:
        errors["relative_percent"] = [_("Enter the change in percent, e.g. 20 for +20 %.")]
    elif data["relative_percent"] <= -100:
        errors["relative_percent"] = [_("A change of −100 % or less leaves nothing to aim at.")]
    if data.get("relative_basis") == RelativeBasis.BASELINE and data.get("baseline_value") is not None:
        errors["baseline_value"] = [
            _("A target relative to the baseline reads the baseline from the history: leave the baseline empty.")
        ]
    return errors


def _band_errors(data: dict) -> dict[str, list[str]]:
    """Minimum ≤ target ≤ stretch (reversed when lower is better; a neutral KPI follows its target against the
    baseline)."""
    kpi, target = data.get("kpi"), data.get("target_value")
    minimum, stretch = data.get("minimum_value"), data.get("stretch_value")
    if kpi is None or target is None:
        return {}
    baseline = data.get("baseline_value")
    lower = kpi.direction == progress.LOWER or (
        kpi.direction == progress.NEUTRAL and baseline is not None and target < baseline
    )
    errors: dict[str, list[str]] = {}
    if minimum is not None and (minimum < target if lower else minimum > target):
        errors["minimum_value"] = [
            _("The minimum must be at or above the target (lower is better).")
            if lower
            else _("The minimum must be at or below the target.")
        ]
    if stretch is not None and (stretch > target if lower else stretch < target):
        errors["stretch_value"] = [
            _("The stretch must be at or below the target (lower is better).")
            if lower
            else _("The stretch must be at or above the target.")
        ]
    return errors


def relative_basis_value(
    *, kpi, team: Team, segment: str = "", start: date, end: date, judged: str, basis: str
) -> Decimal | None:
    """What a relative target over [start, end) is measured against: the KPI over the same period a year earlier
    (for a target judged at the end: the same last month a year earlier), or the baseline — the KPI over the
    preceding period (objectives.selectors.baseline_default). None without a value there."""
    if basis == RelativeBasis.BASELINE:
        return baseline_default(kpi=kpi, team=team, segment=segment, start=start, end=end, judged=judged)
    if judged == Judged.END:
        start = progress.month_start(end - timedelta(days=1))
        end = progress.next_month(start)
    return value_over(kpi=kpi, team=team, segment=segment, start=shift_months(start, -12), end=shift_months(end, -12))


def relative_target_value(basis: Decimal, percent: Decimal) -> Decimal:
    """The basis changed by `percent` (+20 → × 1.20), to the cent."""
    return (basis * (1 + percent / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _relative_refresh(*, target: Target, objective: Objective) -> bool:
    """Recompute a relative target's value (and, relative to the baseline, its baseline) from the history as it
    is now; False when its basis has no value (the target is then left as it was)."""
    basis = relative_basis_value(
        kpi=target.kpi,
        team=objective.team,
        segment=target.segment,
        start=objective.start_date,
        end=period_end(objective),
        judged=target.judged,
        basis=target.relative_basis,
    )
    if basis is None:
        return False
    if target.relative_basis == RelativeBasis.BASELINE:
        target.baseline_value = basis
    target.target_value = relative_target_value(basis, target.relative_percent)
    return True


def _save_targets(*, objective: Objective, targets: Sequence[dict]) -> None:
    """Update targets given with an `id`, create the others, delete those no longer listed.

    A relative target gets its value from its basis here; one whose basis has no value (or whose value breaks
    the KPI's bounds or its band) raises ObjectiveError, and the caller's transaction writes nothing."""
    existing = {t.pk: t for t in objective.targets.all()}
    keep: set[int] = set()
    end = period_end(objective)
    errors: list[dict] = []
    for data in targets:
        target = existing.get(data.get("id")) if data.get("id") else None
        if target is None:
            target = Target(objective=objective)
        for name in TARGET_FIELDS:
            if name in data and data[name] is not None:
                setattr(target, name, data[name])
            elif name in ("segment",):
                setattr(target, name, data.get(name) or "")
        for name in TARGET_OPTIONAL_FIELDS:
            if name in data:
                empty = "" if name == "relative_basis" else None
                setattr(target, name, data[name] if data[name] is not None else empty)
        if not target.relative_basis:
            target.relative_percent = None
        if data.get("baseline_value") is None:
            target.baseline_value = baseline_default(
                kpi=target.kpi,
                team=objective.team,
                segment=target.segment,
                start=objective.start_date,
                end=end,
                judged=target.judged,
            )
        target_errors: dict[str, list[str]] = {}
        if target.relative_basis:
            if not _relative_refresh(target=target, objective=objective):
                target_errors["relative_basis"] = [
                    _("%(kpi)s has no value over %(basis)s: enter the target as a value.")
                    % {"kpi": kpi_name(target.kpi), "basis": RelativeBasis(target.relative_basis).label}
                ]
            elif messages := _value_errors(target.kpi, target.target_value):
                target_errors["target_value"] = messages
            else:
                target_errors = _band_errors(
                    {
                        "kpi": target.kpi,
                        "target_value": target.target_value,
                        "baseline_value": target.baseline_value,
                        "minimum_value": target.minimum_value,
                        "stretch_value": target.stretch_value,
                    }
                )
        errors.append(target_errors)
        if not target_errors:
            target.save()
            keep.add(target.pk)
    if any(errors):
        raise ObjectiveError({"targets": errors})
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
    _check(errors, _validate_targets(targets, team))
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
    _check(errors, _validate_targets(targets, objective.team) if targets is not None else [])
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


def objective_progress_refresh(*, objective: Objective, today: date | None = None) -> Objective:
    """Recompute and store every target's progress and the objective's status (its worst target's)."""
    today = today or today_local()
    now = timezone.now()
    statuses = []
    targets = list(objective.targets.select_related("kpi").prefetch_related("phases"))
    for target in targets:
        if target.relative_basis:
            # Kept relative: the basis is read again from the history recomputed since.
            before = target.target_value
            _relative_refresh(target=target, objective=objective)
            if target.target_value != before and target.phasing in (Phasing.EVEN, Phasing.SEASONAL):
                _phases_respread(target=target)
        plan = target_plan(target=target, objective=objective)
        window = progress.value_window(plan, today)
        current = None
        if window is not None:
            current = value_over(
                kpi=target.kpi, team=objective.team, segment=target.segment, start=window[0], end=window[1]
            )
        result = progress.target_progress(plan=plan, current_value=current, today=today)
        target.current_value = result.current_value
        target.progress_percent = _round(result.progress_percent)
        target.expected_value_today = _round(result.expected_value_today)
        target.forecast_value = _round(result.forecast_value)
        target.required_daily_rate = _round(result.required_daily_rate)
        target.status = result.status
        outlook = progress.target_outlook(
            plan=plan, current=current, status=result.status, today=today, best_pace=_best(target, plan, today)
        )
        target.pace_so_far = _round(outlook.pace_so_far)
        target.required_pace = _round(outlook.required_pace)
        target.best_pace = _round(outlook.best_pace)
        target.recommendation = outlook.recommendation
        target.recommendation_reason = outlook.reason
        target.computed_at = now
        target.chart = target_chart(target=target, plan=plan, today=today, result=result)
        # The band, drawn as dashed lines on the chart.
        for band, value in (("minimum", plan.minimum), ("stretch", plan.stretch)):
            if value is not None:
                target.chart[band] = [float(round(value, 6))] * len(target.chart.get("labels") or [])
        statuses.append(result.status)
    Target.objects.bulk_update(
        targets,
        [
            "target_value",
            "baseline_value",
            "current_value",
            "progress_percent",
            "expected_value_today",
            "forecast_value",
            "required_daily_rate",
            "pace_so_far",
            "required_pace",
            "best_pace",
            "recommendation",
            "recommendation_reason",
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
        objective_notify(objective=objective, event=NOTIFIED_STATUSES[objective.progress_status])
    return objective


def _phases_respread(*, target: Target) -> None:
    """Spread a target's new value over its months the way it was phased (even or seasonal); manual months
    stay as typed (the phasing page then says they no longer add up)."""
    proposed = target_phasing_propose(target=target, mode=target.phasing)
    if proposed is None:
        return
    target.phases.all().delete()
    TargetPhase.objects.bulk_create(TargetPhase(target=target, month=p.month, value=p.value) for p in proposed)
    getattr(target, "_prefetched_objects_cache", {}).pop("phases", None)  # the plan reads the new months


def _best(target: Target, plan: progress.TargetPlan, today: date) -> Decimal | None:
    """The team's best in its history, to weigh the required effort: for a sum, its best daily average over a
    span as long as what is left of the period (days so far included); for a level, its best value over a
    whole period like the objective's, before it."""
    lower = plan.lower_is_better
    if plan.cumulative:
        remaining = (plan.end - progress.elapsed_end(plan, today)).days
        return kpi_best_pace(
            kpi=target.kpi,
            team_id=target.objective.team_id,
            segment=target.segment,
            days=remaining,
            before=progress.elapsed_end(plan, today),
            lower_is_better=lower,
        )
    length = plan.total_days
    granularity = "month" if length <= 31 else "quarter" if length <= 92 else "year"
    return kpi_best_value(
        kpi=target.kpi,
        team_id=target.objective.team_id,
        segment=target.segment,
        granularity=granularity,
        before=plan.start,
        lower_is_better=lower,
    )


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
