"""Reads of KPI definitions and stored KPI values, for the API, dashboards and objectives.

Everything here reads stored KpiValue rows only — never raw activity — in a constant
number of queries, so its cost does not grow with the volume of activity.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max, Min, Prefetch, Q, QuerySet

from accounts.models import Team
from metrics.engine.periods import period_floor, period_shift, today_local
from metrics.models import KpiDefinition, KpiMeasure, KpiValue


def kpi_definitions(*, active_only: bool = True, category: str | None = None) -> QuerySet[KpiDefinition]:
    """KPI definitions with their measures prefetched, by category and code."""
    kpis = KpiDefinition.objects.prefetch_related(
        Prefetch("measures", queryset=KpiMeasure.objects.order_by("position"))
    )
    if active_only:
        kpis = kpis.filter(active=True)
    if category:
        kpis = kpis.filter(category=category)
    return kpis.order_by("category", "code")


def kpi_definition_by_code(*, code: str) -> KpiDefinition | None:
    """The KPI with this code, or None."""
    return KpiDefinition.objects.filter(code=code).first()


def kpi_name(kpi: KpiDefinition) -> str:
    """The KPI's name in the active language."""
    return kpi.name


def kpis_for_choice() -> QuerySet[KpiDefinition]:
    """Active KPIs a target can be set on."""
    return KpiDefinition.objects.filter(active=True).order_by("category", "name_fr")


def kpi_value_series(
    *, kpi: KpiDefinition, team: Team, granularity: str, start: dt.date, end: dt.date, segment: str = ""
) -> list[dict]:
    """Stored values of the periods that meet the dates [start, end] (both included), oldest first; one query.

    Each item: {"period_start": date, "value": Decimal | None, "components": dict}. Periods
    never computed are absent; computed periods without a value have value None.
    """
    first = period_floor(start, granularity)
    rows = (
        KpiValue.objects.filter(
            kpi=kpi,
            team=team,
            granularity=granularity,
            segment=segment,
            period_start__gte=first,
            period_start__lte=end,
        )
        .order_by("period_start")
        .values("period_start", "value", "components")
    )
    return list(rows)


