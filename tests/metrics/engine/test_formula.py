"""The formula language: arithmetic over measures, prev(), functions, safety and clear errors."""

import re
from decimal import Decimal

import pytest

from metrics.engine.formula import MAX_DEPTH, FormulaError, formula_parse, formula_validate


def evaluate(text: str, values: dict, previous: dict | None = None):
    """Evaluate with measures `values` now and `previous` one period back."""
    periods = [values, previous or {}]

    def lookup(name: str, back: int):
        period = periods[back] if back < len(periods) else {}
        value = period.get(name)
        return None if value is None else Decimal(str(value))

    return formula_parse(text).evaluate(lookup)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        # 100 × (2 − 1) / 6 = 16.666…: the NPS of [1, 7, 7, 8, 9, 10]
        (
            "100 * (promoters - detractors) / responses",
            {"promoters": 2, "detractors": 1, "responses": 6},
            Decimal(100) / 6,
        ),
        # 100 × 45 / (45 + 135) = 25
        ("100 * won / (won + lost)", {"won": 45, "lost": 135}, Decimal(25)),
        # precedence: 2 + 3 × 4 = 14, (2 + 3) × 4 = 20, unary minus binds tighter than ×
        ("a + b * c", {"a": 2, "b": 3, "c": 4}, Decimal(14)),
        ("(a + b) * c", {"a": 2, "b": 3, "c": 4}, Decimal(20)),
        ("-a * -b", {"a": 2, "b": 3}, Decimal(6)),
        ("a - -b", {"a": 2, "b": 3}, Decimal(5)),
        ("+a", {"a": 2}, Decimal(2)),
        # left associativity: 8 / 4 / 2 = 1, 8 − 4 − 2 = 2
        ("a / b / c", {"a": 8, "b": 4, "c": 2}, Decimal(1)),
        ("a - b - c", {"a": 8, "b": 4, "c": 2}, Decimal(2)),
        ("0.5 * a", {"a": 3}, Decimal("1.5")),
        (".5 + a", {"a": 1}, Decimal("1.5")),
        ("min(a, b, 7)", {"a": 9, "b": 8}, Decimal(7)),
        ("max(a, b)", {"a": 9, "b": 8}, Decimal(9)),
        ("abs(a - b)", {"a": 2, "b": 5}, Decimal(3)),
        ("if_null(a, 0)", {"a": None}, Decimal(0)),
        ("if_null(a, 0)", {"a": 4}, Decimal(4)),
        ("positive(a)", {"a": 4}, Decimal(4)),
    ],
)
def test_formula_evaluates_in_decimal(text, values, expected):
    # compared to 20 decimals: the engine's context carries 40 significant digits
    assert evaluate(text, values).quantize(Decimal("1e-20")) == expected.quantize(Decimal("1e-20"))


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("a / b", {"a": 1, "b": 0}),  # division by zero: no value, never an error
        ("a / (b - b)", {"a": 1, "b": 3}),
        ("a + b", {"a": 1, "b": None}),  # any missing input: no value
        ("-a", {"a": None}),
        ("min(a, b)", {"a": 1, "b": None}),
        ("abs(a)", {"a": None}),
        ("positive(a)", {"a": 0}),  # positive(x): no value when x ≤ 0
        ("positive(a)", {"a": -3}),
    ],
)
def test_formula_gives_no_value(text, values):
    assert evaluate(text, values) is None


def test_prev_reads_the_preceding_period():
    # given revenue 1,200 now and 1,000 the period before
    text = "100 * (revenue - prev(revenue)) / positive(prev(revenue))"
    # then growth = 100 × 200 / 1,000 = 20 %
    assert evaluate(text, {"revenue": 1200}, {"revenue": 1000}) == Decimal(20)
    # and with no or a negative previous revenue there is no value
    assert evaluate(text, {"revenue": 1200}, {"revenue": 0}) is None
    assert evaluate(text, {"revenue": 1200}, {"revenue": -5}) is None


def test_formula_reports_names_lookups_and_depth():
    formula = formula_parse("a / prev(b) + prev(prev(a))")
    assert formula.names == {"a", "b"}
    assert formula.prev_depth == 2
    assert formula.lookups == {("a", 0), ("b", 1), ("a", 2)}
    assert formula_parse("a + 1").prev_depth == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a +", "Expected a number"),
        ("(a + b", "Expected ')'"),
        ("a b", "Unexpected 'b'"),
        ("a ** 2", "Expected a number"),  # no exponent operator: huge powers are impossible
        ("a ^ 99999999", "Unexpected character '^'"),
        ("__import__('os')", 'Unexpected character "\'" at position 12'),
        ("__import__(os)", "Unknown function '__import__'"),
        ("os.system(a)", "Unexpected character '.'"),
        ("a.__class__", "Unexpected character '.'"),
        ("a[0]", "Unexpected character '['"),
        ("'x'", "Unexpected character"),
        ("exec(a)", "Unknown function 'exec'"),
        ("lambda: 1", "Unexpected character ':'"),
        ("a; b", "Unexpected character ';'"),
        ("min(a)", "Wrong number of arguments to min()"),
        ("prev(a, b)", "Wrong number of arguments to prev()"),
        ("1" * 31, "Number too long"),
        ("a" + " + a" * 300, "too long"),
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), "nested too deeply"),
        ("-" * (MAX_DEPTH + 1) + "a", "nested too deeply"),
    ],
)
def test_invalid_formulas_are_refused_with_a_clear_message(text, message):
    with pytest.raises(FormulaError, match=re.escape(message)):
        formula_parse(text)


def test_unknown_measure_names_are_listed():
    with pytest.raises(FormulaError, match=r"Unknown measure lots \(measures of this KPI: lost, won\)"):
        formula_validate("100 * won / (won + lots)", measure_names={"won", "lost"})


def test_large_values_overflow_to_no_value_instead_of_an_error():
    # given a measure of 10^6000: its square exceeds the context's exponent limit (10^10000)
    assert evaluate("a * a", {"a": "1e6000"}) is None
    # while the largest literal product a 1,000-character formula can write (30 digits, 30 times: ~10^900)
    # is computed quickly to 40 significant digits
    text = " * ".join(["9" * 30] * 30)
    assert evaluate(text, {}).adjusted() == 899
