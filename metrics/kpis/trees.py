"""A KPI's tree, read from its formula: what it is made of, each part's value and change, and a target carried
down to its parts.

The tree follows what the formula says. A product or quotient chain (`100 * won / (won + lost)`) is one node
whose children are its factors, each with an exponent +1 or −1 (a RATIO when it is exactly a / b, else a
PRODUCT), its constant factors kept as the node's `scale`; a sum or difference is a SUM node whose children carry
their sign; a measure is a leaf (`prev(x)` a leaf of its own); `positive(x)` reads as x; any other function
(min, max, abs, if_null) is an opaque FORMULA node over the measures it reads. A KPI that is a single measure
is split by the catalogue when another KPI divides that very measure by the single measure of a third one:
revenue / orders is the average basket, so revenue = orders × average basket. A leaf whose measure is exactly
the single measure of a catalogue KPI names that KPI (`kpi_code`), so objectives can be set on it.

Carrying a target down: for a PRODUCT, RATIO or SUM root, every child but one is held at its value (or that
value +5 %, +10 %), and the last is solved so that the parent reaches the target; the solved value is rounded
to the child's display precision in the direction that still reaches the target, so each combination gives the
target back within that rounding.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from accounts.models import Team
from metrics.engine.compute import KpiPlan
from metrics.engine.formula import BinaryOp, Call, Formula, FormulaError, Name, Negate, Node, Number, formula_parse
from metrics.engine.measures import MeasureSpec
from metrics.kpis.drivers import (
    PERCENT_PLACES,
    BreakdownUndefined,
    formula_exact,
    largest_remainder,
    like_for_like_span,
    rounded,
    shapley_contributions,
    span_inputs,
)
from metrics.kpis.labels import code_label, dimension_label, value_names
from metrics.kpis.selectors import kpi_name
from metrics.kpis.words import capitalised, measure_in_words
from metrics.models import KpiDefinition, KpiMeasure

Span = tuple[dt.date, dt.date]  # [start, end)

PRODUCT, RATIO, SUM, FORMULA = "product", "ratio", "sum", "formula"
KPI, MEASURE, EXPRESSION = "kpi", "measure", "expression"
HELD_CHANGES = (0, 5, 10)  # % added to the children held, for the combinations of a carried-down target
COUNT_AGGREGATES = frozenset({"count", "count_distinct"})


@dataclass(frozen=True)
class TreeNode:
    """One node of a KPI's tree: its expression over the measures of the KPI `owner`, and how its children
    make it (`relation`: PRODUCT / RATIO with each child's `exponent`, SUM with each child's `sign`, FORMULA)."""

    key: str  # a path ("root", "root.0", "root.0.1"): stable for forms
    label: str
    kind: str  # KPI, MEASURE or EXPRESSION
    owner: str  # the code of the KPI whose measures `expression` reads
    expression: Node
    unit: str = ""
    places: int = 2
    kpi_code: str = ""  # the catalogue KPI this node's value is, if any
    relation: str = ""
    scale: Fraction = Fraction(1)  # constant factor of a product, constant term of a sum
    exponent: int = 1  # in a PRODUCT / RATIO parent: +1 a factor, −1 a divisor
    sign: int = 1  # in a SUM parent: + or −
    children: tuple[TreeNode, ...] = ()

    def walk(self, depth: int = 0):
        """The nodes of this subtree, parent first, with their depth."""
        yield self, depth
        for child in self.children:
            yield from child.walk(depth + 1)


@dataclass(frozen=True)
class KpiTree:
    """A KPI's tree and the catalogue KPIs its nodes name (by code, measures prefetched)."""

    kpi: KpiDefinition
    root: TreeNode
    kpis: Mapping[str, KpiDefinition]

    def nodes(self) -> list[tuple[TreeNode, int]]:
        return list(self.root.walk())


# --------------------------------------------------------------------------- reading the formula


def _places(unit: str) -> int:
    return 0 if unit == "n" else 2


