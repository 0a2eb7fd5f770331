"""Menus show only what the user's role opens; a one-team user lands on their dashboard; the overview is linked for
everyone with several teams; the team menu is on every page of a team, its current item marked."""

import re
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from accounts.roles import Role
from accounts.selectors import team_role_of
from accounts.services import membership_set
from kpiplatform.navigation import PAGE_MINIMUM_ROLE, TEAM_MENU, navigation_for, page_minimum_role
from metrics.models import KpiDefinition
from tests import factories
from tests.conftest import PASSWORD

ROLES = [Role.VIEWER, Role.MEMBER, Role.MANAGER]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("/") and not href.startswith("/static/"):
            self.hrefs.append(href.replace("&amp;", "&"))


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return list(dict.fromkeys(parser.hrefs))


def team_pages_in_menu(html: str) -> list[str]:
    return re.findall(r'data-team-page="([\w-]+)"', html)


def current_team_page(html: str) -> list[str]:
    return re.findall(r'data-team-page="([\w-]+)" aria-current="page"', html)


@pytest.fixture
def kpi(db):
    # the whole catalogue: the dashboard's cards link to the detail page of each catalogue KPI
    call_command("load_kpi_catalogue", verbosity=0)
    return KpiDefinition.objects.get(code="revenue")


@pytest.fixture
def team_c(make_team):
    return make_team("team-c", name="Équipe C", kind="support")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("teams", [1, 2])
def test_every_link_of_home_and_dashboard_opens_for_the_role(client, make_user, team_a, team_c, kpi, role, teams):
    # given a user holding `role` in team A (and, for two teams, viewer of team C), with an objective and an alert
    user = make_user("someone", team=team_a, role=role)
    if teams == 2:
        membership_set(user=user, team=team_c, role=Role.VIEWER)
    objective = factories.objective(team=team_a, owner=None, kpi=kpi)
    factories.alert_with_rule(team=team_a, kpi=kpi)
    client.force_login(user)

    # when every link of the home page and of the team's dashboard is followed
    home = client.get("/", follow=True)
    dashboard = client.get(reverse("dashboard", args=["team-a"]))
    links = links_of(home.content.decode()) + links_of(dashboard.content.decode())

    # then each one opens (none is a dead end answering 403 or 404)
    assert dashboard.status_code == 200 and reverse("objective-detail", args=["team-a", objective.pk]) in links
    for url in dict.fromkeys(links):
        response = client.get(url, follow=True)
        assert response.status_code == 200, (role, url, response.status_code)


@pytest.mark.parametrize(
    ("role", "pages"),
    [
        (Role.VIEWER, ["dashboard", "objectives", "alerts", "alert-rules", "budgets"]),
        (Role.MEMBER, ["dashboard", "objectives", "alerts", "alert-rules", "budgets"]),
        (Role.MANAGER, ["dashboard", "objectives", "alerts", "alert-rules", "budgets", "import", "webhooks"]),
    ],
)
def test_the_team_menu_lists_what_the_role_may_open(client, make_user, team_a, role, pages):
    client.force_login(make_user("someone", team=team_a, role=role))

    html = client.get(reverse("dashboard", args=["team-a"])).content.decode()

    assert team_pages_in_menu(html) == pages
    assert ('href="/import/team-a/"' in html) is (role == Role.MANAGER)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_what_the_menus_hide_from_a_role_is_what_its_views_refuse(client, make_user, team_a, role):
    # given a viewer or member of team A
    client.force_login(make_user("someone", team=team_a, role=role))
    hidden = [page for page in TEAM_MENU if page_minimum_role(page.url_name)]
    forms = ["objective-create", "alert-rule-create", "budget-create", "dashboard-cards", "dashboard-panels"]

    # then each page the menu hides (and each manager's form) answers 403 for them
    for url_name in [page.url_name for page in hidden] + forms:
        assert PAGE_MINIMUM_ROLE.get(url_name, Role.MANAGER) == Role.MANAGER
        assert client.get(reverse(url_name, args=["team-a"])).status_code == 403, url_name


def test_a_manager_opens_every_manager_page(client, manager_a):
    client.force_login(manager_a)
    forms = ["objective-create", "alert-rule-create", "budget-create", "dashboard-cards", "dashboard-panels"]

    for url_name in [page.url_name for page in TEAM_MENU if page.url_name != "alert-list"] + forms:
        assert client.get(reverse(url_name, args=["team-a"])).status_code == 200, url_name


def test_a_user_of_another_team_sees_nothing_of_team_a(client, manager_b, team_a, kpi):
    client.force_login(manager_b)

    home = client.get("/", follow=True)
    html = home.content.decode()

    assert home.redirect_chain == [("/dashboard/team-b/", 302)]
    assert "Équipe A" not in html and "team-a" not in html
    assert all(client.get(url, follow=True).status_code == 200 for url in links_of(html))
    assert client.get(reverse("dashboard", args=["team-a"])).status_code == 404


def test_a_one_team_user_lands_on_their_dashboard_after_login_and_on_home(client, viewer_a):
    from axes.utils import reset

    reset()
    response = client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD}, follow=True)

    assert response.redirect_chain == [("/", 302), ("/dashboard/team-a/", 302)]
    assert response.status_code == 200
    assert client.get("/").url == "/dashboard/team-a/"
    html = response.content.decode()
    # no overview nor switcher for one team: the main menu names the team
    assert 'data-nav="overview"' not in html and "team-switcher" not in html
    assert 'href="/dashboard/team-a/" data-nav="team" aria-current="page">Équipe A</a>' in html


