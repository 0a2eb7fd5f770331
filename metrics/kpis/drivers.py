"""The exact driver breakdown of a KPI's change between two date ranges: by measure and by segment.

By measure (the formula's inputs, `prev(x)` being an input of its own): each input's contribution is its
**Shapley value** — the formula is evaluated on the 2^k combinations of the two spans' input values (k the
inputs that changed, at most MAX_CHANGED_INPUTS), and an input's part is the mean, over every order of switching
the inputs from the compared span's value to this span's, of the change its switch makes. Sums and differences
get their own change; a product or a ratio splits its interaction symmetrically. The parts add up to the change
exactly (Shapley's efficiency), in exact rational arithmetic (fractions.Fraction); a combination with no value
(a division by zero) leaves the breakdown undefined rather than invented.

By segment (each value of a dimension the KPI is broken down by), when the KPI's segments add up:
* a **sum** (a formula linear in counts and sums): each segment's own change;
* a **ratio of sums** (N / D, N and D linear in counts and sums — rates, averages of sums): with each segment's
  weight w = D_s / D and rate r = N_s / D_s, the classic symmetric split
  rate effect = (r₁ − r₀) × (w₁ + w₀) / 2, mix effect = (w₁ − w₀) × ((r₁ + r₀) / 2 − (R₁ + R₀) / 2),
  R the KPI's value; a segment absent from one span has no rate change (all of it is mix).
Records without a value of the dimension form the segment "" (« (not set) »), so the segments add up to the
change exactly. A KPI reading a mean, a median, a distinct count or a non-linear function has no such breakdown.

Exact parts are then rounded to the KPI's display precision (DISPLAY_PLACES) by the largest-remainder method,
so the rounded parts add up to the rounded change, to the last cent or hundredth of a point.

All measures of both spans — totals and every segment of every dimension — come from one grouped query per
measure (metrics.engine.queries.measures_compute_dimensions; per layer of overlapping spans), never one per
segment.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.db.models import prefetch_related_objects
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts.models import Team
from accounts.selectors import team_ids_with_descendants
from metrics.engine.compute import KpiPlan, span_back, span_layers, value_for_storage
from metrics.engine.formula import FUNCTIONS, BinaryOp, Call, Formula, Name, Negate, Node, Number
from metrics.engine.measures import MeasureSpec
from metrics.engine.periods import GRANULARITIES, period_end, period_floor
from metrics.engine.queries import Window, measures_compute_dimensions
from metrics.kpis.comparisons import comparison_span
from metrics.kpis.labels import code_label, dimension_label, value_names
from metrics.kpis.words import measure_in_words
from metrics.models import KpiDefinition

Span = tuple[dt.date, dt.date]  # [start, end)
Lookup = tuple[str, int]  # (measure name, periods back): ("revenue", 1) is prev(revenue)
Inputs = Mapping[Lookup, Decimal | None]

MAX_CHANGED_INPUTS = 10  # 2^10 = 1,024 evaluations of the formula at most
DISPLAY_PLACES: dict[str, int] = {"n": 0}  # decimals of the parts per unit; 2 for every other unit
PERCENT_PLACES = 1  # the parts as percentage points of the compared value: « commandes −8,0 pts »
SEGMENT_ADDITIVE_AGGREGATES = frozenset({"count", "sum"})  # a partition of the records splits them exactly
NOT_SET = ""  # the segment of the records without a value of the dimension

SUM, RATIO = "sum", "ratio"


class BreakdownUndefined(Exception):
    """A breakdown that cannot be given exactly; the message says why, in the active language."""


# --------------------------------------------------------------------------- exact evaluation


def _exact(node: Node, lookup: Callable[[str, int], Fraction | None], back: int = 0) -> Fraction | None:
    """The formula's value in exact rational arithmetic (None: no value, e.g. a division by zero)."""
    if isinstance(node, Number):
        return Fraction(node.value)
    if isinstance(node, Name):
        return lookup(node.name, back)
    if isinstance(node, Negate):
        value = _exact(node.operand, lookup, back)
        return None if value is None else -value
    if isinstance(node, BinaryOp):
        left, right = _exact(node.left, lookup, back), _exact(node.right, lookup, back)
        if left is None or right is None:
            return None
        if node.op == "/":
            return None if right == 0 else left / right
        return {"+": left + right, "-": left - right, "*": left * right}[node.op]
    if not isinstance(node, Call):
        raise TypeError(f"unknown formula node {node!r}")
    if node.function == "prev":
        return _exact(node.args[0], lookup, back + 1)
    apply = FUNCTIONS[node.function].apply
    if apply is None:
        raise TypeError(f"function {node.function} cannot be evaluated")
    return apply([_exact(arg, lookup, back) for arg in node.args])  # type: ignore[list-item,return-value]


