"""Cross-team isolation matrix, generated from the URL resolver and the OpenAPI schema (issue 16).

Every route of the site and every operation of the API is requested by every actor of team A (viewer, member,
manager, the director above A, a read key and a read,write key) with each HTTP method it takes, pointing at the
objects of another team: B, B's sub-team, A's sibling (but for the director, who manages it), and A's own team slug
with B's object ids. Nobody writes a test per endpoint: a new route is in the matrix the day it is added, and a
route whose URL parameter the matrix cannot fill fails the test until PARAMETERS says what it names.

API requests also point at A's own objects with one field of their query or body naming B's (a parent objective,
a target, a budget, an owner…). Each request is compared with its "ghost" twin, the same request naming objects
that do not exist:

* a route that names another team's object in its path answers like a missing object: no 2xx, no redirect but to
  the login page;
* every request gets the ghost's status, and a refusal says what the ghost's says (numbers and the names sent
  aside): a 403, or "must be a member of the team", where the ghost gets a 404, or "unknown", tells it exists;
* no body (CSV, XLSX and JSON included) nor header carries the other teams' names, markers or KPI values, but
  for what the request itself sent;
* a write leaves every row of the other teams as it was (a digest of their rows) and links no other row to them
  (A's objective under B's, B's manager as owner…); every request runs in a savepoint rolled back after it.

The sanity half asks A's own objects: if the fixture were wrong, everything would be a 404 and prove nothing, so
most GET routes must answer A's manager with a 2xx.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection, models, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from accounts.models import Team, User
from tests.faults import isolation_fixtures as fixtures
from tests.faults.report import record

# --------------------------------------------------------------------------- what the matrix leaves out, and why

SKIPPED_ROUTES = {
    "admin/": "the Django admin: staff only, and staff see every team by design",
    "static/": "static files: no team data",
    "i18n/": "the language switch: no team data",
    "healthz": "the liveness probe: no team data",
    "api/v1/schema/": "the OpenAPI document: describes the API, holds no team data",
    "api/v1/docs/": "the API docs page: static, holds no team data",
    "accounts/login/": "authentication page: public by nature",
    "accounts/logout/": "authentication page: ends the actor's session, which the matrix needs",
    "accounts/password/": "the actor's own password pages: no team data, would change the actor's password",
    "accounts/reset/": "password reset by signed token: public by nature, no team data",
    "notifications/unsubscribe/": "authorised by the signed per-user token of a digest e-mail, not by a team "
    "(tests/objectives/notifications/test_digest.py)",
}
# Routes skipped by name (regular expressions, whose template says little).
SKIPPED_ROUTE_NAMES = {
    "api-not-found": "the API's JSON 404 for any address it does not have: names nothing, the same for everyone",
}

# --------------------------------------------------------------------------- what each URL parameter names

# A URL parameter by its name: the kind of object (tests/faults/isolation_fixtures.py, TeamObjects.values).
PARAMETERS = {
    "slug": "team",
    "team_slug": "team",
    "team": "team",
    "code": "kpi",  # the shared catalogue: not a team's; the team comes from the slug or ?team=
    "kind": "record_kind",  # a kind of CRM record: not a team's
    "objective_id": "objective",
    "target_id": "target",
    "rule_id": "alert_rule",
    "alert_id": "alert",
    "notification_id": "notification",
    "webhook_id": "webhook",
    "job_id": "import_job",
    "budget_id": "budget",
    "card_id": "dashboard_card",
    "panel_id": "dashboard_panel",
    "key_id": "api_key",
    "api_key_id": "api_key",
}
# A bare `pk` or `id` by the collection it follows ("alerts/<int:pk>/" → an alert).
COLLECTIONS = {
    "objectives": "objective",
    "targets": "target",
    "alert-rules": "alert_rule",
    "alerts": "alert",
    "notifications": "notification",
    "webhooks": "webhook",
    "jobs": "import_job",
    "imports": "import_job",
    "budgets": "budget",
    "cards": "dashboard_card",
    "charts": "dashboard_panel",
    "panels": "dashboard_panel",
    "api-keys": "api_key",
    "keys": "api_key",
}
SHARED_KINDS = {"kpi", "record_kind"}  # the same for every team
# Fields of a query or a body that name an object, by name (and, for a schema component, "Component.field").
BODY_REFERENCES = {
    "team": "team",
    "parent": "objective",
    "objective": "objective",
    "target": "target",
    "budget": "budget",
    "rule": "alert_rule",
    "alert": "alert",
    "ids": "notification",
    "TargetInRequest.id": "target",
    "ObjectiveInRequest.owner": "username",  # (an activity record's owner is the CRM's free text)
    "PatchedObjectivePatchRequest.owner": "username",
    "recipients": "username",
    "customer": "customer",
    "campaign": "campaign",
    "lead": "lead",
    "kpi": "kpi",
}
# The form posted to a page (pages have no schema): every field of the pages' forms that names an object.
PAGE_FORM = {
    "team": "team",
    "id": "notification",  # the notification centre's "mark read"
    "objective": "objective",
    "parent": "objective",
    "target": "target",
    "budget": "budget",
    "rule": "alert_rule",
    "alert": "alert",
    "owner": "user",
    "recipients": "user",
}
GHOST = {
    "team": "ghost-team-zz9",
    "username": "ghost-user-zz9",
    "customer": "GHOST-C1",
    "campaign": "GHOST-CA1",
    "lead": "GHOST-L1",
}
GHOST_ID = "2000000000"
UNSAFE = ("post", "put", "patch", "delete")
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


# --------------------------------------------------------------------------- routes and operations


@dataclass
class Route:
    template: str  # "teams/<slug:slug>/objectives/<int:pk>/"
    name: str | None
    methods: tuple[str, ...]
    is_api: bool
    kinds: dict[str, str] = field(default_factory=dict)  # parameter → kind of object

    @property
    def key(self) -> str:
        """The route with its parameters blanked, to meet the schema's paths ("/alerts/{id}/")."""
        return "/" + PARAMETER.sub("{}", self.template)


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, object, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry.pattern, entry


