"""Compute KPI values: every needed measure once per granularity, then each KPI's formula per cell.

For a set of KPIs, teams and dates, `kpis_compute` builds the window of periods (plus
the periods before it that `prev()` reads), computes each distinct measure — and each
(measure, segment dimension) — with one grouped query (metrics.engine.queries), then
evaluates each formula for every (team, period, segment) cell. Ratios for a month are
computed from the month's own measures, never from smaller periods.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from metrics.engine.fold import CellFold
from metrics.engine.formula import Formula, formula_parse
from metrics.engine.measures import MeasureSpec
from metrics.engine.periods import Granularity, period_end, period_floor, period_shift, period_starts
from metrics.engine.queries import FOLD_KEPT, Cells, Window, measures_compute_dimensions
from metrics.engine.rollup import cells_from_finer, cells_from_stored, pair_record_kinds
from metrics.engine.shares import NESTED, Shares, share_name, shares_compute

VALUE_QUANTUM = Decimal("1e-10")
VALUE_LIMIT = Decimal("1e20")  # KpiValue.value holds 20 integer digits
_MISSING = object()
_NO_SEGMENTS: dict = {}
_NO_SHARES: dict = {}


@dataclass(frozen=True)
class KpiPlan:
    """What the engine needs of a KPI definition: its parsed formula, named measure specs, segments."""

    kpi_id: int
    code: str
    formula: Formula
    measures: dict[str, MeasureSpec]
    segments: tuple[str, ...]

    @classmethod
    def of(cls, definition) -> KpiPlan:
        """The plan of a KpiDefinition (its measures should be prefetched)."""
        return cls(
            kpi_id=definition.pk,
            code=definition.code,
            formula=formula_parse(definition.formula),
            measures={m.name: m.spec for m in definition.measures.all()},
            segments=tuple(definition.segments or ()),
        )


class ValueRow(NamedTuple):
    """One computed cell, ready to be stored as a KpiValue (a named tuple: millions are built per run).

    Cells computed from the same inputs share one `components` dict, and cells with the same shares one `shares`
    dict; treat both dicts as read-only."""

    kpi_id: int
    team_id: int
    granularity: str
    period_start: dt.date
    segment: str
    value: Decimal | None
    components: dict
    shares: dict


def value_for_storage(value: Decimal | None) -> Decimal | None:
    """Round to the stored precision (10 decimals); values beyond the column's range have no value."""
    if value is None or not value.is_finite() or abs(value) >= VALUE_LIMIT:
        return None
    return value.quantize(VALUE_QUANTUM, rounding=ROUND_HALF_EVEN)


