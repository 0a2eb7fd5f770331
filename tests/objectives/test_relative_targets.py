"""Relative targets (« +20 % vs la même période l'an dernier », « vs baseline »): a value at save, kept relative."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import translation

from objectives import services
from objectives.models import Objective, RelativeBasis

pytestmark = pytest.mark.django_db

TODAY = date(2026, 1, 1)


def q1_2026(team, owner, kpi, **target) -> Objective:
    return services.objective_create(
        team=team,
        owner=owner,
        title="Q1 2026",
        start_date=date(2026, 1, 1),
        due_date=date(2026, 3, 31),
        targets=[{"kpi": kpi, **target}],
        today=TODAY,
    )


def test_plus_20_percent_vs_last_year_follows_a_recomputed_last_year(team_a, manager_a, revenue, store):
    # given Q1 2025 = 100 000 € (a stored quarter)
    store(revenue, team_a, "quarter", date(2025, 1, 1), 100000)
    objective = q1_2026(team_a, manager_a, revenue, relative_basis=RelativeBasis.LAST_YEAR, relative_percent=D("20"))
    target = objective.targets.get()
    # then the target is 100 000 × 1.20 = 120 000
    assert target.target_value == D("120000")
    # when Q1 2025 is recomputed to 110 000 (late orders) and progress refreshed, as after a recompute
    store(revenue, team_a, "quarter", date(2025, 1, 1), 110000)
    assert services.objectives_progress_refresh(kpi_ids=[revenue.pk], today=TODAY) == 1
    # then the target follows: 110 000 × 1.20 = 132 000, still relative
    target.refresh_from_db()
    assert (target.target_value, target.relative_basis, target.relative_percent) == (
        D("132000"),
        RelativeBasis.LAST_YEAR,
        D("20"),
    )


def test_vs_baseline_follows_a_recomputed_baseline(team_a, manager_a, revenue, store_daily):
    # given 600 € a day over the 90 days before Q1 2026 (3 October – 31 December 2025): baseline 54 000
    store_daily(revenue, team_a, date(2025, 10, 3), date(2026, 1, 1), 600)
    objective = q1_2026(team_a, manager_a, revenue, relative_basis=RelativeBasis.BASELINE, relative_percent=D("10"))
    target = objective.targets.get()
    # then target = 54 000 × 1.10 = 59 400
    assert (target.baseline_value, target.target_value) == (D("54000"), D("59400"))
    # when those days are recomputed to 700 € a day (90 × 700 = 63 000)
    store_daily(revenue, team_a, date(2025, 10, 3), date(2026, 1, 1), 700)
    services.objectives_progress_refresh(today=TODAY)
    target.refresh_from_db()
    # then the baseline is recomputed and the target follows: 63 000 × 1.10 = 69 300
    assert (target.baseline_value, target.target_value) == (D("63000"), D("69300"))


def test_minus_10_percent_on_a_rate_where_lower_is_better(team_a, manager_a, churn, store):
    # given a churn rate of 5 % over Q1 2025
    store(churn, team_a, "quarter", date(2025, 1, 1), "5.0")
    objective = q1_2026(team_a, manager_a, churn, relative_basis=RelativeBasis.LAST_YEAR, relative_percent=D("-10"))
    # then 5.0 × 0.90 = 4.50 %
    assert objective.targets.get().target_value == D("4.5")


def test_a_fixed_target_is_not_moved_by_the_refresh(team_a, manager_a, revenue, store):
    store(revenue, team_a, "quarter", date(2025, 1, 1), 100000)
    objective = q1_2026(team_a, manager_a, revenue, target_value=D("90000"))
    store(revenue, team_a, "quarter", date(2025, 1, 1), 200000)
    services.objectives_progress_refresh(today=TODAY)
    assert objective.targets.get().target_value == D("90000")


def test_no_value_last_year_is_an_error_and_nothing_is_written(team_a, manager_a, revenue):
    with translation.override("en"), pytest.raises(services.ObjectiveError) as error:
        q1_2026(team_a, manager_a, revenue, relative_basis=RelativeBasis.LAST_YEAR, relative_percent=D("20"))
    assert error.value.errors["targets"][0]["relative_basis"] == [
        "Revenue has no value over the same period last year: enter the target as a value."
    ]
    assert not Objective.objects.exists()


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        (
            {"relative_basis": RelativeBasis.LAST_YEAR},
            "relative_percent",
            "Enter the change in percent, e.g. 20 for +20 %.",
        ),
        (
            {"target_value": D("10"), "relative_percent": D("20")},
            "relative_basis",
            "Say what the change in percent is relative to.",
        ),
        (
            {"relative_basis": RelativeBasis.BASELINE, "relative_percent": D("20"), "baseline_value": D("5")},
            "baseline_value",
            "A target relative to the baseline reads the baseline from the history: leave the baseline empty.",
        ),
        (
            {"relative_basis": "last_month", "relative_percent": D("20")},
            "relative_basis",
            "Choose what the target is relative to.",
        ),
        (
            {"relative_basis": RelativeBasis.LAST_YEAR, "relative_percent": D("-100")},
            "relative_percent",
            "A change of −100 % or less leaves nothing to aim at.",
        ),
    ],
)
def test_a_malformed_relative_target_says_what_is_wrong(team_a, manager_a, revenue, target, field, message):
    with translation.override("en"), pytest.raises(services.ObjectiveError) as error:
        q1_2026(team_a, manager_a, revenue, **target)
    assert error.value.errors["targets"][0][field] == [message]
    assert not Objective.objects.exists()


def test_an_evenly_phased_relative_target_is_spread_again_when_it_moves(team_a, manager_a, revenue, store):
    # given Q1 2025 = 90 000 €: +20 % → 108 000, phased evenly: 36 000 a month (three whole months)
    store(revenue, team_a, "quarter", date(2025, 1, 1), 90000)
    objective = q1_2026(team_a, manager_a, revenue, relative_basis=RelativeBasis.LAST_YEAR, relative_percent=D("20"))
    target = objective.targets.get()
    services.target_phasing_set(target=target, mode="even", today=TODAY)
    assert [p.value for p in target.phases.all()] == [D("36000")] * 3
    # when Q1 2025 is recomputed to 120 000: the target is 144 000, 48 000 a month
    store(revenue, team_a, "quarter", date(2025, 1, 1), 120000)
    services.objectives_progress_refresh(today=TODAY)
    target.refresh_from_db()
    assert target.target_value == D("144000")
    assert [p.value for p in target.phases.order_by("month")] == [D("48000")] * 3
    # and the expected pace follows the new months: nothing elapsed on 1 January, the chart's target line 144 000
    assert target.chart["target"][0] == 144000.0
