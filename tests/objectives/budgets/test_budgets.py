"""Is the budget off? Spend to date against the budget, expected by today, forecast and status; the API; the page."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse

from accounts.roles import Role
from objectives import progress
from objectives.budgets.selectors import budget_burns, budgets_of, burn_of
from objectives.models import Budget
from tests.metrics.kpi_support import spend

pytestmark = pytest.mark.django_db
NOV = {"first": dt.date(2026, 11, 1), "last": dt.date(2026, 11, 30)}
NOW = dt.datetime(2026, 11, 11, 12, tzinfo=dt.UTC)  # 11 November: 10 days of 30 gone


@pytest.mark.parametrize(
    ("spent", "forecast", "status"),
    [
        ("900", "2700", progress.ON_TRACK),  # 90 a day × 30 = 2 700 ≤ 3 000
        ("1050", "3150", progress.AT_RISK),  # 3 150: over the amount, within 10 % (3 300)
        ("1200", "3600", progress.OFF_TRACK),  # 3 600 > 3 300
        ("3100", "9300", progress.MISSED),  # already over: spend only grows
    ],
)
def test_burn_of_a_3000_budget_on_its_eleventh_day(spent, forecast, status):
    expected, predicted, found = burn_of(amount=D(3000), spent=D(spent), today=dt.date(2026, 11, 11), **NOV)
    # expected by today: 3 000 × 10 / 30 = 1 000
    assert (expected, predicted, found) == (D(1000), D(forecast), status)


def test_a_closed_budget_is_within_it_or_overspent():
    assert burn_of(amount=D(3000), spent=D(2900), today=dt.date(2026, 12, 2), **NOV)[2] == progress.ACHIEVED
    assert burn_of(amount=D(3000), spent=D(3001), today=dt.date(2026, 12, 2), **NOV)[2] == progress.MISSED


@pytest.fixture
def budgets(make_team, team_a):
    """Marketing (team A) with a digital sub-team: an acquisition budget of 3 000 € in November, and one for
    the email channel only; spend recorded by both teams, other categories, other months and another team."""
    digital = make_team("digital", kind="marketing", parent=team_a)
    other = make_team("other-team", kind="marketing")
    whole = Budget.objects.create(
        team=team_a,
        name="Acquisition",
        category="acquisition",
        amount=D(3000),
        start_date=NOV["first"],
        end_date=NOV["last"],
    )
    email = Budget.objects.create(
        team=team_a,
        name="E-mail",
        category="acquisition",
        channel="email",
        amount=D(500),
        start_date=NOV["first"],
        end_date=NOV["last"],
    )
    spend(team_a, dt.date(2026, 11, 2), "acquisition", 400, channel="email")
    spend(digital, dt.date(2026, 11, 5), "acquisition", 500, channel="search")
    spend(team_a, dt.date(2026, 11, 6), "retention", 999)  # another category
    spend(team_a, dt.date(2026, 10, 30), "acquisition", 999)  # before the budget
    spend(team_a, dt.date(2026, 11, 20), "acquisition", 999)  # after today (11 November): not spent yet
    spend(other, dt.date(2026, 11, 3), "acquisition", 999)  # another team
    return whole, email


def test_spend_to_date_counts_the_team_and_its_sub_teams(budgets, django_assert_num_queries):
    whole, email = budgets
    # the team tree and the spend of every budget: two queries
    with django_assert_num_queries(2):
        burns = budget_burns(budgets=[whole, email], today=dt.date(2026, 11, 11))
    # 400 (team A, e-mail) + 500 (digital, search) = 900 for the whole budget; 400 for the e-mail one
    assert [(b.spent, b.expected, b.forecast, b.status) for b in burns] == [
        (D(900), D(1000), D(2700), progress.ON_TRACK),
        (D(400), D(500) / 3, D(1200), progress.OFF_TRACK),  # 40 a day → 1 200 against 500
    ]
    assert list(budgets_of(team_ids=[whole.team_id], first=dt.date(2026, 12, 1))) == []


@time_machine.travel(NOW, tick=False)
def test_the_api_lists_and_creates_budgets_for_a_manager_only(api_client, manager_a, viewer_a, manager_b, budgets):
    api_client.force_authenticate(manager_a)
    listed = api_client.get("/api/v1/budgets/", {"team": "team-a"}).json()
    assert [(b["name"], b["spent"], b["expected"], b["status"]) for b in listed] == [
        ("Acquisition", 900.0, 1000.0, "on_track"),
        ("E-mail", 400.0, 166.67, "off_track"),
    ]
    body = {
        "team": "team-a",
        "name": "Retention",
        "category": "retention",
        "start_date": "2026-11-01",
        "end_date": "2026-11-30",
        "amount": "2000",
    }
    created = api_client.post("/api/v1/budgets/", body, format="json")
    assert created.status_code == 201, created.json()
    # 999 of retention spend on 6 November: 99.9 a day over 10 days → 2 997 at the end, over 2 200 (110 %)
    assert (created.json()["spent"], created.json()["forecast"], created.json()["status"]) == (
        999.0,
        2997.0,
        "off_track",
    )
    # a viewer may read but not create; another team's manager sees nothing of team A
    api_client.force_authenticate(viewer_a)
    assert api_client.post("/api/v1/budgets/", body, format="json").status_code == 403
    api_client.force_authenticate(manager_b)
    assert api_client.get("/api/v1/budgets/", {"team": "team-a"}).status_code == 404
    assert api_client.get("/api/v1/budgets/").json() == []
    assert Budget.objects.filter(team__slug="team-a").count() == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_date": "2026-10-31"}, "end_date"),
        ({"amount": "-5"}, "amount"),
        ({"category": "fun"}, "category"),
        ({"campaign": "NOPE"}, "campaign"),
    ],
)
def test_a_bad_budget_is_refused_with_the_field_named(api_client, manager_a, team_a, change, field):
    api_client.force_authenticate(manager_a)
    body = {
        "team": "team-a",
        "name": "B",
        "category": "acquisition",
        "start_date": "2026-11-01",
        "end_date": "2026-11-30",
        "amount": "100",
        **change,
    }
    response = api_client.post("/api/v1/budgets/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Budget.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_the_marketing_dashboard_says_whether_the_budget_is_off(client, make_user, team_a, budgets):
    team_a.kind = "marketing"
    team_a.save()
    client.force_login(make_user("sophie", team=team_a, role=Role.MANAGER))
    html = client.get(reverse("dashboard", args=[team_a.slug])).content.decode()
    assert "Budgets" in html and 'data-budget="' in html
    assert "attendu à ce jour\u00a0: 1\u00a0000\u00a0€" in html or "attendu à ce jour : 1\u00a0000\u00a0€" in html