def _fraction(value: Decimal | int | None) -> Fraction | None:
    return None if value is None else Fraction(value)


def formula_exact(formula: Formula, inputs: Inputs) -> Fraction | None:
    """The formula over these inputs, exactly; an input not given has no value."""

    def lookup(name: str, back: int) -> Fraction | None:
        return _fraction(inputs.get((name, back)))

    return _exact(formula.tree, lookup)


# --------------------------------------------------------------------------- by measure: Shapley values


def shapley_contributions(formula: Formula, current: Inputs, compared: Inputs) -> dict[Lookup, Fraction]:
    """Each input's exact Shapley contribution to formula(current) − formula(compared); they add up to it.

    Raise BreakdownUndefined when either value or any mixed combination has no value, or when more than
    MAX_CHANGED_INPUTS inputs changed (inputs that did not change contribute 0 and are left out of the game).
    """
    lookups = sorted(set(current) | set(compared), key=lambda x: (x[1], x[0]))
    if formula_exact(formula, current) is None or formula_exact(formula, compared) is None:
        raise BreakdownUndefined(_("The KPI has no value in one of the two spans: there is no change to split."))
    players = [lookup for lookup in lookups if current.get(lookup) != compared.get(lookup)]
    k = len(players)
    if k > MAX_CHANGED_INPUTS:
        raise BreakdownUndefined(
            _("More than %(limit)d measures changed: the breakdown by measure is not computed.")
            % {"limit": MAX_CHANGED_INPUTS}
        )
    # The value of each coalition (a bit set of players taking this span's value).
    worth: list[Fraction] = []
    for mask in range(1 << k):
        mixed = dict(compared)
        for i, lookup in enumerate(players):
            if mask >> i & 1:
                mixed[lookup] = current.get(lookup)
        value = formula_exact(formula, mixed)
        if value is None:
            raise BreakdownUndefined(
                _(
                    "Combining the two spans' measures divides by zero: the breakdown by measure is not defined "
                    "for this change."
                )
            )
        worth.append(value)
    weights = [Fraction(math.factorial(s) * math.factorial(k - s - 1), math.factorial(k)) for s in range(k)]
    contributions = {lookup: Fraction(0) for lookup in lookups}
    for i, lookup in enumerate(players):
        bit = 1 << i
        contributions[lookup] = sum(
            (weights[mask.bit_count()] * (worth[mask | bit] - worth[mask]) for mask in range(1 << k) if not mask & bit),
            Fraction(0),
        )
    return contributions


# --------------------------------------------------------------------------- by segment: sums and ratios


def _kind(node: Node, additive: frozenset[str]) -> str | None:
    """ "const" when the node reads no measure, "linear" when it is linear in segment-additive measures, else None."""
    if isinstance(node, Number):
        return "const"
    if isinstance(node, Name):
        return "linear" if node.name in additive else None
    if isinstance(node, Negate):
        return _kind(node.operand, additive)
    if isinstance(node, BinaryOp):
        left, right = _kind(node.left, additive), _kind(node.right, additive)
        if left is None or right is None:
            return None
        if node.op in "+-":
            return "linear" if "linear" in (left, right) else "const"
        if node.op == "*":
            return None if left == right == "linear" else ("linear" if "linear" in (left, right) else "const")
        return left if right == "const" else None  # a division by a measure is not linear
    if isinstance(node, Call):
        kinds = [_kind(arg, additive) for arg in node.args]
        if node.function == "prev":
            return kinds[0]
        return "const" if all(kind == "const" for kind in kinds) else None
    return None


