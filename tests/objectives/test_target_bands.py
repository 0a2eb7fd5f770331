"""Target bands: minimum / target / stretch in the one status function, their validation and the chart lines."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import translation

from objectives import progress, services
from objectives.models import Objective
from objectives.progress import Phase, TargetPlan, status_of

Q1 = {"start": date(2025, 1, 1), "end": date(2025, 4, 1)}  # 90 days


@pytest.mark.parametrize(
    ("minimum", "status"),
    [
        (None, progress.AT_RISK),  # 27 900 / 31 000 = 90 % of the pace: at risk
        (D("72000"), progress.AT_RISK),  # minimum pace 72 000 × 31 / 90 = 24 800 ≤ 27 900
        (D("81000"), progress.AT_RISK),  # minimum pace 81 000 × 31 / 90 = 27 900: just on it
        (D("85000"), progress.OFF_TRACK),  # minimum pace 85 000 × 31 / 90 = 29 277.78 > 27 900: behind it
    ],
)
def test_a_sum_behind_its_minimums_pace_is_off_track(minimum, status):
    # given 90 000 over Q1 and 27 900 by 1 February (31 days): target pace 90 000 × 31 / 90 = 31 000
    plan = TargetPlan(**Q1, target=D("90000"), minimum=minimum, stretch=D("100000"))
    assert status_of(plan, D("27900"), date(2025, 2, 1)) == status


def test_a_rate_where_lower_is_better_behind_its_minimum_is_off_track():
    # given churn from 6 % to 4 % over Q1, minimum 5 %, on 15 February (45 of 90 days), critical threshold 10 %
    plan = TargetPlan(
        **Q1,
        target=D("4"),
        baseline=D("6"),
        minimum=D("5"),
        direction="lower",
        additive=False,
        critical_percent=D("10"),
        warning_percent=D("10"),
    )
    today = date(2025, 2, 15)
    # expected: target 6 + (4 − 6) × 45/90 = 5.0; minimum 6 + (5 − 6) × 45/90 = 5.5
    # 5.6: 40 % of the target's way (above the 10 % threshold) but (6 − 5.6) / (6 − 5.5) = 80 % of the minimum's
    assert status_of(plan, D("5.6"), today) == progress.OFF_TRACK
    # 5.4: 60 % of the target's way, 120 % of the minimum's: at risk
    assert status_of(plan, D("5.4"), today) == progress.AT_RISK
    # 5.0: on the target's pace
    assert status_of(plan, D("5.0"), today) == progress.ON_TRACK


def test_a_phased_minimum_follows_the_phases_shape():
    # given 10 000 / 30 000 / 50 000 phased over Q1 (90 000), minimum 45 000 (half: 5 000 / 15 000 / 25 000),
    # critical threshold 10 %, on 1 February: expected 10 000, the minimum's 5 000
    phases = (
        Phase(date(2025, 1, 1), D("10000")),
        Phase(date(2025, 2, 1), D("30000")),
        Phase(date(2025, 3, 1), D("50000")),
    )
    plan = TargetPlan(
        **Q1, target=D("90000"), minimum=D("45000"), phases=phases, critical_percent=D("10"), warning_percent=D("10")
    )
    assert status_of(plan, D("6000"), date(2025, 2, 1)) == progress.AT_RISK
    assert status_of(plan, D("4900"), date(2025, 2, 1)) == progress.OFF_TRACK


def test_the_band_does_not_change_the_end_of_the_period():
    plan = TargetPlan(**Q1, target=D("90000"), minimum=D("80000"), stretch=D("100000"))
    assert status_of(plan, D("85000"), date(2025, 4, 1)) == progress.MISSED
    assert status_of(plan, D("90000"), date(2025, 4, 1)) == progress.ACHIEVED


@pytest.mark.django_db
def test_the_stored_status_and_chart_carry_the_band(team_a, manager_a, revenue, store_daily):
    # given 900 € a day in January 2025 (27 900 by 1 February), 90 000 aimed, minimum 85 000, stretch 100 000
    store_daily(revenue, team_a, date(2025, 1, 1), date(2025, 2, 1), 900)
    objective = services.objective_create(
        team=team_a,
        owner=manager_a,
        title="Q1",
        start_date=date(2025, 1, 1),
        due_date=date(2025, 3, 31),
        targets=[
            {"kpi": revenue, "target_value": D("90000"), "minimum_value": D("85000"), "stretch_value": D("100000")}
        ],
        today=date(2025, 2, 1),
    )
    target = objective.targets.get()
    # then behind the minimum's pace (29 277.78): off track, the objective too
    assert (target.status, objective.progress_status) == ("off_track", "off_track")
    points = len(target.chart["labels"])
    assert target.chart["minimum"] == [85000.0] * points
    assert target.chart["stretch"] == [100000.0] * points
    # when the minimum is removed, the status is back to at risk (90 % of the pace) and the line is gone
    services.objective_update(
        objective=objective,
        targets=[{"id": target.pk, "kpi": revenue, "target_value": D("90000"), "minimum_value": None}],
        today=date(2025, 2, 1),
    )
    target.refresh_from_db()
    assert target.status == "at_risk" and "minimum" not in target.chart and target.stretch_value == D("100000")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kpi_name", "band", "field", "message"),
    [
        ("revenue", {"minimum_value": D("95000")}, "minimum_value", "The minimum must be at or below the target."),
        ("revenue", {"stretch_value": D("80000")}, "stretch_value", "The stretch must be at or above the target."),
        (
            "churn",
            {"minimum_value": D("3")},
            "minimum_value",
            "The minimum must be at or above the target (lower is better).",
        ),
    ],
)
def test_a_band_on_the_wrong_side_says_so(request, team_a, manager_a, kpi_name, band, field, message):
    kpi = request.getfixturevalue(kpi_name)
    value = D("90000") if kpi_name == "revenue" else D("4")
    with translation.override("en"), pytest.raises(services.ObjectiveError) as error:
        services.objective_create(
            team=team_a,
            owner=manager_a,
            title="Q1",
            start_date=date(2025, 1, 1),
            due_date=date(2025, 3, 31),
            targets=[{"kpi": kpi, "target_value": value, **band}],
            today=date(2025, 2, 1),
        )
    assert error.value.errors["targets"][0] == {field: [message]}
    assert not Objective.objects.exists()
