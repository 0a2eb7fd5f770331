"""Objectives services: baselines, progress snapshots, phasing and cascade on stored KPI values."""

from datetime import date
from decimal import Decimal as D

import pytest
import time_machine
from django.utils import translation

from objectives import selectors, services
from objectives.models import Objective, Phasing
from tests import factories

pytestmark = pytest.mark.django_db


def q1_revenue(team, owner, revenue, **extra) -> Objective:
    """Q1 2025 revenue objective, 90 000 as of 1 February; `extra` goes to its target."""
    return factories.objective(
        team=team,
        owner=owner,
        kpi=revenue,
        title="Grow Q1 revenue online",
        description="More revenue from the web shop this quarter.",
        start_date=date(2025, 1, 1),
        due_date=date(2025, 3, 31),
        target_value=D("90000"),
        today=date(2025, 2, 1),
        **extra,
    )


def test_baseline_defaults_to_the_preceding_period_of_the_same_length(team_a, manager_a, revenue, store_daily):
    # given 1 000 €/day stored over the 90 days before Q1 2025 ([2024-10-03, 2025-01-01))
    store_daily(revenue, team_a, date(2024, 10, 3), date(2025, 1, 1), 1000)
    # and 5 000 €/day on 2 October (outside the window)
    store_daily(revenue, team_a, date(2024, 10, 2), date(2024, 10, 3), 5000)
    objective = q1_revenue(team_a, manager_a, revenue)
    # then baseline = 90 × 1 000 = 90 000
    assert objective.targets.get().baseline_value == D("90000")


def test_a_given_baseline_is_kept(team_a, manager_a, revenue):
    objective = q1_revenue(team_a, manager_a, revenue, baseline_value=D("70000"))
    assert objective.targets.get().baseline_value == D("70000")


def test_progress_snapshot_of_a_revenue_target(team_a, manager_a, revenue, store_daily):
    # given 900 €/day in January 2025: 31 × 900 = 27 900 € on 1 February
    store_daily(revenue, team_a, date(2025, 1, 1), date(2025, 2, 1), 900)
    objective = q1_revenue(team_a, manager_a, revenue)
    target = objective.targets.get()
    # then (see test_progress): expected 31 000, forecast 81 000, 31 %: at risk (the forecast misses 90 000)
    assert target.current_value == D("27900")
    assert target.expected_value_today == D("31000")
    assert target.forecast_value == D("81000")
    assert target.progress_percent == D("31")
    assert target.status == "at_risk"
    assert objective.progress_status == "at_risk"
    # push harder or drop it: 900 a day so far, (90 000 − 27 900) / 59 days left = 1 052.54 a day needed, and no
    # 59-day span in the history (31 days of it) to compare with
    assert (target.pace_so_far, target.required_pace.quantize(D("0.01")), target.best_pace) == (
        D("900"),
        D("1052.54"),
        None,
    )
    assert (target.recommendation, target.recommendation_reason) == ("reinforce", "no_history")
    assert target.chart["labels"][0] == "2025-01-01"
    assert target.chart["target"][0] == 90000.0


@pytest.mark.parametrize(
    ("autumn_per_day", "recommendation", "reason"),
    [("1100", "reinforce", "within_best"), ("1000", "revise", "beyond_best")],
)
def test_the_required_pace_is_weighed_against_the_best_in_the_history(
    team_a, manager_a, revenue, store_daily, autumn_per_day, recommendation, reason
):
    # given October–December 2024 at `autumn_per_day` and January at 900 €/day: on 1 February 1 052.54 a day is
    # needed for 59 days; the best 59-day span of the history is the autumn's daily average
    store_daily(revenue, team_a, date(2024, 10, 1), date(2025, 1, 1), D(autumn_per_day))
    store_daily(revenue, team_a, date(2025, 1, 1), date(2025, 2, 1), 900)
    target = q1_revenue(team_a, manager_a, revenue).targets.get()
    # then 1 100 a day was done before (push harder), 1 000 never covers 1 052.54 (revise or drop)
    assert target.best_pace == D(autumn_per_day)
    assert (target.recommendation, target.recommendation_reason) == (recommendation, reason)


def test_past_objective_missed_and_achieved(team_a, manager_a, revenue, store_daily):
    # given 1 000 €/day over Q1 (90 000 €) and the objective asked 95 000 €
    store_daily(revenue, team_a, date(2025, 1, 1), date(2025, 4, 1), 1000)
    objective = q1_revenue(team_a, manager_a, revenue)
    services.objective_update(
        objective=objective,
        targets=[{"id": objective.targets.get().pk, "kpi": revenue, "target_value": D("95000")}],
        today=date(2025, 5, 1),
    )
    target = objective.targets.get()
    assert (target.current_value, target.status) == (D("90000"), "missed")
    assert Objective.objects.get(pk=objective.pk).progress_status == "missed"
    # when lowered to 90 000: reached
    services.objective_update(
        objective=objective,
        targets=[{"id": target.pk, "kpi": revenue, "target_value": D("90000")}],
        today=date(2025, 5, 1),
    )
    assert objective.targets.get().status == "achieved"


