"""Pace, forecast and status of a target on hand-computed cases (objectives/progress.py)."""

from datetime import date
from decimal import Decimal as D

import pytest

from objectives import progress as p

# Q1 2025: 1 January to 31 March inclusive = [2025-01-01, 2025-04-01), 31 + 28 + 31 = 90 days.
Q1 = {"start": date(2025, 1, 1), "end": date(2025, 4, 1)}


def revenue_plan(**extra) -> p.TargetPlan:
    return p.TargetPlan(**Q1, target=D("90000"), baseline=D("80000"), direction=p.HIGHER, additive=True, **extra)


def churn_plan(**extra) -> p.TargetPlan:
    return p.TargetPlan(**Q1, target=D("4"), baseline=D("5"), direction=p.LOWER, additive=False, **extra)


def test_revenue_expected_pace_forecast_and_rate_on_first_of_february():
    # given Q1 revenue target 90 000 €, on 1 February (31 of 90 days elapsed), 27 900 € so far
    result = p.target_progress(plan=revenue_plan(), current_value=D("27900"), today=date(2025, 2, 1))
    # then expected = 90 000 × 31 / 90 = 31 000; forecast = 27 900 / 31 × 90 = 81 000;
    # progress = 27 900 / 90 000 = 31 %; still needed (90 000 − 27 900) / 59 days = 1 052.54 €/day;
    # pace 27 900 / 31 000 = 90 %: the forecast 81 000 misses the 90 000 → at risk, never "on track"
    assert result.expected_value_today == D("31000")
    assert result.forecast_value == D("81000")
    assert result.progress_percent == D("31")
    assert result.required_daily_rate.quantize(D("0.01")) == D("1052.54")
    assert (result.elapsed_days, result.total_days) == (31, 90)
    assert result.status == p.AT_RISK


@pytest.mark.parametrize(
    ("value_so_far", "status"),
    [
        ("31000", p.ON_TRACK),  # 100 % of the expected 31 000
        ("30999", p.AT_RISK),  # 99.997 %: the forecast misses the target by a hair
        ("27899", p.AT_RISK),  # 89.997 % < 90 %
        ("23250", p.AT_RISK),  # exactly 75 %: below the warning threshold, not below the critical one
        ("23249", p.OFF_TRACK),  # 74.997 % < 75 %
    ],
)
def test_revenue_status_follows_warning_and_critical_thresholds(value_so_far, status):
    # given expected 31 000 € on 1 February (see above), thresholds 90 % and 75 % of it
    result = p.target_progress(plan=revenue_plan(), current_value=D(value_so_far), today=date(2025, 2, 1))
    assert result.status == status


def test_additive_target_is_achieved_as_soon_as_the_value_so_far_reaches_it():
    result = p.target_progress(plan=revenue_plan(), current_value=D("90000"), today=date(2025, 3, 1))
    assert result.status == p.ACHIEVED
    assert result.required_daily_rate == D("0")


@pytest.mark.parametrize(("value", "status"), [("89999.99", p.MISSED), ("95000", p.ACHIEVED)])
def test_past_revenue_objective_is_achieved_or_missed(value, status):
    # given the period is over on 10 April
    result = p.target_progress(plan=revenue_plan(), current_value=D(value), today=date(2025, 4, 10))
    assert result.status == status
    # then the forecast is the final value: value / 90 days × 90 days
    assert result.forecast_value == D(value)
    assert result.required_daily_rate is None


def test_churn_lower_is_better_moves_from_baseline_to_target():
    # given churn baseline 5 %, target 4 %; on 15 February 45 of 90 days elapsed
    result = p.target_progress(plan=churn_plan(), current_value=D("4.6"), today=date(2025, 2, 15))
    # then expected = 5 + (4 − 5) × 45 / 90 = 4.5; progress (4.6 − 5) / (4 − 5) = 40 %;
    # pace (4.6 − 5) / (4.5 − 5) = 80 % → at risk; forecast: the same pace along the path, 5 − 0.8 × 1 = 4.2
    # (short of 4: consistent with "at risk"); no daily rate for a rate
    assert result.expected_value_today == D("4.5")
    assert result.progress_percent == D("40")
    assert result.forecast_value == D("4.2")
    assert result.required_daily_rate is None
    assert result.status == p.AT_RISK


