"""Long periods from the stored cells of shorter ones, for measures whose aggregate is decomposable or shared.

An incremental recompute after a small batch must not rescan a quarter or a year of
records: the month cells it just recomputed and the stored months around them already
hold everything a quarter's count, sum, minimum or maximum needs. The value over a
quarter of such a measure is exactly the sum (minimum, maximum) of its months' values —
the same formula over the same records, not an average of months — so a week or a
month is built from its stored days, a quarter or a year from its stored months.

Rollable: event-bound counts, sums, minimums and maximums without `in_period` filters or
durations. Shared (metrics.engine.shares): distinct counts and `in_period` measures, whose
shorter cells store their share of each longer period — a longer period's value is the
sum of its shorter periods' shares, and a month's shares of its quarter and year the sum
of its days'. Medians, means (the stored components hold the mean, not Σ and n) and
state-bound measures keep their grouped query over the long period. Shorter periods
missing from the store (after today, before the first recompute, a new team) are
computed from the records, one grouped query per contiguous run of them.

A measure's value in a stored cell is a JSON number in `components` (`shares`); sums are
exact at the value's scale as long as they stay below 10¹⁵ / 10^scale (beyond, a float
may have rounded them), else the shorter period is recomputed from the records.

Segments: a segment appears in a long period when some record of the measure has it. A
count's stored segment row says so by a positive count; a share by its presence; for
other aggregates the row is read only from a KPI whose sole measure is this one (its
segment rows exist exactly when the measure has records there).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from metrics.engine.aggregates import combine_sum
from metrics.engine.measures import MeasureSpec, filters_build, to_decimal
from metrics.engine.periods import Granularity, period_end, period_floor, period_starts
from metrics.engine.queries import Cells, Window, measures_compute_dimensions
from metrics.engine.shares import NESTED, Shares, share_kind, share_name, shares_compute
from metrics.engine.sources import KIND_OF_MODEL, resolve_path
from metrics.models import KpiValue

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
    """For each rollable or shared (measure, dimension), a KPI whose stored cells give it and the measure's name."""
    ordered = sorted(plans, key=lambda p: p.kpi_id)
    sources: dict[Key, tuple[int, str]] = {}
    for spec, dimension in wanted:
        shared = share_kind(spec) is not None
        if spec_rollable(spec) or shared:
            # Shares are stored in every segment row where the measure has records.
            source = _source_of(ordered, spec, dimension, any_segment_row=shared)
            if source is not None:
                sources[(spec, dimension)] = source
    return sources


def _source_of(
    ordered_plans: Sequence, spec: MeasureSpec, dimension: str | None, *, any_segment_row: bool
) -> tuple[int, str] | None:
    """The first KPI (by id) whose stored cells hold the measure for this dimension, and the measure's name there.
    Unless `any_segment_row`, a segment row is trusted only for counts or a KPI of that one measure."""
    for plan in ordered_plans:
        if dimension is not None and dimension not in plan.segments:
            continue
        names = [name for name, s in plan.measures.items() if s == spec]
        if not names:
            continue
        sole = len(set(plan.measures.values())) == 1
        if dimension is None or any_segment_row or spec.aggregate == "count" or sole:
            return plan.kpi_id, names[0]
    return None


