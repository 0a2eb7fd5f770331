"""KPI trees (metrics.kpis.trees): read from every catalogue formula, valued over two spans, and a parent target
carried down to combinations of child values that give the target back within rounding."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from django.utils import translation

from metrics.kpis.catalogue import CATALOGUE_CODES
from metrics.kpis.services import kpi_catalogue_load
from metrics.kpis.trees import (
    FORMULA,
    KPI,
    PRODUCT,
    RATIO,
    SUM,
    carried_down_targets,
    combine,
    kpi_tree,
    kpi_tree_values,
    tree_contributions,
)
from metrics.models import KpiDefinition
from tests.metrics.kpi_support import at, deal, order

pytestmark = pytest.mark.django_db
D = dt.date
FEB, JAN = (D(2026, 2, 1), D(2026, 3, 1)), (D(2026, 1, 1), D(2026, 2, 1))


@pytest.fixture(autouse=True)
def catalogue():
    with translation.override("en"):
        kpi_catalogue_load()
        yield


def tree_of(code):
    return kpi_tree(KpiDefinition.objects.get(code=code))


def shape(node):
    """(relation, [(label or key, exponent, sign, children's shape)]) — what the test reads of a tree."""
    return (node.relation, [(c.kpi_code or c.label, c.exponent, c.sign, shape(c)[0]) for c in node.children])


def test_every_catalogue_kpi_has_a_tree_whose_leaves_are_its_measures():
    for code in CATALOGUE_CODES:
        tree = tree_of(code)
        nodes = tree.nodes()
        assert nodes[0][0].key == "root" and nodes[0][0].kind == KPI and nodes[0][0].kpi_code == code
        keys = [node.key for node, _depth in nodes]
        assert len(keys) == len(set(keys)), code
        for node, _depth in nodes:
            if node.relation in (PRODUCT, RATIO, SUM, FORMULA):
                assert node.children, code


def test_revenue_is_orders_times_the_average_basket_by_the_catalogue():
    # revenue is one measure; average_purchase_value = revenue / orders reads the same measure, and orders is a
    # KPI of its own: revenue = orders × average_purchase_value.
    root = tree_of("revenue").root
    assert shape(root) == (PRODUCT, [("orders", 1, 1, ""), ("average_purchase_value", 1, 1, RATIO)])
    basket = root.children[1]
    assert [c.kpi_code for c in basket.children] == ["revenue", "orders"]


@pytest.mark.parametrize(
    ("code", "relation", "children"),
    [
        # 100 × won / (won + lost): a ratio, the divisor a sum
        (
            "win_rate",
            RATIO,
            [("Number of deals won", 1, 1, ""), ("Number of deals won + Number of deals lost", -1, 1, SUM)],
        ),
        ("average_purchase_value", RATIO, [("revenue", 1, 1, ""), ("orders", -1, 1, "")]),
        ("customer_acquisition_cost", RATIO, [("acquisition_spend", 1, 1, ""), ("new_customers", -1, 1, "")]),
        # open_deals × won_value × (won / (won + lost)) / cycle_days: a product of four, one a ratio
        ("sales_velocity", PRODUCT, None),
        ("weighted_pipeline_value", PRODUCT, None),
    ],
)
def test_products_ratios_and_sums_read_from_the_formula(code, relation, children):
    root = tree_of(code).root
    assert root.relation == relation
    if code == "sales_velocity":
        assert [c.exponent for c in root.children] == [1, 1, 1, -1]
        assert root.children[2].relation == RATIO
    elif code == "weighted_pipeline_value":
        assert root.scale == Fraction(1, 100) and len(root.children) == 1
    elif code == "win_rate":
        assert root.scale == 100
        assert [c.exponent for c in root.children] == [1, -1]
        assert [(c.sign, c.relation) for c in root.children[1].children] == [(1, ""), (1, "")]
    else:
        assert [(c.kpi_code or c.expression.name, c.exponent) for c in root.children] == [
            (c[0], c[1]) for c in children
        ]


def test_nps_numerator_is_a_difference():
    root = tree_of("nps").root
    numerator = root.children[0]
    assert numerator.relation == SUM and [c.sign for c in numerator.children] == [1, -1]


def test_tree_values_by_hand(team_a, team_b):
    # January: 2 orders of 100 € and 50 € on the web; February: 3 orders, 100 € web + 60 € + 80 € e-mail.
    # Team B has an order that must not count.
    order(team_a, at(2026, 1, 5), 100, channel="web")
    order(team_a, at(2026, 1, 6), 50, channel="web")
    order(team_a, at(2026, 2, 5), 100, channel="web")
    order(team_a, at(2026, 2, 6), 60, channel="email")
    order(team_a, at(2026, 2, 7), 80, channel="email")
    order(team_b, at(2026, 2, 7), 9999, channel="email")
    tree = tree_of("revenue")
    values = kpi_tree_values(tree=tree, team=team_a, span=FEB)
    assert values.compare_span == JAN
    by_key = values.by_key()
    # revenue 240 vs 150 (+90 €, +60 %); orders 3 vs 2; basket 80 vs 75
    assert (by_key["root"].value, by_key["root"].compared, by_key["root"].change) == (240, 150, 90)
    assert by_key["root"].change_percent == Decimal("60.0")
    assert (by_key["root.0"].value, by_key["root.0"].compared) == (3, 2)
    assert (by_key["root.1"].value, by_key["root.1"].compared, by_key["root.1"].change) == (80, 75, 5)
    # the product holds: 3 × 80 = 240
    assert combine(tree.root, {"root.0": Fraction(3), "root.1": Fraction(80)}) == 240
    # the change split between the components (Shapley): orders (3 − 2) × (75 + 80) / 2 = 77,50 €, the basket
    # (80 − 75) × (2 + 3) / 2 = 12,50 €: 90 € in all; in points of 150 €: 51,7 and 8,3 (60 in all)
    parts = [(p.node.kpi_code, p.contribution, p.percent) for p in tree_contributions(values)]
    assert parts == [
        ("orders", Decimal("77.50"), Decimal("51.7")),
        ("average_purchase_value", Decimal("12.50"), Decimal("8.3")),
    ]
    channel = {d: s for d, _label, s in values.dimensions}["channel"]
    # e-mail 140 € (0 in January), web 100 € (150 in January)
    assert [(s.segment, s.value, s.compared) for s in channel] == [("channel=email", 140, 0), ("channel=web", 100, 150)]


def test_win_rate_values_by_hand(team_a):
    # February: 3 won, 1 lost → 75 %; January: 1 won, 1 lost → 50 %
    for month, status in [(1, "won"), (1, "lost"), (2, "won"), (2, "won"), (2, "won"), (2, "lost")]:
        deal(team_a, at(2026, month, 3), 10, closed=at(2026, month, 10), status=status)
    values = kpi_tree_values(tree=tree_of("win_rate"), team=team_a, span=FEB).by_key()
    assert (values["root"].value, values["root"].compared, values["root"].change) == (75, 50, 25)
    assert (values["root.0"].value, values["root.1"].value, values["root.1"].compared) == (3, 4, 2)
    # Split between won (1 → 3) and won + lost (2 → 4), Shapley: from 50, won alone gives 150, the total alone 25,
    # both 75. Won: ((150 − 50) + (75 − 25)) / 2 = 75 pts; the total: ((25 − 50) + (75 − 150)) / 2 = −50 pts.
    tree = tree_of("win_rate")
    parts = tree_contributions(kpi_tree_values(tree=tree, team=team_a, span=FEB))
    assert [p.contribution for p in parts] == [Decimal("75.00"), Decimal("-50.00")]


def test_a_revenue_target_carried_down_multiplies_back():
    # 400 000 € with 3 000 orders at 125 €: hold orders at 3 000 / 3 150 / 3 300 and solve the basket
    # (rounded up to the cent, revenue is higher-is-better), or hold the basket at 125 / 131.25 / 137.50 € and
    # solve the orders (rounded up to a whole order).
    tree = tree_of("revenue")
    found = carried_down_targets(tree=tree, target=Decimal("400000"), current={"root.0": 3000, "root.1": 125})
    for combination in found:
        orders, basket = (v for _node, v in combination.values)
        # multiplies back: at least the target, by less than one unit of the solved factor × the other
        assert orders * basket == combination.reached
        assert combination.reached >= 400000
        slack = basket if combination.solved == "root.0" else orders * Decimal("0.01")
        assert combination.reached - 400000 < slack
    assert {c.key for c in found} == {"root.0@0", "root.0@5", "root.0@10", "root.1@0", "root.1@5", "root.1@10"}
    by_key = {c.key: [v for _node, v in c.values] for c in found}
    assert by_key["root.0@0"] == [3200, Decimal("125.00")]  # 400 000 / 125 = 3 200
    assert by_key["root.0@5"] == [3048, Decimal("131.25")]  # 400 000 / 131.25 = 3 047.6 → 3 048
    assert by_key["root.1@0"] == [3000, Decimal("133.34")]  # 400 000 / 3 000 = 133.33… → 133.34
    assert by_key["root.1@5"] == [3150, Decimal("126.99")]  # 400 000 / 3 150 = 126.98… → 126.99


def test_a_rate_target_carried_down_solves_numerator_or_divisor():
    # win rate 100 × won / (won + lost) = 60 % with won 30, won + lost 60 (50 %).
    tree = tree_of("win_rate")
    found = {
        c.key: c for c in carried_down_targets(tree=tree, target=Decimal("60"), current={"root.0": 30, "root.1": 60})
    }
    # hold won + lost at 60 → won = 60 × 60 / 100 = 36
    assert [v for _n, v in found["root.0@0"].values] == [36, 60]
    # hold won at 30 → won + lost = 100 × 30 / 60 = 50 (the parent falls with it: rounded down to reach ≥ 60 %)
    assert [v for _n, v in found["root.1@0"].values] == [30, 50]
    # hold won at 31.5 → 31.5 is not a count: held values are rounded to units first (32), 100 × 32 / 60 = 53.3 → 53
    assert [v for _n, v in found["root.1@5"].values] == [32, 53]
    for combination in found.values():
        assert combination.reached >= 60
        won, total = (v for _n, v in combination.values)
        assert combination.reached == (Decimal(100) * won / total).quantize(Decimal("1e-10"))


def test_a_lower_is_better_target_is_reached_from_below():
    # CAC = spend / new customers: 50 € with spend 10 000 € and 180 customers (55.56 €).
    tree = tree_of("customer_acquisition_cost")
    found = {
        c.key: c
        for c in carried_down_targets(tree=tree, target=Decimal("50"), current={"root.0": 10000, "root.1": 180})
    }
    # hold customers at 180 → spend ≤ 9 000; hold spend at 10 000 → customers = 200
    assert [v for _n, v in found["root.0@0"].values] == [Decimal("9000.00"), 180]
    assert [v for _n, v in found["root.1@0"].values] == [Decimal("10000.00"), 200]
    for combination in found.values():
        assert combination.reached <= 50


def test_nothing_is_carried_down_without_values_or_through_a_function():
    assert carried_down_targets(tree=tree_of("revenue"), target=Decimal(1), current={"root.0": None, "root.1": 3}) == []
    # average deal value is a mean of one measure: nothing to split
    assert carried_down_targets(tree=tree_of("average_deal_value"), target=Decimal(1), current={}) == []


def test_every_catalogue_tree_has_values_for_an_empty_team(team_a):
    # no record at all: counts and sums are 0, rates have no value — and nothing fails
    for code in CATALOGUE_CODES:
        values = kpi_tree_values(tree=tree_of(code), team=team_a, span=FEB)
        assert values.nodes[0].key == "root"


def test_every_catalogue_target_carried_down_multiplies_back():
    # For every KPI whose root is a product, ratio or sum: children at 7, 11, 13, … (whole numbers, positive), a
    # target 10 % above the value they give; every combination gives the target back within one unit of the
    # solved child (its display precision), on the side the KPI's direction asks for.
    primes = [7, 11, 13, 17, 19, 23]
    tried = 0
    for code in CATALOGUE_CODES:
        tree = tree_of(code)
        root = tree.root
        if root.relation not in (PRODUCT, RATIO, SUM):
            continue
        current = {child.key: Decimal(primes[i % len(primes)]) for i, child in enumerate(root.children)}
        value = combine(root, {k: Fraction(v) for k, v in current.items()})
        target = (Decimal(value.numerator) / Decimal(value.denominator) * Decimal("1.1")).quantize(Decimal("0.01"))
        found = carried_down_targets(tree=tree, target=target, current=current)
        assert found, code
        for combination in found:
            values = {node.key: Fraction(v) for node, v in combination.values}
            reached = combine(root, values)
            assert combination.reached == Decimal(reached.numerator) / Decimal(reached.denominator) or abs(
                combination.reached - Decimal(reached.numerator) / Decimal(reached.denominator)
            ) < Decimal("1e-9"), code
            solved = next(node for node, _v in combination.values if node.key == combination.solved)
            unit = Fraction(1, 10**solved.places)
            nudged = combine(root, {**values, solved.key: values[solved.key] + unit})
            one_unit = abs(nudged - reached)
            assert abs(reached - Fraction(target)) <= one_unit, (code, combination.key)
            if tree.kpi.direction == "higher":
                assert reached >= Fraction(target), (code, combination.key)
            elif tree.kpi.direction == "lower":
                assert reached <= Fraction(target), (code, combination.key)
            tried += 1
    assert tried > 50