@pytest.mark.parametrize(
    ("churn", "today", "status"),
    [
        ("4.5", date(2025, 2, 15), p.ON_TRACK),
        ("4.2", date(2025, 2, 15), p.ON_TRACK),  # ahead of pace
        ("5.0", date(2025, 2, 15), p.OFF_TRACK),  # no move at all: 0 %
        ("3.9", date(2025, 3, 20), p.ON_TRACK),  # a rate is achieved only at the end
        ("3.9", date(2025, 4, 1), p.ACHIEVED),
        ("4.2", date(2025, 4, 1), p.MISSED),
    ],
)
def test_churn_status(churn, today, status):
    assert p.status_of(churn_plan(), D(churn), today) == status


def test_lower_is_better_budget_already_exceeded_is_missed():
    # given at most 60 complaints in Q1, 61 by 1 February: sums only grow
    plan = p.TargetPlan(**Q1, target=D("60"), direction=p.LOWER, additive=True)
    assert p.status_of(plan, D("61"), date(2025, 2, 1)) == p.MISSED


def test_lower_is_better_budget_spent_faster_than_planned_is_at_risk():
    # given 60 complaints allowed, on 1 February 60 × 31 / 90 = 20.67 expected, 25 seen
    # then pace = 20.67 / 25 = 82.7 % (reversed: more is worse) → at risk
    plan = p.TargetPlan(**Q1, target=D("60"), direction=p.LOWER, additive=True)
    assert p.status_of(plan, D("25"), date(2025, 2, 1)) == p.AT_RISK
    assert p.status_of(plan, D("20"), date(2025, 2, 1)) == p.ON_TRACK


def test_end_judged_target_uses_the_last_complete_month():
    plan = churn_plan(judged=p.END)
    # before a month is complete: the elapsed part
    assert p.value_window(plan, date(2025, 1, 20)) == (date(2025, 1, 1), date(2025, 1, 20))
    # mid-February: January
    assert p.value_window(plan, date(2025, 2, 15)) == (date(2025, 1, 1), date(2025, 2, 1))
    # after the end: the last month of the period
    assert p.value_window(plan, date(2025, 5, 1)) == (date(2025, 3, 1), date(2025, 4, 1))
    # before the start: nothing to measure
    assert p.value_window(plan, date(2024, 12, 1)) is None


def test_end_judged_additive_target_is_a_level_achieved_only_at_the_end():
    # given "orders per month: from 100 to 130 by March", 131 in February
    plan = p.TargetPlan(**Q1, target=D("130"), baseline=D("100"), additive=True, judged=p.END)
    result = p.target_progress(plan=plan, current_value=D("131"), today=date(2025, 3, 1))
    # then not achieved yet (judged at the end), forecast = the current level, no daily rate
    assert result.status == p.ON_TRACK
    assert result.forecast_value == D("131")
    assert result.required_daily_rate is None
    # expected = 100 + 30 × 59 / 90 = 119.666…
    assert result.expected_value_today.quantize(D("0.001")) == D("119.667")


def test_phased_expected_value_is_finished_months_plus_current_month_pro_rata():
    # given 20 000 in January, 30 000 in February, 40 000 in March; 15 February = 14 of 28 days
    phases = (
        p.Phase(date(2025, 1, 1), D("20000")),
        p.Phase(date(2025, 2, 1), D("30000")),
        p.Phase(date(2025, 3, 1), D("40000")),
    )
    plan = revenue_plan(phases=phases)
    # then expected = 20 000 + 30 000 × 14 / 28 = 35 000
    assert p.expected_value(plan, date(2025, 2, 15)) == D("35000")
    assert p.expected_value(plan, date(2025, 4, 1)) == D("90000")