def _runs(periods: list[dt.date], granularity: str) -> list[tuple[dt.date, ...]]:
    """Contiguous runs of sorted period starts."""
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
    first: dt.date | None = None,
) -> tuple[dict[Key, Cells], Shares]:
    """Cells of the rollable and shared (measure, dimension) pairs over the window's periods, combined from the
    stored cells of the `finer` granularity (and, for shorter periods not stored, from the records), with the
    shared pairs' shares of the periods containing the window's (metrics.engine.shares).

    The window's periods before `first` are only read by `prev()`, and are not being recomputed: their values
    are read from their own stored cells (one row per cell instead of a month of days, a year of months),
    unless some is not stored. Pairs neither rollable nor shared, or without a KPI storing them, are left out:
    the caller queries them.
    """
    sources = _sources(plans, wanted)
    if not sources:
        return {}, {}
    coarse_granularity = window.granularity
    nested = NESTED.get(coarse_granularity, ())
    kpi_ids = sorted({kpi_id for kpi_id, _ in sources.values()})
    earlier = [period for period in window.periods if first is not None and period < first]
    before = _stored_earlier(sources, earlier, coarse_granularity, kpi_ids, target_ids) if earlier else None
    combined_from = first if before is not None else window.start
    fine_periods = period_starts(start=combined_from, end=window.end, granularity=finer)
    stored = KpiValue.objects.filter(
        kpi_id__in=kpi_ids,
        team_id__in=list(target_ids),
        granularity=finer,
        period_start__gte=combined_from,
        period_start__lt=window.end,
    ).values_list("kpi_id", "team_id", "period_start", "segment", "components", "shares")
    rows: dict[tuple[int, int, dt.date], list[tuple[str, dict, dict]]] = defaultdict(list)
    for kpi_id, team_id, period, segment, components, shares in stored:
        rows[(kpi_id, team_id, period)].append((segment, components, shares))

    # (key, granularity) → (team, coarse period) → segment → value; granularity: the window's, or a share's.
    fresh: dict[tuple[Key, str], Cells] = defaultdict(lambda: defaultdict(dict))
    present: dict[tuple[Key, str], set[tuple[int, dt.date, str]]] = defaultdict(set)

    def add(key: Key, granularity: str, team: int, fine: dt.date, segment: str, value, found: bool) -> None:
        spec = key[0]
        combine = ROLLABLE_AGGREGATES.get(spec.aggregate, combine_sum)
        coarse = (team, period_floor(fine, coarse_granularity))
        cell = fresh[(key, granularity)][coarse]
        if value is not None:
            current = cell.get(segment)
            cell[segment] = value if current is None else combine(current, value)
        elif found:
            cell.setdefault(segment, None)
        if found:
            present[(key, granularity)].add((team, coarse[1], segment))

    # Which pairs are shared, decided once: share_kind parses the measure's filters.
    shared_keys = {key: None for key in sources if share_kind(key[0]) is not None}
    rollable = [key for key in sources if key not in shared_keys]
    missing: set[dt.date] = set()
    staged: list[tuple[Key, str, int, dt.date, str, Decimal | None, bool]] = []
    for fine in fine_periods:
        try:
            for key, (kpi_id, name) in sources.items():
                spec, dimension = key
                shared = key in shared_keys
                prefix = f"{dimension}=" if dimension else None
                for team in target_ids:
                    cell_rows = rows.get((kpi_id, team, fine))
                    if not cell_rows or not any(segment == "" for segment, _, _ in cell_rows):
                        raise LookupError  # never computed for this team and period
                    for segment, components, shares in cell_rows:
                        if (segment == "") != (prefix is None) or (prefix and not segment.startswith(prefix)):
                            continue
                        label = segment[len(prefix) :] if prefix else ""
                        if shared:
                            for granularity in (coarse_granularity, *nested):
                                stored_name = share_name(name, granularity)
                                if stored_name not in shares:
                                    if not segment:
                                        raise LookupError  # computed before shares were stored
                                    continue  # no records of the measure in this segment
                                value = _exact(spec, shares[stored_name])
                                staged.append((key, granularity, team, fine, label, value, True))
                            continue
                        if name not in components:
                            raise LookupError
                        value = _exact(spec, components[name])
                        # A count's segment has records when positive; a sole measure's rows exist only then.
                        found = value is not None and value != 0 if spec.aggregate == "count" else True
                        staged.append((key, coarse_granularity, team, fine, label, value if found else None, found))
        except (LookupError, OverflowError):
            missing.add(fine)
            continue
    for item in staged:
        if item[3] not in missing:
            add(*item)

    runs = _runs(sorted(missing), finer)
    if len(runs) > MAX_MISSING_RUNS:
        return {}, {}
    for run in runs:
        fine_window = Window(finer, run)
        computed = measures_compute_dimensions(
            wanted=rollable, window=fine_window, target_ids=target_ids, member_ids=member_ids
        )
        for key, cells in computed.items():
            for (team, fine), by_segment in cells.items():
                for segment, value in by_segment.items():
                    add(key, coarse_granularity, team, fine, segment, value, True)
        computed_shares = shares_compute(
            pairs=shared_keys, window=fine_window, target_ids=target_ids, member_ids=member_ids
        )
        for key, by_granularity in computed_shares.items():
            for granularity in (coarse_granularity, *nested):
                for (team, fine), by_segment in by_granularity.get(granularity, {}).items():
                    for segment, value in by_segment.items():
                        add(key, granularity, team, fine, segment, value, True)

    def kept(key: Key, granularity: str) -> Cells:
        """Only segments some record has: a long period's segment without any is absent, as from the records."""
        cells: Cells = defaultdict(dict)
        for (team, coarse), by_segment in fresh[(key, granularity)].items():
            for segment, value in by_segment.items():
                if (team, coarse, segment) not in present[(key, granularity)]:
                    continue
                # A count of values with at least n > 1 records has a segment only when some value has.
                if granularity == coarse_granularity and segment and key[0].min_count > 1 and not value:
                    continue
                cells[(team, coarse)][segment] = value
        return cells

    values = {key: kept(key, coarse_granularity) for key in sources}
    for key, cells in (before or {}).items():
        values[key].update(cells)
    shares_out: Shares = {key: {g: kept(key, g) for g in nested} for key in shared_keys} if nested else {}
    return values, shares_out


