"""KPI values over any date range: what objectives, comparisons and the range API read.

A range is [start, end) in the organisation's time zone, for a team (over its sub-teams) and
optionally one segment. Its value is exactly what the engine would store for a calendar period
of those dates (metrics.engine.compute.kpis_compute_spans):

* a range that is a calendar period (a day, week, month, quarter, year): the stored value;
* additive KPIs (counts, sums) with stored days in the range: the sum of the stored days — one query;
* anything else (rates, averages, medians, distinct counts, states, `prev()`): computed from the
  records by the engine, one grouped query per measure for all the ranges asked at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum

from accounts.models import Team
from accounts.selectors import team_ids_with_descendants
from metrics.engine.compute import KpiPlan, SpanValue, calendar_granularity, kpis_compute_spans
from metrics.models import KpiDefinition, KpiValue

Range = tuple[date, date]


@dataclass(frozen=True)
class RangeValue:
    """A KPI over one range: its value, its measures, and whether it was read from a stored period."""

    value: Decimal | None
    components: dict
    stored: bool


def _segment_parts(segment: str) -> tuple[str | None, str]:
    """ "channel=email" → ("channel", "email"); "" → (None, "")."""
    if not segment:
        return None, ""
    dimension, _, value = segment.partition("=")
    return dimension, value


def _stored_sum(*, kpi: KpiDefinition, team: Team, segment: str, windows: Sequence[tuple[date, date]]):
    """Sum of stored daily values per window: {window: (sum, days with a value)} in one query."""
    daily = KpiValue.objects.filter(kpi=kpi, team=team, granularity="day", segment=segment)
    aggregates = {}
    for i, (start, end) in enumerate(windows):
        in_window = Q(period_start__gte=start, period_start__lt=end)
        aggregates[f"s{i}"] = Sum("value", filter=in_window)
        aggregates[f"n{i}"] = Count("id", filter=in_window)
    if not aggregates:
        return {}
    row = daily.aggregate(**aggregates)
    return {window: (row[f"s{i}"], row[f"n{i}"]) for i, window in enumerate(windows)}


def _stored_calendar(*, kpi: KpiDefinition, team: Team, segment: str, windows: Sequence[Range]) -> dict:
    """Stored values of the windows that are exactly a calendar period: {window: KpiValue row}, one query."""
    calendar = {w: g for w in windows if (g := calendar_granularity(*w)) is not None}
    if not calendar:
        return {}
    match = Q()
    for (start, _), granularity in calendar.items():
        match |= Q(granularity=granularity, period_start=start)
    rows = KpiValue.objects.filter(match, kpi=kpi, team=team, segment=segment).values_list(
        "granularity", "period_start", "value", "components"
    )
    by_key = {(g, s): (v, c) for g, s, v, c in rows}
    found = {}
    for window, granularity in calendar.items():
        if (granularity, window[0]) in by_key:
            value, components = by_key[(granularity, window[0])]
            found[window] = RangeValue(value=value, components=components or {}, stored=True)
    return found


def range_values(
    *, kpi: KpiDefinition, team: Team, segment: str = "", windows: Sequence[Range], with_components: bool = False
) -> dict[Range, RangeValue]:
    """The KPI for `team` over each [start, end) window, exactly (see the module doc). `with_components`
    skips the sum of stored days, which gives no components: additive KPIs are then computed too."""
    wanted = [w for w in dict.fromkeys(windows) if w[0] < w[1]]
    found = _stored_calendar(kpi=kpi, team=team, segment=segment, windows=wanted)
    rest = [w for w in wanted if w not in found]
    if kpi.additive and rest and not with_components:
        sums = _stored_sum(kpi=kpi, team=team, segment=segment, windows=rest)
        for window in rest:
            total, days = sums[window]
            # Days are stored up to the last recompute: a window with stored days reads them (the dashboard
            # reads the same cells); one without any is computed from the records.
            if days:
                found[window] = RangeValue(value=Decimal(total or 0), components={}, stored=True)
        rest = [w for w in rest if w not in found]
    if rest:
        dimension, segment_value = _segment_parts(segment)
        computed: dict = kpis_compute_spans(
            plans=[KpiPlan.of(kpi)],
            team_ids=[team.pk],
            member_ids=team_ids_with_descendants([team.pk]),
            spans=rest,
            dimension=dimension,
            segment_value=segment_value,
        )
        for window in rest:
            span_value: SpanValue = computed[(team.pk, kpi.pk, window)]
            found[window] = RangeValue(value=span_value.value, components=span_value.components, stored=False)
    return found


def values_over(*, kpi: KpiDefinition, team: Team, segment: str = "", windows: Sequence[Range]) -> list[Decimal | None]:
    """The KPI for `team` over each [start, end) window (None = no value)."""
    found = range_values(kpi=kpi, team=team, segment=segment, windows=windows)
    return [found[w].value if w in found else None for w in windows]


def value_over(*, kpi: KpiDefinition, team: Team, segment: str = "", start: date, end: date) -> Decimal | None:
    """The KPI for `team` over [start, end)."""
    return values_over(kpi=kpi, team=team, segment=segment, windows=[(start, end)])[0]


def monthly_values(
    *, kpi: KpiDefinition, team: Team, segment: str = "", start: date, end: date
) -> dict[date, Decimal | None]:
    """Stored monthly values with period_start in [start, end), by month."""
    rows = KpiValue.objects.filter(
        kpi=kpi, team=team, granularity="month", segment=segment, period_start__gte=start, period_start__lt=end
    ).values_list("period_start", "value")
    return dict(rows)