def _single_measure(kpi: KpiDefinition) -> KpiMeasure | None:
    """The measure of a KPI whose formula is that one measure, else None."""
    measures = list(kpi.measures.all())
    tree = formula_parse(kpi.formula).tree
    if isinstance(tree, Name):
        return next((m for m in measures if m.name == tree.name), None)
    return None


class _Reader:
    """Builds the nodes of one KPI's formula; `singles` maps a measure spec to the single-measure KPI computing it."""

    def __init__(self, kpi: KpiDefinition, singles: Mapping[MeasureSpec, KpiDefinition]):
        self.kpi = kpi
        self.measures = {m.name: m for m in kpi.measures.all()}
        self.singles = singles

    def node(self, expr: Node, key: str, **extra) -> TreeNode:
        if isinstance(expr, Call) and expr.function == "positive":
            return self.node(expr.args[0], key, **extra)
        if isinstance(expr, Name):
            return self.leaf(expr, key, **extra)
        if isinstance(expr, Call) and expr.function == "prev" and isinstance(expr.args[0], Name):
            inner = self.leaf(expr.args[0], key)
            label = _("%(measure)s, over the preceding period") % {"measure": inner.label}
            return TreeNode(
                key=key, label=label, kind=MEASURE, owner=self.kpi.code, expression=expr, unit=inner.unit,
                places=inner.places, **extra,
            )  # fmt: skip
        if isinstance(expr, BinaryOp) and expr.op in "*/":
            return self.product(expr, key, **extra)
        if isinstance(expr, BinaryOp | Negate):
            return self.sum(expr, key, **extra)
        # min, max, abs, if_null, a prev() of an expression: what it reads, without an exact split.
        names = sorted(_names(expr))
        children = tuple(self.leaf(Name(name), f"{key}.{i}") for i, name in enumerate(names))
        return TreeNode(
            key=key, label=self.words(expr), kind=EXPRESSION, owner=self.kpi.code, expression=expr,
            relation=FORMULA, children=children, **extra,
        )  # fmt: skip

    def leaf(self, expr: Name, key: str, **extra) -> TreeNode:
        measure = self.measures.get(expr.name)
        linked = self.singles.get(measure.spec) if measure is not None else None
        if linked is not None:
            label, unit = kpi_name(linked), linked.unit
        else:
            label = capitalised(measure_in_words(measure)) if measure is not None else expr.name
            unit = "n" if measure is not None and measure.aggregate in COUNT_AGGREGATES else ""
        return TreeNode(
            key=key, label=label, kind=MEASURE, owner=self.kpi.code, expression=expr, unit=unit, places=_places(unit),
            kpi_code=linked.code if linked is not None else "", **extra,
        )  # fmt: skip

    def product(self, expr: BinaryOp, key: str, **extra) -> TreeNode:
        factors: list[tuple[Node, int]] = []
        scale = Fraction(1)

        def chain(node: Node, exponent: int) -> None:
            # A left-associated chain is one product; a right operand that is itself a product was in brackets.
            if isinstance(node, BinaryOp) and node.op in "*/":
                chain(node.left, exponent)
                factor(node.right, exponent if node.op == "*" else -exponent)
            else:
                factor(node, exponent)

        def factor(node: Node, exponent: int) -> None:
            nonlocal scale
            if isinstance(node, Number):
                scale = scale * Fraction(node.value) if exponent > 0 else scale / Fraction(node.value)
            else:
                factors.append((node, exponent))

        chain(expr, 1)
        children = tuple(self.node(node, f"{key}.{i}", exponent=exponent) for i, (node, exponent) in enumerate(factors))
        relation = RATIO if [c.exponent for c in children] == [1, -1] else PRODUCT
        unit = children[0].unit if len(children) == 1 and scale == 1 else ""
        glue = " ÷ " if relation == RATIO else " × "
        parts = [c.label if c.exponent > 0 or relation == RATIO else f"1 / {c.label}" for c in children]
        label = glue.join(f"({p})" if len(children) > 1 and " " in p else p for p in parts)
        label = f"{_number(scale)} × {label}" if scale != 1 else label
        return TreeNode(
            key=key, label=label, kind=EXPRESSION, owner=self.kpi.code, expression=expr, unit=unit,
            places=_places(unit), relation=relation, scale=scale, children=children, **extra,
        )  # fmt: skip

    def sum(self, expr: Node, key: str, **extra) -> TreeNode:
        terms: list[tuple[Node, int]] = []
        constant = Fraction(0)

        def walk(node: Node, sign: int) -> None:
            nonlocal constant
            if isinstance(node, BinaryOp) and node.op in "+-":
                walk(node.left, sign)
                walk(node.right, sign if node.op == "+" else -sign)
            elif isinstance(node, Negate):
                walk(node.operand, -sign)
            elif isinstance(node, Number):
                constant += sign * Fraction(node.value)
            else:
                terms.append((node, sign))

        walk(expr, 1)
        children = tuple(self.node(node, f"{key}.{i}", sign=sign) for i, (node, sign) in enumerate(terms))
        units = {c.unit for c in children}
        unit = units.pop() if len(units) == 1 else ""
        label = ""
        for i, child in enumerate(children):
            label += (("" if i == 0 else " + ") if child.sign > 0 else ("−" if i == 0 else " − ")) + child.label
        if constant:
            label += f" {'+' if constant > 0 else '−'} {_number(abs(constant))}"
        return TreeNode(
            key=key, label=label, kind=EXPRESSION, owner=self.kpi.code, expression=expr, unit=unit,
            places=_places(unit), relation=SUM, scale=constant, children=children, **extra,
        )  # fmt: skip

    def words(self, expr: Node) -> str:
        return ", ".join(self.leaf(Name(name), "").label for name in sorted(_names(expr)))