def test_a_two_team_user_lands_on_home_and_sees_the_overview_link(client, viewer_a, team_c):
    # given a viewer of teams A and C (not staff)
    membership_set(user=viewer_a, team=team_c, role=Role.VIEWER)
    client.force_login(viewer_a)

    home = client.get("/")
    dashboard = client.get(reverse("dashboard", args=["team-a"])).content.decode()
    overview = client.get(reverse("organisation-overview"))

    assert home.status_code == 200 and overview.status_code == 200
    assert 'href="/" data-nav="home" aria-current="page">Mes équipes</a>' in home.content.decode()
    assert 'href="/dashboard/" data-nav="overview">Vue d’ensemble</a>' in dashboard
    assert 'data-nav="overview" aria-current="page"' in overview.content.decode()
    assert 'id="team-switcher"' in dashboard


def test_a_parent_teams_member_lands_on_home_with_its_sub_teams(client, make_team, make_user):
    parent = make_team("org", name="Organisation")
    make_team("sales", name="Ventes", parent=parent)
    client.force_login(make_user("boss", team=parent, role=Role.MANAGER))

    home = client.get("/")

    assert home.status_code == 200
    assert 'data-nav="overview"' in home.content.decode()


@pytest.fixture
def team_a_pages(team_a, manager_a, kpi):
    """Every page of team A with the team menu item it belongs to."""
    objective = factories.objective(team=team_a, owner=manager_a, kpi=kpi)
    target = objective.targets.get()
    alert = factories.alert_with_rule(team=team_a, kpi=kpi)
    slug = team_a.slug
    return [
        (reverse("dashboard", args=[slug]), "dashboard"),
        (reverse("dashboard-cards", args=[slug]), "dashboard"),
        (reverse("dashboard-panels", args=[slug]), "dashboard"),
        (reverse("kpi-detail", args=[slug, "revenue"]), "dashboard"),
        (reverse("objective-list", args=[slug]), "objectives"),
        (reverse("objective-create", args=[slug]), "objectives"),
        (reverse("objective-detail", args=[slug, objective.pk]), "objectives"),
        (reverse("objective-edit", args=[slug, objective.pk]), "objectives"),
        (reverse("objective-cascade", args=[slug, objective.pk]), "objectives"),
        (reverse("objective-phasing", args=[slug, objective.pk, target.pk]), "objectives"),
        (f"{reverse('alert-list')}?team={slug}", "alerts"),
        (reverse("alert-detail", args=[alert.pk]), "alerts"),
        (reverse("alert-rule-list", args=[slug]), "alert-rules"),
        (reverse("alert-rule-create", args=[slug]), "alert-rules"),
        (reverse("alert-rule-edit", args=[slug, alert.rule_id]), "alert-rules"),
        (reverse("budget-list", args=[slug]), "budgets"),
        (reverse("budget-create", args=[slug]), "budgets"),
        (reverse("import-home", args=[slug]), "import"),
        (reverse("webhook-list", args=[slug]), "webhooks"),
    ]


def test_the_team_menu_is_on_every_team_page_with_its_item_marked(client, manager_a, team_a_pages):
    client.force_login(manager_a)

    for url, item in team_a_pages:
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert html.count('data-team-menu="team-a"') == 1, url
        assert current_team_page(html) == [item], url


def test_pages_outside_a_team_have_no_team_menu(client, manager_a):
    client.force_login(manager_a)

    for url in ["/alerts/", "/notifications/", "/notifications/settings/"]:
        assert "data-team-menu" not in client.get(url).content.decode(), url


def test_navigation_reads_every_team_and_role_in_one_query(make_team, make_user, team_a, django_assert_num_queries):
    # given a tree: org > sales > sales-east, and support; a member of org, manager of sales-east
    org = make_team("org", name="Organisation")
    sales = make_team("sales", name="Ventes", parent=org)
    east = make_team("sales-east", name="Ventes Est", parent=sales)
    support = make_team("support", name="Support")
    user = make_user("someone", team=org, role=Role.MEMBER)
    membership_set(user=user, team=east, role=Role.MANAGER)
    request = RequestFactory().get(reverse("dashboard", args=["sales"]))
    request.user = user
    request.resolver_match = None

    with django_assert_num_queries(1):
        nav = navigation_for(request)
        roles = {team.slug: team.role for team in nav.teams}
        menus = (nav.main_menu, nav.team_menu(sales), navigation_for(request).main_menu)

    # then the roles are those of accounts.selectors, team by team, and the menus follow them
    assert [item.key for item in menus[0]] == ["home", "overview", "alerts"] and menus[2] is menus[0]
    # a member of sales (through org): no import, no webhooks
    assert [item.key for item in menus[1]] == ["dashboard", "objectives", "alerts", "alert-rules", "budgets"]
    assert roles == {"org": "member", "sales": "member", "sales-east": "manager"}
    for team in (org, sales, east, support, team_a):
        assert roles.get(team.slug) == team_role_of(user, team)


def test_staff_are_managers_of_every_team(make_user, team_a, team_b):
    request = RequestFactory().get("/")
    request.user = make_user("admin", staff=True)

    nav = navigation_for(request)

    assert {team.slug: team.role for team in nav.teams} == {"team-a": "manager", "team-b": "manager"}
    assert [item.key for item in nav.main_menu] == ["home", "overview", "alerts", "admin"]
