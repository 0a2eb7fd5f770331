"""Proposed targets (objectives.proposals) on hand-made seasonal histories, every figure computed by hand."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import translation

from objectives.proposals import NONE, PAST_SPANS, SEASONAL, shift_months, target_proposal

pytestmark = pytest.mark.django_db

# Revenue by month. 2024 = 2023 × the ratios of RATIOS_2024, 2025 = 2024 × RATIOS_2025 (month by month).
REVENUE_2023 = [100, 100, 120, 120, 140, 140, 80, 80, 120, 120, 160, 200]
RATIOS_2024 = ["1.10", "1.05", "1.00", "1.10", "1.20", "0.90", "1.25", "1.00", "1.10", "1.05", "1.25", "1.10"]
RATIOS_2025 = ["1.20", "1.20", "1.05", "1.25", "1.00", "1.10", "1.30", "1.15", "0.95", "1.10", "1.05", "1.15"]
# 2024: 110 105 120 132 168 126 100 80 132 126 200 220
# 2025: 132 126 126 165 168 138.6 130 92 125.4 138.6 210 253


def seasonal_revenue() -> dict[date, D]:
    values = {}
    for month in range(12):
        v2023 = D(REVENUE_2023[month])
        v2024 = v2023 * D(RATIOS_2024[month])
        values[date(2023, month + 1, 1)] = v2023
        values[date(2024, month + 1, 1)] = v2024
        values[date(2025, month + 1, 1)] = v2024 * D(RATIOS_2025[month])
    return values


@pytest.fixture
def revenue_history(revenue, team_a, store):
    """The month rows, and the whole month booked on its first day (day rows), so any run of months reads."""
    for month, value in seasonal_revenue().items():
        store(revenue, team_a, "month", month, value)
        store(revenue, team_a, "day", month, value)
    return revenue


def test_shift_months_clips_the_day_to_the_month():
    assert shift_months(date(2025, 3, 31), -1) == date(2025, 2, 28)
    assert shift_months(date(2026, 1, 1), -13) == date(2024, 12, 1)


def test_a_month_is_proposed_from_last_year_and_the_changes_over_a_year(
    team_a, revenue_history, django_assert_max_num_queries
):
    # given a January 2026 objective on 1 January 2026: past months k = 1 … 36 back (Dec 2025 … Jan 2023);
    # the 24 changes over a year are the months of 2025 / 2024 and of 2024 / 2023, i.e. RATIOS_2025 + RATIOS_2024,
    # sorted: 0.90 | 0.95 | 1.00 ×3 (3rd–5th) | 1.05 ×4 (6th–9th) | 1.10 ×6 (10th–15th) | 1.15 ×2 (16th–17th)
    #         | 1.20 ×3 (18th–20th) | 1.25 ×3 (21st–23rd) | 1.30 (24th)
    # last year (January 2025) = 132; outcomes = 132 × each change
    with django_assert_max_num_queries(2):  # the months (stored periods) at once, and last year's months
        proposal = target_proposal(
            kpi=revenue_history, team=team_a, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
        )
    assert proposal.method == SEASONAL
    assert proposal.last_year == D("132")
    assert len(proposal.changes) == 24
    assert proposal.previous == D("253")  # December 2025
    # minimum: the (⌊0.2 × 24⌋ + 1) = 5th = 132 × 1.00 = 132, reached by the 3rd … 24th: 22 of 24 = 91.7 %
    # target: the 13th = 132 × 1.10 = 145.20, reached by the 10th … 24th: 15 of 24 = 62.5 %
    # stretch: the (⌊0.8 × 24⌋ + 1) = 20th = 132 × 1.20 = 158.40, reached by the 18th … 24th: 7 of 24 = 29.2 %
    # (the best month ever, December 2025 = 253, does not cap it)
    got = {v.level: (v.value, v.reached, v.outcomes, v.probability_percent) for v in proposal.values}
    assert got == {
        "minimum": (D("132"), 22, 24, D("91.7")),
        "target": (D("145.20"), 15, 24, D("62.5")),
        "stretch": (D("158.40"), 7, 24, D("29.2")),
    }
    assert proposal.best == D("253")
    # the path of a single month is the whole value, next to January 2025
    [month] = proposal.path
    assert (month.month, month.last_year, month.minimum, month.target, month.stretch) == (
        date(2026, 1, 1),
        D("132"),
        D("132"),
        D("145.20"),
        D("158.40"),
    )
    with translation.override("en"):
        words = target_proposal(
            kpi=revenue_history, team=team_a, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
        ).words
    assert words == (
        "Same period last year: 132 €. Over 24 past spans of this length, the change over a year went from −10 % "
        "to +30 %; each change applied to last year gives one possible outcome. "
        "Minimum 132 €: reached in 22 of 24 outcomes (91.7 %). Target 145.20 €: reached in 15 of 24 outcomes "
        "(62.5 %). Stretch 158.40 €: reached in 7 of 24 outcomes (29.2 %). Best ever over such a span: 253 €."
    ).replace(" €", "\u00a0€").replace(" %", "\u00a0%")


def test_the_stretch_is_capped_by_the_best_month_ever(team_a, revenue_history):
    # given a December 2025 objective on 1 December 2025: past months Nov 2025 … Jan 2023 (35); 23 changes (the
    # 24 above without December 2025's 1.15): 0.90 | 0.95 | 1.00 ×3 (3–5) | 1.05 ×4 (6–9) | 1.10 ×6 (10–15)
    # | 1.15 (16) | 1.20 ×3 (17–19) | 1.25 ×3 (20–22) | 1.30 (23); last year (December 2024) = 220
    proposal = target_proposal(
        kpi=revenue_history, team=team_a, start=date(2025, 12, 1), end=date(2026, 1, 1), today=date(2025, 12, 1)
    )
    # minimum: (⌊4.6⌋ + 1) = 5th = 220 × 1.00 = 220, reached by the 3rd … 23rd: 21 of 23
    # target: (⌊11.5⌋ + 1) = 12th = 220 × 1.10 = 242, reached by the 10th … 23rd: 14 of 23
    # stretch: 19th = 220 × 1.20 = 264 — beyond the best month ever (220, December 2024), and the target 242
    # already is: the stretch is the target
    got = {v.level: (v.value, v.reached, v.outcomes) for v in proposal.values}
    assert got == {"minimum": (D("220"), 21, 23), "target": (D("242.00"), 14, 23), "stretch": (D("242.00"), 14, 23)}
    assert proposal.best == D("220")
    with translation.override("en"):
        words = target_proposal(
            kpi=revenue_history, team=team_a, start=date(2025, 12, 1), end=date(2026, 1, 1), today=date(2025, 12, 1)
        ).words
    assert words.endswith(
        "The target is already beyond the best ever over such a span (220\u00a0€): the stretch is the target."
    )


def test_a_quarter_without_trend_proposes_last_years_quarter_phased_like_it(team_a, revenue, store):
    # given the same twelve months every year 2023–2025 (REVENUE_2023), booked on their first day
    for year in (2023, 2024, 2025):
        for month, value in enumerate(REVENUE_2023, start=1):
            store(revenue, team_a, "month", date(year, month, 1), value)
            store(revenue, team_a, "day", date(year, month, 1), value)
    # when Q1 2026 is proposed on 1 January 2026: spans of 3 months ending by 1 January (k = 3 … 36), 22 of them
    # with the same span a year earlier (k = 3 … 24), every change = 1
    proposal = target_proposal(
        kpi=revenue, team=team_a, start=date(2026, 1, 1), end=date(2026, 4, 1), today=date(2026, 1, 1)
    )
    # then every outcome is Q1 2025 = 100 + 100 + 120 = 320, reached in 22 of 22
    assert proposal.method == SEASONAL
    assert proposal.last_year == D("320")
    assert [(v.value, v.reached, v.outcomes) for v in proposal.values] == [(D("320"), 22, 22)] * 3
    # and the best quarter ever: September–November or October–December = 120 + 160 + 200 = 480 (not binding)
    assert proposal.best == D("480")
    # the path: 320 spread like January–March 2025 (100, 100, 120)
    assert [(m.month, m.last_year, m.target) for m in proposal.path] == [
        (date(2026, 1, 1), D("100"), D("100.00")),
        (date(2026, 2, 1), D("100"), D("100.00")),
        (date(2026, 3, 1), D("120"), D("120.00")),
    ]


def test_a_rate_where_lower_is_better_moves_by_points_and_reverses_the_quantiles(team_a, churn, store):
    # given a monthly churn rate (%) from July 2024 to December 2025
    rates = {
        date(2024, 7, 1): "5.0", date(2024, 8, 1): "5.0", date(2024, 9, 1): "6.0",
        date(2024, 10, 1): "6.0", date(2024, 11, 1): "7.0", date(2024, 12, 1): "8.0",
        date(2025, 1, 1): "6.0", date(2025, 2, 1): "5.5", date(2025, 3, 1): "5.5",
        date(2025, 4, 1): "5.5", date(2025, 5, 1): "5.5", date(2025, 6, 1): "5.5",
        date(2025, 7, 1): "4.0", date(2025, 8, 1): "5.5", date(2025, 9, 1): "5.0",
        date(2025, 10, 1): "6.5", date(2025, 11, 1): "5.5", date(2025, 12, 1): "6.0",
    }  # fmt: skip
    for month, value in rates.items():
        store(churn, team_a, "month", month, value)
    # when January 2026 is proposed: changes over a year, in points, for July–December 2025:
    # −1.0, +0.5, −1.0, +0.5, −1.5, −2.0; last year (January 2025) 6.0 → outcomes 5.0, 6.5, 5.0, 6.5, 4.5, 4.0,
    # from worst (highest) to best: 6.5, 6.5, 5.0, 5.0, 4.5, 4.0
    proposal = target_proposal(
        kpi=churn, team=team_a, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
    )
    assert proposal.method == SEASONAL
    assert sorted(proposal.changes) == [D("-2.0"), D("-1.5"), D("-1.0"), D("-1.0"), D("0.5"), D("0.5")]
    # minimum: (⌊1.2⌋ + 1) = 2nd = 6.5 %, at or below it: 6 of 6; target: 4th = 5.0 %, 4 of 6 (66.7 %);
    # stretch: (⌊4.8⌋ + 1) = 5th = 4.5 %, 2 of 6 (33.3 %); the best (lowest) month 4.0 % does not cap it
    got = {v.level: (v.value, v.reached, v.probability_percent) for v in proposal.values}
    assert got == {
        "minimum": (D("6.50"), 6, D("100.0")),
        "target": (D("5.00"), 4, D("66.7")),
        "stretch": (D("4.50"), 2, D("33.3")),
    }
    # a rate's path goes in a straight line from the preceding month (December 2025, 6.0 %): one month → the value
    assert [(m.minimum, m.target, m.stretch) for m in proposal.path] == [(D("6.50"), D("5.00"), D("4.50"))]


def test_less_than_two_years_uses_the_past_spans_as_they_were(team_a, revenue, store):
    # given six months of revenue, July–December 2025: 100, 110, 120, 130, 140, 150
    for i, value in enumerate((100, 110, 120, 130, 140, 150)):
        store(revenue, team_a, "month", date(2025, 7 + i, 1), value)
    proposal = target_proposal(
        kpi=revenue, team=team_a, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
    )
    # then the outcomes are the six months: minimum 2nd = 110 (5 of 6), target 4th = 130 (3 of 6),
    # stretch (⌊4.8⌋ + 1) = 5th = 140 (2 of 6)
    assert proposal.method == PAST_SPANS
    assert [(v.value, v.reached) for v in proposal.values] == [(D("110"), 5), (D("130"), 3), (D("140"), 2)]
    with translation.override("en"):
        words = target_proposal(
            kpi=revenue, team=team_a, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
        ).words
    assert words.startswith("Less than two years of history: the outcomes are the 6 past spans")


def test_spans_before_the_first_records_are_no_history(team_a, revenue, store):
    # given six months of revenue (July–December 2025) and zeros stored for the six months before
    for i, value in enumerate((0, 0, 0, 0, 0, 0, 100, 110, 120, 130, 140, 150)):
        store(revenue, team_a, "month", date(2025, 1 + i, 1), value)
    proposal = target_proposal(
        kpi=revenue, team=team_a, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
    )
    # then the zeros are left out: the same six outcomes as above, minimum 110 (5 of 6), not 0
    assert [(v.value, v.reached, v.outcomes) for v in proposal.values] == [
        (D("110"), 5, 6),
        (D("130"), 3, 6),
        (D("140"), 2, 6),
    ]


def test_no_history_proposes_nothing_and_says_so(team_a, revenue, store):
    # given three months only (fewer than 4 past spans)
    for month in (10, 11, 12):
        store(revenue, team_a, "month", date(2025, month, 1), 100)
    with translation.override("en"):
        proposal = target_proposal(
            kpi=revenue, team=team_a, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
        )
    assert proposal.method == NONE
    assert proposal.values == () and proposal.path == ()
    assert "Not enough history: 3 past spans" in proposal.words


def test_another_teams_history_is_not_read(team_a, team_b, revenue_history):
    # team B has no values at all: nothing is proposed for it
    proposal = target_proposal(
        kpi=revenue_history, team=team_b, start=date(2026, 1, 1), end=date(2026, 2, 1), today=date(2026, 1, 1)
    )
    assert proposal.method == NONE
