"""POST/GET /api/v1/activity/<kind>/: the §9 contract, limits, errors, listing, filters, CSV export, isolation."""

import csv
import io
import json

import pytest

from accounts.roles import Role
from metrics.activity.kinds import KIND_SPECS
from metrics.api import urls as metrics_urls
from metrics.api.activity_schema import EXAMPLES
from metrics.models import DirtyMark, Order

URL = "/api/v1/activity/orders/"
ORDERS = [
    {"external_id": "O-1", "ordered_at": "2025-03-03T12:00:00Z", "amount": "10.00", "channel": "web"},
    {"external_id": "O-2", "ordered_at": "2025-03-05T12:00:00Z", "amount": 20, "is_upsell": True},
]


def post(client, body, url=URL, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def test_a_batch_is_upserted_and_counted(key_client, team_a):
    client = key_client(team_a)
    response = post(client, ORDERS)
    assert response.status_code == 200
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert set(Order.objects.filter(team=team_a).values_list("external_id", flat=True)) == {"O-1", "O-2"}


def test_the_same_batch_twice_answers_all_unchanged(key_client, team_a):
    client = key_client(team_a)
    post(client, {"records": ORDERS})
    response = post(client, {"records": ORDERS})
    assert (response.status_code, response.json()) == (200, {"created": 0, "updated": 0, "unchanged": 2})


def test_a_changed_record_counts_as_updated(key_client, team_a):
    client = key_client(team_a)
    post(client, ORDERS)
    response = post(client, [{**ORDERS[0], "amount": "11.00"}, ORDERS[1]])
    assert response.json() == {"created": 0, "updated": 1, "unchanged": 1}


def test_an_invalid_record_answers_400_with_every_error_and_writes_nothing(key_client, team_a):
    client = key_client(team_a)
    bad = [ORDERS[0], {**ORDERS[1], "amount": -3, "customer": "C-404"}]
    response = post(client, bad)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"index": 1, "external_id": "O-2", "field": "amount", "message": "Must be at least 0 (got -3.00)."},
        ]
    }
    assert Order.objects.count() == 0 and DirtyMark.objects.count() == 0


def test_an_unknown_reference_answers_400_on_its_field(key_client, team_a):
    response = post(key_client(team_a), [{**ORDERS[0], "customer": "C-404"}])
    assert response.json() == {
        "errors": [
            {
                "index": 0,
                "external_id": "O-1",
                "field": "customer",
                "message": "No customer with external_id 'C-404' in this team.",
            }
        ]
    }


def test_messages_follow_the_callers_language(make_key, api_client, team_a):
    # French is the default language of the platform
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_key(team_a)}")
    response = post(api_client, [{**ORDERS[0], "amount": "-1"}])
    assert response.json()["errors"][0]["message"] == "Doit valoir au moins 0 (reçu -1.00)."