def _skip_reason(template: str, name: str | None) -> str | None:
    if name in SKIPPED_ROUTE_NAMES:
        return SKIPPED_ROUTE_NAMES[name]
    bare = template.lstrip("^")
    return next((reason for prefix, reason in SKIPPED_ROUTES.items() if bare.startswith(prefix)), None)


def _kinds(template: str) -> dict[str, str]:
    """What each parameter of the route names; unknown parameters fail the matrix, never pass silently."""
    found = {}
    for match in PARAMETER.finditer(template):
        name = match["name"]
        if name in ("pk", "id"):
            collection = template[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            kind = COLLECTIONS.get(collection)
            where = f"{name} after '{collection}/'"
        else:
            kind = PARAMETERS.get(name)
            where = name
        if kind is None:
            pytest.fail(f"unknown URL parameter {where} in route {template}: add it to the table")
        found[name] = kind
    return found


def discover_routes() -> tuple[list[Route], dict[str, str]]:
    """Every route of the site (includes walked), and those skipped with their reason."""
    routes, skipped = [], {}
    for template, pattern, entry in _walk(get_resolver().url_patterns):
        reason = _skip_reason(template, entry.name)
        if reason:
            skipped[template] = reason
            continue
        if not isinstance(pattern, RoutePattern) or template.startswith("^"):
            pytest.fail(f"route {template} is a regular expression the matrix cannot fill: skip it with a reason")
        view_class = getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None)
        if view_class is not None:
            methods = tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m))
        else:
            methods = ("get", "post")  # a function view: a method it refuses answers 405 for everyone alike
        is_api = getattr(entry.callback, "cls", None) is not None
        routes.append(Route(template, entry.name, methods, is_api, _kinds(template)))
    return routes, skipped


def discover_operations() -> dict[tuple[str, str], dict]:
    """Every operation of the generated OpenAPI schema, by (route key, method), with the schema's components."""
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {}
    for path, methods in schema["paths"].items():
        key = re.sub(r"\{[^}]+\}", "{}", path)
        for method, operation in methods.items():
            operations[(key, method)] = {**operation, "components": schema["components"]["schemas"]}
    return operations


# --------------------------------------------------------------------------- values: where each reference points


@dataclass(frozen=True)
class Source:
    """Where the values of one request come from: a team's objects, or none that exist (the ghost)."""

    name: str
    objects: fixtures.TeamObjects | None  # None: the ghost

    def value(self, kind: str, a: fixtures.TeamObjects) -> str:
        if kind in SHARED_KINDS:
            return a.values[kind]
        if self.objects is None:
            return GHOST.get(kind, GHOST_ID)
        if kind in self.objects.values:
            return self.objects.values[kind]
        return self.objects.references[kind]


