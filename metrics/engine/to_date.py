"""A KPI over the first days of a period ("to date"), combined from the stored cells of those days.

A running month must be compared with the same days of the previous month, not with all of it.
The first n days of a period are exactly what the stored day cells can rebuild, measure by
measure, the way the rollup builds whole periods (metrics.engine.rollup, metrics.engine.shares):

* rollable measures (event-bound counts, sums, minimums, maximums): the sum (min, max) of the days;
* shared measures (distinct counts, `in_period` filters): the sum of the days' shares of the period
  — a day's share of its month counts the values whose first record of the month falls on that
  day, so the first n days' shares count the values seen in those n days, exactly;
* "active at start" states: the first day's (the span starts with the period); "active at end":
  the last day's.

A KPI with another measure (medians, means, durations, new or lost states) or reading `prev()`
has no value to date here: it is left out rather than approximated, and metrics.kpis.comparisons
computes it over the span from the records (metrics.engine.compute.kpis_compute_spans).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from metrics.engine.compute import KpiPlan, value_for_storage
from metrics.engine.measures import MeasureSpec, StateMode, to_decimal
from metrics.engine.rollup import ROLLABLE_AGGREGATES, spec_rollable
from metrics.engine.shares import share_kind, share_name

# One stored day: (team id, kpi id, day, components, shares).
DayCell = tuple[int, int, dt.date, dict, dict]


def _combiner(spec: MeasureSpec) -> str | None:
    """How the measure over the first days of a period is built from those days (None: it is not)."""
    if spec_rollable(spec):
        return "roll"
    if share_kind(spec) is not None:
        return "share"
    if spec.binding == "state" and spec.state == StateMode.START:
        return "first"
    if spec.binding == "state" and spec.state == StateMode.END:
        return "last"
    return None


def plan_combinable(plan: KpiPlan) -> bool:
    """Whether the KPI's value over the first days of a period can be rebuilt from its stored days."""
    return not plan.formula.prev_depth and all(_combiner(spec) for spec in plan.measures.values())


def values_to_date(
    *, plans: Sequence[KpiPlan], days: Iterable[DayCell], granularity: str, first: dt.date, last: dt.date
) -> dict[tuple[int, int], Decimal | None]:
    """Each (team, KPI)'s value over [first, last] — the first days of a `granularity` period starting on
    `first` — from the stored total cells of those days. Left out: KPIs that cannot be combined, and
    (team, KPI) pairs missing a day (never computed there)."""
    wanted = {plan.kpi_id: plan for plan in plans if plan_combinable(plan)}
    span = (last - first).days + 1
    by_pair: dict[tuple[int, int], list[tuple[dt.date, dict, dict]]] = {}
    for team_id, kpi_id, day, components, shares in days:
        if kpi_id in wanted and first <= day <= last:
            by_pair.setdefault((team_id, kpi_id), []).append((day, components or {}, shares or {}))
    values: dict[tuple[int, int], Decimal | None] = {}
    for (team_id, kpi_id), cells in by_pair.items():
        if len(cells) != span:
            continue
        cells.sort(key=lambda cell: cell[0])
        plan = wanted[kpi_id]
        totals = {name: _combined(name, spec, cells, granularity) for name, spec in plan.measures.items()}
        values[(team_id, kpi_id)] = value_for_storage(plan.formula.evaluate(_lookup(totals)))
    return values


def _lookup(totals: dict):
    """The formula's lookup over the span's measure totals (no `prev()`: such KPIs are not combinable)."""
    return lambda name, back: totals.get(name) if back == 0 else None


def _combined(name: str, spec: MeasureSpec, cells: list[tuple[dt.date, dict, dict]], granularity: str):
    how = _combiner(spec)
    if how == "first":
        return to_decimal(cells[0][1].get(name))
    if how == "last":
        return to_decimal(cells[-1][1].get(name))
    if how == "share":
        raw = [cell[2].get(share_name(name, granularity)) for cell in cells]
    else:
        raw = [cell[1].get(name) for cell in cells]
    found = [value for value in (to_decimal(item) for item in raw) if value is not None]
    if not found:
        return Decimal(0) if spec.agg.empty_is_zero else None
    # Minimums and maximums (rolled, or shared with an in_period filter) keep their extreme; the rest add up.
    if spec.aggregate in ("min", "max"):
        return ROLLABLE_AGGREGATES[spec.aggregate](found)
    return sum(found, Decimal(0))