def value_change(value: Decimal | None, previous: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    """The change from `previous` to `value` and its percentage of |previous| (None without a non-zero
    previous value); the one definition dashboards, digests, detail pages and alert rules share."""
    if value is None or previous is None:
        return None, None
    change = Decimal(value) - Decimal(previous)
    return change, (100 * change / abs(Decimal(previous)) if previous else None)


def kpi_latest_values(
    *,
    team: Team,
    granularity: str = "month",
    kpis: Sequence[KpiDefinition] | None = None,
    segment: str = "",
    today: dt.date | None = None,
) -> list[dict]:
    """The latest stored value of each KPI for one team (up to the current period), with the previous
    period's value and the change; three queries whatever the number of KPIs.

    Each item: kpi (the definition), period_start, value, components, previous_period_start,
    previous_value, change (value − previous) and change_percent (relative to |previous|),
    None where unknown. KPIs never computed for the team come with period_start None.
    """
    kpi_list = list(KpiDefinition.objects.filter(active=True).order_by("category", "code") if kpis is None else kpis)
    if not kpi_list:
        return []
    current = period_floor(today or today_local(), granularity)
    cells = KpiValue.objects.filter(team=team, granularity=granularity, segment=segment)
    latest = dict(
        cells.filter(kpi__in=kpi_list, period_start__lte=current)
        .values("kpi_id")
        .annotate(latest=Max("period_start"))
        .values_list("kpi_id", "latest")
    )
    wanted = Q()
    for kpi_id, period in latest.items():
        wanted |= Q(kpi_id=kpi_id, period_start__in=[period, period_shift(period, granularity, -1)])
    stored = {}
    if latest:
        for row in cells.filter(wanted).values("kpi_id", "period_start", "value", "components"):
            stored[(row["kpi_id"], row["period_start"])] = row
    items = []
    for kpi in kpi_list:
        period = latest.get(kpi.pk)
        row = stored.get((kpi.pk, period), {}) if period else {}
        previous_period = period_shift(period, granularity, -1) if period else None
        previous = stored.get((kpi.pk, previous_period), {}) if previous_period else {}
        change, change_percent = value_change(row.get("value"), previous.get("value"))
        items.append(
            {
                "kpi": kpi,
                "period_start": period,
                "value": row.get("value"),
                "components": row.get("components") or {},
                "previous_period_start": previous_period,
                "previous_value": previous.get("value"),
                "change": change,
                "change_percent": change_percent,
            }
        )
    return items


@dataclass(frozen=True)
class CellQuery:
    """Which stored cells to read: these KPIs × granularities × segments × period starts.

    Segments: `segments` lists exact ones ("" is the whole team); with `segments=None`, every
    segment — or, with `dimension`, every segment of that dimension ("channel=…").
    Periods: the listed `starts`, or every period starting in [first, last].
    """

    kpi_ids: tuple[int, ...]
    granularities: tuple[str, ...]
    segments: tuple[str, ...] | None = ("",)
    dimension: str = ""
    starts: tuple[dt.date, ...] | None = None
    first: dt.date | None = None
    last: dt.date | None = None

    def condition(self) -> Q:
        condition = Q(kpi_id__in=self.kpi_ids, granularity__in=self.granularities)
        if self.segments is not None:
            condition &= Q(segment__in=self.segments)
        elif self.dimension:
            condition &= Q(segment__startswith=f"{self.dimension}=")
        if self.starts is not None:
            condition &= Q(period_start__in=self.starts)
        if self.first is not None:
            condition &= Q(period_start__gte=self.first)
        if self.last is not None:
            condition &= Q(period_start__lte=self.last)
        return condition


@dataclass(frozen=True, slots=True)
class StoredCell:
    """One stored KPI value: a team's KPI for one period (and segment), with its components."""

    team_id: int
    kpi_id: int
    granularity: str
    segment: str
    period_start: dt.date
    value: Decimal | None
    components: dict
    computed_at: dt.datetime


CELL_FIELDS = ("team_id", "kpi_id", "granularity", "segment", "period_start", "value", "components", "computed_at")


def kpi_cells(*, team_ids: Iterable[int], queries: Iterable[CellQuery]) -> list[StoredCell]:
    """The stored cells of these teams that the queries ask for; one query whatever their number."""
    wanted = Q()
    for query in queries:
        if query.kpi_ids and query.granularities:
            wanted |= query.condition()
    if not wanted:
        return []
    rows = KpiValue.objects.filter(wanted, team_id__in=list(team_ids)).values_list(*CELL_FIELDS)
    return [StoredCell(*row) for row in rows]


def kpi_best_pace(
    *, kpi: KpiDefinition, team_id: int, days: int, before: dt.date, segment: str = "", lower_is_better: bool = False
) -> Decimal | None:
    """The team's best daily average of an additive KPI over any `days` consecutive stored days before `before`
    (the highest, or the lowest when lower is better); None without that much history. One query."""
    if days <= 0:
        return None
    values = dict(
        KpiValue.objects.filter(
            kpi=kpi, team_id=team_id, granularity="day", segment=segment, period_start__lt=before
        ).values_list("period_start", "value")
    )
    best: Decimal | None = None
    run: deque[Decimal] = deque()
    total = Decimal(0)
    day = min(values, default=before)
    while day < before:
        value = values.get(day)
        if value is None:  # a day never computed (or without a value) breaks the span
            run, total = deque(), Decimal(0)
        else:
            run.append(value)
            total += value
            if len(run) > days:
                total -= run.popleft()
            if len(run) == days:
                pace = total / days
                if best is None or (pace < best if lower_is_better else pace > best):
                    best = pace
        day += dt.timedelta(days=1)
    return best


def kpi_best_value(
    *,
    kpi: KpiDefinition,
    team_id: int,
    granularity: str,
    before: dt.date,
    segment: str = "",
    lower_is_better: bool = False,
) -> Decimal | None:
    """The team's best stored value of the KPI over one period of `granularity` starting before `before` (the
    highest, or the lowest when lower is better); None without history. One query."""
    cells = KpiValue.objects.filter(
        kpi=kpi,
        team_id=team_id,
        granularity=granularity,
        segment=segment,
        period_start__lt=before,
        value__isnull=False,
    )
    found = cells.aggregate(best=Min("value") if lower_is_better else Max("value"))["best"]
    return None if found is None else Decimal(found)


def kpi_segment_values(*, kpi: KpiDefinition, team: Team, dimension: str) -> list[str]:
    """The values of one breakdown of the KPI that the team's stored data has, sorted; one query."""
    prefix = f"{dimension}="
    segments = (
        KpiValue.objects.filter(kpi=kpi, team=team, segment__startswith=prefix)
        .values_list("segment", flat=True)
        .distinct()
    )
    return sorted({segment[len(prefix) :] for segment in segments})