def test_objective_status_is_its_worst_targets(team_a, manager_a, revenue, churn, store_daily, store):
    # revenue 27 900 on 1 February: at risk (forecast 81 000 < 90 000); churn for January stored 5 % (end-judged,
    # from 5 to 4): no move
    store_daily(revenue, team_a, date(2025, 1, 1), date(2025, 2, 1), 900)
    store(churn, team_a, "month", date(2025, 1, 1), "5")
    objective = services.objective_create(
        team=team_a,
        owner=manager_a,
        title="Grow and keep customers",
        start_date=date(2025, 1, 1),
        due_date=date(2025, 3, 31),
        targets=[
            {"kpi": revenue, "target_value": D("90000")},
            {"kpi": churn, "target_value": D("4"), "baseline_value": D("5"), "judged": "end"},
        ],
        today=date(2025, 2, 1),
    )
    statuses = dict(objective.targets.values_list("kpi__code", "status"))
    # churn: expected 5 − 31/90 = 4.656, value 5 (January's stored month) → 0 % of the way → off track
    assert statuses == {"revenue": "at_risk", "churn_rate": "off_track"}
    assert objective.progress_status == "off_track"


def test_validation_errors_per_field_and_per_target(team_a, manager_a, revenue):
    with translation.override("en"), pytest.raises(services.ObjectiveError) as caught:
        services.objective_create(
            team=team_a,
            owner=manager_a,
            title="x",
            start_date=date(2025, 3, 1),
            due_date=date(2025, 1, 1),
            targets=[{"kpi": revenue, "target_value": None}],
        )
    assert caught.value.errors == {
        "due_date": ["The due date must be on or after the start date."],
        "targets": [{"target_value": ["Enter a target value."]}],
    }
    assert Objective.objects.count() == 0


def test_even_phasing_adds_up_and_manual_phasing_that_does_not_is_reported(team_a, manager_a, revenue):
    objective = q1_revenue(team_a, manager_a, revenue)
    target = objective.targets.get()
    services.target_phasing_set(target=target, mode=Phasing.EVEN, today=date(2025, 2, 1))
    assert [p.value for p in target.phases.all()] == [D("30000")] * 3
    assert selectors.phasing_check(target=target).ok
    # manual: 20 000 + 30 000 + 30 000 = 80 000 ≠ 90 000
    months = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    values = dict(zip(months, [D("20000"), D("30000"), D("30000")], strict=True))
    services.target_phasing_set(target=target, mode=Phasing.MANUAL, values=values, today=date(2025, 2, 15))
    check = selectors.phasing_check(target=target)
    assert (check.ok, check.total, check.difference) == (False, D("80000"), D("-10000"))
    # expected on 15 February = 20 000 + 30 000 × 14/28 = 35 000
    target.refresh_from_db()
    assert target.expected_value_today == D("35000")


def test_seasonal_phasing_follows_last_years_months(team_a, manager_a, revenue, store):
    # given January, February, March 2024 stored at 100, 100, 200
    for month, value in ((1, 100), (2, 100), (3, 200)):
        store(revenue, team_a, "month", date(2024, month, 1), value)
    target = q1_revenue(team_a, manager_a, revenue).targets.get()
    services.target_phasing_set(target=target, mode=Phasing.SEASONAL, today=date(2025, 2, 1))
    assert [p.value for p in target.phases.all()] == [D("22500"), D("22500"), D("45000")]


def test_seasonal_phasing_without_history_is_refused(team_a, manager_a, revenue):
    target = q1_revenue(team_a, manager_a, revenue).targets.get()
    with pytest.raises(services.ObjectiveError):
        services.target_phasing_set(target=target, mode=Phasing.SEASONAL)
    assert target.phases.count() == 0


def test_cascade_sums_children_targets_on_the_same_kpi(make_team, make_user, revenue):
    parent_team = make_team("sales", name="Ventes")
    north = make_team("north", parent=parent_team)
    south = make_team("south", parent=parent_team)
    boss = make_user("boss", team=parent_team, role="manager")
    parent = services.objective_create(
        team=parent_team,
        owner=boss,
        title="Sales revenue for Q1",
        start_date=date(2025, 1, 1),
        due_date=date(2025, 3, 31),
        targets=[{"kpi": revenue, "target_value": D("100000")}],
        today=date(2025, 1, 1),
    )
    for team, value in ((north, "60000"), (south, "30000")):
        services.objective_create(
            team=team,
            owner=boss,
            title=f"{team.slug} revenue for Q1",
            parent=parent,
            start_date=date(2025, 1, 1),
            due_date=date(2025, 3, 31),
            targets=[{"kpi": revenue, "target_value": D(value)}],
            today=date(2025, 1, 1),
        )
    row = selectors.cascade(objective=parent)["rows"][0]
    # 60 000 + 30 000 = 90 000, 10 000 short of 100 000
    assert (row["check"].ok, row["check"].total, row["check"].difference) == (False, D("90000"), D("-10000"))
    assert len(row["contributions"]) == 2


def test_parent_objective_of_another_team_is_refused(team_a, team_b, manager_a, manager_b, revenue):
    other = q1_revenue(team_b, manager_b, revenue)
    with translation.override("en"), pytest.raises(services.ObjectiveError) as caught:
        services.objective_create(
            team=team_a,
            owner=manager_a,
            title="Child of another team",
            parent=other,
            start_date=date(2025, 1, 1),
            due_date=date(2025, 3, 31),
            targets=[{"kpi": revenue, "target_value": D("1")}],
        )
    assert caught.value.errors == {"parent": ["The parent objective must belong to this team or to a parent team."]}


def test_refresh_with_time_machine_uses_today(team_a, manager_a, revenue, store_daily):
    store_daily(revenue, team_a, date(2025, 1, 1), date(2025, 2, 1), 900)
    objective = q1_revenue(team_a, manager_a, revenue)
    with time_machine.travel("2025-02-01 10:00:00+01:00", tick=False):
        assert services.objectives_progress_refresh(kpi_ids=[revenue.pk], team_ids=[team_a.pk]) == 1
    assert objective.targets.get().expected_value_today == D("31000")
