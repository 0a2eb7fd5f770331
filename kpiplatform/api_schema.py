"""The error answers of every API operation in the OpenAPI schema: the status codes each really serves, their bodies.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]), so that every view, present
and future, documents the same errors without repeating them; what a view documents itself is kept as it is
(e.g. the activity ingest's 400 `{"errors": [...]}` and 413, the alerts' 409).

What is added, and when:
- 400 everywhere: any request may carry a query string, and kpiplatform.edge refuses a NUL character, a lone
  surrogate or undecodable text in it (`{"errors": [{"field", "message"}]}`); with input of its own, an operation
  also answers DRF's field errors `{field: [messages]}` (nested for nested fields, `non_field_errors` for the
  whole) or `{"detail"}` (malformed JSON; with `errors` for a JSON string edge refuses);
- 401 and 403 everywhere: no or a wrong API key or session; a scope or role that does not allow it, or CSRF;
- 404 when a path parameter, a team slug (query or body), a page or a cursor names something not there;
- 413 and 415 when there is a body: too large, or a media type the endpoint does not read;
- 429 everywhere (throttling) and 503 everywhere (the database unavailable), with Retry-After.
An empty optional query parameter is the same as none (see `_empty_optional_query_parameters_allowed`).
"""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers

DETAIL = "ErrorDetail"
FIELD_ERRORS = "ValidationErrors"
INPUT_ERRORS = "InputErrors"
REF = "#/components/schemas/"

COMPONENTS: dict[str, dict[str, Any]] = {
    DETAIL: {
        "type": "object",
        "description": "What went wrong, in the caller's language.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    FIELD_ERRORS: {
        "type": "object",
        "description": (
            "Per field, its error messages; a nested field has an object of its own (a list of them for a "
            "list of objects, one per item sent, empty for the valid ones); `non_field_errors` for the whole."
        ),
        "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
        "example": {"due_date": ["This field is required."]},
    },
    INPUT_ERRORS: {
        "type": "object",
        "description": (
            "Each problem of the request: the parameter, form field or JSON path (`records[3].external_id`) and "
            "what is wrong with it; for records, their position and external_id too."
        ),
        "properties": {
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string", "nullable": True},
                        "message": {"type": "string"},
                        "index": {"type": "integer", "nullable": True},
                        "external_id": {"type": "string", "nullable": True},
                    },
                    "required": ["field", "message"],
                },
            },
        },
        "required": ["errors"],
        "example": {"errors": [{"field": "team", "message": "The query parameter “team” contains a NUL character."}]},
    },
}


class ErrorDetailSerializer(serializers.Serializer):
    """`{"detail": "..."}`: for a view documenting an error of its own, e.g. `409: ErrorDetailSerializer`."""

    detail = serializers.CharField(help_text="What went wrong, in the caller's language.")


# Query parameters that name something which may not be there (a team, a page, a cursor, a renderer): 404.
LOOKUP_PARAMETERS = frozenset({"team", "page", "cursor", "format"})
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 0}}
}
BODIES = {
    "400": {"anyOf": [{"$ref": REF + FIELD_ERRORS}, {"$ref": REF + DETAIL}, {"$ref": REF + INPUT_ERRORS}]},
    "413": {"anyOf": [{"$ref": REF + DETAIL}, {"$ref": REF + INPUT_ERRORS}]},
}
DESCRIPTIONS = {
    "400": "Invalid input: the messages per field, or the problems of the request, or `detail` when the body "
    "cannot be read.",
    "401": "No credentials, or an unknown, revoked or expired API key.",
    "403": "Not allowed: the API key's scopes or the user's role in the team do not allow it (or the CSRF check "
    "failed).",
    "404": "Not found, or not visible to you (another team's object, an unknown team, page or cursor).",
    "413": "The request body is too large.",
    "415": "The body's media type is not one this endpoint reads.",
    "429": "Too many requests: wait for the number of seconds in Retry-After.",
    "503": "The service is temporarily unavailable (the database cannot be reached): retry after Retry-After.",
}


def _resolve(result: dict, schema: dict) -> dict:
    """The schema a local `$ref` points at (one level), or the schema itself."""
    ref = schema.get("$ref", "")
    if ref.startswith(REF):
        return result["components"]["schemas"].get(ref.removeprefix(REF), {})
    return schema


def _body_names_a_team(result: dict, operation: dict) -> bool:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = _resolve(result, media.get("schema", {}))
        if schema.get("type") == "array":
            schema = _resolve(result, schema.get("items", {}))
        if "team" in schema.get("properties", {}):
            return True
    return False


def _served_errors(result: dict, path: str, operation: dict) -> list[str]:
    """The error statuses this operation can answer (see the module docstring for the rules)."""
    parameters = operation.get("parameters", [])
    query = {p["name"] for p in parameters if p.get("in") == "query"}
    has_path_parameters = "{" in path or any(p.get("in") == "path" for p in parameters)
    has_body = "requestBody" in operation
    statuses = ["400", "401", "403", "429", "503"]
    if has_path_parameters or query & LOOKUP_PARAMETERS or _body_names_a_team(result, operation):
        statuses.append("404")
    if has_body:
        statuses += ["413", "415"]
    return sorted(statuses)


def _media_types(operation: dict) -> list[str]:
    """The media types the operation answers in: those of its documented responses (JSON by default)."""
    found = []
    for response in operation.get("responses", {}).values():
        for media_type in response.get("content", {}):
            if media_type not in found:
                found.append(media_type)
    return found or ["application/json"]


def _content(media_types: list[str], status: str) -> dict:
    schema = BODIES.get(status, {"$ref": REF + DETAIL})
    # A text rendering (the activity listing's CSV) gives the message as plain text.
    return {
        media_type: {"schema": copy.deepcopy(schema) if "json" in media_type else {"type": "string"}}
        for media_type in media_types
    }


def _text_responses_as_text(operation: dict) -> None:
    """A CSV answer is text: drf-spectacular gives it the JSON answer's schema, which it cannot match."""
    for response in operation.get("responses", {}).values():
        for media_type, media in response.get("content", {}).items():
            if media_type.startswith("text/") and media_type != "text/html":
                media["schema"] = {"type": "string"}
                media.pop("examples", None)


def _empty_optional_query_parameters_allowed(operation: dict) -> None:
    """`?team=` is the same as no `team`: DRF's query serializers (an empty optional value is not given),
    django-filter's filters, the paginators and the views' own `if team:` all ignore an empty value."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and not parameter.get("required"):
            parameter["allowEmptyValue"] = True


def document_error_responses(result: dict, generator, request, public: bool) -> dict:
    """Postprocessing hook: add the error answers each operation serves, with their bodies and headers; say
    that an empty optional query parameter is accepted (as absent)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, component in COMPONENTS.items():
        schemas.setdefault(name, copy.deepcopy(component))
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method.startswith("x-") or not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            media_types = _media_types(operation)
            for status in _served_errors(result, path, operation):
                if status in responses:
                    continue  # the view documents it itself
                response: dict[str, Any] = {
                    "description": DESCRIPTIONS[status],
                    "content": _content(media_types, status),
                }
                if status in ("429", "503"):
                    response["headers"] = copy.deepcopy(RETRY_AFTER)
                responses[status] = response
            _text_responses_as_text(operation)
            _empty_optional_query_parameters_allowed(operation)
            operation["responses"] = dict(sorted(responses.items()))
    return result