@dataclass
class Request:
    """One request of the matrix, and the twin it must not be told apart from."""

    case: str  # "GET teams/<slug:slug>/objectives/<int:pk>/"
    variant: str  # "B", "B's sub-team", "A's sibling", "A's slug, B's ids", "A's objects, B's parent"…
    method: str
    path: str
    query: dict[str, str]
    body: object | None
    json_body: bool
    names_in_path: bool  # another team's object is in the path: must be refused
    twin: Request | None = None


def _schema(node: dict, components: dict) -> dict:
    while "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[-1]]
    for combinator in ("allOf", "oneOf", "anyOf"):
        if combinator in node and node[combinator]:
            return _schema(node[combinator][0], components)
    return node


def _component(node: dict) -> str:
    ref = node.get("$ref") or next(
        (part.get("$ref") for key in ("allOf", "oneOf") for part in node.get(key, []) if "$ref" in part), ""
    )
    return ref.rsplit("/", 1)[-1]


def _scalar(name: str, node: dict, counter: Counter) -> object:
    """A plain valid-looking value of a field that names nothing."""
    if node.get("enum"):
        return next(value for value in node["enum"] if value not in (None, ""))
    kind, fmt = node.get("type"), node.get("format")
    if fmt == "date":
        return "2026-12-31" if name.startswith(("end", "due")) else "2026-01-01"
    if fmt == "date-time":
        return "2026-02-10T10:00:00Z"
    if kind == "integer":
        return 1
    if kind == "number" or fmt == "decimal":
        return "1.00" if kind == "string" else 1
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    counter["string"] += 1
    return f"MATRIX-{counter['string']}" if name == "external_id" else "matrix"


class Payload:
    """Builds JSON bodies from the schema, each reference field from one source."""

    def __init__(self, a: fixtures.TeamObjects, components: dict):
        self.a = a
        self.components = components

    def _fields(self, node: dict) -> Iterator[tuple[str, dict, str | None, dict | None]]:
        """(name, schema, kind of object it names or None, item schema if it is a list of objects) of each field."""
        component = _component(node)
        node = _schema(node, self.components)
        required = set(node.get("required", ()))
        for name, child in node.get("properties", {}).items():
            if child.get("readOnly"):
                continue
            inner = _schema(child, self.components)
            kind = BODY_REFERENCES.get(f"{component}.{name}") or BODY_REFERENCES.get(name)
            items = inner.get("items") if inner.get("type") == "array" else None
            nested = items if items is not None and "properties" in _schema(items, self.components) else None
            yield name, {**inner, "required": name in required}, kind, nested

    def references(self, node: dict, prefix: str = "") -> list[str]:
        """Names of the fields of a body of this schema that name an object (dotted below lists of objects)."""
        if _schema(node, self.components).get("type") == "array":
            return self.references(_schema(node, self.components).get("items", {}), prefix)
        found = []
        for name, _inner, kind, nested in self._fields(node):
            if nested is not None:
                found += self.references(nested, f"{prefix}{name}.")
            elif kind is not None and kind not in SHARED_KINDS:
                found.append(prefix + name)
        return found

    def body(self, node: dict, source_of, prefix: str = "", focus: str | None = None) -> object:
        """A body: required fields with plain values, fields naming an object from `source_of(field)`: all of
        them, or with a `focus`, the required ones and that one (so an answer is about that field alone)."""
        if _schema(node, self.components).get("type") == "array":
            return [self.body(_schema(node, self.components).get("items", {}), source_of, prefix, focus)]
        counter: Counter = Counter()
        body = {}
        for name, inner, kind, nested in self._fields(node):
            wanted = focus is None or inner["required"] or focus == prefix + name or kind in SHARED_KINDS
            if nested is not None:
                inside = self.references(nested) if focus is None else focus.startswith(f"{prefix}{name}.")
                if inner["required"] or inside:
                    body[name] = [self.body(nested, source_of, f"{prefix}{name}.", focus)]
            elif kind is not None and wanted:
                value = source_of(prefix + name).value(kind, self.a)
                item = _schema(inner.get("items", {}), self.components)
                number = (item if inner.get("type") == "array" else inner).get("type") == "integer"
                value = int(value) if number and value.isdigit() else value
                body[name] = [value] if inner.get("type") == "array" else value
            elif inner["required"]:
                body[name] = _scalar(name, inner, counter)
        return body


