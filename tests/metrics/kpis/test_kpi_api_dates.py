"""The KPI values and range endpoints take dates within the plausible window (KPI_DATE_MIN_YEAR to
KPI_DATE_MAX_YEAR, kpiplatform.dates): a date outside is a 400 naming the parameter and the window, where a date
near year 9999 used to overflow (OverflowError, a 500) while the periods were counted."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.usefixtures("catalogue")

VALUES = "/api/v1/kpis/win_rate/values/"
RANGE = "/api/v1/kpis/revenue/range/"
WINDOW = "enter a date from 1990-01-01 to 2100-12-31"


@pytest.mark.parametrize(
    ("url", "params", "field", "value"),
    [
        (VALUES, {"start": "9990-01-01"}, "start", "9990-01-01"),
        # the last day of Python's calendar: the day after it overflowed
        (VALUES, {"end": "9999-12-31"}, "end", "9999-12-31"),
        (VALUES, {"start": "9999-01-01", "end": "9999-12-31", "granularity": "year"}, "start", "9999-01-01"),
        (VALUES, {"start": "0001-01-01", "end": "2026-01-31", "granularity": "year"}, "start", "0001-01-01"),
        (RANGE, {"start": "9999-12-01", "end": "9999-12-31"}, "start", "9999-12-01"),
        (RANGE, {"start": "9990-01-01", "end": "9990-01-31"}, "start", "9990-01-01"),
        (RANGE, {"start": "2026-01-01", "end": "2101-01-01"}, "end", "2101-01-01"),
        (RANGE, {"start": "0001-01-01", "end": "0001-01-31"}, "start", "0001-01-01"),
    ],
)
def test_a_date_out_of_the_window_is_a_400_naming_it_and_the_window(api_client, viewer_a, url, params, field, value):
    # given a reader of team A
    api_client.force_authenticate(viewer_a)

    # when a date lies outside 1990–2100
    response = api_client.get(url, {"team": "team-a", **params}, HTTP_ACCEPT_LANGUAGE="en")

    # then a 400 names the parameter, the date sent and the window
    assert response.status_code == 400
    assert response.json()[field] == [f"{value} is out of range: {WINDOW}."]


def test_the_window_s_edges_are_accepted(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    first = api_client.get(RANGE, {"team": "team-a", "start": "1990-01-01", "end": "1990-01-31"})
    last = api_client.get(RANGE, {"team": "team-a", "start": "2100-12-01", "end": "2100-12-31"})

    assert (first.status_code, last.status_code) == (200, 200)
    assert (first.json()["start"], last.json()["end"]) == ("1990-01-01", "2100-12-31")


@override_settings(KPI_DATE_MIN_YEAR=2020, KPI_DATE_MAX_YEAR=2030)
def test_the_window_is_a_setting(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    response = api_client.get(VALUES, {"team": "team-a", "start": "2019-12-31"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.json()["start"] == ["2019-12-31 is out of range: enter a date from 2020-01-01 to 2030-12-31."]


def test_the_window_is_named_in_french(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    response = api_client.get(VALUES, {"team": "team-a", "start": "9990-01-01"}, HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 400
    [message] = response.json()["start"]
    assert "9990-01-01" in message and "1990-01-01" in message and "2100-12-31" in message


def test_an_unknown_category_is_a_400_naming_it(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    response = api_client.get("/api/v1/kpis/", {"category": "astrology"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.json() == {"category": ['"astrology" is not a valid choice.']}
    assert api_client.get("/api/v1/kpis/", {"category": ""}).json()["count"] == 55