def json_number(value: Decimal | None) -> int | float | None:
    """A component as a JSON number (integers stay integers)."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _component_name(name: str, back: int) -> str:
    return "prev(" * back + name + ")" * back


def kpis_compute(
    *,
    plans: Sequence[KpiPlan],
    team_ids: Iterable[int],
    granularity: str,
    start: dt.date,
    end: dt.date,
    member_ids: Iterable[int] | None = None,
    finer: str | None = None,
    fold: CellFold | None = None,
    changed_kinds: frozenset[str] | None = None,
) -> list[ValueRow]:
    """Values of these KPIs for these teams (each over its sub-teams too) and every period meeting [start, end).

    At most one grouped query per distinct measure (and per measure and segment dimension),
    whatever the number of teams and periods; event measures over the same records share one.
    `member_ids`, the teams and all their sub-teams, lets the database use its (team, date) indexes.
    With `finer` (incremental recomputes), decomposable measures are combined from the stored cells of
    that shorter granularity instead of read from the records (metrics.engine.rollup).
    With `fold` (recomputes of everything), they are taken from the shorter granularity computed just before,
    added up in memory, and this granularity's cells are added up for longer ones (metrics.engine.fold).
    With `changed_kinds` (incremental recomputes: the record kinds changed since the stored cells were
    computed), state counts and sums reading none of them are read from this granularity's stored cells.
    Days and months also get their shares of the longer periods (metrics.engine.shares).
    """
    teams = sorted(set(team_ids))
    periods_out = period_starts(start=start, end=end, granularity=granularity)
    if not plans or not teams or not periods_out:
        return []
    depth = max(plan.formula.prev_depth for plan in plans)
    earlier = [period_shift(periods_out[0], granularity, -k) for k in range(depth, 0, -1)]
    window = Window(granularity, tuple(earlier + periods_out))

    wanted: dict[tuple[MeasureSpec, str | None], None] = {}
    for plan in plans:
        for spec in plan.measures.values():
            wanted[(spec, None)] = None
            for dimension in plan.segments:
                wanted[(spec, dimension)] = None
    cache: dict = {}
    results: dict[tuple[MeasureSpec, str | None], Cells] = {}
    shares: Shares = {}
    if changed_kinds is not None:
        unchanged = [pair for pair in wanted if not pair_record_kinds(*pair) & changed_kinds]
        results.update(cells_from_stored(plans=plans, pairs=unchanged, window=window, target_ids=teams))
    if finer:
        combined, shares = cells_from_finer(
            plans=plans,
            wanted=wanted,
            window=window,
            target_ids=teams,
            member_ids=member_ids,
            finer=finer,
            first=periods_out[0],
        )
        results.update(combined)
    elif fold is not None:
        combined, shares, kept = fold.cells(wanted=wanted, window=window)
        results.update(combined)
        if fold.folds(granularity):  # the means and medians made of what the queries below keep, and of these
            cache[FOLD_KEPT] = defaultdict(lambda: defaultdict(dict), kept)
    unshared = [pair for pair in wanted if pair not in shares]
    shares.update(shares_compute(pairs=unshared, window=window, target_ids=teams, member_ids=member_ids))
    for pair, by_granularity in shares.items():
        own = by_granularity.pop(granularity, None)  # the measure itself, computed with its shares
        if own is not None and pair not in results:
            results[pair] = own
    results.update(
        measures_compute_dimensions(
            wanted=[pair for pair in wanted if pair not in results],
            window=window,
            target_ids=teams,
            member_ids=member_ids,
            cache=cache,
        )
    )
    if fold is not None and fold.folds(granularity):
        fold.add(granularity=granularity, periods=periods_out, results=results, shares=shares, kept=cache[FOLD_KEPT])

    rows: list[ValueRow] = []
    for plan in plans:
        rows.extend(_plan_rows(plan, results, shares, window, teams, depth, granularity))
    return rows


def _plan_rows(
    plan: KpiPlan,
    results: dict[tuple[MeasureSpec, str | None], Cells],
    shares: Shares,
    window: Window,
    teams: list[int],
    depth: int,
    granularity: str,
) -> list[ValueRow]:
    """The cells of one KPI: for each team and period of the window after the first `depth` ones, the total
    and each segment some measure (or some share of a longer period) has there.

    The cells of each input are looked up once per cell, in the order of `lookups`; the formula reads
    them from there. Cells with the same inputs have the same value: it is computed once per KPI.
    """
    lookups = sorted(plan.formula.lookups | {(name, 0) for name in plan.measures}, key=lambda x: (x[1], x[0]))
    names = [_component_name(name, back) for name, back in lookups]
    periods = window.periods
    nested = NESTED.get(granularity, ())
    formula = plan.formula
    values: dict[tuple, tuple[Decimal | None, dict]] = {}
    shares_made: dict[tuple, dict] = {}
    segment_names: dict[tuple[str | None, str], str] = {}
    rows: list[ValueRow] = []
    append = rows.append

    def inputs_of(dimension: str | None):
        """Per lookup: the measure's cells for this dimension, how many periods back, the value of no cell."""
        inputs = []
        for name, back in lookups:
            spec = plan.measures[name]
            inputs.append((results[(spec, dimension)], back, Decimal(0) if spec.agg.empty_is_zero else None))
        return inputs

    def shares_of(dimension: str | None):
        """Per stored share: its name, the cells of that longer granularity, the value of no cell."""
        found = []
        for name, spec in plan.measures.items():
            by_granularity = shares.get((spec, dimension))
            if by_granularity is None:
                continue
            for longer in nested:
                empty = Decimal(0) if spec.agg.empty_is_zero else None
                found.append((share_name(name, longer), by_granularity.get(longer, {}), empty))
        return found

    def resolve(team: int, index: int, inputs, share_inputs):
        """The inputs at this team and period, once for all its segments: per lookup, the cells' segments there
        (None before the window) and the value of no cell; per stored share, its name, segments and empty value."""
        found = []
        for cells, back, empty in inputs:
            position = index - back
            found.append((None if position < 0 else cells.get((team, periods[position]), _NO_SEGMENTS), empty))
        key = (team, periods[index])
        return found, [(name, cells.get(key, _NO_SEGMENTS), empty) for name, cells, empty in share_inputs]

    def row(team: int, index: int, dimension: str | None, segment_value: str, found, found_shares) -> ValueRow:
        key = tuple([None if segments is None else segments.get(segment_value, empty) for segments, empty in found])
        known = values.get(key)
        if known is None:
            given = dict(zip(lookups, key, strict=True))
            value = value_for_storage(formula.evaluate(lambda name, back: given[(name, back)]))
            # One components dict per distinct input set, shared by its cells: the store encodes it once.
            known = values[key] = (value, {name: json_number(v) for name, v in zip(names, key, strict=True)})
        value, components = known
        stored_shares = _NO_SHARES
        if found_shares:
            found = tuple([segments.get(segment_value, _MISSING) for _, segments, _ in found_shares])
            stored_shares = shares_made.get((dimension, found))
            if stored_shares is None:
                # As components: one dict per distinct set of shares, shared by its cells, encoded once.
                stored_shares = shares_made[(dimension, found)] = {}
                for (stored_name, _, empty), share in zip(found_shares, found, strict=True):
                    if share is _MISSING:
                        if dimension:  # a segment holds a share only where the measure has records
                            continue
                        share = empty
                    stored_shares[stored_name] = json_number(share)  # type: ignore[arg-type]
        segment = segment_names.get((dimension, segment_value))
        if segment is None:  # one string per segment, shared by its rows
            segment = segment_names[(dimension, segment_value)] = f"{dimension}={segment_value}" if dimension else ""
        return ValueRow(plan.kpi_id, team, granularity, periods[index], segment, value, components, stored_shares)

    total_inputs, total_shares = inputs_of(None), shares_of(None)
    by_dimension = []
    for dimension in plan.segments:
        # Where segments occur: the measure's cells, and the shares some longer period has through this one.
        present = [results[(spec, dimension)] for spec in plan.measures.values()]
        for spec in plan.measures.values():
            present.extend(shares.get((spec, dimension), {}).values())
        by_dimension.append((dimension, inputs_of(dimension), shares_of(dimension), present))
    for team in teams:
        for index in range(depth, len(periods)):
            period = periods[index]
            append(row(team, index, None, "", *resolve(team, index, total_inputs, total_shares)))
            for dimension, inputs, share_inputs, present in by_dimension:
                segment_values: set[str] = set()
                for cells in present:
                    segment_values.update(cells.get((team, period), _NO_SEGMENTS))
                if not segment_values:
                    continue
                found, found_shares = resolve(team, index, inputs, share_inputs)
                for segment_value in sorted(segment_values):
                    append(row(team, index, dimension, segment_value, found, found_shares))
    return rows