# --------------------------------------------------------------------------- the actors' clients and the responses


def client_for(actor: fixtures.Actor) -> Client:
    if actor.key is not None:
        return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Api-Key {actor.key}")
    client = Client(raise_request_exception=False)
    client.force_login(actor.user)
    return client


def send(client: Client, request: Request):
    path = request.path + (f"?{urlencode(request.query)}" if request.query else "")
    if request.method == "get":
        return client.get(path)
    if request.json_body:
        data = json.dumps(request.body if request.body is not None else {})
        return client.generic(request.method.upper(), path, data, content_type="application/json")
    if request.method == "post":
        return client.post(path, request.body or {})
    return client.generic(
        request.method.upper(),
        path,
        urlencode(request.body or {}, doseq=True),
        content_type="application/x-www-form-urlencoded",
    )


def response_body(response) -> str:
    """The body as text (streamed, CSV, and the sheets of an XLSX file), lowercased."""
    if hasattr(response, "matrix_body"):  # a streamed body is read once
        return response.matrix_body
    content = b"".join(response.streaming_content) if response.streaming else response.content
    parts = []
    if content.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                parts += [archive.read(member).decode("utf-8", "replace") for member in archive.namelist()]
        except zipfile.BadZipFile:
            parts.append(content.decode("utf-8", "replace"))
    else:
        parts.append(content.decode("utf-8", "replace"))
    response.matrix_body = "\n".join(parts).lower()
    return response.matrix_body


