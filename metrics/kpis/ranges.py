"""What objectives read from the metrics app: KPI names and values over arbitrary date ranges.

The one place objectives talk to metrics, through its models and public engine functions.
An objective's period is any [start, end) range, not a calendar period, so:

* additive KPIs (counts, sums): the sum of the stored daily values over the range — one
  query, stored values only;
* other KPIs (rates, averages, medians, states): the engine applies the formula to the
  records of the whole range (a ratio over the range is never an average of daily ratios).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from accounts.models import Team
from metrics.engine.formula import formula_parse
from metrics.engine.measures import Binding, StateMode, to_decimal
from metrics.engine.periods import period_end, period_floor
from metrics.models import KpiDefinition, KpiValue


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


def values_over(
    *, kpi: KpiDefinition, team: Team, segment: str = "", windows: Sequence[tuple[date, date]]
) -> list[Decimal | None]:
    """The KPI for `team` over each [start, end) window (None = no value)."""
    if not windows:
        return []
    if kpi.additive:
        sums = _stored_sum(kpi=kpi, team=team, segment=segment, windows=windows)
        # No stored day at all in a window means the KPI was never computed there: no value (not 0).
        return [Decimal(sums[w][0] or 0) if sums[w][1] else None for w in windows]
    return [_formula_over(kpi=kpi, team=team, segment=segment, start=s, end=e) for s, e in windows]


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


def _calendar_granularity(start: date, end: date) -> str | None:
    """The granularity whose period is exactly [start, end), if any (month before quarter before year)."""
    for granularity in ("day", "week", "month", "quarter", "year"):
        if period_floor(start, granularity) == start and period_end(start, granularity) == end:
            return granularity
    return None


def _formula_over(*, kpi: KpiDefinition, team: Team, segment: str, start: date, end: date) -> Decimal | None:
    """A non-additive KPI over [start, end): the stored value when the range is a calendar period, else
    the engine's computation over the custom range."""
    granularity = _calendar_granularity(start, end)
    if granularity is not None:
        stored = KpiValue.objects.filter(
            kpi=kpi, team=team, granularity=granularity, period_start=start, segment=segment
        ).first()
        if stored is not None:
            return stored.value
    return range_compute(kpi=kpi, team=team, segment=segment, start=start, end=end)


def range_compute(*, kpi: KpiDefinition, team: Team, segment: str, start: date, end: date) -> Decimal | None:
    """A non-additive KPI over a custom range, rebuilt from the stored daily values' components.

    The engine stores each day's measure values (components). Over [start, end) an event-bound
    count or sum is the sum of its days, "active at start" is the first day's and "active at end"
    the last day's; the KPI's formula is then applied to these range totals (metrics.engine.formula),
    so a rate over the range is never an average of daily rates. Measures that cannot be rebuilt
    from days (averages, medians, distinct counts, new/lost states, prev()) give no value.
    """
    formula = formula_parse(kpi.formula)
    if formula.prev_depth:
        return None
    days = list(
        KpiValue.objects.filter(
            kpi=kpi, team=team, granularity="day", segment=segment, period_start__gte=start, period_start__lt=end
        )
        .order_by("period_start")
        .values_list("period_start", "components")
    )
    if not days or days[0][0] != start or days[-1][0] != end - timedelta(days=1):
        return None
    totals: dict[str, Decimal | None] = {}
    for measure in kpi.measures.all():
        name = measure.name
        if measure.binding == Binding.EVENT and measure.aggregate in ("count", "sum"):
            values = [to_decimal(components.get(name)) for _day, components in days]
            totals[name] = sum((v for v in values if v is not None), Decimal(0))
        elif measure.binding == Binding.STATE and measure.state == StateMode.START:
            totals[name] = to_decimal(days[0][1].get(name))
        elif measure.binding == Binding.STATE and measure.state == StateMode.END:
            totals[name] = to_decimal(days[-1][1].get(name))
        else:
            return None
    return formula.evaluate(lambda name, back: totals.get(name) if back == 0 else None)
