"""What a period is compared with: the one definition every screen and alert rule uses.

A closed period is compared with the whole previous period (or, on request, the same period a
year earlier). A running one (today falls in it) is compared *like for like*: with the same first
days of the previous period (1–4 December vs 1–4 November; a quarter or a year to date likewise;
or 1–4 December a year earlier), so a month does not start all red. The
earlier span's values are rebuilt exactly from the stored day cells (metrics.engine.to_date);
KPIs that cannot be rebuilt that way (medians, means, new or lost states) are computed over the
span from the records (metrics.engine.compute.kpis_compute_spans). A KPI reading `prev()` has no
comparison on a running period: its running value reads the whole previous period, its earlier
span would read other days, and the two would not compare.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, prefetch_related_objects

from kpiplatform import dates
from metrics.engine.compute import KpiPlan, kpis_compute_spans
from metrics.engine.periods import period_end, period_shift
from metrics.engine.to_date import plan_combinable, values_to_date
from metrics.models import KpiDefinition, KpiMeasure, KpiValue


@dataclass(frozen=True)
class ComparisonSpan:
    """The span a period is compared with: [start, end] (both included), and whether it is like for like."""

    start: dt.date
    end: dt.date
    to_date: bool

    @property
    def label(self) -> str:
        """The span in the language's one date style (kpiplatform.dates): « 1er–4 nov. 2026 » for the first days
        of a month, « 1er oct. – 15 nov. 2026 » across months, the previous period's first and last days when it
        is compared whole."""
        return dates.span(self.start, self.end)


PREVIOUS = "previous"
LAST_YEAR = "last_year"
BASES = (PREVIOUS, LAST_YEAR)


def earlier_period_start(period_start: dt.date, granularity: str, basis: str = PREVIOUS) -> dt.date:
    """The start of the period compared with: the one before, or the same one a year earlier."""
    if basis != LAST_YEAR:
        return period_shift(period_start, granularity, -1)
    if granularity in ("day", "week"):  # the same weekday a year earlier: 52 weeks back
        return period_start - dt.timedelta(weeks=52)
    return period_shift(period_start, "month", -12)


def comparison_span(
    *, granularity: str, period_start: dt.date, today: dt.date, basis: str = PREVIOUS
) -> ComparisonSpan:
    """The span the period of `granularity` starting on `period_start` is compared with, as of `today`: the
    previous period (`basis` "previous") or the same period a year earlier ("last_year")."""
    previous = earlier_period_start(period_start, granularity, basis)
    previous_last = period_end(previous, granularity) - dt.timedelta(days=1)
    last = period_end(period_start, granularity) - dt.timedelta(days=1)
    if not period_start <= today <= last:
        return ComparisonSpan(start=previous, end=previous_last, to_date=False)
    same_days = previous + dt.timedelta(days=(today - period_start).days)
    if same_days >= previous_last:
        # As many days as the whole previous period or more (31 March against February): all of it.
        return ComparisonSpan(start=previous, end=previous_last, to_date=False)
    return ComparisonSpan(start=previous, end=same_days, to_date=True)


@dataclass(frozen=True)
class Comparison:
    """The values a period is compared with, by (team id, kpi id); a missing pair has no comparison."""

    span: ComparisonSpan
    values: dict[tuple[int, int], Decimal | None] = field(default_factory=dict)

    def has(self, team_id: int, kpi_id: int) -> bool:
        return (team_id, kpi_id) in self.values

    def value(self, team_id: int, kpi_id: int) -> Decimal | None:
        return self.values.get((team_id, kpi_id))


def comparison_values(
    *,
    kpis: Sequence[KpiDefinition],
    team_ids: Iterable[int],
    granularity: str,
    period_start: dt.date,
    today: dt.date,
    basis: str = PREVIOUS,
) -> Comparison:
    """What each KPI of these teams is compared with for the period (see the module docstring): one query on a
    closed period (the previous period's cells), two on a running one (the KPIs' measures, the earlier days'
    cells), whatever the number of KPIs and teams."""
    span = comparison_span(granularity=granularity, period_start=period_start, today=today, basis=basis)
    kpi_ids = [kpi.pk for kpi in kpis]
    teams = list(team_ids)
    if not kpi_ids or not teams:
        return Comparison(span=span)
    if not span.to_date:
        rows = KpiValue.objects.filter(
            kpi_id__in=kpi_ids, team_id__in=teams, granularity=granularity, segment="", period_start=span.start
        ).values_list("team_id", "kpi_id", "value")
        return Comparison(span=span, values={(team_id, kpi_id): value for team_id, kpi_id, value in rows})
    values = kpi_values_to_date(kpis=kpis, team_ids=teams, granularity=granularity, first=span.start, last=span.end)
    return Comparison(span=span, values=values)


def kpi_values_to_date(
    *, kpis: Sequence[KpiDefinition], team_ids: Iterable[int], granularity: str, first: dt.date, last: dt.date
) -> dict[tuple[int, int], Decimal | None]:
    """Each KPI of these teams over the first days [first, last] of the `granularity` period starting on `first`,
    rebuilt from the stored days (metrics.engine.to_date), or computed from the records when it cannot be
    (see the module doc); KPIs reading prev() are left out. Two queries (the KPIs' measures, the days'
    cells), plus one per measure of the KPIs computed from the records."""
    definitions, teams = list(kpis), list(team_ids)
    if not definitions or not teams:
        return {}
    # The caller's definitions get their measures (1 query), the formula's inputs.
    prefetch_related_objects(definitions, Prefetch("measures", queryset=KpiMeasure.objects.order_by("position", "id")))
    days = KpiValue.objects.filter(
        kpi_id__in=[kpi.pk for kpi in definitions],
        team_id__in=teams,
        granularity="day",
        segment="",
        period_start__gte=first,
        period_start__lte=last,
    ).values_list("team_id", "kpi_id", "period_start", "components", "shares")
    plans = [KpiPlan.of(definition) for definition in definitions]
    values = values_to_date(plans=plans, days=days, granularity=granularity, first=first, last=last)
    others = [plan for plan in plans if not plan_combinable(plan) and not plan.formula.prev_depth]
    if others:
        span = (first, last + dt.timedelta(days=1))
        computed = kpis_compute_spans(plans=others, team_ids=teams, spans=[span])
        values.update({(team, kpi): found.value for (team, kpi, _), found in computed.items()})
    return values