def response_text(response) -> str:
    """Everything a response shows: its headers and its body."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.items()).lower()
    return headers + "\n" + response_body(response)


def to_login(response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and urlsplit(response["Location"]).path.startswith(
        "/accounts/login/"
    )


# --------------------------------------------------------------------------- the other teams' rows


def _team_path(model: type[models.Model], depth: int = 0) -> str | None:
    """The lookup from `model` to its team ("team", "objective__team", "alert__rule__team"…), if any."""
    if model is Team:
        return "pk"
    if depth > 3:
        return None
    fields = [f for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)]
    for f in fields:
        if f.related_model is Team and f.name == "team":
            return "team"
    for f in fields:
        if f.related_model is Team:
            return f.name
    for f in fields:
        if f.related_model not in (User, model) and f.related_model is not None:
            inner = _team_path(f.related_model, depth + 1)
            if inner and inner != "pk":
                return f"{f.name}__{inner}"
    return None


def _protected_rows(model: type[models.Model], world: fixtures.World) -> models.QuerySet | None:
    """The rows of `model` that belong to the protected teams or their users; None if it belongs to no team."""
    lookup = _team_path(model)
    user_field = next(
        (f.name for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey) and f.related_model is User),
        None,
    )
    if model is User:
        return model.objects.filter(pk__in=world.protected_user_ids)
    if lookup is not None:
        return model.objects.filter(**{f"{lookup}__in": world.protected_team_ids})
    if user_field is not None:
        return model.objects.filter(**{f"{user_field}__in": world.protected_user_ids})
    return None


def protected_rows_checksum(world: fixtures.World, labels: set[str] | None = None) -> dict[str, str]:
    """A digest of the protected teams' rows (by any path to their team) and their users' rows, per model."""
    digests = {}
    for model in apps.get_models(include_auto_created=True):
        if labels is not None and model._meta.label not in labels:
            continue
        rows = _protected_rows(model, world)
        if rows is not None:
            names = [f.attname for f in model._meta.concrete_fields]
            values = list(rows.order_by("pk").values_list(*names))
            digests[model._meta.label] = hashlib.sha256(repr(values).encode()).hexdigest()
    return digests


def cross_team_links(world: fixtures.World, labels: set[str] | None = None) -> dict[str, int]:
    """Rows outside the protected teams that point at one of their rows, users or teams (an objective of A hung
    under B's, a rule of A on B's budget, B's manager as owner…), per model and field."""
    links = {}
    for model in apps.get_models(include_auto_created=True):
        if labels is not None and model._meta.label not in labels:
            continue
        inside = _protected_rows(model, world)
        if inside is None:
            continue
        own = set(inside.values_list("pk", flat=True))
        for f in model._meta.concrete_fields:
            if not isinstance(f, models.ForeignKey) or f.name == (_team_path(model) or "").split("__")[0]:
                continue
            if f.related_model is User:
                lookup, ids = f.name, world.protected_user_ids
            elif (path := _team_path(f.related_model)) is not None:
                lookup, ids = (f.name if path == "pk" else f"{f.name}__{path}"), world.protected_team_ids
            else:
                continue
            count = model.objects.exclude(pk__in=own).filter(**{f"{lookup}__in": ids}).count()
            if count:
                links[f"{model._meta.label}.{f.name}"] = count
    return links


# --------------------------------------------------------------------------- building the matrix


@dataclass
class Case:
    route: Route
    method: str
    operation: dict | None

    @property
    def label(self) -> str:
        return f"{self.method.upper()} /{self.route.template}"


def build_cases(routes: list[Route], operations: dict) -> tuple[list[Case], set]:
    cases, matched = [], set()
    for route in routes:
        methods = set(route.methods)
        if route.is_api:
            methods |= {m for (key, m) in operations if key == route.key}
        for method in sorted(methods):
            operation = operations.get((route.key, method))
            if operation is not None:
                matched.add((route.key, method))
            cases.append(Case(route, method, operation))
    return cases, set(operations) - matched


def _query_fields(case: Case) -> dict[str, dict]:
    if case.operation is None:
        return {}
    return {p["name"]: p for p in case.operation.get("parameters", []) if p["in"] == "query"}


def _body_schema(case: Case) -> dict | None:
    if case.operation is None or case.method not in UNSAFE:
        return None
    content = case.operation.get("requestBody", {}).get("content", {})
    return (content.get("application/json") or {}).get("schema")


class Matrix:
    """The requests of each case, for one world: which value each parameter, query field and body field gets."""

    def __init__(self, world: fixtures.World, components: dict):
        self.world = world
        self.payload = Payload(world.a, components)
        self.own = Source("A", world.a)
        self.ghost = Source("ghost", None)

    def request(
        self,
        case: Case,
        variant: str,
        path_source: Source,
        slug_source: Source,
        field_sources,
        focus: str | None = None,
    ) -> Request:
        """One request: path ids from `path_source`, team slugs of the path from `slug_source`, each query or body
        reference from `field_sources(name)` (with a `focus`, optional body references but that one left out)."""
        a, route = self.world.a, case.route
        path = "/" + route.template
        for match in list(PARAMETER.finditer(route.template))[::-1]:
            kind = route.kinds[match["name"]]
            source = slug_source if kind == "team" else path_source
            path = path[: match.start() + 1] + source.value(kind, a) + path[match.end() + 1 :]
        query = {}
        for name, parameter in _query_fields(case).items():
            kind = BODY_REFERENCES.get(name)
            if kind is not None and kind not in SHARED_KINDS:
                query[name] = field_sources(name).value(kind, a)
            elif parameter.get("required") or parameter["schema"].get("format") == "date":
                query[name] = str(_scalar(name, parameter["schema"], Counter()))
        if not route.is_api and "team" not in route.kinds.values():
            query["team"] = field_sources("team").value("team", a)  # pages filter by ?team= (the alerts list)
        body = None
        if case.method in UNSAFE and case.method != "delete":
            schema = _body_schema(case)
            if schema is not None:
                body = self.payload.body(schema, field_sources, focus=focus)
            elif route.is_api:
                body = {"team": field_sources("team").value("team", a)}
            else:
                body = {name: field_sources(name).value(kind, a) for name, kind in PAGE_FORM.items()}
        names_in_path = any(
            kind not in SHARED_KINDS
            and (slug_source if kind == "team" else path_source).objects is not self.own.objects
            for kind in route.kinds.values()
        )
        return Request(case.label, variant, case.method, path, query, body, route.is_api, names_in_path)

    def references(self, case: Case) -> list[str]:
        """The query and body fields of the case that name an object."""
        found = [name for name in _query_fields(case) if BODY_REFERENCES.get(name) not in (None, *SHARED_KINDS)]
        if not case.route.is_api and "team" not in case.route.kinds.values():
            found.append("team")
        schema = _body_schema(case)
        if schema is not None:
            found += self.payload.references(schema)
        elif case.method in UNSAFE and case.method != "delete":
            found += ["team"] if case.route.is_api else list(PAGE_FORM)
        return list(dict.fromkeys(found))

    def _pair(self, case, variant, sources, ghost_sources, focus: str | None = None) -> Request:
        request = self.request(case, variant, *sources, focus=focus)
        request.twin = self.request(case, f"{variant}, ghost", *ghost_sources, focus=focus)
        return request

    def against_others(self, case: Case, actor: fixtures.Actor) -> list[Request]:
        """The case pointed at every other team, at A's slug with B's ids, and at A's objects with one reference of
        its query or body naming B (API only: a page's form is not generated); each with its ghost twin."""
        own, ghost = self.own, self.ghost
        others = [Source("B", self.world.b), Source("B's sub-team", self.world.b_sub)]
        if not actor.sees_sibling:
            others.append(Source("A's sibling", self.world.sibling))
        kinds = set(case.route.kinds.values()) - SHARED_KINDS
        references = self.references(case)
        requests = []
        if kinds or references:
            for other in others:
                requests.append(
                    self._pair(
                        case, other.name, (other, other, lambda _n, o=other: o), (ghost, ghost, lambda _n: ghost)
                    )
                )
        b = others[0]
        if "team" in kinds and kinds - {"team"}:
            requests.append(
                self._pair(case, "A's slug, B's ids", (b, own, lambda _n: b), (ghost, own, lambda _n: ghost))
            )
        if case.route.is_api and references and (kinds or len(references) > 1):
            for name in references:
                requests.append(
                    self._pair(
                        case,
                        f"A's objects, B's {name}",
                        (own, own, lambda n, name=name: b if n == name else own),
                        (own, own, lambda n, name=name: ghost if n == name else own),
                        focus=name,
                    )
                )
        if not requests:  # names nothing: the actor's own list, which must not show the other teams
            requests.append(self.request(case, "own", own, own, lambda _n: own))
        query_fields = _query_fields(case)
        if case.method == "get" and "csv" in query_fields.get("format", {}).get("schema", {}).get("enum", []):
            for request in list(requests):  # the CSV export of the same list
                export = replace(request, variant=f"{request.variant}, CSV", query={**request.query, "format": "csv"})
                if request.twin is not None:
                    export.twin = replace(request.twin, query={**request.twin.query, "format": "csv"})
                requests.append(export)
        return requests

    def own_objects(self, case: Case) -> Request:
        """The case pointed at A's own objects (the sanity half)."""
        return self.request(case, "A", self.own, self.own, lambda _n: self.own)


@contextmanager
def rolled_back():
    """Run a request in a savepoint rolled back afterwards: the next one meets the same rows."""
    atomic = transaction.atomic()
    atomic._from_testcase = True  # as Django's TestCase does: a durable service block may run inside
    with atomic:
        yield
        transaction.set_rollback(True)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def discovered():
    routes, skipped = discover_routes()
    operations = discover_operations()
    cases, unmatched = build_cases(routes, operations)
    assert not unmatched, f"operations of the schema with no route: {sorted(unmatched)}"
    components = next(iter(operations.values()))["components"]
    return routes, skipped, operations, cases, components


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The organisation of isolation_fixtures, built once for the module and rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield fixtures.world_build()
        transaction.set_rollback(True)


# --------------------------------------------------------------------------- the matrix


class WrittenTables:
    """The tables a request writes to, read from the SQL it runs (a statement it cannot read counts as all)."""

    TABLE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
    READS = ("SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK")

    def __init__(self):
        self.tables: set[str] = set()
        self.unknown = False

    def __call__(self, execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(self.READS):
            match = self.TABLE.match(sql)
            if match:
                self.tables.add(match[1])
            else:
                self.unknown = True
        return execute(sql, params, many, context)


def _echoed(request: Request, secrets: tuple[str, ...]) -> list[str]:
    """The values of the request itself that carry a secret (a 400 may quote what it was sent, that is no leak)."""
    values = [*request.path.split("/"), *request.query.values(), *_leaves(request.body)]
    return sorted({v.lower() for v in values if any(secret in v.lower() for secret in secrets)}, key=len, reverse=True)


def _problems(request: Request, response, secrets: tuple[str, ...]) -> list[str]:
    """What is wrong with this answer to an actor of A: another team's data shown, served, or a server error."""
    status = response.status_code
    found = []
    text = response_text(response)
    for echoed in _echoed(request, secrets):
        text = text.replace(echoed, "")
    shown = [secret for secret in secrets if secret in text]
    if shown:
        found.append(f"shows {', '.join(shown)}")
    if status >= 500:
        found.append("server error")
    elif request.names_in_path and (200 <= status < 300 or (300 <= status < 400 and not to_login(response))):
        found.append("served")
    return found


@dataclass
class Outcome:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)


@dataclass
class Baseline:
    """The protected rows' digests and the links into them before any request."""

    digests: dict[str, str]
    links: dict[str, int]

    @classmethod
    def of(cls, world: fixtures.World) -> Baseline:
        return cls(protected_rows_checksum(world), cross_team_links(world))

    def changes(self, world: fixtures.World, labels: set[str] | None) -> list[str]:
        """What changed since, among these models (None: all)."""
        digests = protected_rows_checksum(world, labels)
        links = cross_team_links(world, labels)
        changed = [f"changed {label}" for label, digest in digests.items() if self.digests.get(label) != digest]
        return changed + [
            f"linked {label} to them" for label, count in links.items() if count != self.links.get(label, 0)
        ]


class ActorRun:
    """One actor's side of the matrix: each request sent once (ghost twins repeat), rolled back, and checked."""

    def __init__(self, actor: fixtures.Actor, world: fixtures.World, baseline: Baseline, outcome: Outcome):
        self.actor, self.world, self.baseline, self.outcome = actor, world, baseline, outcome
        self.client = client_for(actor)
        self.secrets = tuple(secret.lower() for secret in fixtures.secrets_for(actor))
        self.tables = {model._meta.db_table: model._meta.label for model in apps.get_models(include_auto_created=True)}
        self.answered: dict[str, tuple[int, str]] = {}

    def ask(self, one: Request) -> tuple[int, str]:
        """The status and the body of this request, checked for what it shows and what it changed."""
        key = json.dumps([one.method, one.path, sorted(one.query.items()), one.body], default=str)
        if key in self.answered:
            return self.answered[key]
        writes = WrittenTables()
        changes = []
        with rolled_back(), connection.execute_wrapper(writes):
            response = send(self.client, one)
            # Only the tables a request wrote to can hold a changed row or a new link: the rest is not read again.
            labels = None if writes.unknown else {self.tables[t] for t in writes.tables if t in self.tables}
            if labels is None or labels - {"sessions.Session"}:
                changes = self.baseline.changes(self.world, labels)
        self.outcome.requests += 1
        self.outcome.statuses[response.status_code] += 1
        problems = _problems(one, response, self.secrets) + changes
        where = f"{one.case} [{self.actor.name}, {one.variant}] {response.status_code}"
        self.outcome.leaks.extend(f"{where}: {problem}" for problem in problems)
        self.answered[key] = (response.status_code, response_body(response))
        return self.answered[key]

    def check(self, request: Request) -> None:
        """The request and its ghost twin: a refusal must not tell whether the object exists."""
        status, body = self.ask(request)
        if request.twin is None:
            return
        twin_status, twin_body = self.ask(request.twin)
        where = f"{request.case} [{self.actor.name}, {request.variant}] {status}"
        if twin_status != status:
            self.outcome.leaks.append(f"{where} where a missing object gets {twin_status}: tells the object exists")
        elif 400 <= status < 500:
            sent, twin_sent = _refusal(body, request, request.twin), _refusal(twin_body, request.twin, request)
            if sent != twin_sent:
                self.outcome.leaks.append(
                    f"{where}: refused otherwise than a missing object ({_difference(sent, twin_sent)}): "
                    "tells the object exists"
                )


def _leaves(node) -> Iterator[str]:
    if isinstance(node, dict):
        for child in node.values():
            yield from _leaves(child)
    elif isinstance(node, list):
        for child in node:
            yield from _leaves(child)
    elif node is not None:
        yield str(node)


def _refusal(body: str, request: Request, twin: Request) -> str:
    """What a refusal says: its visible text (an HTML page's markup and tokens aside), the names the request
    sent (and its twin did not) blanked, every number blanked (ids differ from the twin's by design)."""
    if "<html" in body[:500]:
        body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
        body = re.sub(r"<[^>]*>", " ", body)
    mine = [*request.path.split("/"), *request.query.values(), *_leaves(request.body)]
    theirs = [*twin.path.split("/"), *twin.query.values(), *_leaves(twin.body)]
    named = {m.lower() for m, t in zip(mine, theirs, strict=False) if m != t and m and not m.isdigit()}
    for value in sorted(named, key=len, reverse=True):
        body = body.replace(value, "<named>")
    return " ".join(re.sub(r"\d+", "<n>", body).split())


def _difference(one: str, other: str) -> str:
    """Where two bodies part, briefly."""
    at = next((i for i, (x, y) in enumerate(zip(one, other, strict=False)) if x != y), min(len(one), len(other)))
    return f"{one[max(0, at - 40) : at + 60]!r} / {other[max(0, at - 40) : at + 60]!r}"


def run_matrix(world: fixtures.World, cases: list[Case], components: dict) -> Outcome:
    """Send every case of the matrix as every actor; collect what leaks."""
    matrix = Matrix(world, components)
    baseline = Baseline.of(world)
    outcome = Outcome()
    for actor in world.actors:
        run = ActorRun(actor, world, baseline, outcome)
        for case in cases:
            for request in matrix.against_others(case, actor):
                run.check(request)
    return outcome


@contextmanager
def quiet_request_log():
    """4xx answers are the point here: only server errors are logged."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def test_no_actor_of_a_team_reaches_another_teams_objects(db, world, discovered):
    # given the organisation (isolation_fixtures) and every route and operation
    routes, skipped, operations, cases, components = discovered
    cache.clear()  # throttling buckets
    # when each actor of A sends each request, and its ghost twin
    with quiet_request_log():
        outcome = run_matrix(world, cases, components)
    record(
        "isolation-matrix",
        routes=len(routes),
        skipped_routes=len(skipped),
        operations=len(operations),
        cases=len(cases),
        actors=len(world.actors),
        requests=outcome.requests,
        leaks=len(outcome.leaks),
    )
    print(f"\nisolation matrix: {outcome.requests} requests, statuses {dict(sorted(outcome.statuses.items()))}")
    # then nothing of the other teams is ever served, shown, told or changed
    assert outcome.leaks == [], f"{len(outcome.leaks)} leaks:\n" + "\n".join(outcome.leaks)


def _served(response) -> bool:
    return 200 <= response.status_code < 300 or (300 <= response.status_code < 400 and not to_login(response))


def test_the_matrix_reaches_a_s_own_objects(db, world, discovered):
    # given the same GET cases pointed at A's own objects
    routes, skipped, operations, cases, components = discovered
    matrix = Matrix(world, components)
    cache.clear()
    answered: dict[str, dict[str, object]] = defaultdict(dict)
    # when each actor of A asks each of them
    with quiet_request_log():
        for actor in world.actors:
            client = client_for(actor)
            for case in cases:
                if case.method == "get":
                    with rolled_back():
                        answered[actor.name][case.label] = send(client, matrix.own_objects(case))
    for actor, responses in answered.items():
        served = sum(1 for response in responses.values() if _served(response))
        print(f"{actor}: {served}/{len(responses)} GET routes served on A's objects")
    # then A's manager is served on most of them (a 405: the route takes no GET), so a 404 of the matrix is a
    # refusal, not a wrong id; and every kind of object a path names is served at least once
    gettable = [case for case in cases if case.method == "get" and answered["manager"][case.label].status_code != 405]
    not_served = sorted(
        f"{case.label}: {answered['manager'][case.label].status_code}"
        for case in gettable
        if not _served(answered["manager"][case.label])
    )
    print("not served to A's manager:" + "".join(f"\n  {line}" for line in not_served))
    assert len(gettable) - len(not_served) >= 0.8 * len(gettable), not_served
    named = {kind for case in gettable for kind in case.route.kinds.values()}
    reached = {
        kind for case in gettable if _served(answered["manager"][case.label]) for kind in case.route.kinds.values()
    }
    assert named - reached == set(), f"no route naming these kinds answers A's manager: {named - reached}"
    errors = [f"{actor} {label}" for actor, rs in answered.items() for label, r in rs.items() if r.status_code >= 500]
    assert errors == []


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("teams/<slug:slug>/widgets/<int:widget_id>/", "unknown URL parameter widget_id in route"),
        ("teams/<slug:slug>/widgets/<int:pk>/", "unknown URL parameter pk after 'widgets/' in route"),
    ],
)
def test_a_route_with_a_parameter_the_table_does_not_know_fails_the_matrix(template, message):
    # given a new route whose parameter names nothing the matrix knows
    # when the matrix reads it, then it fails, naming the parameter and the route
    with pytest.raises(pytest.fail.Exception, match=re.escape(f"{message} {template}: add it to the table")):
        _kinds(template)
