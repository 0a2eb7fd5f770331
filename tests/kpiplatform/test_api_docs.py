"""The API docs: the page /api/v1/docs/ (Swagger UI from the site's own static files, so it works offline), and the
OpenAPI schema it shows, which documents every error each operation answers and its body."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator


class _AssetUrls(HTMLParser):
    """Every src and href attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _asset_urls(html: str) -> list[str]:
    parser = _AssetUrls()
    parser.feed(html)
    return parser.urls


def _docs_page(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    return response.content.decode()


def test_docs_page_loads_no_asset_from_another_site(client, viewer_a):
    html = _docs_page(client, viewer_a)

    urls = _asset_urls(html)

    # Swagger UI's script, style sheet and favicon at least, all on this site
    assert len(urls) >= 3
    assert [url for url in urls if urlsplit(url).scheme or url.startswith("//")] == []
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


def test_docs_page_assets_are_static_files_that_exist(client, viewer_a):
    html = _docs_page(client, viewer_a)

    assets = [url for url in _asset_urls(html) if url.startswith(settings.STATIC_URL)]

    assert any(url.endswith("swagger-ui-bundle.js") for url in assets)
    assert any(url.endswith("swagger-ui.css") for url in assets)
    missing = [url for url in assets if finders.find(urlsplit(url).path.removeprefix(settings.STATIC_URL)) is None]
    assert missing == []


def test_docs_page_points_at_the_schema(client, viewer_a):
    html = _docs_page(client, viewer_a)

    assert reverse("api-schema") in html


# --------------------------------------------------------------------------- the OpenAPI schema tells the truth


@pytest.fixture(scope="module")
def api_schema(django_db_blocker) -> dict:
    """The whole /api/v1/ schema, generated once, with drf-spectacular's warnings and errors counted."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence(), django_db_blocker.unblock():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    schema["x-problems"] = (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    return schema


def _operations(schema: dict):
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            yield f"{method.upper()} {path}", path, operation


def test_the_schema_generates_without_warnings_nor_errors(api_schema):
    # `manage.py check --deploy` fails on schema warnings
    assert api_schema["x-problems"] == ({}, {})


def test_every_operation_documents_the_errors_every_request_may_get(api_schema):
    missing = {
        label: sorted({"400", "401", "403", "429", "503"} - set(operation["responses"]))
        for label, _path, operation in _operations(api_schema)
    }

    assert {label: codes for label, codes in missing.items() if codes} == {}
    assert len(missing) >= 45


def test_a_path_with_parameters_documents_its_404_and_a_body_its_413_and_415(api_schema):
    wrong = []
    for label, path, operation in _operations(api_schema):
        codes = set(operation["responses"])
        if "{" in path and "404" not in codes:
            wrong.append(f"{label}: no 404")
        if "requestBody" in operation and not {"413", "415"} <= codes:
            wrong.append(f"{label}: no 413/415")

    assert wrong == []


def test_error_bodies_are_documented_as_served(api_schema):
    responses = api_schema["paths"]["/api/v1/objectives/"]["post"]["responses"]
    body = {status: responses[status]["content"]["application/json"]["schema"] for status in responses}

    # DRF's field errors, `{"detail"}` for an unreadable body, or edge's list of problems of the request
    assert body["400"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/ValidationErrors"},
            {"$ref": "#/components/schemas/ErrorDetail"},
            {"$ref": "#/components/schemas/InputErrors"},
        ]
    }
    assert body["401"] == body["403"] == body["404"] == body["429"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert responses["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 0}
    assert responses["503"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 0}
    assert api_schema["components"]["schemas"]["ErrorDetail"]["required"] == ["detail"]


def test_what_a_view_documents_itself_is_kept(api_schema):
    ingest = api_schema["paths"]["/api/v1/activity/orders/"]["post"]["responses"]
    acknowledge = api_schema["paths"]["/api/v1/alerts/{id}/acknowledge/"]["post"]["responses"]

    assert ingest["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IngestErrors"}
    assert ingest["400"]["description"] == "invalid records; nothing written"
    assert acknowledge["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorDetail"}


def test_the_csv_listing_is_documented_as_text(api_schema):
    listing = api_schema["paths"]["/api/v1/activity/orders/"]["get"]["responses"]["200"]["content"]

    assert listing["text/csv"]["schema"] == {"type": "string"}
    assert listing["application/json"]["schema"] == {"$ref": "#/components/schemas/PaginatedOrderRecordList"}


def test_an_empty_optional_query_parameter_is_documented_as_accepted(api_schema):
    parameters = {p["name"]: p for p in api_schema["paths"]["/api/v1/kpis/{code}/values/"]["get"]["parameters"]}

    assert parameters["granularity"]["allowEmptyValue"] is True
    assert "allowEmptyValue" not in parameters["team"]  # required
    assert "allowEmptyValue" not in parameters["code"]  # in the path


def test_a_top_level_team_has_a_null_parent_in_the_schema_too(api_schema, client, manager_a, make_team, team_a):
    make_team("team-a-north", parent=team_a)
    client.force_login(manager_a)

    teams = client.get("/api/v1/teams/").json()["results"]

    assert [(team["slug"], team["parent"]) for team in teams] == [("team-a", None), ("team-a-north", "team-a")]
    assert api_schema["components"]["schemas"]["Team"]["properties"]["parent"]["nullable"] is True
