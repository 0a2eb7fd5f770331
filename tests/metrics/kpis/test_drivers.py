"""The exact driver breakdown (metrics.kpis.drivers): by measure (Shapley values) and by segment (own change for
sums, rate and mix effects for ratios); the parts always add up to the change, exactly and once rounded."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.engine.formula import formula_parse
from metrics.kpis.catalogue import COMPLETED, event, kpi
from metrics.kpis.drivers import (
    NOT_SET,
    RATIO,
    SUM,
    BreakdownUndefined,
    formula_exact,
    kpi_drivers,
    largest_remainder,
    like_for_like_span,
    segment_contributions,
    segment_kind,
    shapley_contributions,
)
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import KpiDefinition
from tests.metrics.kpi_support import at, deal, order

D = dt.date
JAN, FEB, MAR = (D(2026, 1, 1), D(2026, 2, 1)), (D(2026, 2, 1), D(2026, 3, 1)), (D(2026, 3, 1), D(2026, 4, 1))


@pytest.fixture(autouse=True)
def in_english():
    """Messages and labels are asserted in English (the French is the catalogue's business)."""
    with translation.override("en"):
        yield


def inputs(**values) -> dict:
    """{("name", 0): Decimal}; a name ending in `_prev` is prev(name)."""
    found = {}
    for name, value in values.items():
        key = (name.removesuffix("_prev"), 1) if name.endswith("_prev") else (name, 0)
        found[key] = None if value is None else Decimal(str(value))
    return found


# --------------------------------------------------------------------------- by measure, hand-computed


def test_revenue_as_orders_times_basket_splits_the_interaction_symmetrically():
    # Given revenue = orders × basket: 100 orders × 50 € = 5,000 € compared, 92 × 47.50 € = 4,370 € now (−630 €).
    formula = formula_parse("orders * basket")
    current, compared = inputs(orders=92, basket="47.5"), inputs(orders=100, basket=50)
    # When split by measure
    parts = shapley_contributions(formula, current, compared)
    # Then (Shapley for a product of two): each factor's change × the mean of the other factor over both spans:
    # orders (92 − 100) × (50 + 47.5) / 2 = −8 × 48.75 = −390 €;
    # basket (47.5 − 50) × (100 + 92) / 2 = −2.5 × 96 = −240 €
    assert parts == {("orders", 0): Fraction(-390), ("basket", 0): Fraction(-240)}
    assert sum(parts.values()) == Fraction(4370 - 5000)


@pytest.mark.parametrize(
    ("formula", "current", "compared", "expected"),
    [
        # a sum and a difference: each measure's own change, with its sign
        ("a + b - c", {"a": 10, "b": 5, "c": 3}, {"a": 7, "b": 6, "c": 1}, {"a": 3, "b": -1, "c": -2}),
        # a constant factor scales every part: 100 × (p − d) / n with n unchanged
        ("100 * (p - d) / n", {"p": 60, "d": 10, "n": 100}, {"p": 50, "d": 20, "n": 100}, {"p": 10, "d": 10, "n": 0}),
        # a measure that did not change takes no part (even inside a product)
        ("a * b", {"a": 4, "b": 3}, {"a": 2, "b": 3}, {"a": 6, "b": 0}),
        # prev(x) is an input of its own: growth = x − prev(x); x 120 → 150, prev(x) 100 → 120
        ("x - prev(x)", {"x": 150, "x_prev": 120}, {"x": 120, "x_prev": 100}, {"x": 30, "x_prev": -20}),
    ],
)
def test_sums_differences_and_prev_get_each_measures_own_change(formula, current, compared, expected):
    parts = shapley_contributions(formula_parse(formula), inputs(**current), inputs(**compared))
    assert {name if back == 0 else f"{name}_prev": part for (name, back), part in parts.items()} == {
        k: Fraction(v) for k, v in expected.items()
    }


def test_win_rate_by_measure_hand_computed():
    # win rate = 100 × won / (won + lost): won 4 → 7, lost 4 → 3; 50 % → 70 %, +20 pts.
    # won's part = ½[(f(7,4) − f(4,4)) + (f(7,3) − f(4,3))] = ½[(700/11 − 50) + (70 − 400/7)] = 10 + 250/77
    # lost's part = 20 − won's = 10 − 250/77
    parts = shapley_contributions(
        formula_parse("100 * won / (won + lost)"), inputs(won=7, lost=3), inputs(won=4, lost=4)
    )
    assert parts == {("won", 0): 10 + Fraction(250, 77), ("lost", 0): 10 - Fraction(250, 77)}
    # rounded to hundredths of a point: 13.246… → 13.25 and 6.753… → 6.75, adding up to 20.00
    assert largest_remainder(parts, Fraction(20), 2) == {("won", 0): Decimal("13.25"), ("lost", 0): Decimal("6.75")}


def test_no_value_or_a_division_by_zero_leaves_the_breakdown_undefined():
    formula = formula_parse("100 * won / (won + lost)")
    with pytest.raises(BreakdownUndefined, match="no value in one of the two spans"):
        shapley_contributions(formula, inputs(won=1, lost=1), inputs(won=0, lost=0))
    # both spans have a value (a − b ≠ 0), but a − b over (a from one span, b from the other) is zero: undefined
    with pytest.raises(BreakdownUndefined, match="divides by zero"):
        shapley_contributions(formula_parse("1 / (a - b)"), inputs(a=2, b=1), inputs(a=3, b=2))


def test_largest_remainder_gives_the_missing_cents_to_the_largest_remainders():
    # three thirds of 1.00: 0.333… each, floors 0.33 × 3 = 0.99, the missing cent to the first largest remainder
    third = Fraction(1, 3)
    assert largest_remainder({"a": third, "b": third, "c": third}, Fraction(1), 2) == {
        "a": Decimal("0.34"),
        "b": Decimal("0.33"),
        "c": Decimal("0.33"),
    }
    # negative parts: −0.005 and −0.005 make −0.01; floors −0.01 and −0.01 are one cent too low
    assert sum(largest_remainder({"a": Fraction(-1, 200), "b": Fraction(-1, 200)}, Fraction(-1, 100), 2).values()) == (
        Decimal("-0.01")
    )


# --------------------------------------------------------------------------- by segment, hand-computed


def test_win_rate_by_owner_rate_and_mix_effects_hand_computed():
    # Compared: Ana 3 won / 4 closed (75 %), Bob 1 / 4 (25 %): 4 / 8 = 50 %.
    # Now:      Ana 6 won / 8 closed (75 %), Bob 1 / 2 (50 %): 7 / 10 = 70 %; change +20 pts.
    # Weights (closed deals): Ana 4/8 = 0.5 → 8/10 = 0.8; Bob 0.5 → 0.2. Mean value R̄ = (70 + 50) / 2 = 60.
    # Ana: rate effect (75 − 75) × (0.8 + 0.5) / 2 = 0;      mix effect (0.8 − 0.5) × (75 − 60) = 4.5
    # Bob: rate effect (50 − 25) × (0.2 + 0.5) / 2 = 8.75;   mix effect (0.2 − 0.5) × (37.5 − 60) = 6.75
    # Parts: Ana 4.5, Bob 15.5: 20 in all.
    formula = formula_parse("100 * won / (won + lost)")
    additive = frozenset({"won", "lost"})
    found = segment_contributions(
        formula,
        additive,
        totals=(inputs(won=7, lost=3), inputs(won=4, lost=4)),
        segments={
            "ana": (inputs(won=6, lost=2), inputs(won=3, lost=1)),
            "bob": (inputs(won=1, lost=1), inputs(won=1, lost=3)),
        },
    )
    by_owner = {s.segment: (s.contribution, s.rate, s.mix) for s in found}
    assert by_owner == {
        "ana": (Fraction(9, 2), Fraction(0), Fraction(9, 2)),
        "bob": (Fraction(31, 2), Fraction(35, 4), Fraction(27, 4)),
    }
    assert segment_kind(formula, additive) == RATIO


def test_segments_of_a_sum_are_their_own_change_and_the_rest_is_not_set():
    formula = formula_parse("revenue")
    found = segment_contributions(
        formula,
        frozenset({"revenue"}),
        totals=(inputs(revenue=390), inputs(revenue=350)),
        segments={
            "email": (inputs(revenue=160), inputs(revenue=100)),
            "web": (inputs(revenue=120), inputs(revenue=200)),
        },
    )
    # email +60, web −80; the records without a channel (390 − 280 = 110 now, 350 − 300 = 50 before): +60
    assert {s.segment: s.contribution for s in found} == {"email": 60, "web": -80, NOT_SET: 60}
    assert all(s.rate is None and s.mix is None for s in found)


def test_a_mean_or_a_distinct_count_has_no_segment_breakdown():
    with pytest.raises(BreakdownUndefined, match="neither a sum nor a ratio of sums"):
        segment_contributions(
            formula_parse("revenue / buyers"),
            frozenset({"revenue"}),  # buyers is a distinct count: its segments do not add up
            totals=(inputs(revenue=10, buyers=2), inputs(revenue=8, buyers=2)),
            segments={},
        )


@pytest.mark.parametrize(
    ("start", "end", "compared"),
    [
        # the first four days of December: the first four of November
        (D(2026, 12, 1), D(2026, 12, 5), (D(2026, 11, 1), D(2026, 11, 5))),
        # a whole month (even a short one): the whole previous month
        (D(2026, 2, 1), D(2026, 3, 1), (D(2026, 1, 1), D(2026, 2, 1))),
        # the first 31 days of March against February: all of February
        (D(2026, 3, 1), D(2026, 4, 1), (D(2026, 2, 1), D(2026, 3, 1))),
        # a quarter to date (1 January – 10 February): 1 October – 10 November
        (D(2026, 1, 1), D(2026, 2, 11), (D(2025, 10, 1), D(2025, 11, 11))),
        # any other range: the range of the same length just before
        (D(2026, 1, 10), D(2026, 1, 20), (D(2025, 12, 31), D(2026, 1, 10))),
    ],
)
def test_the_default_comparison_is_like_for_like(start, end, compared):
    assert like_for_like_span(start, end) == compared


# --------------------------------------------------------------------------- the parts always add up (Hypothesis)

FORMULAS = [
    "a + b - c",
    "a * b",
    "a * b * c",
    "100 * a / (a + b)",
    "a / b",
    "(a - b) / c",
    "100 * (a - prev(a)) / prev(a)",
    "a * b / prev(c) - c",
    "min(a, b) + abs(c - a)",
    "if_null(a / b, c) * 2",
]
VALUES = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
POSITIVE = st.decimals(min_value=1, max_value=1000, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    formula_text=st.sampled_from(FORMULAS),
    current=st.lists(VALUES, min_size=6, max_size=6),
    compared=st.lists(VALUES, min_size=6, max_size=6),
    places=st.sampled_from([0, 2]),
)
def test_measure_parts_add_up_to_the_change_exactly_and_once_rounded(formula_text, current, compared, places):
    formula = formula_parse(formula_text)
    lookups = sorted(formula.lookups)
    now = dict(zip(lookups, current, strict=False))
    before = dict(zip(lookups, compared, strict=False))
    value_1, value_0 = formula_exact(formula, now), formula_exact(formula, before)
    try:
        parts = shapley_contributions(formula, now, before)
    except BreakdownUndefined:
        return  # a division by zero somewhere: said, not invented
    assert value_1 is not None and value_0 is not None
    assert sum(parts.values()) == value_1 - value_0
    rounded_parts = largest_remainder(parts, value_1 - value_0, places)
    assert sum(rounded_parts.values()) == Decimal(round((value_1 - value_0) * 10**places)).scaleb(-places)


@settings(max_examples=300, deadline=None)
@given(
    formula_text=st.sampled_from(["a + b - c", "100 * a / (a + b)", "a / b", "100 * (a - c) / b", "-(a + c) / b * 3"]),
    segments=st.lists(st.tuples(*[POSITIVE] * 6), min_size=1, max_size=5),
    rest=st.tuples(*[st.sampled_from([Decimal(0), Decimal(5)])] * 6),
)
def test_segment_parts_add_up_to_the_change_and_rate_plus_mix_to_each_part(formula_text, segments, rest):
    formula = formula_parse(formula_text)
    additive = frozenset({"a", "b", "c"})

    def named(values) -> tuple[dict, dict]:
        a1, b1, c1, a0, b0, c0 = values
        return inputs(a=a1, b=b1, c=c1), inputs(a=a0, b=b0, c=c0)

    by_segment = {f"s{i}": named(values) for i, values in enumerate(segments)}
    totals = named([sum(values) for values in zip(*segments, rest, strict=True)])
    value_1, value_0 = formula_exact(formula, totals[0]), formula_exact(formula, totals[1])
    found = segment_contributions(formula, additive, totals=totals, segments=by_segment)
    assert sum(s.contribution for s in found) == value_1 - value_0
    assert segment_kind(formula, additive) in (SUM, RATIO)
    for s in found:
        if s.rate is not None:
            assert s.rate + s.mix == s.contribution
    rounded_parts = largest_remainder({s.segment: s.contribution for s in found}, value_1 - value_0, 2)
    assert sum(rounded_parts.values()) == Decimal(round((value_1 - value_0) * 100)).scaleb(-2)


# --------------------------------------------------------------------------- from the records


@pytest.fixture
def catalogue_loaded(catalogue):
    """The catalogue, plus revenue written as orders × average basket (the same value, two measures)."""
    basket = event("basket", "orders", "avg", "ordered_at", field="amount", filters=[COMPLETED])
    orders_count = event("orders", "orders", "count", "ordered_at", filters=[COMPLETED])
    entry = kpi(
        "revenue_by_basket",
        "sales",
        ("CA (commandes × panier)", "Revenue (orders × basket)"),
        ("", ""),
        "€",
        "higher",
        "orders * basket",
        [orders_count, basket],
        segments=("channel",),
    )
    kpi_catalogue_load(entries=[entry])


def test_win_rate_drivers_from_the_deals(catalogue, team_a):
    # The deals of the hand-computed example above (Ana and Bob), closed in January then in February.
    for owner, won, lost, month in (("ana", 3, 1, 1), ("bob", 1, 3, 1), ("ana", 6, 2, 2), ("bob", 1, 1, 2)):
        for status, count in (("won", won), ("lost", lost)):
            for _ in range(count):
                deal(team_a, at(2026, month, 2), 10, status=status, closed=at(2026, month, 3), owner=owner)
    drivers = kpi_drivers(kpi=KpiDefinition.objects.get(code="win_rate"), team=team_a, span=FEB)
    assert drivers.compare_span == JAN  # a whole month: the whole previous month
    assert (drivers.value, drivers.compared_value, drivers.change) == (Decimal(70), Decimal(50), Decimal("20.00"))
    assert drivers.change_percent == Decimal("40.0")  # +20 pts on 50
    assert [(m.measure, m.contribution) for m in drivers.measures] == [
        ("won", Decimal("13.25")),
        ("lost", Decimal("6.75")),
    ]
    (owners,) = drivers.dimensions
    assert owners.kind == RATIO
    assert [(s.segment, s.contribution, s.rate, s.mix) for s in owners.segments] == [
        ("bob", Decimal("15.50"), Decimal("8.75"), Decimal("6.75")),
        ("ana", Decimal("4.50"), Decimal("0.00"), Decimal("4.50")),
    ]
    assert owners.segments[0].label == "Bob"


def test_revenue_as_orders_times_basket_from_the_orders(catalogue_loaded, team_a):
    # January: 4 orders of 50 € (email, email, web, and one without a channel) = 200 €.
    # February: 2 orders of 70 € (email, web) = 140 €: −60 €, −30 %.
    for channel in ("email", "email", "web", ""):
        order(team_a, at(2026, 1, 5), 50, channel=channel)
    for channel in ("email", "web"):
        order(team_a, at(2026, 2, 5), 70, channel=channel)
    drivers = kpi_drivers(kpi=KpiDefinition.objects.get(code="revenue_by_basket"), team=team_a, span=FEB)
    assert (drivers.value, drivers.compared_value, drivers.change) == (Decimal(140), Decimal(200), Decimal("-60.00"))
    # orders (2 − 4) × (50 + 70) / 2 = −120 € (−60 pts of 200 €); basket (70 − 50) × (4 + 2) / 2 = +60 € (+30 pts)
    assert [(m.measure, m.contribution, m.percent) for m in drivers.measures] == [
        ("orders", Decimal("-120.00"), Decimal("-60.0")),
        ("basket", Decimal("60.00"), Decimal("30.0")),
    ]
    # A product is not a sum of its segments (the basket is a mean): no breakdown by channel, and it says why.
    (channels,) = drivers.dimensions
    assert channels.segments == () and "neither a sum nor a ratio of sums" in channels.note


def test_revenue_by_channel_from_the_orders_in_one_pass(catalogue, team_a):
    # January: email 100, web 200, none 50 = 350 €. February: email 160, web 120, none 80, social 30 = 390 €.
    for month, amounts in (
        (1, {"email": 100, "web": 200, "": 50}),
        (2, {"email": 160, "web": 120, "": 80, "social": 30}),
    ):
        for channel, amount in amounts.items():
            order(team_a, at(2026, month, 5), amount, channel=channel)
    revenue = KpiDefinition.objects.get(code="revenue")
    drivers = kpi_drivers(kpi=revenue, team=team_a, span=FEB, dimensions=["channel"])
    assert drivers.change == Decimal("40.00")
    assert [(m.measure, m.contribution) for m in drivers.measures] == [("revenue", Decimal("40.00"))]
    (channels,) = drivers.dimensions
    assert channels.kind == SUM
    # largest part first; equal parts: a named segment before « (not set) »
    assert [(s.segment, s.contribution, s.rate) for s in channels.segments] == [
        ("web", Decimal("-80.00"), None),
        ("email", Decimal("60.00"), None),
        ("social", Decimal("30.00"), None),
        ("", Decimal("30.00"), None),
    ]
    # the segments' cost does not grow with their number: one grouped query per measure, whatever the segments
    with CaptureQueriesContext(connection) as few:
        kpi_drivers(kpi=revenue, team=team_a, span=FEB, dimensions=["channel"])
    for channel in ("a", "b", "c", "d"):
        order(team_a, at(2026, 2, 6), 1, channel=channel)
    with CaptureQueriesContext(connection) as more:
        kpi_drivers(kpi=revenue, team=team_a, span=FEB, dimensions=["channel"])
    assert len(more.captured_queries) == len(few.captured_queries)


def test_no_value_in_a_span_says_so(catalogue, team_a):
    deal(team_a, at(2026, 2, 2), 10, status="won", closed=at(2026, 2, 3), owner="ana")
    drivers = kpi_drivers(kpi=KpiDefinition.objects.get(code="win_rate"), team=team_a, span=FEB)
    assert drivers.value == 100 and drivers.compared_value is None and drivers.change is None
    assert drivers.measures == () and "no value" in drivers.measures_note
    assert drivers.dimensions[0].segments == () and drivers.dimensions[0].note


def test_a_growth_rate_reading_prev_splits_between_revenue_and_prev_revenue(catalogue, team_a):
    # Revenue: December 100 €, January 200 €, February 300 €. Growth = 100 × (r − p) / p:
    # February 100 × (300 − 200) / 200 = 50 %, January 100 × (200 − 100) / 100 = 100 %: −50 pts.
    # With f(r, p), r 200 → 300 and p 100 → 200: f(300, 100) = 200, f(200, 200) = 0.
    # revenue: ½[(f(300,100) − f(200,100)) + (f(300,200) − f(200,200))] = ½[(200 − 100) + (50 − 0)] = +75
    # prev(revenue): ½[(f(200,200) − f(200,100)) + (f(300,200) − f(300,100))] = ½[(0 − 100) + (50 − 200)] = −125
    for year, month, amount in ((2025, 12, 100), (2026, 1, 200), (2026, 2, 300)):
        order(team_a, at(year, month, 5), amount, channel="email")
    drivers = kpi_drivers(kpi=KpiDefinition.objects.get(code="sales_growth_rate"), team=team_a, span=FEB)
    assert (drivers.value, drivers.compared_value, drivers.change) == (Decimal(50), Decimal(100), Decimal("-50.00"))
    assert [(m.measure, m.contribution) for m in drivers.measures] == [
        ("prev(revenue)", Decimal("-125.00")),
        ("revenue", Decimal("75.00")),
    ]
    assert drivers.measures[0].label.endswith(", over the preceding period")
    # positive(prev(revenue)) is not a ratio of sums: no breakdown by segment, said
    assert all(d.segments == () and d.note for d in drivers.dimensions)