def _ratio(node: Node, additive: frozenset[str]) -> tuple[Node, Node] | None:
    """(numerator, denominator) when the node is N / D with N and D linear in segment-additive measures
    (constant factors allowed around it: 100 × won / (won + lost)); else None."""
    if isinstance(node, BinaryOp) and node.op == "/":
        if _kind(node.left, additive) is not None and _kind(node.right, additive) == "linear":
            return node.left, node.right
        inner = _ratio(node.left, additive)
        if inner is not None and _kind(node.right, additive) == "const":
            return BinaryOp("/", inner[0], node.right), inner[1]
    if isinstance(node, BinaryOp) and node.op == "*":
        for scale, other in ((node.left, node.right), (node.right, node.left)):
            inner = _ratio(other, additive)
            if inner is not None and _kind(scale, additive) == "const":
                return BinaryOp("*", scale, inner[0]), inner[1]
    if isinstance(node, Negate):
        inner = _ratio(node.operand, additive)
        if inner is not None:
            return Negate(inner[0]), inner[1]
    return None


def segment_additive_names(measures: Mapping[str, MeasureSpec]) -> frozenset[str]:
    """The measures whose segments add up to their total: counts and sums (not means, medians, distinct counts)."""
    return frozenset(
        name for name, spec in measures.items() if spec.aggregate in SEGMENT_ADDITIVE_AGGREGATES and spec.min_count <= 1
    )


def segment_kind(formula: Formula, additive: frozenset[str]) -> str | None:
    """SUM, RATIO, or None when the KPI's segments do not add up to it."""
    if _kind(formula.tree, additive) is not None:
        return SUM
    if _ratio(formula.tree, additive) is not None:
        return RATIO
    return None


@dataclass(frozen=True)
class ExactSegment:
    """One segment's exact contribution to the change; for a ratio, its rate and mix effects (they add up to it)."""

    segment: str
    contribution: Fraction
    rate: Fraction | None = None
    mix: Fraction | None = None


def segment_contributions(
    formula: Formula,
    additive: frozenset[str],
    *,
    totals: tuple[Inputs, Inputs],
    segments: Mapping[str, tuple[Inputs, Inputs]],
) -> list[ExactSegment]:
    """Each segment's exact contribution to formula(totals current) − formula(totals compared), the records
    in no segment as NOT_SET; they add up to the change exactly. `totals` and each segment: (current, compared).

    Raise BreakdownUndefined when the KPI is neither a sum nor a ratio of sums, or has no value in a span."""
    current, compared = totals
    value_1, value_0 = formula_exact(formula, current), formula_exact(formula, compared)
    if value_1 is None or value_0 is None:
        raise BreakdownUndefined(_("The KPI has no value in one of the two spans: there is no change to split."))
    kind = segment_kind(formula, additive)
    if kind == SUM:
        found = []
        for segment, (seg_1, seg_0) in segments.items():
            part_1, part_0 = formula_exact(formula, seg_1), formula_exact(formula, seg_0)
            if part_1 is None or part_0 is None:  # only a formula reading a measure the KPI lacks
                raise BreakdownUndefined(_("A segment has no value: the breakdown by segment is not defined."))
            found.append(ExactSegment(segment, part_1 - part_0))
        rest = (value_1 - value_0) - sum((s.contribution for s in found), Fraction(0))
        if rest:
            found.append(ExactSegment(NOT_SET, rest))
        return found
    parts = _ratio(formula.tree, additive)
    if parts is None:
        raise BreakdownUndefined(
            _(
                "This KPI is neither a sum nor a ratio of sums (it reads a mean, a median, a distinct count or a "
                "function of them): its segments do not add up to it, so they do not split its change."
            )
        )
    numerator, denominator = parts

    def both(node: Node, inputs: Inputs) -> Fraction:
        value = _exact(node, lambda name, back: _fraction(inputs.get((name, back))))
        return Fraction(0) if value is None else value

    n_1, d_1, n_0, d_0 = (
        both(numerator, current),
        both(denominator, current),
        both(numerator, compared),
        both(denominator, compared),
    )
    if not d_1 or not d_0:
        raise BreakdownUndefined(_("The KPI has no value in one of the two spans: there is no change to split."))
    by_segment = {
        segment: (both(numerator, s_1), both(denominator, s_1), both(numerator, s_0), both(denominator, s_0))
        for segment, (s_1, s_0) in segments.items()
    }
    rest = (
        n_1 - sum((v[0] for v in by_segment.values()), Fraction(0)),
        d_1 - sum((v[1] for v in by_segment.values()), Fraction(0)),
        n_0 - sum((v[2] for v in by_segment.values()), Fraction(0)),
        d_0 - sum((v[3] for v in by_segment.values()), Fraction(0)),
    )
    if any(rest):
        by_segment[NOT_SET] = rest
    average = (n_1 / d_1 + n_0 / d_0) / 2
    found = []
    for segment, (sn_1, sd_1, sn_0, sd_0) in by_segment.items():
        w_1, w_0 = sd_1 / d_1, sd_0 / d_0
        contribution = sn_1 / d_1 - sn_0 / d_0 - average * (w_1 - w_0)
        # A segment's rate changes only where it has one in both spans; otherwise all of its part is mix.
        rate = (sn_1 / sd_1 - sn_0 / sd_0) * (w_1 + w_0) / 2 if sd_1 and sd_0 else Fraction(0)
        found.append(ExactSegment(segment, contribution, rate=rate, mix=contribution - rate))
    return found


