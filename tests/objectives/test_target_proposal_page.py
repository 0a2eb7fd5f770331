"""The target proposal on the objective form (an HTML fragment), the band and relative fields of the form, and the
detail page's band."""

from datetime import date
from decimal import Decimal as D
from html import unescape

import pytest
import time_machine

from objectives.models import Objective
from tests.objectives.test_proposals import seasonal_revenue

pytestmark = pytest.mark.django_db

URL = "/teams/team-a/objectives/target-proposal/"
JANUARY = {"kpi": "revenue", "start_date": "2026-01-01", "due_date": "2026-01-31"}


@pytest.fixture
def history(revenue, team_a, store):
    for month, value in seasonal_revenue().items():
        store(revenue, team_a, "month", month, value)
        store(revenue, team_a, "day", month, value)
    return revenue


@time_machine.travel("2026-01-01 09:00:00+01:00", tick=False)
def test_the_fragment_shows_the_three_values_in_french(client, manager_a, history):
    client.force_login(manager_a)
    response = client.get(URL, JANUARY)
    assert response.status_code == 200
    page = response.content.decode()
    # hand-computed in test_proposals: 132 / 145,20 / 158,40 €, reached in 22, 15 and 7 of 24 past Januaries…
    assert "145,20\u00a0€" in page and "158,40\u00a0€" in page
    assert "91,7\u00a0%" in page and "(22/24)" in page and "62,5\u00a0%" in page and "29,2\u00a0%" in page
    # the month of the path, next to last year's
    assert 'data-proposal-month="2026-01"' in page and "janvier 2026" in page
    # the fill button carries the values as the form's fields read them (French decimal comma)
    assert 'data-minimum="132"' in page and 'data-target="145,2"' in page and 'data-stretch="158,4"' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kpi": "nope"}, "Sélectionnez un choix valide"),
        ({"due_date": "2025-12-01"}, "La date d'échéance doit être égale ou postérieure à la date de début."),
        ({"start_date": "demain"}, "Saisissez une date valide."),
    ],
)
def test_a_malformed_query_is_a_400_saying_what_is_wrong(client, manager_a, revenue, params, message):
    client.force_login(manager_a)
    response = client.get(URL, {**JANUARY, **params})
    assert response.status_code == 400
    assert message in unescape(response.content.decode())


@time_machine.travel("2026-01-01 09:00:00+01:00", tick=False)
def test_another_team_gets_a_404_and_a_viewer_a_403(client, manager_b, viewer_a, history):
    client.force_login(manager_b)
    response = client.get(URL, JANUARY)
    assert response.status_code == 404 and "145" not in response.content.decode()
    client.force_login(viewer_a)  # proposals serve the managers who set targets
    response = client.get(URL, JANUARY)
    assert response.status_code == 403 and "145" not in response.content.decode()


def test_the_form_saves_a_relative_target_with_its_band(client, manager_a, team_a, revenue, store):
    # given Q2 2025 = 100 000 € (a stored quarter): +20 % → 120 000
    store(revenue, team_a, "quarter", date(2025, 4, 1), 100000)
    client.force_login(manager_a)
    response = client.post(
        "/teams/team-a/objectives/new/",
        {
            "title": "Grow Q2 revenue",
            "owner": manager_a.pk,
            "start_date": "2026-04-01",
            "due_date": "2026-06-30",
            "state": "active",
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "0",
            "targets-0-kpi": "revenue",
            "targets-0-relative_basis": "last_year",
            "targets-0-relative_percent": "20",
            "targets-0-minimum_value": "110000",
            "targets-0-stretch_value": "130000,5",
            "targets-0-judged": "period",
            "targets-0-warning_percent": "90",
            "targets-0-critical_percent": "75",
        },
    )
    assert response.status_code == 302
    target = Objective.objects.get().targets.get()
    assert (target.target_value, target.minimum_value, target.stretch_value) == (
        D("120000"),
        D("110000"),
        D("130000.5"),
    )
    # and the detail page shows the band and what the target is relative to
    html = unescape(client.get(response["Location"]).content.decode())
    assert 'data-band="minimum">110\u00a0000\u00a0€' in html
    relative = html[html.index("data-relative>") :].split("</small>")[0]
    assert "+20\u00a0%" in relative and "la même période l" in relative
    # the edit form sends the relative target back as it was
    edit = client.get(f"{response['Location']}edit/").content.decode()
    assert 'name="targets-0-relative_percent" value="20"' in edit


def test_a_fixed_target_without_a_value_says_so(client, manager_a, revenue):
    client.force_login(manager_a)
    response = client.post(
        "/teams/team-a/objectives/new/",
        {
            "title": "No value",
            "start_date": "2026-04-01",
            "due_date": "2026-06-30",
            "state": "active",
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "0",
            "targets-0-kpi": "revenue",
            "targets-0-judged": "period",
            "targets-0-warning_percent": "90",
            "targets-0-critical_percent": "75",
        },
    )
    assert response.status_code == 200
    assert not Objective.objects.exists()
    assert "Saisissez une valeur cible." in response.content.decode()


def test_the_live_smart_check_reads_a_relative_target_as_its_value(client, manager_a, team_a, revenue, store):
    # given Q2 2025 = 100 000 €: « +20 % vs last year » is 120 000, a measurable target
    store(revenue, team_a, "quarter", date(2025, 4, 1), 100000)
    client.force_login(manager_a)
    data = {
        "title": "Revenue",
        "start_date": "2026-04-01",
        "due_date": "2026-06-30",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "0",
        "targets-0-kpi": "revenue",
        "targets-0-relative_basis": "last_year",
        "targets-0-relative_percent": "20",
    }
    result = client.post("/teams/team-a/objectives/smart-check/", data, HTTP_ACCEPT_LANGUAGE="en").json()
    assert result["measurable"]["ok"] is True
    assert "120" in result["measurable"]["message"]
    # without last year's value there is nothing to measure yet
    result = client.post(
        "/teams/team-a/objectives/smart-check/", {**data, "start_date": "2027-04-01", "due_date": "2027-06-30"}
    ).json()
    assert result["measurable"]["ok"] is False
