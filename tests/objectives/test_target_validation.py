"""A target the KPI can reach (no negative count, no share above 100 %) on a segment the team's data has."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import translation

from metrics.models import KpiDefinition
from objectives import services
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def kpis(db):
    call_command("load_kpi_catalogue", verbosity=0)
    return {k.code: k for k in KpiDefinition.objects.all()}


def errors_of(team, kpi, value, segment=""):
    with pytest.raises(services.ObjectiveError) as error, translation.override("en"):
        services.objective_create(
            team=team,
            title="T",
            start_date=dt.date(2026, 10, 1),
            due_date=dt.date(2026, 12, 31),
            targets=[{"kpi": kpi, "target_value": D(value), "segment": segment}],
            today=dt.date(2026, 10, 2),
        )
    return error.value.errors["targets"][0]


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        ("orders", "-5", "Orders cannot be below 0."),
        ("revenue", "-0.01", "Revenue cannot be below 0"),
        ("win_rate", "120", "Win rate cannot be above 100"),
        ("churn_rate", "-1", "cannot be below 0"),
        ("nps", "-150", "cannot be below -100"),
        ("nps", "101", "cannot be above 100"),
    ],
)
def test_impossible_targets_are_refused_with_the_kpi_s_bounds(team_a, kpis, code, value, message):
    assert message in " ".join(errors_of(team_a, kpis[code], value)["target_value"])


@pytest.mark.parametrize(("code", "value"), [("sales_growth_rate", "-20"), ("marketing_roi", "450"), ("nps", "-30")])
def test_targets_that_can_be_negative_or_above_100_are_accepted(team_a, kpis, code, value):
    objective = services.objective_create(
        team=team_a,
        title="T",
        start_date=dt.date(2026, 10, 1),
        due_date=dt.date(2026, 12, 31),
        targets=[{"kpi": kpis[code], "target_value": D(value)}],
        today=dt.date(2026, 10, 2),
    )
    assert objective.targets.get().target_value == D(value)


def test_a_target_s_segment_is_one_the_team_s_data_has(team_a, kpis):
    revenue = kpis["revenue"]
    # a dimension the KPI has no breakdown for
    assert "breakdowns: channel, customer_segment" in errors_of(team_a, revenue, "10", "colour=red")["segment"][0]
    # a value the team's data has never shown
    factories.kpi_value(kpi=revenue, team=team_a, period_start=dt.date(2026, 9, 1), value=5, segment="channel=web")
    factories.kpi_value(kpi=revenue, team=team_a, period_start=dt.date(2026, 9, 1), value=5, segment="channel=shop")
    assert errors_of(team_a, revenue, "10", "channel=phone")["segment"] == [
        "No 'phone' in the team's data for channel (known: shop, web)."
    ]
    # a known one is accepted
    objective = services.objective_create(
        team=team_a,
        title="T",
        start_date=dt.date(2026, 10, 1),
        due_date=dt.date(2026, 12, 31),
        targets=[{"kpi": revenue, "target_value": D(10), "segment": "channel=web"}],
        today=dt.date(2026, 10, 2),
    )
    assert objective.targets.get().segment == "channel=web"