# --------------------------------------------------------------------------- rounding


def largest_remainder(parts: Mapping, total: Fraction, places: int) -> dict:
    """The parts rounded to `places` decimals so that they add up to `total` rounded (half to even) exactly:
    each part rounded down, then the units missing given to the parts with the largest remainders."""
    scale = Fraction(10) ** places
    target = round(total * scale)
    floors = {key: math.floor(part * scale) for key, part in parts.items()}
    missing = target - sum(floors.values())
    order = sorted(parts, key=lambda key: parts[key] * scale - floors[key], reverse=True)
    if missing < 0 or missing > len(order):  # only when the parts do not add up to the total
        raise ValueError("the parts do not add up to the total")
    for key in order[:missing]:
        floors[key] += 1
    quantum = Decimal(1).scaleb(-places)
    return {key: (Decimal(units) * quantum).quantize(quantum) for key, units in floors.items()}


def rounded(value: Fraction, places: int) -> Decimal:
    """A value rounded half to even to `places` decimals."""
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(round(value * Fraction(10) ** places)) * quantum).quantize(quantum)


def display_places(kpi: KpiDefinition) -> int:
    """Decimals the parts of this KPI's change are given with: cents for €, hundredths of a point for rates."""
    return DISPLAY_PLACES.get(kpi.unit, 2)


# --------------------------------------------------------------------------- spans


def like_for_like_span(start: dt.date, end: dt.date) -> Span:
    """The span [start, end) is compared with by default: for the first days (or the whole) of a calendar
    period, the same first days (or the whole) of the previous period (metrics.kpis.comparisons); for any
    other range, the range of the same length just before it."""
    last = end - dt.timedelta(days=1)
    for granularity in GRANULARITIES:
        if period_floor(start, granularity) == start and end <= (whole := period_end(start, granularity)):
            # The first days of a running period, or the whole of a closed one (then "today" is after it).
            today = last if end < whole else end
            span = comparison_span(granularity=granularity, period_start=start, today=today)
            return span.start, span.end + dt.timedelta(days=1)
    return start - (end - start), start


SegmentInputs = dict[str | None, dict[Span, dict[str, dict[Lookup, Decimal | None]]]]