def test_malformed_json_answers_400_with_a_message(key_client, team_a):
    response = key_client(team_a).post(URL, data="[{'external_id': ", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_a_body_that_is_not_a_list_answers_400(key_client, team_a):
    response = post(key_client(team_a), {"external_id": "O-1"})
    assert response.status_code == 400
    assert response.json() == {"detail": 'Send a JSON list of records, or an object {"records": [...]}.'}


def test_too_many_records_answers_413(key_client, team_a, settings):
    settings.KPI_MAX_BATCH_RECORDS = 2
    response = post(key_client(team_a), ORDERS + [{**ORDERS[0], "external_id": "O-3"}])
    assert response.status_code == 413
    assert response.json() == {"detail": "Too many records: 3 (at most 2 per request)."}
    assert Order.objects.count() == 0


def test_too_large_a_body_answers_413(key_client, team_a, settings):
    settings.KPI_MAX_BATCH_BYTES = 100
    body = json.dumps(ORDERS)
    response = key_client(team_a).post(URL, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": f"The request body is too large: {len(body)} bytes (at most 100)."}


def test_an_unknown_kind_answers_404_json(key_client, team_a):
    response = post(key_client(team_a), ORDERS, url="/api/v1/activity/invoices/")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Unknown record kind 'invoices'. Known kinds: customers, leads,")


def test_listing_is_paginated_by_cursor_and_shows_references_by_external_id(key_client, team_a):
    client = key_client(team_a)
    post(client, [{"external_id": "C-1", "acquired_at": "2025-01-01T00:00:00Z"}], url="/api/v1/activity/customers/")
    post(client, [{**order, "customer": "C-1"} for order in ORDERS])
    first = client.get(URL, {"page_size": 1}).json()
    assert first["previous"] is None and first["next"]
    assert first["results"] == [
        {
            "external_id": "O-1",
            "team": "team-a",
            "customer": "C-1",
            "ordered_at": "2025-03-03T12:00:00Z",
            "amount": "10.00",
            "status": "completed",
            "is_upsell": False,
            "is_cross_sell": False,
            "channel": "web",
            "attributes": {},
            "ingested_at": first["results"][0]["ingested_at"],
            "updated_at": first["results"][0]["updated_at"],
        }
    ]
    second = client.get(first["next"]).json()
    assert [r["external_id"] for r in second["results"]] == ["O-2"] and second["next"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"external_id": "O-2"}, ["O-2"]),
        ({"ordered_at_after": "2025-03-04"}, ["O-2"]),
        ({"ordered_at_before": "2025-03-05T12:00:00Z"}, ["O-1"]),
        ({"ordered_at_after": "2025-03-03T12:00:00Z", "ordered_at_before": "2025-03-06"}, ["O-1", "O-2"]),
        ({"updated_since": "2000-01-01T00:00:00Z"}, ["O-1", "O-2"]),
        ({"updated_since": "2099-01-01T00:00:00Z"}, []),
    ],
)
def test_listing_filters(key_client, team_a, query, expected):
    client = key_client(team_a)
    post(client, ORDERS)
    body = client.get(URL, query).json()
    assert [r["external_id"] for r in body["results"]] == expected


def test_csv_export_escapes_formula_cells(key_client, team_a):
    client = key_client(team_a)
    post(client, [{**ORDERS[0], "channel": '=HYPERLINK("http://evil")'}, {**ORDERS[1], "channel": "@SUM(A1)"}])
    response = client.get(URL, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header = rows[0]
    assert header[:4] == ["external_id", "team", "customer", "ordered_at"]
    channel = header.index("channel")
    assert [row[channel] for row in rows[1:]] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)"]
    assert rows[1][header.index("amount")] == "10.00"


# --- Team isolation and scopes -------------------------------------------------


def test_a_key_cannot_read_another_teams_records(key_client, team_a, team_b):
    post(key_client(team_b), ORDERS)
    body = key_client(team_a).get(URL).json()
    assert body["results"] == []
    assert key_client(team_a).get(URL, {"team": "team-b"}).json()["results"] == []
    csv_body = b"".join(key_client(team_a).get(URL, {"format": "csv"}).streaming_content).decode()
    assert csv_body.count("\n") == 1  # the header only


def test_a_key_cannot_write_to_another_team(key_client, team_a, team_b):
    client = key_client(team_a)
    response = post(client, [{**ORDERS[0], "team": "team-b"}])
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"index": 0, "external_id": "O-1", "field": "team", "message": "No team 'team-b' you may write to."}]
    }
    assert post(client, ORDERS, url=f"{URL}?team=team-b").status_code == 404
    assert Order.objects.count() == 0


def test_a_key_writes_to_its_sub_team_by_slug(key_client, make_team, team_a):
    make_team("team-a-north", parent=team_a)
    response = post(key_client(team_a), [{**ORDERS[0], "team": "team-a-north"}])
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert Order.objects.get().team.slug == "team-a-north"


def test_a_read_only_key_cannot_post(key_client, team_a):
    response = post(key_client(team_a, "read"), ORDERS)
    assert response.status_code == 403
    assert response.json() == {"detail": "This API key does not have the 'write' scope."}
    assert Order.objects.count() == 0