def _number(value: Fraction) -> str:
    return str(Decimal(value.numerator) / Decimal(value.denominator)).rstrip("0").rstrip(".") if value else "0"


def _names(node: Node) -> set[str]:
    return set(Formula("", node).names)


def measures_missing(kpi: KpiDefinition) -> frozenset[str]:
    """The names the KPI's formula reads that are none of its measures (all of them for a formula that does not
    parse): such a KPI has no value to split or to carry down."""
    try:
        names = formula_parse(kpi.formula).names
    except FormulaError:
        return frozenset({kpi.formula})
    return frozenset(names - {m.name for m in kpi.measures.all()})


def _catalogue() -> list[KpiDefinition]:
    """Every KPI with its measures (two queries)."""
    return list(
        KpiDefinition.objects.order_by("id").prefetch_related(
            Prefetch("measures", queryset=KpiMeasure.objects.order_by("position", "id"))
        )
    )


def kpi_tree(kpi: KpiDefinition, *, catalogue: Sequence[KpiDefinition] | None = None) -> KpiTree:
    """The tree of `kpi` read from its formula (see the module doc); `catalogue`: every KPI with its measures
    prefetched (read when not given)."""
    catalogue = list(catalogue) if catalogue is not None else _catalogue()
    by_code = {k.code: k for k in catalogue}
    kpi = by_code.get(kpi.code, kpi)
    singles: dict[MeasureSpec, KpiDefinition] = {}
    for other in catalogue:
        measure = _single_measure(other)
        if measure is not None:
            singles.setdefault(measure.spec, other)
    reader = _Reader(kpi, singles)
    tree = formula_parse(kpi.formula).tree
    root = reader.node(tree, "root")
    own = _single_measure(kpi)
    if own is not None:
        split = _catalogue_split(kpi, own, catalogue, singles)
        if split is not None:
            root = split
    root = _as_kpi(root, kpi)
    return KpiTree(kpi=kpi, root=root, kpis=by_code)


def _as_kpi(node: TreeNode, kpi: KpiDefinition) -> TreeNode:
    """The node as the KPI it computes: its name, unit and code."""
    return replace(node, kind=KPI, label=kpi_name(kpi), kpi_code=kpi.code, unit=kpi.unit, places=_places(kpi.unit))


