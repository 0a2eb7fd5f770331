"""Input checked at the edge, before a view, a query or a response sees it.

PostgreSQL refuses the NUL character in text (psycopg raises, the request ends in a 500), a lone surrogate
(« \\ud800 » in a JSON string) cannot be encoded as UTF-8 (the 400 that echoed it failed to render), and Python's
JSON decoder recurses once per level (5,000 nested arrays overflow the stack). So:

- `EdgeInputMiddleware` refuses, for the whole site, a request whose path, query string (names and values),
  cookies or form fields (URL-encoded or multipart, with the names of uploaded files) hold a NUL character, a lone
  surrogate or bytes that are not UTF-8: a JSON 400 `{"errors": [{"field", "message"}]}` under /api/, the 400 page
  elsewhere, each message naming the parameter.
- `SafeJSONParser` (DRF's parser for every API view) and `json_loads_safe` (for code that reads JSON itself) refuse
  the same in any JSON string, key or value, and nesting deeper than KPI_MAX_JSON_DEPTH, measured on the text before
  decoding, without recursion; the message names the JSON path (`records[3].external_id`).
- `query_parameters` parses a page's query string with its form; a wrong parameter raises `InputRejected`, which
  the middleware answers with the same 400, naming the parameter.

Dates have their plausible window in kpiplatform.dates (`validate_plausible_date`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from django import forms
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from kpiplatform.text import UNSTORABLE_TEXT

API_PREFIX = "/api/"

# A request with more problems than this is not worth describing further.
MAX_PROBLEMS = 20
# Longest name or JSON path quoted in a message.
MAX_SHOWN = 80
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

COOKIE_FIELD = "cookie:"
# The field of a problem with the whole body (not one of its fields).
BODY = "body"
NUL = "nul"
SURROGATE = "surrogate"
UNDECODABLE = "undecodable"

# What is wrong, `where` being one of the places below (translated as a whole sentence each).
PROBLEM_MESSAGES = {
    NUL: gettext_lazy("%(where)s contains a NUL character (\\x00), which is not accepted."),
    SURROGATE: gettext_lazy("%(where)s contains a lone surrogate (%(char)s), which is not valid text."),
    UNDECODABLE: gettext_lazy("%(where)s is not valid UTF-8 text."),
}
PLACES = {
    "path": gettext_lazy("the address (path)"),
    "query": gettext_lazy("the query parameter “%(name)s”"),
    "query_name": gettext_lazy("the name of the query parameter “%(name)s”"),
    "form": gettext_lazy("the form field “%(name)s”"),
    "form_name": gettext_lazy("the name of the form field “%(name)s”"),
    "file": gettext_lazy("the file name sent in the form field “%(name)s”"),
    "cookie": gettext_lazy("the cookie “%(name)s”"),
    "json": gettext_lazy("the JSON field “%(name)s”"),
    "json_key": gettext_lazy("a key of the JSON object “%(name)s”"),
}


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with a request: the parameter (or JSON path) and the sentence saying what is wrong."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class JsonInputError(ValueError):
    """A JSON body refused by `json_loads_safe`; `problems` say what and where."""

    def __init__(self, problems: list[InputProblem]):
        super().__init__(" ".join(problem.message for problem in problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------------------------------
def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is addressed to the REST API (answered in JSON)."""
    return request.path_info.startswith(API_PREFIX)


def text_problem(text: str) -> str | None:
    """What makes `text` unusable: NUL (PostgreSQL refuses it), SURROGATE (not encodable) or None."""
    if UNSTORABLE_TEXT.search(text) is None:
        return None
    return NUL if "\x00" in text else SURROGATE


def shown(text: str) -> str:
    """`text` safe to print anywhere: NUL and lone surrogates written as escapes, cut to MAX_SHOWN characters."""
    safe = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= MAX_SHOWN else safe[: MAX_SHOWN - 1] + "…"


def _first_surrogate(text: str) -> str:
    """The first lone surrogate of `text`, written as its JSON escape: « \\ud800 »."""
    surrogate = next(char for char in text if "\ud800" <= char <= "\udfff")
    return f"\\u{ord(surrogate):04x}"


def problem(kind: str, place: str, *, name: str = "", field: str | None = None, text: str = "") -> InputProblem:
    """The problem `kind` found at `place` (a key of PLACES) of the parameter `name`, as a sentence."""
    where = PLACES[place] % {"name": shown(name)}
    char = _first_surrogate(text) if kind == SURROGATE else ""
    message = PROBLEM_MESSAGES[kind] % {"where": capfirst(where), "char": char}
    if field is None:
        # A cookie is named apart from a query parameter or form field of the same name.
        field = f"{COOKIE_FIELD}{shown(name)}" if place == "cookie" else shown(name)
    return InputProblem(field=field, message=message)


