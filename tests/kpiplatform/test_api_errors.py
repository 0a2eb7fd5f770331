"""The API's errors are JSON: DRF's 4xx bodies as they are, 503 when the database is down, 500 `{"detail"}` for the
unexpected — inside DRF views (kpiplatform.api_errors) and outside them (kpiplatform.views.server_error) — while
the pages keep their HTML 500 page."""

import logging

import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils import translation
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.services import api_key_create
from kpiplatform.api_errors import RETRY_AFTER_SECONDS, exception_handler
from kpiplatform.views import page_not_found, permission_denied, server_error
from tests.kpiplatform.test_error_pages import assert_nothing_leaks

TEAMS = "/api/v1/teams/"

# This module doubles as a URLconf (tests marked `urls`): plain Django views failing outside DRF, as a middleware
# or the session's query would, under /api/ and on a page; the project's URLs and handlers otherwise.
handler403 = permission_denied
handler404 = page_not_found
handler500 = server_error


def _database_down(request) -> HttpResponse:
    raise OperationalError("connection to server at 10.0.0.5 failed: password=hunter2")


def _boom(request) -> HttpResponse:
    raise RuntimeError("boom: SECRET_KEY")


urlpatterns = [
    path("api/v1/outside-drf/database-down/", _database_down),
    path("api/v1/outside-drf/boom/", _boom),
    path("pages/database-down/", _database_down),
    path("", include("kpiplatform.urls")),
]


@pytest.fixture
def key_client(team_a) -> APIClient:
    """A client of team A's integration (read key), asking for English messages."""
    _api_key, key = api_key_create(team=team_a, name="crm", scopes=["read"])
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _no_database(*args, **kwargs):
    raise OperationalError("could not connect to server")


def _fail_team_listing(monkeypatch, error: Exception) -> None:
    def fail(request, **kwargs):
        raise error

    monkeypatch.setattr("accounts.api.views.request_team_ids", fail)


def assert_json_detail_only(response, status: int) -> str:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["detail"]
    assert_nothing_leaks(response.content.decode())
    assert "hunter2" not in response.content.decode() and "10.0.0.5" not in response.content.decode()
    return body["detail"]


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
def test_database_down_in_an_api_view_is_a_json_503_with_retry_after(key_client, monkeypatch, error):
    # given the database failing while the view reads the teams (the key itself was read before)
    _fail_team_listing(monkeypatch, error)

    # when the integration lists its teams
    response = key_client.get(TEAMS)

    # then a 503 in JSON tells it to come back in RETRY_AFTER_SECONDS
    detail = assert_json_detail_only(response, 503)
    assert detail == "The service is temporarily unavailable: the database cannot be reached. Try again shortly."
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS) == "30"


def test_database_down_while_authenticating_the_key_is_a_json_503(key_client, monkeypatch):
    # given every query failing, the API key's own lookup included
    with monkeypatch.context() as patched:  # undone before the test database is torn down
        patched.setattr("django.db.backends.base.base.BaseDatabaseWrapper.cursor", _no_database)
        response = key_client.get(TEAMS)

    assert_json_detail_only(response, 503)
    assert response["Retry-After"] == "30"


def test_database_down_while_reading_the_session_is_a_json_503(client, manager_a, monkeypatch):
    # given a signed-in user (the session is stored in the database), then every query failing
    client.force_login(manager_a)

    with monkeypatch.context() as patched:
        patched.setattr("django.db.backends.base.base.BaseDatabaseWrapper.cursor", _no_database)
        response = client.get(TEAMS, HTTP_ACCEPT_LANGUAGE="en")

    assert_json_detail_only(response, 503)