def _catalogue_split(
    kpi: KpiDefinition,
    own: KpiMeasure,
    catalogue: Sequence[KpiDefinition],
    singles: Mapping[MeasureSpec, KpiDefinition],
) -> TreeNode | None:
    """kpi = divisor KPI × quotient KPI, when a catalogue KPI is exactly `own / y` and y is a KPI's single measure
    (revenue = orders × average basket); the first such KPI of the catalogue, else None."""
    for other in catalogue:
        tree = formula_parse(other.formula).tree
        if other.pk == kpi.pk or not (isinstance(tree, BinaryOp) and tree.op == "/"):
            continue
        if not (isinstance(tree.left, Name) and isinstance(tree.right, Name)):
            continue
        measures = {m.name: m for m in other.measures.all()}
        top, bottom = measures.get(tree.left.name), measures.get(tree.right.name)
        if top is None or bottom is None or top.spec != own.spec or singles.get(bottom.spec) is None:
            continue
        divisor = singles[bottom.spec]
        divisor_node = _Reader(divisor, singles).node(formula_parse(divisor.formula).tree, "root.0")
        divisor_node = _as_kpi(divisor_node, divisor)
        quotient = _Reader(other, singles).node(tree, "root.1")
        quotient = _as_kpi(quotient, other)
        return TreeNode(
            key="root", label=kpi_name(kpi), kind=KPI, owner=kpi.code, expression=formula_parse(kpi.formula).tree,
            relation=PRODUCT, children=(divisor_node, quotient),
        )  # fmt: skip
    return None


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class NodeValue:
    """A node (or a segment of the KPI) over a span and the span it is compared with."""

    key: str
    label: str
    depth: int
    unit: str
    value: Decimal | None
    compared: Decimal | None
    change: Decimal | None
    change_percent: Decimal | None  # of the compared value, to one decimal
    node: TreeNode | None = None
    segment: str = ""  # "channel=email" for a segment of the KPI


@dataclass(frozen=True)
class TreeValues:
    """Every node of a KPI's tree over `span` and `compare_span`, parent first; the KPI's segments by dimension."""

    tree: KpiTree
    span: Span
    compare_span: Span
    nodes: tuple[NodeValue, ...]
    dimensions: tuple[tuple[str, str, tuple[NodeValue, ...]], ...]  # (dimension, label, segments)

    def by_key(self) -> dict[str, NodeValue]:
        return {item.key: item for item in self.nodes}


def _decimal(value: Fraction | None) -> Decimal | None:
    return None if value is None else rounded(value, 10)


def _moved(key, label, depth, unit, value, compared, **extra) -> NodeValue:
    change = None if value is None or compared is None else value - compared
    percent = rounded(change * 100 / abs(compared), 1) if change is not None and compared else None
    return NodeValue(
        key=key, label=label, depth=depth, unit=unit, value=_decimal(value), compared=_decimal(compared),
        change=_decimal(change), change_percent=percent, **extra,
    )  # fmt: skip