# ---------------------------------------------------------------------------------------------------------------------
# The request: path, query string, cookies, form fields
# ---------------------------------------------------------------------------------------------------------------------
def _pair_problems(raw: bytes, *, place: str) -> Iterator[InputProblem]:
    """The problems of URL-encoded `name=value&…` bytes: NUL, or bytes that are not UTF-8, in a name or a value."""
    whole = unquote_to_bytes(raw.replace(b"+", b" "))
    if b"\x00" not in whole:
        try:
            # "&" and "=" never fall inside a UTF-8 sequence: the whole being valid, each part is.
            whole.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_name, _equals, raw_value = part.partition(b"=")
        name_bytes = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value_bytes = unquote_to_bytes(raw_value.replace(b"+", b" "))
        name = name_bytes.decode("utf-8", "replace")
        for content, where in ((name_bytes, f"{place}_name"), (value_bytes, place)):
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                yield problem(UNDECODABLE, where, name=name)
                break
            if "\x00" in text:
                yield problem(NUL, where, name=name)
                break


def _text_pairs_problems(pairs: Iterable[tuple[str, Iterable[str]]], *, place: str) -> Iterator[InputProblem]:
    """The problems of already decoded names and values (multipart fields, cookies)."""
    for name, values in pairs:
        kind = text_problem(name)
        if kind:
            yield problem(kind, f"{place}_name" if place != "cookie" else place, name=name, text=name)
            continue
        for value in values:
            kind = text_problem(value)
            if kind:
                yield problem(kind, place, name=name, text=value)
                break


def _path_problems(request: HttpRequest) -> Iterator[InputProblem]:
    # Bytes of the path that are not UTF-8 need no check: Django writes them back as %XX (no such page, a 404).
    # The raw path is not at hand anyway: WSGIRequest replaces META["PATH_INFO"] with the decoded text.
    kind = text_problem(request.path)
    if kind:
        yield problem(kind, "path", field="path", text=request.path)


def _query_problems(request: HttpRequest) -> Iterator[InputProblem]:
    query = request.META.get("QUERY_STRING", "")
    if not query:
        return
    try:
        raw = query.encode("latin-1")  # WSGI: the bytes received, one character each
    except UnicodeEncodeError:
        raw = query.encode("utf-8", "surrogateescape")
    yield from _pair_problems(raw, place="query")


def _form_problems(request: HttpRequest) -> Iterator[InputProblem]:
    content_type = request.content_type or ""
    if content_type == "application/x-www-form-urlencoded" and request.method not in ("GET", "HEAD"):
        # Read once here; Django and DRF parse the form from the same cached body afterwards.
        yield from _pair_problems(request.body, place="form")
    elif content_type == "multipart/form-data" and request.method == "POST":
        yield from _text_pairs_problems(request.POST.lists(), place="form")
        for name, files in request.FILES.lists():
            for upload in files:
                kind = text_problem(upload.name or "")
                if kind:
                    yield problem(kind, "file", name=name, text=upload.name)
                    break


def request_input_problems(request: HttpRequest) -> list[InputProblem]:
    """Every NUL character, lone surrogate or undecodable text in the request's path, query string, cookies and
    form fields (at most MAX_PROBLEMS)."""
    found: list[InputProblem] = []
    for problems in (
        _path_problems(request),
        _query_problems(request),
        _text_pairs_problems(((name, [value]) for name, value in request.COOKIES.items()), place="cookie"),
    ):
        found.extend(problems)
    if not found:
        # The body is read only for a request that is otherwise clean; a client gone away mid-body is left to
        # whatever reads the body next (it meets the same error).
        with suppress(UnreadablePostError):
            found.extend(_form_problems(request))
    return found[:MAX_PROBLEMS]


def input_rejected(request: HttpRequest, problems: list[InputProblem], *, as_json: bool | None = None) -> HttpResponse:
    """The 400 for `problems`: `{"errors": [{"field", "message"}]}` for the API (or when `as_json`), else the 400
    page listing them in the site's frame."""
    if as_json if as_json is not None else is_api_request(request):
        return JsonResponse({"errors": [p.as_dict() for p in problems]}, status=400)
    return render(request, "400.html", {"problems": problems}, status=400)


def form_problems(form: forms.Form) -> list[InputProblem]:
    """A bound form's errors as problems, each naming its parameter: « granularity: Select a valid choice… »."""
    return [
        InputProblem(field=name, message=_("%(name)s: %(message)s") % {"name": name, "message": message})
        if name != NON_FIELD_ERRORS
        else InputProblem(field=name, message=str(message))
        for name, messages in form.errors.items()
        for message in messages
    ]


class InputRejected(Exception):
    """Raised by a view whose input its form refuses: EdgeInputMiddleware answers with the 400 listing `problems`
    (JSON when `as_json`, or under /api/)."""

    def __init__(self, problems: list[InputProblem], *, as_json: bool | None = None):
        super().__init__(" ".join(problem.message for problem in problems))
        self.problems = problems
        self.as_json = as_json


def query_parameters(request: HttpRequest, form_class: type[forms.Form], *, as_json: bool | None = None) -> dict:
    """`request.GET` parsed by `form_class`: its cleaned data; InputRejected naming each wrong parameter otherwise."""
    form = form_class(request.GET)
    if not form.is_valid():
        raise InputRejected(form_problems(form), as_json=as_json)
    return form.cleaned_data


