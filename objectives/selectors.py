"""Reads about objectives for pages and the API, as querysets or plain dicts."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import QuerySet

from accounts.models import Team
from objectives import kpi_data, progress
from objectives.models import Objective, ProgressStatus, Target
from objectives.services import period_end


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


def target_rows(*, objective: Objective) -> list[dict]:
    """The targets of an objective with everything the detail page shows."""
    rows = []
    for target in objective.targets.select_related("kpi").prefetch_related("phases"):
        plan_months = progress.months_between(objective.start_date, period_end(objective))
        phases = list(target.phases.all())
        rows.append(
            {
                "target": target,
                "kpi_name": kpi_data.kpi_name(target.kpi),
                "unit": target.kpi.unit,
                "bar_percent": bar_percent(target),
                "chart_id": f"chart-data-{target.pk}",
                "chart": target.chart,
                "months": len(plan_months),
                "phases": phases,
                "phasing_check": phasing_check(target=target, phases=phases),
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
                "kpi_name": kpi_data.kpi_name(target.kpi),
                "additive": bool(target.kpi.additive),
                "contributions": [{"objective": c, "target": t} for c, t in contributions],
                "check": check,
            }
        )
    return {"children": children, "rows": rows}