def test_an_unexpected_error_in_an_api_view_is_a_json_500_and_its_traceback_is_logged(key_client, monkeypatch, caplog):
    # given a view that crashes, and a client that turns exceptions into responses as the server does
    _fail_team_listing(monkeypatch, RuntimeError("boom: the SECRET_KEY is"))
    key_client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="kpiplatform.api_errors"):
        response = key_client.get(TEAMS)

    # then a JSON 500 says no more than "Server error." and the log has the traceback
    assert assert_json_detail_only(response, 500) == "Server error."
    [logged] = [r for r in caplog.records if r.name == "kpiplatform.api_errors"]
    assert logged.levelno == logging.ERROR and logged.exc_info[0] is RuntimeError
    assert "GET /api/v1/teams/" in logged.getMessage()


def test_an_unexpected_error_in_an_api_view_still_reaches_the_tests(key_client, monkeypatch):
    # As for a page: the test client re-raises what the server would have answered with a 500.
    _fail_team_listing(monkeypatch, RuntimeError("boom"))

    with pytest.raises(RuntimeError, match="boom"):
        key_client.get(TEAMS)


def test_drf_client_errors_keep_their_bodies(key_client, team_a, db):
    unauthenticated = APIClient(HTTP_ACCEPT_LANGUAGE="en").get(TEAMS)
    unknown_kpi = key_client.get("/api/v1/kpis/no-such-kpi/values/", {"team": "team-a"})
    invalid_query = key_client.get("/api/v1/budgets/", {"team": "not a slug!"})

    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == {"detail": "Authentication credentials were not provided."}
    assert unauthenticated["WWW-Authenticate"] == "Api-Key"
    assert unknown_kpi.status_code == 404 and unknown_kpi.json() == {"detail": "No KPI 'no-such-kpi'."}
    assert invalid_query.status_code == 400 and list(invalid_query.json()) == ["team"]


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."), 413, "too large"),
        (TooManyFieldsSent("The number of GET/POST parameters exceeded settings.X."), 400, "too many fields"),
    ],
)
def test_a_body_django_refuses_to_read_is_a_json_4xx_naming_no_setting(error, status, detail):
    request = Request(APIRequestFactory().post(TEAMS, HTTP_ACCEPT_LANGUAGE="en"))

    with translation.override("en"):  # called outside the middleware that would read Accept-Language
        response = exception_handler(error, {"request": request, "view": None})

    assert response.status_code == status
    assert detail in response.data["detail"] and "settings" not in response.data["detail"]


def test_outside_the_api_a_drf_error_is_left_to_django():
    request = Request(APIRequestFactory().get("/dashboard/"))

    assert exception_handler(RuntimeError("boom"), {"request": request, "view": None}) is None


@pytest.mark.urls(__name__)
def test_database_down_outside_drf_under_api_is_a_json_503():
    # A failure before any API view runs (a middleware, the session): Django's handler500, in JSON under /api/
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")

    response = client.get("/api/v1/outside-drf/database-down/")

    assert_json_detail_only(response, 503)
    assert response["Retry-After"] == "30"


@pytest.mark.urls(__name__)
def test_an_unexpected_error_outside_drf_under_api_is_a_json_500():
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")

    response = client.get("/api/v1/outside-drf/boom/")

    assert assert_json_detail_only(response, 500) == "Server error."


@pytest.mark.urls(__name__)
def test_database_down_on_a_page_is_the_html_500_page():
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="fr")

    response = client.get("/pages/database-down/")

    html = response.content.decode()
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    assert 'data-error-page="500"' in html and "Un problème est survenu de notre côté" in html
    assert_nothing_leaks(html)
    assert "hunter2" not in html


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_address_the_api_does_not_have_is_a_json_404(db, method):
    # e.g. a path parameter of the wrong type; a POST with no CSRF token still gets the 404, not the CSRF page
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")

    response = getattr(client, method)("/api/v1/objectives/not-a-number/")

    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_api_address_without_its_slash_is_still_redirected(db):
    response = Client().get("/api/v1/teams")

    assert response.status_code == 301 and response["Location"] == "/api/v1/teams/"