def test_a_write_only_key_cannot_list(key_client, team_a):
    response = key_client(team_a, "write").get(URL)
    assert response.status_code == 403


def test_an_invalid_key_is_refused(api_client, team_a):
    api_client.credentials(HTTP_AUTHORIZATION="Api-Key abc.def", HTTP_ACCEPT_LANGUAGE="en")
    response = post(api_client, ORDERS)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key."}


def test_anonymous_callers_are_refused(api_client, team_a):
    assert post(api_client, ORDERS).status_code in (401, 403)
    assert Order.objects.count() == 0


def test_a_member_writes_to_their_team_through_the_session(api_client, make_user, team_a):
    member = make_user("member-a", team=team_a, role=Role.MEMBER)
    api_client.force_authenticate(member)
    response = post(api_client, ORDERS)
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert api_client.get(URL).json()["results"][0]["team"] == "team-a"


def test_a_viewer_reads_but_cannot_write(api_client, viewer_a, team_a, key_client):
    post(key_client(team_a), ORDERS)
    api_client.force_authenticate(viewer_a)
    assert post(api_client, ORDERS, HTTP_ACCEPT_LANGUAGE="en").status_code == 403
    assert len(api_client.get(URL).json()["results"]) == 2


def test_a_user_of_another_team_sees_and_writes_nothing_here(api_client, manager_b, team_a, key_client):
    post(key_client(team_a), ORDERS)
    api_client.force_authenticate(manager_b)
    assert api_client.get(URL).json()["results"] == []
    response = post(api_client, [{**ORDERS[0], "team": "team-a"}], HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["errors"][0]["field"] == "team"
    assert Order.objects.filter(team__slug="team-b").count() == 0


def test_the_schema_documents_every_kind_with_its_fields():
    # The activity part of /api/v1/schema/, generated from the activity routes alone
    from django.urls import include, path
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    patterns = [path("api/v1/", include([p for p in metrics_urls.urlpatterns if "activity" in str(p.pattern)]))]
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    # No warning: `manage.py check --deploy` fails on schema warnings
    assert (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache)) == ({}, {})
    assert set(schema["paths"]) == {f"/api/v1/activity/{kind}/" for kind in KIND_SPECS}
    for kind in KIND_SPECS:
        post_op = schema["paths"][f"/api/v1/activity/{kind}/"]["post"]
        examples = post_op["requestBody"]["content"]["application/json"]["examples"]
        assert [example["value"] for example in examples.values()] == [[EXAMPLES[kind]]]
        # The errors of every endpoint (401, 404, 415, 429, 503) are documented site-wide (kpiplatform.api_schema).
        assert {"200", "400", "403", "413"} <= set(post_op["responses"])
    order_fields = schema["components"]["schemas"]["OrderRecordInputRequest"]["properties"]
    assert {"external_id", "team", "customer", "ordered_at", "amount", "status", "is_upsell", "attributes"} <= set(
        order_fields
    )
    assert "ApiKeyAuth" in schema["components"]["securitySchemes"]


def test_listing_costs_the_same_queries_for_2_or_60_records(key_client, team_a, django_assert_max_num_queries):
    # Given a customer and orders referring to it (the listing joins the customer's external_id)
    client = key_client(team_a)
    client.get(URL)  # the key's first use records last_used_at; later requests within a minute do not
    post(client, [{"external_id": "C-1", "acquired_at": "2025-01-01T00:00:00Z"}], url="/api/v1/activity/customers/")
    post(client, [{**order, "customer": "C-1"} for order in ORDERS])
    # The key lookup, the team tree, one page query: 3 queries whatever the number of rows
    with django_assert_max_num_queries(3):
        assert len(client.get(URL).json()["results"]) == 2
    post(client, [{**ORDERS[0], "external_id": f"O-{n}", "customer": "C-1"} for n in range(3, 61)])
    with django_assert_max_num_queries(3):
        assert len(client.get(URL).json()["results"]) == 60