def _body_refused(error: Exception) -> JsonResponse:
    if isinstance(error, RequestDataTooBig):
        refused = InputProblem(BODY, _("The request body is too large."))
        return JsonResponse({"errors": [refused.as_dict()]}, status=413)
    if isinstance(error, (TooManyFieldsSent, TooManyFilesSent)):
        refused = InputProblem(BODY, _("The request has too many fields or files."))
    else:
        refused = InputProblem(BODY, _("The request body cannot be read as a form."))
    return JsonResponse({"errors": [refused.as_dict()]}, status=400)


class EdgeInputMiddleware:
    """Refuse (400) any request whose path, query string, cookies or form fields hold a NUL character, a lone
    surrogate or undecodable text; everything else passes untouched. A view raising InputRejected gets the same 400.

    It sits right after CommonMiddleware: before anything reads the session (a cookie with a NUL would reach the
    database) or the form (the CSRF check). The 400 page is drawn in the site's frame: the user is read from the
    session as AuthenticationMiddleware would, unless a cookie is what was refused.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            problems = request_input_problems(request)
        except (SuspiciousOperation, MultiPartParserError) as error:
            # A body Django refuses to read (too large, too many fields, malformed multipart): pages get Django's
            # 400 as they did when the CSRF check read it first; the API answers in JSON, as it does from DRF.
            if not is_api_request(request):
                raise
            return _body_refused(error)
        if not problems:
            return self.get_response(request)
        cookies_clean = not any(p.field.startswith(COOKIE_FIELD) for p in problems)
        if cookies_clean and not is_api_request(request) and hasattr(request, "session"):
            # The page's menus, as AuthenticationMiddleware (further down) would give them.
            request.user = SimpleLazyObject(lambda: auth.get_user(request))
        return input_rejected(request, problems)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, InputRejected):
            return input_rejected(request, exception.problems, as_json=exception.as_json)
        return None


# ---------------------------------------------------------------------------------------------------------------------
# JSON bodies
# ---------------------------------------------------------------------------------------------------------------------
# A JSON string, escapes included; one left open runs to the end of the text. Possessive, and matching wherever it
# starts: the scan stays linear even on `"\"\"\"…` never closed (a pattern that can fail retries from every quote).
JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
BRACKETS = re.compile(r"[\[\]{}]")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` in the JSON `text`, counted on the text (strings left
    out) without recursion, stopping as soon as the limit is passed."""
    depth = 0
    for match in BRACKETS.finditer(JSON_STRING.sub("", text)):
        if match[0] in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _json_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def json_text_problems(data: Any) -> list[InputProblem]:
    """Every string of decoded JSON `data`, keys and values, holding a NUL character or a lone surrogate, by JSON
    path (`records[3].external_id`); walked with a stack, not recursion."""
    found: list[InputProblem] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack and len(found) < MAX_PROBLEMS:
        path, value = stack.pop()
        if isinstance(value, str):
            kind = text_problem(value)
            if kind:
                found.append(problem(kind, "json", name=path or BODY, text=value))
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                kind = text_problem(key)
                if kind:
                    found.append(problem(kind, "json_key", name=path or BODY, text=key))
                    continue
                children.append((_json_path(path, key), item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((_json_path(path, index), item) for index, item in reversed(list(enumerate(value))))
    return found[:MAX_PROBLEMS]


def json_loads_safe(raw: bytes | str, *, encoding: str = "utf-8", max_depth: int | None = None) -> Any:
    """`raw` JSON decoded, refusing text that is not `encoding`, nesting deeper than `max_depth` (default: the
    KPI_MAX_JSON_DEPTH setting), and any NUL character or lone surrogate in a string: raise JsonInputError naming
    the problem and its JSON path. Malformed JSON raises json's ValueError; NaN and Infinity are refused."""
    limit = settings.KPI_MAX_JSON_DEPTH if max_depth is None else max_depth
    if isinstance(raw, bytes):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            message = _("The JSON body is not valid %(encoding)s text (byte %(position)d).") % {
                "encoding": encoding.upper(),
                "position": error.start,
            }
            raise JsonInputError([InputProblem(BODY, message)]) from None
    else:
        text = raw
    if json_depth_exceeds(text, limit):
        message = _("The JSON body nests arrays and objects more than %(limit)d levels deep.") % {"limit": limit}
        raise JsonInputError([InputProblem(BODY, message)])
    data = json.loads(text, parse_constant=_refuse_constant)
    problems = json_text_problems(data)
    if problems:
        raise JsonInputError(problems)
    return data


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class SafeJSONParser(JSONParser):
    """DRF's JSON parser (strict: no NaN or Infinity), refusing undecodable text, nesting beyond KPI_MAX_JSON_DEPTH
    and NUL characters or lone surrogates in any string: a ParseError (400) `{"detail": …, "errors": [{"field":
    <JSON path>, "message"}]}`; malformed JSON keeps DRF's `{"detail": "JSON parse error - …"}`."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            return json_loads_safe(raw, encoding=encoding)
        except JsonInputError as error:
            raise ParseError(
                {"detail": str(error), "errors": [problem.as_dict() for problem in error.problems]}
            ) from None
        except (ValueError, RecursionError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