def kpi_tree_values(*, tree: KpiTree, team: Team, span: Span, compare_span: Span | None = None) -> TreeValues:
    """Each node of `tree` for `team` over `span` ([start, end)) and over `compare_span` (default: like for like,
    as the driver breakdown compares), with its change; the root KPI's segments likewise. One grouped query per
    measure of each KPI the tree reads (metrics.kpis.drivers.span_inputs), exact rational arithmetic."""
    compare_span = compare_span or like_for_like_span(*span)
    nodes = tree.nodes()
    owners = dict.fromkeys(node.owner for node, _depth in nodes)
    dimensions = list(tree.kpi.segments or [])
    inputs = {}
    for code in owners:
        if measures_missing(tree.kpis[code]):
            continue  # a definition being edited: its nodes have no value
        plan = KpiPlan.of(tree.kpis[code])
        inputs[code] = span_inputs(
            plan=plan, team=team, spans=[span, compare_span], dimensions=dimensions if code == tree.kpi.code else []
        )

    def value(node: TreeNode, which: Span, dimension: str | None = None, segment: str = "") -> Fraction | None:
        if node.owner not in inputs:
            return None
        return formula_exact(Formula("", node.expression), inputs[node.owner][dimension][which][segment])

    found = tuple(
        _moved(node.key, node.label, depth, node.unit, value(node, span), value(node, compare_span), node=node)
        for node, depth in nodes
    )
    root = tree.root
    own = inputs.get(root.owner) or {d: {span: {}} for d in dimensions}
    names = value_names(f"{d}={s}" for d in dimensions for s in own[d][span])
    by_dimension = []
    for dimension in dimensions:
        segments = [
            _moved(
                f"{dimension}={segment}",
                code_label(dimension, segment, names=names),
                1,
                root.unit,
                value(root, span, dimension, segment),
                value(root, compare_span, dimension, segment),
                segment=f"{dimension}={segment}",
            )  # fmt: skip
            for segment in own[dimension][span]
            if segment  # records without a value of the dimension: no target can be set on them
        ]
        segments.sort(key=lambda s: (s.value is None, -(s.value or 0), s.label))
        by_dimension.append((dimension, dimension_label(dimension), tuple(segments)))
    return TreeValues(tree=tree, span=span, compare_span=compare_span, nodes=found, dimensions=tuple(by_dimension))


@dataclass(frozen=True)
class ChildPart:
    """A child of the root and its part of the root's change (in the root's unit, and in points of its compared
    value)."""

    node: TreeNode
    contribution: Decimal
    percent: Decimal | None


def _relation_formula(node: TreeNode) -> Formula:
    """The node as a formula of its children, each child a name ("c0", "c1", …)."""
    expression: Node | None = None
    if node.relation == SUM:
        for i, child in enumerate(node.children):
            term: Node = Name(f"c{i}")
            if expression is None:
                expression = term if child.sign > 0 else Negate(term)
            else:
                expression = BinaryOp("+" if child.sign > 0 else "-", expression, term)
        if node.scale:
            expression = BinaryOp("+", expression, Number(Decimal(node.scale.numerator) / node.scale.denominator))  # type: ignore[arg-type]
    else:
        expression = Number(Decimal(node.scale.numerator) / node.scale.denominator)
        for i, child in enumerate(node.children):
            expression = BinaryOp("*" if child.exponent > 0 else "/", expression, Name(f"c{i}"))
    return Formula("", expression)  # type: ignore[arg-type]


def tree_contributions(values: TreeValues) -> tuple[ChildPart, ...]:
    """The root's change split among its children, exactly as metrics.kpis.drivers splits a change by measure
    (Shapley values: revenue = orders × basket gives each its part, the interaction shared), rounded by the
    largest remainder so that the parts add up to the rounded change; () for a root that is not a PRODUCT, RATIO
    or SUM, a child without a value in a span, or a split that divides by zero."""
    root = values.tree.root
    if root.relation not in (PRODUCT, RATIO, SUM):
        return ()
    by_key = values.by_key()
    items = [by_key[child.key] for child in root.children]
    if any(item.value is None or item.compared is None for item in items):
        return ()
    current = {(f"c{i}", 0): item.value for i, item in enumerate(items)}
    compared = {(f"c{i}", 0): item.compared for i, item in enumerate(items)}
    formula = _relation_formula(root)
    try:
        exact = shapley_contributions(formula, current, compared)
    except BreakdownUndefined:
        return ()
    total = sum(exact.values(), Fraction(0))
    amounts = largest_remainder(exact, total, root.places)
    base = formula_exact(formula, compared)
    percents = (
        largest_remainder({k: v * 100 / abs(base) for k, v in exact.items()}, total * 100 / abs(base), PERCENT_PLACES)
        if base
        else dict.fromkeys(exact)
    )
    return tuple(
        ChildPart(node=child, contribution=amounts[(f"c{i}", 0)], percent=percents[(f"c{i}", 0)])
        for i, child in enumerate(root.children)
    )


def is_catalogue_split(tree: KpiTree) -> bool:
    """Whether the tree's root splits a one-measure KPI by the catalogue (revenue = orders × basket): a split its
    formula does not show, which the driver breakdown by measure cannot give."""
    return isinstance(tree.root.expression, Name) and bool(tree.root.children)


