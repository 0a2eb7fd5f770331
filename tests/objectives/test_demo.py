"""The demo's objectives and alert rules: created through the services, once, over the current quarter."""

import datetime as dt

import pytest

from accounts.demo import demo_organisation_create
from metrics.kpis.services import kpi_catalogue_load
from objectives.demo import (
    DEMO_OBJECTIVES,
    DEMO_RULES,
    demo_alert_rules_create,
    demo_budgets_create,
    demo_objectives_create,
)
from objectives.models import AlertRule, Objective
from tests.metrics.kpi_support import spend

pytestmark = pytest.mark.django_db


def test_demo_objectives_and_rules_are_created_once(client):
    kpi_catalogue_load()
    teams, _logins = demo_organisation_create()
    today = dt.date(2026, 11, 21)

    objectives = demo_objectives_create(teams=teams, today=today)
    rules = demo_alert_rules_create(teams=teams)
    # Run again (seed_demo is idempotent): nothing new.
    assert demo_objectives_create(teams=teams, today=today) == []
    assert demo_alert_rules_create(teams=teams) == []

    assert len(objectives) == Objective.objects.count() == len(DEMO_OBJECTIVES) == 4
    assert len(rules) == AlertRule.objects.count() == len(DEMO_RULES) == 6
    # The current quarter of 21 November 2026 is 1 October – 31 December, owned by the team's manager.
    revenue = Objective.objects.get(title__startswith="Chiffre d’affaires du trimestre")
    assert (revenue.start_date, revenue.due_date) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert (revenue.team.slug, revenue.owner.username) == ("ventes", "claire.martin")
    assert [(t.kpi.code, int(t.target_value)) for t in revenue.targets.all()] == [("revenue", 400000)]
    nps_rule = AlertRule.objects.get(name__startswith="NPS sous 10")
    assert (nps_rule.team.slug, nps_rule.kpi.code, nps_rule.min_sample, nps_rule.sample_measure) == (
        "service-client",
        "nps",
        30,
        "responses",
    )


def test_demo_manager_sees_the_demo_rules_page(client):
    kpi_catalogue_load()
    teams, _logins = demo_organisation_create()
    demo_alert_rules_create(teams=teams)
    from accounts.models import User

    client.force_login(User.objects.get(username="julien.roux"))
    html = client.get("/teams/service-client/alert-rules/").content.decode()
    assert "Résolution au premier contact sous 72 %" in html
    assert "Taux de gain sous 35 %" not in html  # a rule of Ventes


def test_without_the_catalogue_the_demo_has_no_objectives_or_rules():
    teams, _logins = demo_organisation_create()
    assert demo_objectives_create(teams=teams) == []
    assert demo_alert_rules_create(teams=teams) == []


def test_the_demo_budget_is_last_quarter_s_acquisition_spend():
    # given marketing spent 700 + 300 € on acquisition in the third quarter (digital included), 50 on retention
    teams, _logins = demo_organisation_create()
    spend(teams["marketing"], dt.date(2026, 8, 3), "acquisition", 700)
    spend(teams["marketing-digital"], dt.date(2026, 9, 30), "acquisition", 300)
    spend(teams["marketing"], dt.date(2026, 9, 1), "retention", 50)
    # when the demo is seeded on 21 November, twice
    [budget] = demo_budgets_create(teams=teams, today=dt.date(2026, 11, 21))
    assert demo_budgets_create(teams=teams, today=dt.date(2026, 11, 21)) == []
    # then the fourth quarter's acquisition budget is 1 000 €
    assert (budget.team.slug, budget.category, budget.amount) == ("marketing", "acquisition", 1000)
    assert (budget.start_date, budget.end_date) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
