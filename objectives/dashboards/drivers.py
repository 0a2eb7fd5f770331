"""What drove a KPI's change, as the KPI detail page and the digest's lines say it: the exact breakdown of
metrics.kpis.drivers worded like the alerts' (« Chiffre d’affaires −12 % (dont PME −6 pts) : commandes −8 pts,
panier moyen −4 pts »), with each measure's part and each dimension's largest segments, the rest as one line,
so that the parts shown add up to the change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import translation

from accounts.models import Team
from kpiplatform import dates
from metrics.kpis.drivers import DimensionDrivers, Drivers, drivers_document, kpi_drivers, like_for_like_span
from metrics.kpis.selectors import kpi_name
from metrics.kpis.trees import (
    KpiTree,
    is_catalogue_split,
    kpi_tree,
    kpi_tree_values,
    measures_missing,
    tree_contributions,
)
from metrics.kpis.words import capitalised
from metrics.models import KpiDefinition
from objectives.alerts.drivers import TOP_SEGMENTS, drivers_labels
from objectives.notifications.emails import drivers_in_words

Span = tuple[dt.date, dt.date]  # [start, end)


@dataclass(frozen=True)
class SegmentPart:
    """A segment's part of the change (or the other segments' together, `others` > 0)."""

    label: str
    contribution: Decimal
    percent: Decimal | None
    others: int = 0


@dataclass(frozen=True)
class MeasurePart:
    """A measure's part of the change: its short label (what it aggregates), its full one as `title`."""

    label: str
    title: str
    contribution: Decimal
    percent: Decimal | None


@dataclass(frozen=True)
class ComponentPart:
    """A component of the KPI's tree (revenue = orders × basket) and its part of the change."""

    label: str
    glue: str  # how it enters the KPI: "", "×", "÷", "+", "−"
    contribution: Decimal
    percent: Decimal | None


@dataclass(frozen=True)
class DimensionParts:
    """One dimension's largest segments and the rest, or the note saying why it cannot split the change."""

    label: str
    segments: tuple[SegmentPart, ...]
    note: str


@dataclass(frozen=True)
class DriversSummary:
    """A KPI's change between two spans and what drove it, in the active language."""

    drivers: Drivers
    line: str
    compared: str  # the span compared with, in words
    measures: tuple[MeasurePart, ...]
    components: tuple[ComponentPart, ...]  # the catalogue's split of a one-measure KPI, when it has one
    dimensions: tuple[DimensionParts, ...]
    in_points: bool  # amounts and counts: parts also in points of the compared value (a rate's are in its unit)


def _dimension(dimension: DimensionDrivers) -> DimensionParts:
    shown = [SegmentPart(s.label, s.contribution, s.percent) for s in dimension.segments[:TOP_SEGMENTS]]
    rest = dimension.segments[TOP_SEGMENTS:]
    if rest:
        percents = [s.percent for s in rest]
        shown.append(
            SegmentPart(
                label="",
                contribution=sum((s.contribution for s in rest), Decimal(0)),
                percent=None if None in percents else sum(percents, Decimal(0)),
                others=len(rest),
            )
        )
    return DimensionParts(label=dimension.label, segments=tuple(shown), note=dimension.note)


def _components(*, team: Team, tree: KpiTree, drivers: Drivers) -> tuple[ComponentPart, ...]:
    """The change split among the components of the KPI's tree when the catalogue splits it (revenue = orders ×
    basket): what its formula, one measure, cannot say."""
    if not is_catalogue_split(tree):
        return ()
    values = kpi_tree_values(tree=tree, team=team, span=drivers.span, compare_span=drivers.compare_span)
    parts = []
    for i, part in enumerate(tree_contributions(values)):
        glue = "" if i == 0 else ("×" if part.node.exponent > 0 else "÷")
        if tree.root.relation == "sum":
            glue = "−" if part.node.sign < 0 else ("" if i == 0 else "+")
        parts.append(ComponentPart(part.node.label, glue, part.contribution, part.percent))
    return tuple(parts)


def _catalogue_names(kpi: KpiDefinition, tree: KpiTree) -> dict[str, str]:
    """The name of the catalogue KPI computing exactly each measure of `kpi`, by measure name (« Chiffre
    d’affaires » rather than « Somme de « montant » sur les commandes »); a measure no KPI computes is left out."""
    names: dict[str, str] = {}
    for node, _depth in tree.root.walk():
        # A leaf reading one of the KPI's own measures (a formula name: its expression has a `name`).
        name = getattr(node.expression, "name", None)
        if node.kpi_code and node.owner == kpi.code and isinstance(name, str):
            names.setdefault(name, node.label)
    # A KPI that is its one measure (revenue) is that measure, even when its tree splits it (orders × basket).
    names.setdefault(kpi.formula.strip(), kpi_name(kpi))
    return names


def _only_unknown(dimension: DimensionDrivers) -> bool:
    """Every record without a value for this dimension: its one segment, « (non renseigné) », tells nothing."""
    return bool(dimension.segments) and all(s.segment == "" for s in dimension.segments)


def drivers_summary(
    *, team: Team, kpi: KpiDefinition, span: Span, compare_span: Span | None = None, components: bool = False
) -> DriversSummary | None:
    """The change of `kpi` for `team` from `compare_span` (default: like for like) to `span`, split by measure and
    segment; None when there is no change to split (no value in a span, nothing moved, or a formula reading a
    measure the KPI does not have)."""
    if measures_missing(kpi):
        return None
    drivers = kpi_drivers(kpi=kpi, team=team, span=span, compare_span=compare_span or like_for_like_span(*span))
    if not drivers.change:
        return None
    document = drivers_document(drivers, top=TOP_SEGMENTS)
    document["labels"] = drivers_labels(drivers)
    words = drivers_in_words(drivers=document, kpi_name=kpi_name(kpi))
    if words is None:
        return None
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    short = document["labels"].get(language, {}).get("formula_short", {})
    # The page (`components`) reads the KPI's tree anyway: its measures then take their catalogue KPI's name.
    tree = kpi_tree(kpi) if components else None
    if tree is not None:
        short = {**short, **_catalogue_names(kpi, tree)}
    measures = tuple(
        MeasurePart(capitalised(short.get(m.measure, m.label)), m.label, m.contribution, m.percent)
        for m in drivers.measures
    )
    return DriversSummary(
        drivers=drivers,
        line=words.line,
        compared=dates.span(drivers.compare_span[0], drivers.compare_span[1] - dt.timedelta(days=1)),
        measures=measures,
        components=_components(team=team, tree=tree, drivers=drivers) if tree is not None else (),
        dimensions=tuple(_dimension(d) for d in drivers.dimensions if not _only_unknown(d)),
        in_points=kpi.unit not in ("%", "pts") and drivers.change_percent is not None,
    )
