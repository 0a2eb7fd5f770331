"""Long periods from the stored cells of shorter ones, for measures whose aggregate is decomposable.

An incremental recompute after a small batch must not rescan a quarter or a year of
records: the month cells it just recomputed and the stored months around them already
hold everything a quarter's count, sum, minimum or maximum needs. The value over a
quarter of such a measure is exactly the sum (minimum, maximum) of its months' values —
the same formula over the same records, not an average of months — so a week or a
month is built from its stored days, a quarter or a year from its stored months.

Only for event-bound counts, sums, minimums and maximums without `in_period` filters or
durations; distinct counts, medians, means (the stored components hold the mean, not
Σ and n), state-bound measures and `in_period` filters (tied to the long period itself)
keep their grouped query over the long period. Shorter periods missing from the store
(after today, before the first recompute, a new team) are computed from the records,
one grouped query per contiguous run of them.

A measure's value in a stored cell is a JSON number in `components`; sums are exact at
the value's scale as long as they stay below 10¹⁵ / 10^scale (beyond, a float may have
rounded them), else the shorter period is recomputed from the records.

Segments: a segment appears in a long period when some record of the measure has it. A
count's stored segment row says so by a positive count; for other aggregates the row is
read only from a KPI whose sole measure is this one (its segment rows exist exactly when
the measure has records there).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from metrics.engine.aggregates import combine_sum
from metrics.engine.measures import MeasureSpec, filters_build, to_decimal
from metrics.engine.periods import Granularity, period_floor, period_starts
from metrics.engine.queries import Cells, Window, measures_compute_dimensions

# The shorter granularity each one is built from in an incremental recompute.
FINER: dict[str, str] = {
    Granularity.WEEK: Granularity.DAY,
    Granularity.MONTH: Granularity.DAY,
    Granularity.QUARTER: Granularity.MONTH,
    Granularity.YEAR: Granularity.MONTH,
}
ROLLABLE_AGGREGATES = {"count": combine_sum, "sum": combine_sum, "min": min, "max": max}
# Past these significant digits a JSON float may not be the exact decimal any more.
EXACT_DIGITS = 15
# More runs of missing shorter periods than this and the long periods are read from the records.
MAX_MISSING_RUNS = 2

Key = tuple[MeasureSpec, str | None]


def spec_rollable(spec: MeasureSpec) -> bool:
    """Whether the measure's value over a period is the sum (min, max) of its values over the sub-periods."""
    if spec.binding != "event" or spec.min_count != 1 or spec.is_duration:
        return False
    if spec.aggregate not in ROLLABLE_AGGREGATES:
        return False
    return not filters_build(spec.model, spec.filters)[1]


def _sources(plans: Sequence, wanted: Iterable[Key]) -> dict[Key, tuple[int, str]]:
    """For each rollable (measure, dimension), a KPI whose stored cells give it and the component's name."""
    sources: dict[Key, tuple[int, str]] = {}
    for spec, dimension in wanted:
        if not spec_rollable(spec):
            continue
        for plan in sorted(plans, key=lambda p: p.kpi_id):
            if dimension is not None and dimension not in plan.segments:
                continue
            names = [name for name, s in plan.measures.items() if s == spec]
            if not names:
                continue
            sole = len(set(plan.measures.values())) == 1
            if dimension is None or spec.aggregate == "count" or sole:
                sources[(spec, dimension)] = (plan.kpi_id, names[0])
                break
    return sources


def _runs(periods: list[dt.date], granularity: str) -> list[tuple[dt.date, ...]]:
    """Contiguous runs of sorted period starts."""
    from metrics.engine.periods import period_end

    runs: list[list[dt.date]] = []
    for period in periods:
        if runs and period_end(runs[-1][-1], granularity) == period:
            runs[-1].append(period)
        else:
            runs.append([period])
    return [tuple(run) for run in runs]


def _exact(spec: MeasureSpec, raw) -> Decimal | None:
    """A stored component as the exact measure value, or None when the JSON number may have been rounded."""
    value = to_decimal(raw, spec.value_scale())
    if value is not None and value.adjusted() + 1 + spec.value_scale() > EXACT_DIGITS:
        raise OverflowError
    return value