def span_inputs(*, plan: KpiPlan, team: Team, spans: Sequence[Span], dimensions: Sequence[str]) -> SegmentInputs:
    """The formula's inputs for `team` over each span: {dimension or None: {span: {segment: {lookup: value}}}}
    (None: the whole team, segment ""). One grouped query per measure for all spans, totals and dimensions
    (per layer of overlapping spans)."""
    depth = plan.formula.prev_depth
    needed = {span_back(span, k) for span in spans for k in range(depth + 1)}
    specs = list(dict.fromkeys(plan.measures.values()))
    wanted = [(spec, dimension) for spec in specs for dimension in (None, *dimensions)]
    cells: dict[tuple[MeasureSpec, str | None], dict[Span, dict[str, Decimal | None]]] = {pair: {} for pair in wanted}
    for layer in span_layers(needed):
        window = Window.of_spans(layer)
        computed = measures_compute_dimensions(
            wanted=wanted,
            window=window,
            target_ids=[team.pk],
            member_ids=team_ids_with_descendants([team.pk]),
            cache={},
        )
        ends = dict(zip(window.periods, window.ends, strict=True))
        for pair, by_cell in computed.items():
            for (_team, start), by_segment in by_cell.items():
                cells[pair][(start, ends[start])] = by_segment
    lookups = sorted(plan.formula.lookups | {(name, 0) for name in plan.measures}, key=lambda x: (x[1], x[0]))
    result: SegmentInputs = {}
    for dimension in (None, *dimensions):
        present: set[str] = set()
        for span in spans:
            for name, back in lookups:
                present.update(cells[(plan.measures[name], dimension)].get(span_back(span, back), {}))
        segments = [""] if dimension is None else sorted(present)
        result[dimension] = {}
        for span in spans:
            by_segment: dict[str, dict[Lookup, Decimal | None]] = {}
            for segment in segments:
                inputs: dict[Lookup, Decimal | None] = {}
                for name, back in lookups:
                    spec = plan.measures[name]
                    found = cells[(spec, dimension)].get(span_back(span, back), {}).get(segment)
                    inputs[(name, back)] = (Decimal(0) if spec.agg.empty_is_zero else None) if found is None else found
                by_segment[segment] = inputs
            result[dimension][span] = by_segment
    return result


# --------------------------------------------------------------------------- the breakdown


@dataclass(frozen=True)
class MeasureDriver:
    """One input of the formula and its part of the change."""

    measure: str  # the name in the formula, prev(x) for x over the preceding period
    label: str
    contribution: Decimal
    percent: Decimal | None  # in percentage points of the compared value


@dataclass(frozen=True)
class SegmentDriver:
    """One value of a dimension and its part of the change; for a ratio, its rate and mix effects."""

    segment: str  # the value, "" for the records without one
    label: str
    contribution: Decimal
    percent: Decimal | None
    rate: Decimal | None
    mix: Decimal | None


@dataclass(frozen=True)
class DimensionDrivers:
    """The change split by the values of one dimension, largest part first (empty with a `note` when it cannot be)."""

    dimension: str
    label: str
    kind: str | None  # SUM, RATIO or None
    segments: tuple[SegmentDriver, ...]
    note: str = ""


@dataclass(frozen=True)
class Drivers:
    """A KPI's change between two spans, split by measure and by segment; the parts add up to `change`."""

    kpi: KpiDefinition
    span: Span
    compare_span: Span
    value: Decimal | None
    compared_value: Decimal | None
    change: Decimal | None  # rounded to `places`; the parts add up to it exactly
    change_percent: Decimal | None  # in % of the compared value, rounded to PERCENT_PLACES
    places: int
    measures: tuple[MeasureDriver, ...]
    measures_note: str
    dimensions: tuple[DimensionDrivers, ...]
    method: str


def _measure_label(measures: Mapping[str, object], name: str, back: int) -> str:
    measure = measures.get(name)
    label = measure_in_words(measure) if measure is not None else name  # type: ignore[arg-type]
    label = label[:1].upper() + label[1:]
    if back == 1:
        return _("%(measure)s, over the preceding period") % {"measure": label}
    if back > 1:
        return _("%(measure)s, %(count)d periods before") % {"measure": label, "count": back}
    return label


def _percents(parts: Mapping, compared: Fraction | None, total: Fraction) -> dict:
    """The exact parts as percentage points of the compared value, rounded so they add up to the change in %."""
    if not compared:
        return dict.fromkeys(parts)
    scale = 100 / abs(compared)
    return largest_remainder({k: v * scale for k, v in parts.items()}, total * scale, PERCENT_PLACES)