def test_before_the_start_nothing_is_expected_and_status_is_on_track():
    result = p.target_progress(plan=revenue_plan(), current_value=None, today=date(2024, 12, 20))
    assert result.status == p.ON_TRACK
    assert result.expected_value_today == D("0")
    assert result.forecast_value is None


def test_no_value_once_started_is_at_risk_and_missed_after_the_end():
    assert p.status_of(churn_plan(), None, date(2025, 2, 1)) == p.AT_RISK
    assert p.status_of(churn_plan(), None, date(2025, 4, 2)) == p.MISSED


def test_worst_status_order():
    assert p.worst_status([p.ACHIEVED, p.ON_TRACK, p.AT_RISK]) == p.AT_RISK
    assert p.worst_status([p.ACHIEVED, p.OFF_TRACK, p.MISSED]) == p.MISSED
    assert p.worst_status([p.ACHIEVED]) == p.ACHIEVED
    assert p.worst_status([]) == p.ON_TRACK


def test_even_phasing_of_a_quarter():
    phases = p.phases_even(plan=revenue_plan())
    assert [(ph.month, ph.value) for ph in phases] == [
        (date(2025, 1, 1), D("30000")),
        (date(2025, 2, 1), D("30000")),
        (date(2025, 3, 1), D("30000")),
    ]


def test_even_phasing_prorates_a_partial_first_month_and_adds_up():
    # given 16 January → 31 March: January weighs 16/31, Feb and March 1 each → total 78/31
    plan = p.TargetPlan(start=date(2025, 1, 16), end=date(2025, 4, 1), target=D("90000"))
    values = [ph.value for ph in p.phases_even(plan=plan)]
    # then January = 90 000 × 16/78 = 18 461.54, February = 90 000 × 31/78 = 35 769.23, March the rest
    assert values == [D("18461.54"), D("35769.23"), D("35769.23")]
    assert sum(values) == D("90000")


def test_even_phasing_of_a_rate_is_a_straight_line_to_the_target():
    values = [ph.value for ph in p.phases_even(plan=churn_plan())]
    # 5 → 4 in three steps: 4.67, 4.33, 4
    assert values == [D("4.67"), D("4.33"), D("4.00")]


def test_seasonal_phasing_copies_last_years_shape():
    # given last year: January 100, February 100, March 200 (weights 1:1:2)
    phases = p.phases_seasonal(plan=revenue_plan(), last_year={1: D("100"), 2: D("100"), 3: D("200")})
    assert [ph.value for ph in phases] == [D("22500"), D("22500"), D("45000")]
    # no history for a month: no seasonal phasing
    assert p.phases_seasonal(plan=revenue_plan(), last_year={1: D("100")}) is None


def test_sum_check():
    assert p.sum_check(parts=[D("30000"), D("30000"), D("30000")], whole=D("90000")).ok
    check = p.sum_check(parts=[D("30000"), D("30000")], whole=D("90000"))
    assert not check.ok
    assert check.difference == D("-30000")


def test_the_target_of_a_span_follows_the_phases_or_the_days():
    # given a Q1 revenue target of 9000 phased 2000 / 3000 / 4000 and the same target unphased
    phased = p.TargetPlan(
        start=date(2026, 1, 1),
        end=date(2026, 4, 1),
        target=D(9000),
        phases=(
            p.Phase(date(2026, 1, 1), D(2000)),
            p.Phase(date(2026, 2, 1), D(3000)),
            p.Phase(date(2026, 3, 1), D(4000)),
        ),
    )
    even = p.TargetPlan(start=date(2026, 1, 1), end=date(2026, 4, 1), target=D(9000))
    span = p.target_for_span
    # March is its phase; its first 14 days 14/31 of it; 15 Jan – 14 Feb: 17/31 of January + 14/28 of February
    assert span(phased, date(2026, 3, 1), date(2026, 3, 31)) == D(4000)
    assert span(phased, date(2026, 3, 1), date(2026, 3, 14)) == D(4000) * 14 / 31
    assert span(phased, date(2026, 1, 15), date(2026, 2, 14)) == D(2000) * 17 / 31 + D(3000) * 14 / 28
    # unphased: pro rata of the days (March: 31 of 90)
    assert span(even, date(2026, 3, 1), date(2026, 3, 31)) == D(9000) * 31 / 90
    # a rate is aimed at as is, and a span outside the objective has no target
    rate = p.TargetPlan(start=date(2026, 1, 1), end=date(2026, 4, 1), target=D(45), additive=False)
    assert span(rate, date(2026, 3, 1), date(2026, 3, 31)) == D(45)
    assert span(even, date(2026, 4, 1), date(2026, 4, 30)) is None