def cells_from_finer(
    *,
    plans: Sequence,
    wanted: Iterable[Key],
    window: Window,
    target_ids: Sequence[int],
    member_ids: Iterable[int] | None,
    finer: str,
) -> dict[Key, Cells]:
    """Cells of the rollable (measure, dimension) pairs over the window's periods, combined from the stored
    cells of the `finer` granularity (and, for shorter periods not stored, from the records).

    Pairs not rollable, or without a KPI storing them, are left out: the caller queries them.
    """
    from metrics.models import KpiValue

    sources = _sources(plans, wanted)
    if not sources:
        return {}
    fine_periods = period_starts(start=window.start, end=window.end, granularity=finer)
    kpi_ids = sorted({kpi_id for kpi_id, _ in sources.values()})
    stored = KpiValue.objects.filter(
        kpi_id__in=kpi_ids,
        team_id__in=list(target_ids),
        granularity=finer,
        period_start__gte=window.start,
        period_start__lt=window.end,
    ).values_list("kpi_id", "team_id", "period_start", "segment", "components")
    rows: dict[tuple[int, int, dt.date], list[tuple[str, dict]]] = defaultdict(list)
    for kpi_id, team_id, period, segment, components in stored:
        rows[(kpi_id, team_id, period)].append((segment, components))

    fresh: dict[Key, Cells] = {key: defaultdict(dict) for key in sources}
    present: dict[Key, set[tuple[int, dt.date, str]]] = {key: set() for key in sources}

    def add(key: Key, team: int, fine: dt.date, segment: str, value: Decimal | None, found: bool) -> None:
        combine = ROLLABLE_AGGREGATES[key[0].aggregate]
        coarse = (team, period_floor(fine, window.granularity))
        cell = fresh[key][coarse]
        if value is not None:
            current = cell.get(segment)
            cell[segment] = value if current is None else combine(current, value)
        elif found:
            cell.setdefault(segment, None)
        if found:
            present[key].add((team, coarse[1], segment))

    missing: set[dt.date] = set()
    staged: list[tuple[Key, int, dt.date, str, Decimal | None, bool]] = []
    for fine in fine_periods:
        try:
            for key, (kpi_id, name) in sources.items():
                spec, dimension = key
                prefix = f"{dimension}=" if dimension else None
                for team in target_ids:
                    cell_rows = rows.get((kpi_id, team, fine))
                    if not cell_rows or not any(segment == "" for segment, _ in cell_rows):
                        raise LookupError  # never computed for this team and period
                    for segment, components in cell_rows:
                        if (segment == "") != (prefix is None) or (prefix and not segment.startswith(prefix)):
                            continue
                        if name not in components:
                            raise LookupError
                        value = _exact(spec, components[name])
                        label = segment[len(prefix) :] if prefix else ""
                        # A count's segment has records when positive; a sole measure's rows exist only then.
                        found = value is not None and value != 0 if spec.aggregate == "count" else True
                        staged.append((key, team, fine, label, value if found else None, found))
        except (LookupError, OverflowError):
            missing.add(fine)
            continue
    for item in staged:
        if item[2] not in missing:
            add(*item)

    runs = _runs(sorted(missing), finer)
    if len(runs) > MAX_MISSING_RUNS:
        return {}
    for run in runs:
        computed = measures_compute_dimensions(
            wanted=list(sources), window=Window(finer, run), target_ids=target_ids, member_ids=member_ids
        )
        for key, cells in computed.items():
            for (team, fine), by_segment in cells.items():
                for segment, value in by_segment.items():
                    add(key, team, fine, segment, value, True)

    # Only segments some record has: a long period's segment without any is absent, as from the records.
    result: dict[Key, Cells] = {}
    for key, cells in fresh.items():
        result[key] = defaultdict(dict)
        for (team, coarse), by_segment in cells.items():
            for segment, value in by_segment.items():
                if (team, coarse, segment) in present[key]:
                    result[key][(team, coarse)][segment] = value
    return result
