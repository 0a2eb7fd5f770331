"""The SMART check, letter by letter: each failing case and its message (objectives/smart.py)."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import translation

from objectives import smart
from objectives.progress import END, LOWER


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def revenue(**extra) -> smart.SmartTarget:
    values = {
        "kpi_code": "revenue",
        "kpi_name": "Revenue",
        "unit": "€",
        "target_value": D("120000"),
        "baseline_value": D("100000"),
        # quarters: 90k → 100k → 95k → 110k: best change +15 000
        "history": (D("90000"), D("100000"), D("95000"), D("110000")),
    }
    return smart.SmartTarget(**{**values, **extra})


def good(**extra) -> smart.SmartInput:
    values = {
        "title": "Grow online revenue this quarter",
        "description": "Raise the revenue of the web shop by pushing the spring campaign.",
        "has_team": True,
        "has_owner": True,
        "start_date": date(2025, 1, 1),
        "due_date": date(2025, 3, 31),
        "has_parent": True,
        "targets": (revenue(target_value=D("112000")),),
    }
    return smart.SmartInput(**{**values, **extra})


def test_a_good_objective_passes_every_letter():
    result = smart.assess(good())
    assert {letter: r["ok"] for letter, r in result.items()} == dict.fromkeys(smart.LETTERS, True)
    # +12 000 asked ≤ +15 000 best seen
    assert result["achievable"]["message"] == (
        "Revenue: achievable — asks for 12,000 €, the best change seen so far was 15,000 €."
    )
    assert result["time_bound"]["message"] == "Time-bound: from 1 Jan 2025 to 31 Mar 2025 (90 days)."


def test_specific_lists_what_is_missing():
    result = smart.assess_specific(good(title="Revenue", description="", has_owner=False, targets=()))
    assert result == {
        "ok": False,
        "message": "Not specific enough: add a title of at least 3 words, a description saying what is to be "
        "achieved, an owner, a KPI to measure it.",
    }


def test_specific_needs_a_team():
    assert smart.assess_specific(good(has_team=False))["message"] == "Not specific enough: add a team."


def test_measurable_needs_a_target():
    assert smart.assess_measurable(good(targets=())) == {
        "ok": False,
        "message": "No measurable target: add a KPI with a target value.",
    }


def test_measurable_needs_a_target_value_in_the_kpis_unit():
    result = smart.assess_measurable(good(targets=(revenue(target_value=None),)))
    assert result == {"ok": False, "message": "No target value for Revenue: enter a number in €."}


def test_measurable_needs_a_kpi():
    result = smart.assess_measurable(good(targets=(smart.SmartTarget(kpi_code=None, target_value=D(5)),)))
    assert result["ok"] is False
    assert result["message"] == "A target has no KPI: choose the indicator that measures it."


def test_measurable_ok_names_the_targets():
    assert smart.assess_measurable(good())["message"] == "Measurable: Revenue → 112,000 €."


def test_achievable_flags_a_target_less_ambitious_than_the_baseline():
    result = smart.assess_achievable(good(targets=(revenue(target_value=D("95000")),)))
    assert result == {
        "ok": False,
        "message": "Revenue: the target (95,000 €) is less ambitious than the baseline (100,000 €).",
    }


def test_achievable_flags_an_ambitious_target_with_the_figures():
    # +25 000 asked, best +15 000: more than the best, less than twice (30 000) → ambitious, still ok
    result = smart.assess_achievable(good(targets=(revenue(target_value=D("125000")),)))
    assert result == {
        "ok": True,
        "message": "Revenue: ambitious — asks for 25,000 €, more than the best change seen so far (15,000 €).",
    }


def test_achievable_flags_an_unrealistic_target():
    # +40 000 asked > 2 × 15 000
    result = smart.assess_achievable(good(targets=(revenue(target_value=D("140000")),)))
    assert result == {
        "ok": False,
        "message": "Revenue: unrealistic? Asks for 40,000 €, more than twice the best change seen so far (15,000 €).",
    }


def test_achievable_for_lower_is_better_counts_decreases_as_progress():
    # churn 5 → 4 asked (−1 pt); history 6, 5.5, 5.2: best decrease 0.5 → 1 ≤ 2 × 0.5 → ambitious
    churn = smart.SmartTarget(
        kpi_code="churn_rate",
        kpi_name="Churn rate",
        unit="%",
        direction=LOWER,
        target_value=D("4"),
        baseline_value=D("5"),
        history=(D("6"), D("5.5"), D("5.2")),
    )
    result = smart.assess_target_achievable(churn)
    assert result == {
        "ok": True,
        "message": "Churn rate: ambitious — asks for 1 %, more than the best change seen so far (0.5 %).",
    }


def test_achievable_when_the_kpi_never_improved():
    target = revenue(history=(D("100"), D("90"), D("80")))
    assert smart.assess_target_achievable(target)["message"] == (
        "Revenue: unrealistic? Asks for 20,000 € of improvement, but the KPI never improved over comparable "
        "past periods."
    )


def test_achievable_without_history_or_baseline_is_not_a_failure():
    assert smart.assess_target_achievable(revenue(history=())) == {
        "ok": True,
        "message": "Revenue: asks for 20,000 € of improvement; not enough history to compare it with.",
    }
    assert smart.assess_target_achievable(revenue(baseline_value=None))["ok"] is True


def test_relevant_needs_a_parent_or_a_note():
    assert smart.assess_relevant(good(has_parent=False)) == {
        "ok": False,
        "message": "Why does it matter? Link it to a parent objective or explain its relevance.",
    }
    note = smart.assess_relevant(good(has_parent=False, relevance_note="Funds the new store."))
    assert note == {"ok": True, "message": "Relevant: Funds the new store."}


def test_time_bound_needs_dates_in_order():
    assert smart.assess_time_bound(good(due_date=None)) == {
        "ok": False,
        "message": "No deadline: set a start date and a due date.",
    }
    assert smart.assess_time_bound(good(due_date=date(2024, 12, 1)))["message"] == (
        "The due date is before the start date."
    )


def test_time_bound_needs_a_period_long_enough_for_the_kpi():
    # 1 → 5 January = 5 days < a week
    assert smart.assess_time_bound(good(due_date=date(2025, 1, 5)))["message"] == (
        "The period (5 days) is too short to measure these KPIs: allow at least 7 days."
    )
    # judged on its last month: at least 28 days; 1 → 20 January = 20 days
    short = good(due_date=date(2025, 1, 20), targets=(revenue(judged=END),))
    assert smart.assess_time_bound(short)["message"] == (
        "The period (20 days) is too short to measure these KPIs: allow at least 28 days."
    )


def test_messages_are_in_french_by_default():
    with translation.override("fr"):
        result = smart.assess_relevant(good(has_parent=False))
    assert result["message"] == (
        "Pourquoi est-ce important ? Rattachez-le à un objectif parent ou expliquez sa pertinence."
    )