def _method(kinds: set[str | None], places: int) -> str:
    precision = number_format(Decimal(1).scaleb(-places), decimal_pos=places)  # « 0,01 » in French
    sentences = [
        _(
            "By measure: each measure's part is its Shapley value — the formula is evaluated on every combination "
            "of the two spans' measure values, and a measure's part is the mean change its switch makes over every "
            "order of switching; a measure read over the preceding period is a measure of its own. Exact for sums, "
            "differences, products and ratios alike; parts are computed exactly, then rounded to %(precision)s by "
            "the largest remainder so that they add up to the rounded change."
        )
        % {"precision": precision}
    ]
    if SUM in kinds:
        sentences.append(
            _(
                "By segment, for a sum: each segment's part is its own change; records without a value form "
                "« (not set) »."
            )
        )
    if RATIO in kinds:
        sentences.append(
            _(
                "By segment, for a ratio: each segment's part is its rate effect (the change of its rate × its mean "
                "weight) plus its mix effect (the change of its weight × the gap between its mean rate and the KPI's "
                "mean value); a segment absent from one span has only a mix effect. The two add up to the part."
            )
        )
    return " ".join(sentences)


def kpi_drivers(
    *,
    kpi: KpiDefinition,
    team: Team,
    span: Span,
    compare_span: Span | None = None,
    dimensions: Sequence[str] | None = None,
) -> Drivers:
    """The change of `kpi` for `team` from `compare_span` (default: like for like, see `like_for_like_span`) to
    `span`, both [start, end), split exactly by measure and by each of `dimensions` (default: the KPI's segments)."""
    compare_span = compare_span or like_for_like_span(*span)
    dims = [d for d in (kpi.segments or []) if dimensions is None or d in dimensions]
    prefetch_related_objects([kpi], "measures")  # the plan and the labels read them: one query
    measures = {m.name: m for m in kpi.measures.all()}
    plan = KpiPlan.of(kpi)
    inputs = span_inputs(plan=plan, team=team, spans=[span, compare_span], dimensions=dims)
    lookups = plan.formula.lookups
    current = {lk: v for lk, v in inputs[None][span][""].items() if lk in lookups}
    compared = {lk: v for lk, v in inputs[None][compare_span][""].items() if lk in lookups}
    value = value_for_storage(plan.formula.evaluate(lambda name, back: current.get((name, back))))
    compared_value = value_for_storage(plan.formula.evaluate(lambda name, back: compared.get((name, back))))
    exact_1, exact_0 = formula_exact(plan.formula, current), formula_exact(plan.formula, compared)
    places = display_places(kpi)
    if exact_1 is None or exact_0 is None:
        note = _("The KPI has no value in one of the two spans: there is no change to split.")
        return Drivers(
            kpi=kpi,
            span=span,
            compare_span=compare_span,
            value=value,
            compared_value=compared_value,
            change=None,
            change_percent=None,
            places=places,
            measures=(),
            measures_note=note,
            dimensions=tuple(
                DimensionDrivers(dimension=d, label=dimension_label(d), kind=None, segments=(), note=note) for d in dims
            ),
            method=_method(set(), places),
        )
    total = exact_1 - exact_0
    change_percent = rounded(total * 100 / abs(exact_0), PERCENT_PLACES) if exact_0 else None

    measure_drivers: tuple[MeasureDriver, ...] = ()
    measures_note = ""
    try:
        exact = shapley_contributions(plan.formula, current, compared)
    except BreakdownUndefined as undefined:
        measures_note = str(undefined)
    else:
        parts = exact
        amounts, percents = largest_remainder(parts, total, places), _percents(parts, exact_0, total)
        position = {name: i for i, name in enumerate(plan.measures)}
        order = sorted(parts, key=lambda lk: (-abs(parts[lk]), lk[1], position.get(lk[0], 0)))
        measure_drivers = tuple(
            MeasureDriver(
                measure="prev(" * back + name + ")" * back,
                label=_measure_label(measures, name, back),
                contribution=amounts[(name, back)],
                percent=percents[(name, back)],
            )
            for name, back in order
        )

    additive = segment_additive_names(plan.measures)
    kind = segment_kind(plan.formula, additive)
    names = value_names(f"{d}={segment}" for d in dims for segment in inputs[d][span])
    dimension_drivers = []
    for dimension in dims:
        by_segment = {
            segment: (inputs[dimension][span][segment], inputs[dimension][compare_span][segment])
            for segment in inputs[dimension][span]
        }
        try:
            found = segment_contributions(plan.formula, additive, totals=(current, compared), segments=by_segment)
        except BreakdownUndefined as undefined:
            dimension_drivers.append(
                DimensionDrivers(
                    dimension=dimension, label=dimension_label(dimension), kind=None, segments=(), note=str(undefined)
                )
            )
            continue
        parts = {item.segment: item.contribution for item in found}
        amounts, percents = largest_remainder(parts, total, places), _percents(parts, exact_0, total)
        segments = []
        for item in sorted(found, key=lambda s: (-abs(s.contribution), s.segment == NOT_SET, s.segment)):
            rate = mix = None
            if item.rate is not None:
                rate = rounded(item.rate, places)
                mix = amounts[item.segment] - rate  # so that rate + mix is the rounded part exactly
            segments.append(
                SegmentDriver(
                    segment=item.segment,
                    label=code_label(dimension, item.segment, names=names),
                    contribution=amounts[item.segment],
                    percent=percents[item.segment],
                    rate=rate,
                    mix=mix,
                )
            )
        dimension_drivers.append(
            DimensionDrivers(dimension=dimension, label=dimension_label(dimension), kind=kind, segments=tuple(segments))
        )
    return Drivers(
        kpi=kpi,
        span=span,
        compare_span=compare_span,
        value=value,
        compared_value=compared_value,
        change=rounded(total, places),
        change_percent=change_percent,
        places=places,
        measures=measure_drivers,
        measures_note=measures_note,
        dimensions=tuple(dimension_drivers),
        method=_method({d.kind for d in dimension_drivers}, places),
    )


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _segment_document(item: SegmentDriver) -> dict:
    return {
        "segment": item.segment,
        "label": item.label,
        "contribution": _number(item.contribution),
        "percent": _number(item.percent),
        "rate": _number(item.rate),
        "mix": _number(item.mix),
    }