def _stored_earlier(
    sources: dict[Key, tuple[int, str]],
    periods: list[dt.date],
    granularity: str,
    kpi_ids: list[int],
    target_ids: Sequence[int],
) -> dict[Key, Cells] | None:
    """The sources' values over these periods, read from their own stored cells, or None when some cell is not
    stored (or its number may have been rounded). Every stored segment row is taken: `prev()` reads an absent
    segment as the measure's empty value, which is what a row without records holds."""
    rows = _stored_rows(kpi_ids, target_ids, granularity, periods)
    try:
        return {key: _stored_values(key, source, rows, target_ids, periods) for key, source in sources.items()}
    except (LookupError, OverflowError):
        return None


def _stored_rows(
    kpi_ids: Iterable[int], target_ids: Sequence[int], granularity: str, periods: Sequence[dt.date]
) -> dict[tuple[int, int, dt.date], list[tuple[str, dict]]]:
    """The stored rows of these cells, (kpi, team, period) → [(segment, components)], in one query."""
    stored = KpiValue.objects.filter(
        kpi_id__in=sorted(set(kpi_ids)),
        team_id__in=list(target_ids),
        granularity=granularity,
        period_start__in=list(periods),
    ).values_list("kpi_id", "team_id", "period_start", "segment", "components")
    rows: dict[tuple[int, int, dt.date], list[tuple[str, dict]]] = defaultdict(list)
    for kpi_id, team_id, period, segment, components in stored:
        rows[(kpi_id, team_id, period)].append((segment, components))
    return rows


def _stored_values(
    key: Key, source: tuple[int, str], rows: dict, target_ids: Sequence[int], periods: Sequence[dt.date]
) -> Cells:
    """A measure's value in every stored segment row of its dimension, per (team, period), from its source KPI's
    components. LookupError when a cell is not stored; OverflowError when a number may have been rounded."""
    (spec, dimension), (kpi_id, name) = key, source
    prefix = f"{dimension}=" if dimension else None
    found: Cells = defaultdict(dict)
    for team in target_ids:
        for period in periods:
            cell_rows = rows.get((kpi_id, team, period))
            if not cell_rows or not any(segment == "" for segment, _ in cell_rows):
                raise LookupError  # never computed for this team and period
            for segment, components in cell_rows:
                if (segment == "") != (prefix is None) or (prefix and not segment.startswith(prefix)):
                    continue
                if name not in components:
                    raise LookupError
                found[(team, period)][segment[len(prefix) :] if prefix else ""] = _exact(spec, components[name])
    return found


# --------------------------------------------------------------------------- unchanged measures

# State aggregates whose cell exists exactly where its value is not zero (metrics.engine.queries._state_histogram).
STORED_STATE_AGGREGATES = {"count", "sum"}


def pair_record_kinds(spec: MeasureSpec, dimension: str | None) -> frozenset[str]:
    """Record kinds whose changes can change the measure's cells for this segment dimension: the measure's own
    (metrics.engine.measures.MeasureSpec.record_kinds) and those the dimension's path crosses."""
    kinds = set(spec.record_kinds())
    path = spec.record_source.dimensions.get(dimension) if dimension else None
    if path:
        _, crossed = resolve_path(spec.model, path)
        kinds.update(KIND_OF_MODEL[model] for model in crossed if model in KIND_OF_MODEL)
    return frozenset(kinds)


def cells_from_stored(
    *, plans: Sequence, pairs: Iterable[Key], window: Window, target_ids: Sequence[int]
) -> dict[Key, Cells]:
    """The cells of state counts and sums whose records have not changed, read from the stored cells of the
    window's own granularity instead of their histogram query: an incremental recompute after new orders reads
    the customers' states of every period again for each KPI mixing both (revenue per active customer).

    A state count or sum has a cell where its value is not zero, so its segments are told apart from the
    rows other measures of the KPI create. Pairs left out (not such a measure, no KPI storing it, some cell of
    the window not stored, a number that may have been rounded) are for the caller to query.
    """
    ordered = sorted(plans, key=lambda p: p.kpi_id)
    sources: dict[Key, tuple[int, str]] = {}
    for spec, dimension in pairs:
        if spec.binding == "state" and spec.aggregate in STORED_STATE_AGGREGATES:
            source = _source_of(ordered, spec, dimension, any_segment_row=True)
            if source is not None:
                sources[(spec, dimension)] = source
    if not sources:
        return {}
    rows = _stored_rows([kpi_id for kpi_id, _ in sources.values()], target_ids, window.granularity, window.periods)
    cells: dict[Key, Cells] = {}
    for key, source in sources.items():
        try:
            found = _stored_values(key, source, rows, target_ids, window.periods)
        except (LookupError, OverflowError):
            continue
        # Zero or no value: no cell, as the histogram gives it.
        cells[key] = {cell: {s: v for s, v in by_segment.items() if v} for cell, by_segment in found.items()}
    return cells
