"""The 403, 404 and 500 pages: in the site's frame (403, 404) or standalone (500), in French and English, saying what
happened and where to go, with no trace of the code or the settings."""

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import include, path
from django.utils import translation

from accounts.roles import Role
from kpiplatform.views import bad_request, page_not_found, permission_denied, server_error
from metrics.models import KpiDefinition
from objectives.models import AlertState
from tests import factories

# This module doubles as a URLconf (tests marked `urls`): views that fail on purpose, with the project's handlers.
handler400 = bad_request
handler403 = permission_denied
handler404 = page_not_found
handler500 = server_error


def _boom(request):
    raise RuntimeError("boom: the database is down")


def _forbidden(request):
    raise PermissionDenied


def _suspicious(request):
    raise SuspiciousOperation("a malformed cookie")


urlpatterns = [
    path("boom/", _boom),
    path("forbidden/", _forbidden),
    path("suspicious/", _suspicious),
    path("api/v1/suspicious/", _suspicious),
    path("", include("kpiplatform.urls")),
]


def assert_nothing_leaks(html: str) -> None:
    assert "Traceback" not in html and "RuntimeError" not in html and "boom" not in html
    assert settings.SECRET_KEY not in html and "DATABASES" not in html and "SECRET_KEY" not in html


@pytest.fixture
def member_a(make_user, team_a):
    return make_user("member-a", team=team_a, role=Role.MEMBER)


def test_debug_is_off_in_tests_so_the_handlers_answer():
    assert settings.DEBUG is False


def test_a_member_opening_the_import_gets_the_403_page_naming_the_role_needed(client, member_a):
    # given a member of team A (the import is for managers)
    client.force_login(member_a)

    # when they open the import page
    response = client.get("/import/team-a/")

    # then a 403 in the site's frame says which role the page needs and points back to the team's dashboard
    html = response.content.decode()
    assert response.status_code == 403
    assert 'class="topbar"' in html and 'data-error-page="403"' in html
    assert "<title>Accès refusé · Pilotage KPI</title>" in html
    assert "Vous ne pouvez pas ouvrir cette page" in html
    role_needed = "Cette page est réservée aux responsables de l’équipe Équipe A\u00a0; votre rôle dans cette équipe"
    assert f"{role_needed}\u00a0: membre." in html
    way_back = 'href="/dashboard/team-a/" data-way-back="dashboard">'
    assert f"{way_back}Revenir au tableau de bord de l’équipe Équipe A</a>" in html
    # the team menu is there too, without the import the member may not open
    assert 'data-team-menu="team-a"' in html and 'data-team-page="import"' not in html
    assert_nothing_leaks(html)


def test_the_403_page_in_english(client, member_a):
    client.force_login(member_a)

    html = client.get("/import/team-a/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'lang="en"' in html and "You cannot open this page" in html
    assert "This page is for the managers of the team Équipe A; your role in it is: member." in html
    assert "Back to the dashboard of Équipe A" in html


def test_a_viewer_acting_on_an_alert_is_told_members_may(client, viewer_a, team_a):
    # given a firing alert of team A and a viewer of the team
    kpi = KpiDefinition.objects.create(code="revenue", name_fr="CA", name_en="Revenue", formula="x")
    alert = factories.alert_with_rule(team=team_a, kpi=kpi)
    client.force_login(viewer_a)

    # when the viewer posts an acknowledgement
    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {"comment": "vu"})

    # then the 403 says the action is for members and managers (the URL names the alert, not the team)
    html = response.content.decode()
    assert response.status_code == 403
    assert "Cette action est réservée aux membres et aux responsables de l’équipe." in html
    # and the alert did not change
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING


@pytest.mark.urls(__name__)
def test_a_bare_permission_denied_gets_the_generic_sentence(client, viewer_a):
    client.force_login(viewer_a)

    response = client.get("/forbidden/")

    assert response.status_code == 403
    assert "Votre rôle ne donne pas accès à cette page." in response.content.decode()


def test_an_unknown_address_gets_the_404_page_in_french_and_english(client, viewer_a):
    client.force_login(viewer_a)

    response = client.get("/no/such/page/")
    english = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    html = response.content.decode()
    assert response.status_code == 404
    assert 'class="topbar"' in html and 'data-error-page="404"' in html
    assert "Page introuvable" in html and "le lien est peut-être mal saisi ou périmé" in html
    # a one-team user is pointed back to their dashboard
    assert 'href="/dashboard/team-a/" data-way-back="dashboard"' in html
    assert "Page not found" in english and "the link may be mistyped or out of date" in english
    assert_nothing_leaks(html)


def test_another_teams_page_is_a_404_that_names_nothing_of_that_team(client, manager_b, team_a):
    client.force_login(manager_b)

    response = client.get("/dashboard/team-a/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "Page introuvable" in html
    # (the address typed stays in the language switcher's "next" field, nothing else)
    assert "Équipe A" not in html and "data-team-menu" not in html and 'href="/dashboard/team-a/"' not in html
    assert 'href="/dashboard/team-b/" data-way-back="dashboard"' in html


def test_a_missing_object_of_a_visible_team_keeps_the_team_menu(client, viewer_a):
    client.force_login(viewer_a)

    html = client.get("/teams/team-a/objectives/999999/").content.decode()

    assert 'data-error-page="404"' in html and 'data-team-menu="team-a"' in html


def test_the_404_page_for_a_visitor_offers_to_log_in(client, db):
    response = client.get("/no/such/page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert 'href="/accounts/login/" data-way-back="login">Se connecter</a>' in html
    assert "mainnav" not in html


def test_the_500_page_renders_without_database_nor_request_context(rf):
    # no `db` fixture: any query would raise
    request = rf.get("/dashboard/")

    with translation.override("fr"):
        french = server_error(request)
    with translation.override("en"):
        english = server_error(request)

    html = french.content.decode()
    assert french.status_code == english.status_code == 500
    assert 'lang="fr"' in html and "Un problème est survenu de notre côté" in html
    assert 'href="/"' in html and "Revenir à l’accueil" in html
    assert "<style>" in html and "stylesheet" not in html  # its own styles: no static file to look up
    assert "Something went wrong on our side" in english.content.decode()
    assert_nothing_leaks(html)


@pytest.mark.urls(__name__)
def test_a_view_that_crashes_answers_the_500_page():
    # given a client that turns exceptions into responses, as the server does; no database either
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="fr")

    response = client.get("/boom/")

    html = response.content.decode()
    assert response.status_code == 500
    assert 'data-error-page="500"' in html and "Un problème est survenu de notre côté" in html
    assert_nothing_leaks(html)


@pytest.mark.urls("tests.kpiplatform.test_error_pages")
def test_a_request_django_refuses_gets_the_400_page_in_the_frame_or_json_on_the_api(client, member_a):
    # given a signed-in member, and a request Django itself refuses (SuspiciousOperation → 400)
    client.force_login(member_a)
    page = client.get("/suspicious/", HTTP_ACCEPT_LANGUAGE="fr")
    api = client.get("/api/v1/suspicious/")
    # then the page is the site's 400 page with its menus (not Django's bare one), and the API answers JSON
    assert page.status_code == 400 and 'data-error-page="400"' in page.content.decode()
    assert "Requête incomprise" in page.content.decode()
    assert 'data-way-back="home"' in page.content.decode()
    assert api.status_code == 400 and api.json()["errors"][0]["message"]
    assert_nothing_leaks(page.content.decode())