# --------------------------------------------------------------------------- targets carried down


@dataclass(frozen=True)
class Combination:
    """Children values that bring the parent to a target: one solved, the others held at their value +x %."""

    key: str  # "<solved child key>@<held %>": stable for forms
    solved: str  # the key of the child solved
    held_percent: int
    values: tuple[tuple[TreeNode, Decimal], ...]  # each child of the root and its value, in the tree's order
    reached: Decimal | None  # the parent recomputed from these (rounded) values


def combine(node: TreeNode, values: Mapping[str, Fraction]) -> Fraction | None:
    """The node's value from its children's values (PRODUCT, RATIO, SUM); None on a division by zero."""
    if node.relation == SUM:
        return node.scale + sum((child.sign * values[child.key] for child in node.children), Fraction(0))
    result = node.scale
    for child in node.children:
        value = values[child.key]
        if child.exponent < 0:
            if not value:
                return None
            result /= value
        else:
            result *= value
    return result


def _solve(node: TreeNode, solved: TreeNode, target: Fraction, values: Mapping[str, Fraction]):
    """(value of `solved`, +1 when the parent grows with it else −1) so that the parent is `target`; None if none."""
    others = [child for child in node.children if child.key != solved.key]
    if node.relation == SUM:
        rest = node.scale + sum((child.sign * values[child.key] for child in others), Fraction(0))
        return (target - rest) / solved.sign, solved.sign
    rest = node.scale
    for child in others:
        value = values[child.key]
        if child.exponent < 0 and not value:
            return None
        rest = rest * value if child.exponent > 0 else rest / value
    if not rest:
        return None
    if solved.exponent > 0:
        return target / rest, (1 if rest > 0 else -1)
    if not target:
        return None
    return rest / target, (-1 if rest > 0 else 1)


def _round(value: Fraction, places: int, mode: str) -> Fraction:
    scale = Fraction(10) ** places
    units = {"up": math.ceil, "down": math.floor}.get(mode, round)(value * scale)
    return Fraction(units) / scale


def carried_down_targets(
    *, tree: KpiTree, target: Decimal, current: Mapping[str, Decimal | None], held_changes: Sequence[int] = HELD_CHANGES
) -> list[Combination]:
    """Combinations of the root's children values that reach `target` (see the module doc), from the children's
    `current` values by key; none for a root that is not a PRODUCT, RATIO or SUM or a child without a value.
    Higher-is-better KPIs get the solved value rounded so that the parent is at least the target, lower-is-better
    ones at most; a solved value below zero where the current one is not is left out."""
    root = tree.root
    if root.relation not in (PRODUCT, RATIO, SUM) or not root.children:
        return []
    if any(current.get(child.key) is None for child in root.children):
        return []
    goal = Fraction(target)
    direction = tree.kpi.direction
    found: list[Combination] = []
    seen: set[tuple] = set()
    for solved in root.children:
        others = [child for child in root.children if child.key != solved.key]
        for percent in held_changes if others else (0,):
            values = {
                child.key: _round(Fraction(current[child.key]) * (100 + percent) / 100, child.places, "nearest")
                for child in others
            }
            answer = _solve(root, solved, goal, values)
            if answer is None:
                continue
            exact, grows = answer
            mode = "nearest"
            if direction in ("higher", "lower"):
                want_more = (direction == "higher") == (grows > 0)
                mode = "up" if want_more else "down"
            values[solved.key] = _round(exact, solved.places, mode)
            if values[solved.key] < 0 <= current[solved.key]:
                continue
            shown = tuple((child, rounded(values[child.key], child.places)) for child in root.children)
            signature = tuple(value for _child, value in shown)
            if signature in seen:
                continue
            seen.add(signature)
            found.append(
                Combination(
                    key=f"{solved.key}@{percent}",
                    solved=solved.key,
                    held_percent=percent,
                    values=shown,
                    reached=_decimal(combine(root, values)),
                )
            )
    return found