def drivers_document(drivers: Drivers, *, top: int | None = None) -> dict:
    """The breakdown as the API gives it and alerts store and send it: numbers as JSON numbers, spans with both
    ends included. With `top`, each dimension keeps its `top` largest segments and `segments_other` says how
    many were left out and what they add up to (top segments + others = change, exactly: the rounded parts add
    up), and a dimension that cannot be split appears only in `segment_notes`."""
    last = dt.timedelta(days=1)
    segments, others = {}, {}
    for dimension in drivers.dimensions:
        if top is None:
            segments[dimension.dimension] = [_segment_document(item) for item in dimension.segments]
            continue
        if dimension.note:
            continue
        segments[dimension.dimension] = [_segment_document(item) for item in dimension.segments[:top]]
        rest = dimension.segments[top:]
        if rest:
            percents = [item.percent for item in rest]
            others[dimension.dimension] = {
                "count": len(rest),
                "contribution": _number(sum((item.contribution for item in rest), Decimal(0))),
                "percent": None if None in percents else _number(sum(percents, Decimal(0))),
            }
    document = {
        "kpi": drivers.kpi.code,
        "unit": drivers.kpi.unit,
        "start": drivers.span[0].isoformat(),
        "end": (drivers.span[1] - last).isoformat(),
        "compare_start": drivers.compare_span[0].isoformat(),
        "compare_end": (drivers.compare_span[1] - last).isoformat(),
        "value": _number(drivers.value),
        "compared_value": _number(drivers.compared_value),
        "change": _number(drivers.change),
        "change_percent": _number(drivers.change_percent),
        "formula": [
            {
                "measure": item.measure,
                "label": item.label,
                "contribution": _number(item.contribution),
                "percent": _number(item.percent),
            }
            for item in drivers.measures
        ],
        "formula_note": drivers.measures_note,
        "segments": segments,
        "segment_notes": {d.dimension: d.note for d in drivers.dimensions if d.note},
        "method": drivers.method,
    }
    if top is not None:
        document["segments_other"] = others
    return document
