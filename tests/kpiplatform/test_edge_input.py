"""Input checked at the edge (kpiplatform.edge): a NUL character, a lone surrogate, undecodable text or JSON nested
5,000 deep gets a 400 naming the parameter — JSON under /api/, the 400 page elsewhere — and never a 500.

SQLite stores a NUL where PostgreSQL refuses it (psycopg raises, a 500): run this module on PostgreSQL too. The test
client re-raises any exception a view lets through, so a test here fails on what used to be a 500.
"""

import json
from urllib.parse import urlencode

import pytest
from django.test import override_settings
from django.utils import translation

from accounts.roles import Role
from kpiplatform.edge import JsonInputError, json_depth_exceeds, json_loads_safe
from metrics.models import KpiDefinition
from objectives.models import AlertRule, Objective

NUL_MESSAGE = "NUL"


@pytest.fixture(autouse=True)
def in_english(client, api_client):
    """Messages are asserted in English (the site's French is the catalogue's business); a test may still ask for
    another language with its own Accept-Language."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    api_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def revenue(db):
    return KpiDefinition.objects.create(
        code="revenue", name_fr="Chiffre d'affaires", name_en="Revenue", category="sales", unit="€", formula="x"
    )


def errors_of(response) -> list[dict]:
    """The `errors` of a JSON 400, read from the bytes sent (so they could be encoded)."""
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content.decode("utf-8"))["errors"]


def fields_of(response) -> list[str]:
    return [error["field"] for error in errors_of(response)]


def page_fields(response) -> str:
    html = response.content.decode("utf-8")
    assert 'data-error-page="400"' in html
    return html


# --------------------------------------------------------------------------- query strings and paths, API


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/kpis/revenue/values/?team=a%00b", "team"),
        ("/api/v1/kpis/revenue/range/?team=team-a&start=2026-01-01&end=2026-01-31&segment=channel%3D%00", "segment"),
        ("/api/v1/alerts/?team=%00", "team"),
        ("/api/v1/alerts/?state=open%00", "state"),
        ("/api/v1/alert-rules/?team=x%00", "team"),
        ("/api/v1/objectives/?status=%00", "status"),
        ("/api/v1/budgets/?team=%00", "team"),
        ("/api/v1/kpis/?category=sales%00", "category"),
        ("/api/v1/teams/team-a/scorecard/?date=%00", "date"),
        ("/api/v1/activity/orders/?team=%00", "team"),
    ],
)
def test_a_nul_in_an_api_query_parameter_is_a_json_400_naming_it(api_client, viewer_a, revenue, url, field):
    # given a reader of team A
    api_client.force_authenticate(viewer_a)

    # when a query parameter holds a NUL character
    response = api_client.get(url)

    # then a JSON 400 names the parameter and says what is wrong
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["field"] == field
    assert f"“{field}”" in error["message"] and NUL_MESSAGE in error["message"]


def test_a_nul_in_a_query_parameter_s_name_is_refused(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    response = api_client.get("/api/v1/objectives/?st%00atus=on_track")

    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["field"] == "st\\x00atus"  # written as an escape, never as the character itself
    assert error["message"].startswith("The name of the query parameter")


def test_a_query_value_that_is_not_utf8_is_refused(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    # %E9 is « é » in Latin-1: not UTF-8 (Django would have read it as « � »)
    response = api_client.get("/api/v1/objectives/?team=%E9quipe")

    assert response.status_code == 400
    assert errors_of(response) == [
        {"field": "team", "message": "The query parameter “team” is not valid UTF-8 text."},
    ]


def test_a_nul_in_an_api_path_is_a_json_400(api_client, viewer_a):
    api_client.force_authenticate(viewer_a)

    response = api_client.get("/api/v1/activity/ord%00ers/")

    assert response.status_code == 400
    assert fields_of(response) == ["path"]


def test_a_nul_in_a_cookie_is_refused_before_the_session_is_read(client, viewer_a):
    # given a session cookie carrying a NUL (an octal escape in a quoted cookie value decodes to one)
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"

    # when any page is asked for
    response = client.get("/alerts/")

    # then the 400 names the cookie, and the session store was never asked for that key
    assert response.status_code == 400
    assert 'data-field="cookie:sessionid"' in page_fields(response)


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/alerts/?team=%00", "team"),
        ("/alerts/?state=%00&team=team-a", "state"),
        ("/teams/team-a/objectives/?status=%00", "status"),
        ("/dashboard/team-a/?period=%00", "period"),
        ("/dashboard/team-a/kpi/revenue/export.csv?at=2026-01-01%00", "at"),
        ("/teams/team-a/budgets/?x=%00", "x"),
    ],
)
def test_a_nul_in_a_page_query_parameter_is_the_400_page_naming_it(client, viewer_a, revenue, url, field):
    # given a reader of team A, logged in
    client.force_login(viewer_a)

    # when a page is asked for with a NUL in a query parameter
    response = client.get(url)

    # then the 400 page, in the site's frame with the user's menus, names the parameter
    assert response.status_code == 400
    html = page_fields(response)
    assert f'data-field="{field}"' in html
    assert 'class="topbar"' in html and 'data-nav="alerts"' in html
    assert f"“{field}” contains a NUL character" in html


def test_a_nul_in_a_page_path_is_the_400_page(client, viewer_a):
    client.force_login(viewer_a)

    response = client.get("/dashboard/team%00-a/")

    assert response.status_code == 400
    assert 'data-field="path"' in page_fields(response)


def test_the_400_page_is_in_the_user_s_language(client, viewer_a):
    client.force_login(viewer_a)

    response = client.get("/alerts/?team=%00", HTTP_ACCEPT_LANGUAGE="fr")

    html = page_fields(response)
    assert '<html lang="fr">' in html and "Erreur 400" in html


@pytest.mark.parametrize("content_type", ["urlencoded", "multipart"])
def test_a_nul_in_a_form_field_is_refused_and_nothing_is_saved(client, make_user, team_a, revenue, content_type):
    # given a manager of team A on the new objective form
    client.force_login(make_user("boss", team=team_a, role=Role.MANAGER))
    form = {"title": "Chiffre\x00", "start_date": "2026-01-01", "due_date": "2026-03-31", "state": "active"}

    # when the form is sent with a NUL in the title
    if content_type == "urlencoded":
        response = client.post(
            "/teams/team-a/objectives/new/", urlencode(form), content_type="application/x-www-form-urlencoded"
        )
    else:
        response = client.post("/teams/team-a/objectives/new/", form)

    # then the 400 page names the field, and no objective was created
    assert response.status_code == 400
    assert 'data-field="title"' in page_fields(response)
    assert not Objective.objects.exists()


def test_a_nul_in_an_api_form_body_is_a_json_400(api_client, make_user, team_a, revenue):
    api_client.force_authenticate(make_user("boss", team=team_a, role=Role.MANAGER))

    response = api_client.post(
        "/api/v1/alert-rules/", {"team": "team-a\x00", "kpi": "revenue", "condition": "above", "threshold": "1"}
    )

    assert response.status_code == 400
    assert fields_of(response) == ["team"]
    assert not AlertRule.objects.exists()


def test_normal_requests_pass_untouched(client, api_client, viewer_a, revenue):
    client.force_login(viewer_a)
    api_client.force_authenticate(viewer_a)

    # accents written as UTF-8, a « + » for a space, an empty value: all fine
    assert client.get("/teams/team-a/objectives/?note=%C3%A9t%C3%A9+2026&status=").status_code == 200
    assert client.get("/alerts/?team=team-a&state=all").status_code == 200
    assert api_client.get("/api/v1/kpis/?category=sales").status_code == 200
    assert api_client.get("/api/v1/objectives/?team=team-a").status_code == 200


# --------------------------------------------------------------------------- JSON bodies


@pytest.fixture
def manager_client(api_client, make_user, team_a, revenue):
    api_client.force_authenticate(make_user("boss", team=team_a, role=Role.MANAGER))
    return api_client


def post_raw(client, url: str, body: str | bytes):
    return client.generic("POST", url, body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"team": "team-a\x00", "kpi": "revenue", "condition": "above", "threshold": 1}, "team"),
        ({"team": "team-a", "kpi": "revenue", "condition": "above", "threshold": 1, "segment": "a=\x00"}, "segment"),
        ({"team": "team-a", "kpi": "revenue", "condition": "above", "recipients": ["ok", "\x00"]}, "recipients[1]"),
    ],
)
def test_a_nul_in_a_json_string_is_a_400_naming_its_path(manager_client, body, field):
    response = post_raw(manager_client, "/api/v1/alert-rules/", json.dumps(body))

    assert response.status_code == 400
    assert fields_of(response) == [field]
    assert NUL_MESSAGE in errors_of(response)[0]["message"]
    assert not AlertRule.objects.exists()


def test_a_nul_deep_in_a_json_body_names_the_nested_path(manager_client):
    body = {
        "team": "team-a",
        "title": "Grow",
        "start_date": "2026-01-01",
        "due_date": "2026-03-31",
        "targets": [{"kpi": "revenue", "target_value": 1}, {"kpi": "rev\x00enue", "target_value": 2}],
    }

    response = post_raw(manager_client, "/api/v1/objectives/", json.dumps(body))

    assert response.status_code == 400
    assert fields_of(response) == ["targets[1].kpi"]
    assert not Objective.objects.exists()


def test_a_nul_in_a_json_key_is_refused(manager_client):
    response = post_raw(manager_client, "/api/v1/alert-rules/", '{"team": "team-a", "attri\\u0000butes": {}}')

    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["field"] == "body" and error["message"].startswith("A key of the JSON object “body”")


def test_a_lone_surrogate_is_a_400_whose_body_can_be_encoded(manager_client):
    # given a JSON string holding a lone surrogate (an escape: the bytes themselves are plain ASCII)
    body = '{"team": "team-a", "kpi": "revenue", "condition": "above", "threshold": 1, "name": "CA \\ud800"}'

    # when it is posted
    response = post_raw(manager_client, "/api/v1/alert-rules/", body)

    # then a 400 names the field and the character, and its body is valid UTF-8 JSON
    assert response.status_code == 400
    content = response.content  # rendered to bytes: no UnicodeEncodeError
    [error] = json.loads(content.decode("utf-8"))["errors"]
    assert error["field"] == "name"
    assert "lone surrogate (\\ud800)" in error["message"]
    assert not AlertRule.objects.exists()


def test_a_surrogate_pair_is_an_ordinary_character(manager_client):
    # « \\ud83d\\ude00 » is one emoji, written as the pair JSON needs
    body = '{"team": "team-a", "kpi": "revenue", "condition": "above", "threshold": 1, "name": "CA \\ud83d\\ude00"}'

    response = post_raw(manager_client, "/api/v1/alert-rules/", body)

    assert response.status_code == 201, response.content
    assert AlertRule.objects.get().name == "CA \U0001f600"


def test_bytes_that_are_not_utf8_in_a_json_body_are_refused(manager_client):
    response = post_raw(manager_client, "/api/v1/alert-rules/", b'{"team": "\xed\xa0\x80"}')

    assert response.status_code == 400
    assert fields_of(response) == ["body"]
    assert "UTF-8" in errors_of(response)[0]["message"]


def test_json_nested_5000_deep_is_a_400_not_a_recursion_error(manager_client):
    response = post_raw(manager_client, "/api/v1/alert-rules/", "[" * 5000 + "]" * 5000)

    assert response.status_code == 400
    assert errors_of(response) == [
        {"field": "body", "message": "The JSON body nests arrays and objects more than 64 levels deep."}
    ]


def test_malformed_json_keeps_drf_s_answer(manager_client):
    response = post_raw(manager_client, "/api/v1/alert-rules/", '{"team": ')

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


@override_settings(KPI_MAX_JSON_DEPTH=3)
def test_the_depth_limit_is_a_setting(manager_client):
    body = '{"team": "team-a", "kpi": "revenue", "condition": "above", "recipients": [[["x"]]]}'

    response = post_raw(manager_client, "/api/v1/alert-rules/", body)

    assert response.status_code == 400
    assert "more than 3 levels" in errors_of(response)[0]["message"]


def test_depth_is_counted_on_arrays_and_objects_outside_strings():
    # 3 levels: the object, its list, the inner object; the brackets inside the string do not count
    text = '{"a": [{"b": "[[[[{{{{\\"]]]"}]}'
    assert json.loads(text)
    assert not json_depth_exceeds(text, 3)
    assert json_depth_exceeds(text, 2)


def test_the_depth_scan_stays_linear_on_a_string_never_closed():
    # a quote, then 200,000 escaped quotes and no closing one: a pattern retried from every quote took minutes here
    text = '["' + '\\"' * 200_000 + "["

    # one level: the "[" at the end is inside the string left open
    assert not json_depth_exceeds(text, 1)
    with pytest.raises(ValueError):
        json_loads_safe(text)


def test_json_loads_safe_allows_the_limit_and_refuses_one_more():
    assert json_loads_safe(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(JsonInputError) as refused:
        json_loads_safe(b"[" * 65 + b"]" * 65)
    assert [p.field for p in refused.value.problems] == ["body"]


def test_json_loads_safe_names_every_bad_string_by_path():
    with pytest.raises(JsonInputError) as refused:
        json_loads_safe('{"records": [{"external_id": "a\\u0000"}, {"attributes": {"note": "\\udc00"}}]}')

    assert [(p.field, p.message) for p in refused.value.problems] == [
        (
            "records[0].external_id",
            "The JSON field “records[0].external_id” contains a NUL character (\\x00), which is not accepted.",
        ),
        (
            "records[1].attributes.note",
            "The JSON field “records[1].attributes.note” contains a lone surrogate (\\udc00), which is not valid text.",
        ),
    ]


def test_json_loads_safe_refuses_nan():
    with pytest.raises(ValueError):
        json_loads_safe(b'{"amount": NaN}')
