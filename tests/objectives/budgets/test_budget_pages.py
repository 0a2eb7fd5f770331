"""The budgets page of a team: readers see where each budget stands, managers add, edit and delete budgets;
another team's user gets nothing."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.roles import Role
from metrics.models import Campaign
from objectives import progress
from objectives.models import Budget
from tests.metrics.kpi_support import spend

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 11, 12, tzinfo=dt.UTC)  # 11 November in Paris: 10 days of November gone


def french(message: str) -> str:
    """The message as the French page shows it (English until the new strings are in the catalogue)."""
    with translation.override("fr"):
        return gettext(message)


@pytest.fixture
def digital(make_team, team_a):
    return make_team("digital", kind="marketing", parent=team_a)


@pytest.fixture
def budget_a(team_a):
    return Budget.objects.create(
        team=team_a,
        name="Acquisition",
        category="acquisition",
        amount=D("3000"),
        start_date=dt.date(2026, 11, 1),
        end_date=dt.date(2026, 11, 30),
    )


def form_data(**change) -> dict:
    return {
        "name": "Salon",
        "category": "retention",
        "channel": "",
        "campaign": "",
        "start_date": "2026-12-01",
        "end_date": "2026-12-31",
        "amount": "12 500,50",
        **change,
    }


def write_urls(budget: Budget) -> list[tuple[str, str]]:
    slug = budget.team.slug
    return [
        ("get", reverse("budget-create", args=[slug])),
        ("post", reverse("budget-create", args=[slug])),
        ("get", reverse("budget-edit", args=[slug, budget.pk])),
        ("post", reverse("budget-edit", args=[slug, budget.pk])),
        ("post", reverse("budget-delete", args=[slug, budget.pk])),
        ("post", reverse("budget-import", args=[slug])),
    ]


def budget_rows() -> list[tuple]:
    return list(
        Budget.objects.order_by("pk").values_list(
            "team__slug", "name", "category", "channel", "campaign_id", "start_date", "end_date", "amount"
        )
    )


# --- reading -----------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_viewer_sees_each_budget_with_where_it_stands_and_no_buttons(client, viewer_a, team_a, digital, budget_a):
    spend(team_a, dt.date(2026, 11, 2), "acquisition", 400, channel="email")
    spend(digital, dt.date(2026, 11, 5), "acquisition", 500, channel="search")
    spend(team_a, dt.date(2026, 11, 6), "retention", 999)  # another category: not this budget's
    client.force_login(viewer_a)

    response = client.get("/teams/team-a/budgets/")

    assert response.status_code == 200
    [burn] = response.context["burns"]
    # spent: 400 (team A) + 500 (its sub-team) = 900; expected: 3 000 × 10 days gone / 30 = 1 000;
    # forecast: 900 / 10 days × 30 = 2 700 ≤ 3 000 → on track
    assert (burn.spent, burn.expected, burn.forecast, burn.status) == (D(900), D(1000), D(2700), progress.ON_TRACK)
    html = response.content.decode()
    row = html[html.index(f'data-budget="{budget_a.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Acquisition" in row and "1er–30 nov. 2026" in row  # the period in the one date style
    # French formats: a no-break space between thousands, and before the € sign
    assert "3\u00a0000&nbsp;€" in row  # the amount, as entered
    assert "900\u00a0€" in row  # spent; 900 / 3 000 = 30 %
    assert "(30&nbsp;%)" in row
    assert "1\u00a0000\u00a0€" in row  # expected by today
    assert "2\u00a0700\u00a0€" in row  # forecast
    assert "status-on_track" in row
    assert reverse("budget-create", args=["team-a"]) not in html
    assert reverse("budget-edit", args=["team-a", budget_a.pk]) not in html
    assert reverse("budget-delete", args=["team-a", budget_a.pk]) not in html
    assert reverse("budget-import", args=["team-a"]) not in html


def test_the_category_is_shown_by_its_french_label(client, viewer_a, team_a):
    Budget.objects.create(
        team=team_a,
        name="Relance",
        category="retention",
        amount=D(100),
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 31),
    )
    client.force_login(viewer_a)
    html = client.get("/teams/team-a/budgets/").content.decode()
    assert "<td data-label" in html and ">Fidélisation</td>" in html


def test_the_team_menu_links_to_the_budgets_page(client, viewer_a):
    client.force_login(viewer_a)
    html = client.get("/teams/team-a/alert-rules/").content.decode()
    assert 'href="/teams/team-a/budgets/"' in html


def test_the_page_costs_the_same_queries_whatever_the_number_of_budgets(
    client, manager_a, team_a, django_assert_num_queries
):
    def add(count: int, first: int) -> None:
        for number in range(first, first + count):
            Budget.objects.create(
                team=team_a,
                name=f"B{number}",
                category="acquisition",
                amount=D(100),
                start_date=dt.date(2026, 1, 1),
                end_date=dt.date(2026, 1, 31),
            )

    client.force_login(manager_a)
    add(2, 0)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/teams/team-a/budgets/").status_code == 200
    add(5, 2)
    # 7 budgets instead of 2: the same queries (session, user, team and role, budgets, team tree, spend, bell…)
    with django_assert_num_queries(len(queries)):
        response = client.get("/teams/team-a/budgets/")
    assert len(response.context["burns"]) == 7


# --- who may do what ---------------------------------------------------------------------------


def test_a_user_of_another_team_gets_404_on_the_page_and_every_write_url(client, manager_b, budget_a):
    before = budget_rows()
    client.force_login(manager_b)
    assert client.get("/teams/team-a/budgets/").status_code == 404
    for method, url in write_urls(budget_a):
        assert getattr(client, method)(url, form_data()).status_code == 404, (method, url)
    assert budget_rows() == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_a_viewer_or_member_reads_but_gets_403_on_every_write_url(client, make_user, team_a, budget_a, role):
    before = budget_rows()
    client.force_login(make_user("reader", team=team_a, role=role))
    assert client.get("/teams/team-a/budgets/").status_code == 200
    for method, url in write_urls(budget_a):
        assert getattr(client, method)(url, form_data()).status_code == 403, (method, url)
    assert budget_rows() == before


def test_another_teams_budget_is_not_found_through_ones_own_team(client, manager_a, manager_b, team_b):
    budget_b = Budget.objects.create(
        team=team_b,
        name="B",
        category="other",
        amount=D(10),
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 2),
    )
    client.force_login(manager_a)
    assert client.get(f"/teams/team-a/budgets/{budget_b.pk}/edit/").status_code == 404
    assert client.post(f"/teams/team-a/budgets/{budget_b.pk}/delete/").status_code == 404
    assert Budget.objects.filter(pk=budget_b.pk).exists()


# --- writing -----------------------------------------------------------------------------------


def test_a_manager_adds_edits_and_deletes_a_budget(client, manager_a, team_a, digital):
    campaign = Campaign.objects.create(team=digital, external_id="NOEL", name="Noël")  # a sub-team's campaign
    client.force_login(manager_a)
    page = client.get("/teams/team-a/budgets/").content.decode()
    assert reverse("budget-create", args=["team-a"]) in page and reverse("budget-import", args=["team-a"]) in page

    response = client.post("/teams/team-a/budgets/new/", form_data(channel="salons", campaign=campaign.pk))

    assert response.status_code == 302 and response["Location"] == "/teams/team-a/budgets/"
    budget = Budget.objects.get()
    # « 12 500,50 » typed the French way is 12 500.50
    assert budget_rows() == [
        (
            "team-a",
            "Salon",
            "retention",
            "salons",
            campaign.pk,
            dt.date(2026, 12, 1),
            dt.date(2026, 12, 31),
            D("12500.50"),
        )
    ]
    edit = client.get(f"/teams/team-a/budgets/{budget.pk}/edit/")
    assert edit.status_code == 200 and edit.context["form"].initial["amount"] == D("12500.50")

    client.post(f"/teams/team-a/budgets/{budget.pk}/edit/", form_data(name="Salon 2", amount="800", category="other"))

    assert budget_rows() == [
        ("team-a", "Salon 2", "other", "", None, dt.date(2026, 12, 1), dt.date(2026, 12, 31), D("800.00"))
    ]
    assert Budget.objects.get().pk == budget.pk

    response = client.post(f"/teams/team-a/budgets/{budget.pk}/delete/")

    assert response.status_code == 302 and not Budget.objects.exists()


def test_a_manager_of_the_parent_team_manages_the_sub_teams_budgets(client, manager_a, digital):
    client.force_login(manager_a)
    assert client.post("/teams/digital/budgets/new/", form_data()).status_code == 302
    assert budget_rows()[0][:2] == ("digital", "Salon")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"end_date": "2026-11-30"}, "end_date", "The last day must be on or after the first day."),
        ({"amount": "-5"}, "amount", "The amount cannot be negative."),
        ({"campaign": "OTHER"}, "campaign", "Choose a campaign of this team or of its sub-teams."),
    ],
)
def test_a_wrong_budget_is_refused_with_the_reason_and_nothing_written(
    client, manager_a, team_b, budget_a, change, field, message
):
    other = Campaign.objects.create(team=team_b, external_id="B-CAMP", name="B's")
    if change.get("campaign") == "OTHER":
        change = {"campaign": other.pk}
    before = budget_rows()
    client.force_login(manager_a)

    created = client.post("/teams/team-a/budgets/new/", form_data(**change))
    edited = client.post(f"/teams/team-a/budgets/{budget_a.pk}/edit/", form_data(**change))

    for response in (created, edited):
        assert response.status_code == 400
        assert response.context["form"].errors[field] == [french(message)]
        assert french(message) in response.content.decode()
    assert budget_rows() == before


def test_a_second_budget_with_the_same_name_and_first_day_is_refused(client, manager_a, budget_a):
    client.force_login(manager_a)
    response = client.post("/teams/team-a/budgets/new/", form_data(name="Acquisition", start_date="2026-11-01"))
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [
        french("The team already has a budget with this name starting on this day.")
    ]
    assert Budget.objects.count() == 1


def test_the_api_refuses_the_same_second_budget_through_the_same_service(api_client, manager_a, budget_a):
    api_client.force_authenticate(manager_a)
    body = {
        "team": "team-a",
        "name": "Acquisition",
        "category": "other",
        "start_date": "2026-11-01",
        "end_date": "2026-11-02",
        "amount": "1",
    }
    response = api_client.post("/api/v1/budgets/", body, format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert Budget.objects.count() == 1
