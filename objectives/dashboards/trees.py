"""The tree of a KPI for a team (metrics.kpis.trees) with the team's targets on each node, a parent target carried
down to its children, and the child objectives a manager creates from one combination.

The tree is shown over the last complete period of a granularity (the KPI's default), compared with the period
before it: whole periods, so that a product of counts and amounts (orders × basket) is read over the span a
period target is set for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import Team, User
from kpiplatform import dates
from metrics.kpis.periods import Granularity, period_end, period_floor, period_shift, today_local
from metrics.kpis.trees import Combination, KpiTree, NodeValue, carried_down_targets, kpi_tree, kpi_tree_values
from metrics.models import KpiDefinition
from objectives.dashboards.cards import kpi_change
from objectives.models import Objective, ObjectiveState, Target
from objectives.services import objective_create
from objectives.templatetags.kpi_format import kpi_value

RELATION_SIGNS = {"product": "×", "ratio": "÷", "sum": "+", "formula": "ƒ"}


@dataclass(frozen=True)
class TreeRow:
    """A node (or a segment of the KPI) as the page shows it: its values and the team's target on it, if any."""

    item: NodeValue
    target: Target | None
    relation_sign: str
    factor: str  # how it enters its parent: "×", "÷", "+", "−" or ""

    @property
    def moved(self) -> dict:
        """Its change as every screen shows one (objectives.dashboards.cards.kpi_change): a rate's in points."""
        return kpi_change(unit=self.item.unit, direction="up", value=self.item.value, previous=self.item.compared)


@dataclass(frozen=True)
class TreePage:
    """What the KPI tree page shows."""

    tree: KpiTree
    granularity: str
    span: tuple[dt.date, dt.date]
    compare_span: tuple[dt.date, dt.date]
    period_label: str
    compared_label: str
    rows: tuple[TreeRow, ...]
    segments: tuple[tuple[str, tuple[TreeRow, ...]], ...]  # (dimension label, segments)
    parent_target: Target | None  # the team's target on the KPI over the period, if any
    target_value: Decimal | None  # what is carried down: the one asked for, else the parent target's
    combinations: tuple[Combination, ...]
    creatable: bool  # whether a combination names KPIs objectives can be set on


