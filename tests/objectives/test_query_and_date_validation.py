"""Every query parameter of the objectives, alerts and budgets pages and APIs goes through a form or a serializer (a
wrong one is a 400 naming it), and every date they take lies in the plausible window (kpiplatform.dates): a date
near year 9999 used to be stored, and the progress, burn and forecast computed from it overflowed."""

import datetime as dt

import pytest
import time_machine

from accounts.roles import Role
from objectives.budgets.imports import budgets_import
from objectives.models import AlertRule, Budget, Objective
from tests import factories

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
WINDOW = "enter a date from 1990-01-01 to 2100-12-31"


def objective_body(**change) -> dict:
    return {
        "team": "team-a",
        "title": "Grow Q2 revenue online",
        "start_date": "2026-04-01",
        "due_date": "2026-06-30",
        "targets": [{"kpi": "revenue", "target_value": 90000}],
        **change,
    }


def budget_body(**change) -> dict:
    return {
        "team": "team-a",
        "name": "Salon",
        "category": "acquisition",
        "start_date": "2026-04-01",
        "end_date": "2026-04-30",
        "amount": 1000,
        **change,
    }


def page_400(response) -> str:
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-page="400"' in html
    return html


# --------------------------------------------------------------------------- query parameters


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/objectives/?status=great", "status"),
        ("/api/v1/objectives/?team=Équipe A", "team"),
        ("/api/v1/alerts/?state=sleeping", "state"),
        ("/api/v1/alerts/?severity=apocalyptic", "severity"),
        ("/api/v1/alert-rules/?team=a b", "team"),
    ],
)
def test_a_wrong_api_filter_is_a_400_naming_it(api_client, viewer_a, url, field):
    api_client.force_authenticate(viewer_a)

    response = api_client.get(url, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_alert_filters_keep_their_messages(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    response = api_client.get("/api/v1/alerts/?state=sleeping", HTTP_ACCEPT_LANGUAGE="en")

    assert response.json() == {"state": ["Choose a state among: open, all, pending, firing, acknowledged, resolved."]}


def test_empty_api_filters_mean_no_filter(api_client, viewer_a, revenue):
    api_client.force_authenticate(viewer_a)

    assert api_client.get("/api/v1/objectives/?team=&status=").status_code == 200
    assert api_client.get("/api/v1/alerts/?team=&state=&severity=").status_code == 200
    assert api_client.get("/api/v1/alert-rules/?team=").status_code == 200


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/teams/team-a/objectives/?status=great", "status"),
        ("/alerts/?state=sleeping", "state"),
        ("/alerts/?severity=apocalyptic", "severity"),
        ("/alerts/?page=last", "page"),
        ("/alerts/?page=0", "page"),
        ("/alerts/?team=Équipe A", "team"),
    ],
)
def test_a_wrong_page_filter_is_the_400_page_naming_it(client, viewer_a, url, field):
    client.force_login(viewer_a)

    html = page_400(client.get(url))

    assert f'data-field="{field}"' in html


def test_the_pages_filters_still_filter(client, viewer_a, team_a, revenue):
    client.force_login(viewer_a)
    firing = factories.alert_with_rule(team=team_a, kpi=revenue, name="haut", severity="critical")

    assert client.get("/alerts/?state=&team=&severity=&page=").status_code == 200
    assert list(client.get("/alerts/?severity=critical&page=1").context["page"].object_list) == [firing]
    assert client.get("/teams/team-a/objectives/?status=at_risk").status_code == 200


# --------------------------------------------------------------------------- dates of objectives


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"due_date": "9999-12-31"}, "due_date", "9999-12-31"),
        ({"start_date": "0001-01-01"}, "start_date", "0001-01-01"),
        ({"start_date": "1989-12-31"}, "start_date", "1989-12-31"),
    ],
)
def test_an_objective_dated_out_of_the_window_is_refused(api_client, manager_a, revenue, change, field, value):
    api_client.force_authenticate(manager_a)

    response = api_client.post(
        "/api/v1/objectives/", objective_body(**change), format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert response.json()[field] == [f"{value} is out of range: {WINDOW}."]
    assert not Objective.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_the_objective_form_refuses_a_date_out_of_the_window(client, manager_a, revenue):
    client.force_login(manager_a)

    response = client.post(
        "/teams/team-a/objectives/new/",
        {
            "title": "Grow",
            "start_date": "2026-04-01",
            "due_date": "9999-12-31",
            "state": "active",
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "0",
            "targets-0-kpi": "revenue",
            "targets-0-target_value": "5",
            "targets-0-judged": "period",
            "targets-0-warning_percent": "90",
            "targets-0-critical_percent": "75",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200  # the form again, with its error
    assert response.context["form"].errors == {"due_date": [f"9999-12-31 is out of range: {WINDOW}."]}
    assert not Objective.objects.exists()


# --------------------------------------------------------------------------- dates of budgets and snoozes


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("change", "field"),
    [({"end_date": "9999-12-31"}, "end_date"), ({"start_date": "0001-01-01"}, "start_date")],
)
def test_a_budget_dated_out_of_the_window_is_refused_by_the_api(api_client, manager_a, change, field):
    api_client.force_authenticate(manager_a)

    response = api_client.post("/api/v1/budgets/", budget_body(**change), format="json", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert list(response.json()) == [field] and WINDOW in response.json()[field][0]
    assert not Budget.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_the_budget_form_refuses_a_date_out_of_the_window(client, manager_a):
    client.force_login(manager_a)
    form = {k: v for k, v in budget_body(end_date="9999-12-31").items() if k != "team"}

    response = client.post("/teams/team-a/budgets/new/", form, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.context["form"].errors == {"end_date": [f"9999-12-31 is out of range: {WINDOW}."]}
    assert not Budget.objects.exists()


def test_the_budget_import_refuses_a_date_out_of_the_window(team_a):
    content = b"name;category;start;end;amount\nSalon;acquisition;01/04/2026;31/12/9999;1000\n"

    report = budgets_import(team=team_a, content=content)

    assert not report.written and not Budget.objects.exists()
    assert [(p.line, p.column) for p in report.problems] == [(2, "end")]
    assert "31/12/9999" in report.problems[0].message and "2100-12-31" in report.problems[0].message


@time_machine.travel(NOW, tick=False)
def test_a_snooze_out_of_the_window_is_refused(client, make_user, team_a, revenue):
    client.force_login(make_user("boss", team=team_a, role=Role.MANAGER))
    rule = factories.alert_rule(team=team_a, kpi=revenue)

    client.post(f"/teams/team-a/alert-rules/{rule.pk}/snooze/", {"until": "9999-12-31"})

    rule.refresh_from_db()
    assert rule.snoozed_until is None
    assert AlertRule.objects.count() == 1