# --------------------------------------------------------------------------- any date range

Span = tuple[dt.date, dt.date]  # [start, end)


@dataclass(frozen=True)
class SpanValue:
    """A KPI over one date range: its value and the measures it was computed from."""

    value: Decimal | None
    components: dict


def calendar_granularity(start: dt.date, end: dt.date) -> str | None:
    """The granularity whose period is exactly [start, end), if any (the shortest)."""
    for granularity in Granularity.values:
        if period_floor(start, granularity) == start and period_end(start, granularity) == end:
            return granularity
    return None


def span_back(span: Span, k: int) -> Span:
    """The span `prev()` reads k times back: a calendar period's prev() is the period before, as stored; any
    other range's, the range of the same length just before it."""
    granularity = calendar_granularity(*span)
    if granularity is not None:
        start = period_shift(span[0], granularity, -k)
        return start, period_end(start, granularity)
    length = span[1] - span[0]
    return span[0] - k * length, span[1] - k * length


def span_layers(spans: Iterable[Span]) -> list[list[Span]]:
    """Spans split into layers of non-overlapping spans (greedy by start), each with the gaps between its spans
    as spans of their own (computed, then ignored): one window, so one query per measure, per layer. Ranges
    asked together — a range and the ranges before it, comparison spans — are usually one layer."""
    layers: list[list[Span]] = []
    for span in sorted(set(spans)):
        for layer in layers:
            if layer[-1][1] <= span[0]:
                if layer[-1][1] < span[0]:
                    layer.append((layer[-1][1], span[0]))
                layer.append(span)
                break
        else:
            layers.append([span])
    return layers