def tree_span(*, granularity: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The last complete period of `granularity` before `today`, [start, end)."""
    start = period_shift(period_floor(today, granularity), granularity, -1)
    return start, period_end(start, granularity)


def tree_targets(*, team: Team, kpi_codes: set[str], span: tuple[dt.date, dt.date]) -> dict[tuple[str, str], Target]:
    """The team's targets on these KPIs in active objectives covering part of `span`, by (KPI code, segment): the
    one due first when several are (one query)."""
    found: dict[tuple[str, str], Target] = {}
    targets = (
        Target.objects.filter(
            Q(objective__start_date__lt=span[1]) & Q(objective__due_date__gte=span[0]),
            objective__team=team,
            objective__state=ObjectiveState.ACTIVE,
            kpi__code__in=kpi_codes,
        )
        .select_related("kpi", "objective")
        .order_by("objective__due_date", "id")
    )
    for target in targets:
        found.setdefault((target.kpi.code, target.segment), target)
    return found


def _factor(item: NodeValue, parent_relation: str) -> str:
    """How a node enters its parent, as read left to right: « × », « ÷ », « + », « − » (nothing before a first
    factor or a first added term)."""
    node = item.node
    if node is None or node.key == "root":
        return ""
    first = node.key.endswith(".0")
    if parent_relation == "sum":
        return "−" if node.sign < 0 else ("" if first else "+")
    if parent_relation in ("product", "ratio"):
        return "÷" if node.exponent < 0 else ("" if first else "×")
    return ""


def kpi_tree_page(
    *,
    team: Team,
    kpi: KpiDefinition,
    granularity: str | None = None,
    target_value: Decimal | None = None,
    today: dt.date | None = None,
) -> TreePage:
    """The tree of `kpi` for `team` over the last complete period of `granularity`, with targets, and `target_value`
    (default: the team's target on the KPI) carried down to the root's children."""
    today = today or today_local()
    gran = granularity if granularity in Granularity.values else (kpi.default_granularity or "month")
    span = tree_span(granularity=gran, today=today)
    compare_span = (period_shift(span[0], gran, -1), span[0])
    tree = kpi_tree(kpi)
    values = kpi_tree_values(tree=tree, team=team, span=span, compare_span=compare_span)
    codes = {node.kpi_code for node, _depth in tree.nodes() if node.kpi_code}
    targets = tree_targets(team=team, kpi_codes=codes, span=span)
    relations = {node.key: node.relation for node, _depth in tree.nodes()}
    rows = []
    for item in values.nodes:
        node = item.node
        parent = node.key.rpartition(".")[0] if node is not None else ""
        rows.append(
            TreeRow(
                item=item,
                target=targets.get((node.kpi_code, "")) if node is not None and node.kpi_code else None,
                relation_sign=RELATION_SIGNS.get(node.relation, "") if node is not None else "",
                factor=_factor(item, relations.get(parent, "")),
            )
        )
    segments = tuple(
        (
            label,
            tuple(
                TreeRow(item=s, target=targets.get((kpi.code, s.segment)), relation_sign="", factor="") for s in items
            ),
        )
        for _dimension, label, items in values.dimensions
        if items
    )
    parent_target = targets.get((kpi.code, ""))
    wanted = target_value if target_value is not None else (parent_target.target_value if parent_target else None)
    by_key = values.by_key()
    combinations: list[Combination] = []
    if wanted is not None:
        current = {child.key: by_key[child.key].value for child in tree.root.children}
        combinations = carried_down_targets(tree=tree, target=wanted, current=current)
    return TreePage(
        tree=tree,
        granularity=gran,
        span=span,
        compare_span=compare_span,
        period_label=dates.period(span[0], gran),
        compared_label=dates.period(compare_span[0], gran),
        rows=tuple(rows),
        segments=segments,
        parent_target=parent_target,
        target_value=wanted,
        combinations=tuple(combinations),
        creatable=any(child.kpi_code for child in tree.root.children),
    )


def child_objective_dates(page: TreePage) -> tuple[dt.date, dt.date]:
    """The dates child objectives take by default: those of the parent target's objective, else the period after
    the one shown (the running one), both days included."""
    if page.parent_target is not None:
        return page.parent_target.objective.start_date, page.parent_target.objective.due_date
    start = page.span[1]
    return start, period_end(start, page.granularity) - dt.timedelta(days=1)


def combination_words(combination: Combination) -> str:
    """A combination in one line, in the active language: « Commandes 3 048 · Panier moyen 131,25 € »."""
    return " · ".join(f"{node.label} {kpi_value(value, node.unit)}" for node, value in combination.values)


@transaction.atomic
def tree_child_objectives_create(
    *,
    team: Team,
    page: TreePage,
    combination: Combination,
    start_date: dt.date,
    due_date: dt.date,
    owner: User | None = None,
) -> list[Objective]:
    """One objective per child of the combination that is a catalogue KPI, its target the combination's value,
    below the parent target's objective when the value carried down is that target's (the cascade). Raises
    objectives.services.ObjectiveError with the first refusal; nothing is created then."""
    parent = page.parent_target.objective if page.parent_target is not None else None
    if parent is not None and page.target_value != page.parent_target.target_value:
        parent = None  # another value than the team's target: the children stand on their own
    kpi = page.tree.kpi
    description = _("Carried down from %(kpi)s = %(target)s: %(combination)s.") % {
        "kpi": page.tree.root.label,
        "target": kpi_value(page.target_value, kpi.unit),
        "combination": combination_words(combination),
    }
    created = []
    for node, value in combination.values:
        if not node.kpi_code:
            continue
        created.append(
            objective_create(
                team=team,
                title=_("%(kpi)s: %(value)s") % {"kpi": node.label, "value": kpi_value(value, node.unit)},
                description=description,
                start_date=start_date,
                due_date=due_date,
                owner=owner,
                parent=parent,
                targets=[{"kpi": page.tree.kpis[node.kpi_code], "target_value": value}],
            )
        )
    return created