def test_push_harder_or_drop_it_from_the_paces():
    # given Q1 revenue of 90 000 (90 days); on 1 March (59 days done, 31 left) 40 000 so far: 677.97 a day so far,
    # 50 000 still missing = 1 612.90 a day needed
    plan = revenue_plan()
    today = date(2025, 3, 1)
    at_risk = p.target_outlook(plan=plan, current=D(40000), status=p.AT_RISK, today=today, best_pace=D(2000))
    assert at_risk.pace_so_far == D(40000) / 59
    assert at_risk.required_pace == D(50000) / 31
    # the team once did 2 000 a day over 31 days: push harder
    assert (at_risk.recommendation, at_risk.reason) == (p.REINFORCE, "within_best")
    # its best was 1 500 a day: beyond anything it has done, revise or drop
    beyond = p.target_outlook(plan=plan, current=D(40000), status=p.OFF_TRACK, today=today, best_pace=D(1500))
    assert (beyond.recommendation, beyond.reason) == (p.REVISE, "beyond_best")
    # on track: maintain, whatever the history
    fine = p.target_outlook(plan=plan, current=D(60000), status=p.ON_TRACK, today=today, best_pace=None)
    assert (fine.recommendation, fine.reason) == (p.MAINTAIN, "on_track")
    # 5 days left of 90 (under a tenth) and behind: too late, revise
    late = p.target_outlook(plan=plan, current=D(70000), status=p.AT_RISK, today=date(2025, 3, 27), best_pace=D(9999))
    assert (late.recommendation, late.reason) == (p.REVISE, "nearly_over")
    # no history to compare with: push harder, and say why
    unknown = p.target_outlook(plan=plan, current=D(40000), status=p.AT_RISK, today=today, best_pace=None)
    assert (unknown.recommendation, unknown.reason) == (p.REINFORCE, "no_history")
    # the period is over: nothing to recommend
    assert (
        p.target_outlook(
            plan=plan, current=D(1), status=p.MISSED, today=date(2025, 4, 2), best_pace=None
        ).recommendation
        == ""
    )


def test_a_level_target_is_weighed_against_the_best_level_reached():
    # churn to bring from 5 % to 4 % (lower is better), at risk: the team's best quarter was 3.8 % → push harder
    plan = churn_plan()
    today = date(2025, 2, 1)
    within = p.target_outlook(plan=plan, current=D("4.8"), status=p.AT_RISK, today=today, best_pace=D("3.8"))
    assert (within.recommendation, within.pace_so_far, within.required_pace) == (p.REINFORCE, None, None)
    # never better than 4.5 %: revise
    beyond = p.target_outlook(plan=plan, current=D("4.8"), status=p.AT_RISK, today=today, best_pace=D("4.5"))
    assert beyond.recommendation == p.REVISE


def test_a_rate_without_baseline_has_a_gap_not_a_percentage_of_the_way():
    # given a win rate target of 45 % without baseline, 37.9 % on 15 February
    plan = p.TargetPlan(**Q1, target=D("45"), additive=False)
    result = p.target_progress(plan=plan, current_value=D("37.9"), today=date(2025, 2, 15))
    # then no "0 % of the way" (there is no way without a starting point), and the forecast misses: at risk
    assert result.progress_percent is None
    assert result.forecast_value == D("37.9")
    assert result.status == p.AT_RISK  # 37.9 / 45 = 84 %: short of the target, above the 75 % critical line