def kpis_compute_spans(
    *,
    plans: Sequence[KpiPlan],
    team_ids: Iterable[int],
    spans: Iterable[Span],
    member_ids: Iterable[int] | None = None,
    dimension: str | None = None,
    segment_value: str = "",
) -> dict[tuple[int, int, Span], SpanValue]:
    """Values of these KPIs for these teams over any [start, end) date ranges, exactly as calendar periods
    are computed: from the records, with the same query shapes (distinct counts, medians, states), `prev()`
    reading the preceding range of the same length (the preceding period for a calendar period). Optionally
    for one segment (`dimension`=`segment_value`).

    One grouped query per measure for all the ranges (per layer of overlapping ranges, see span_layers).
    """
    teams = sorted(set(team_ids))
    asked = sorted({span for span in spans if span[0] < span[1]})
    if not plans or not teams or not asked:
        return {}
    depth = max(plan.formula.prev_depth for plan in plans)
    needed = {span_back(span, k) for span in asked for k in range(depth + 1)}
    wanted = list(dict.fromkeys((spec, dimension) for plan in plans for spec in plan.measures.values()))
    cells: dict[MeasureSpec, dict[tuple[int, Span], Decimal | None]] = {spec: {} for spec, _ in wanted}
    for layer in span_layers(needed):
        window = Window.of_spans(layer)
        computed = measures_compute_dimensions(
            wanted=wanted, window=window, target_ids=teams, member_ids=member_ids, cache={}
        )
        ends = dict(zip(window.periods, window.ends, strict=True))
        for (spec, _), by_cell in computed.items():
            for (team, start), by_segment in by_cell.items():
                if segment_value in by_segment:
                    cells[spec][(team, (start, ends[start]))] = by_segment[segment_value]

    values: dict[tuple[int, int, Span], SpanValue] = {}
    for plan in plans:
        lookups = sorted(plan.formula.lookups | {(name, 0) for name in plan.measures}, key=lambda x: (x[1], x[0]))
        for team in teams:
            for span in asked:

                def lookup(name: str, k: int, team=team, span=span, plan=plan) -> Decimal | None:
                    spec = plan.measures.get(name)
                    if spec is None:  # a formula naming a measure the KPI lacks has no value
                        return None
                    found = cells[spec].get((team, span_back(span, k)), _MISSING)
                    if found is _MISSING:
                        return Decimal(0) if spec.agg.empty_is_zero else None
                    return found  # type: ignore[return-value]

                components = {_component_name(name, k): json_number(lookup(name, k)) for name, k in lookups}
                value = value_for_storage(plan.formula.evaluate(lookup))
                values[(team, plan.kpi_id, span)] = SpanValue(value=value, components=components)
    return values
