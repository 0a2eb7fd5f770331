"""Property-based fuzz of activity ingestion (POST /api/v1/activity/<kind>/) and of the CSV import (issue 16).

Hypothesis builds batches mixing valid records with hostile ones — text with NUL characters, lone surrogates and
emoji; huge, infinite and NaN numbers; dates of any year and UTC offset; wrong types; missing and unknown fields;
nested junk in `attributes`; bodies nested too deep — and files of random encodings, separators, headers and
bytes. The properties, for every request:

- never a 5xx;
- a 400 says what is wrong: `errors`, each naming its index and field (a body that cannot be parsed has one entry
  with `index` null), and nothing is written (every activity table keeps its row count, no dirty mark appears);
- a 200 counts exactly: `created` is the number of rows added, and created + updated + unchanged the batch size;
- the listing's filters (dates of any year and offset, junk) answer 200 or 400;
- an import job ends succeeded or failed (never queued or running); failed, it wrote nothing; succeeded, its
  `created` is the number of rows added.

Bounded: KPI_FUZZ_EXAMPLES examples per test (default 250) keep the module within about two minutes on SQLite or
PostgreSQL. The counts go to the fault suite's report (`tests/faults/report.py`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import os
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import api_key_create, membership_set, team_upsert, user_upsert
from metrics.activity import tasks as import_tasks
from metrics.activity.imports import import_field_names
from metrics.activity.ingest import activity_ingest
from metrics.activity.kinds import KIND_SPECS
from metrics.api.activity_schema import EXAMPLES
from metrics.models import ACTIVITY_MODELS, DirtyMark, ImportJob, ImportStatus
from tests.faults.report import record

MAX_EXAMPLES = int(os.environ.get("KPI_FUZZ_EXAMPLES", "250"))
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,  # nothing written to .hypothesis/: a run is bounded and independent of the last one
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the database and clients are shared by a test's examples
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
KINDS = ["orders", "customers", "deals", "tickets", "survey-responses", "campaign-stats", "spend", "interactions"]
IMPORT_KINDS = ["orders", "customers", "spend", "tickets"]
# Tokens json.dumps cannot write, put into the body after dumping: a number that parses as infinity, NaN, an
# array nested beyond the nesting limit, and one nested beyond what Python's decoder can follow.
RAW_TOKENS = {
    "\ue000huge\ue000": "1e400",
    "\ue000nan\ue000": "NaN",
    "\ue000deep\ue000": "[" * 80 + "]" * 80,
    "\ue000abyss\ue000": "[" * 5000 + "]" * 5000,
}

# What the module did, for the fault suite's report.
COUNTS: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    record(
        "fuzz-activity",
        examples=COUNTS["examples"],
        requests=COUNTS["requests"],
        server_errors=COUNTS["server_errors"],
        half_written=COUNTS["half_written"],
        accepted=COUNTS["accepted"],
        refused=COUNTS["refused"],
        imports_run=COUNTS["imports_run"],
    )


# ---------------------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------------------
NASTY_CHARS = st.sampled_from(["\x00", "\ud800", "\udfff", "\udc80", "😀", "é", "\u202f", "\ufeff", "\r", ";", '"'])
TEXT = st.text(alphabet=st.one_of(st.characters(), NASTY_CHARS), max_size=12)
OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
ANY_MOMENT = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59), timezones=st.none() | OFFSETS
)
PLAUSIBLE_MOMENT = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 12, 31), timezones=st.just(dt.UTC)
)
DATE_TEXT = st.one_of(
    PLAUSIBLE_MOMENT.map(lambda moment: moment.isoformat().replace("+00:00", "Z")),
    ANY_MOMENT.map(lambda moment: moment.isoformat()),
    st.dates().map(lambda day: day.isoformat()),
    st.sampled_from(
        [
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00+14:00",
            "2025-03-01T10:00:00-19:18",
            "1900-01-01",
            "2100-12-31T23:59:59+14:00",
            "1990-01-01T00:00:00-12:00",
            "2025-02-30",
            "31/12/2026 14:30",
        ]
    ),
)
NUMBER = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e400", "NaN", "Infinity", "-Infinity", "1E+999999999", "9" * 5000, "12,50", " 3 ", "0x10"]),
    st.sampled_from(list(RAW_TOKENS)[:2]),
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), NUMBER, TEXT, DATE_TEXT)
JSON_JUNK = st.recursive(
    st.one_of(JSON_LEAF, st.sampled_from(list(RAW_TOKENS)[2:])),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)


def _valid_value(kind: str, name: str):
    """A value of field `name` taken from the kind's documented example (references to the fixture's records)."""
    value = EXAMPLES[kind].get(name)
    if name in ("customer",):
        return "C-1"
    if name == "campaign":
        return "CMP-1"
    if name == "lead":
        return None
    return value


def _clean_value(kind: str, field, number: int) -> object:
    """The example's value (its dates in order, as the rules want them); a campaign's stat dated by its number,
    one per day (the natural key)."""
    if kind == "campaign-stats" and field.name == "date":
        return f"2025-03-{number + 1:02d}"
    return _valid_value(kind, field.name)


_MISSING = object()


def _hostile_value(draw, kind: str, field) -> object:
    """Left out, a date of any year and offset, a number, text, junk, or the valid value with a NUL, a lone
    surrogate or an emoji slipped in."""
    valid = f"{_valid_value(kind, field.name)}"
    slipped = st.builds(lambda char, at: valid[:at] + char + valid[at:], NASTY_CHARS, st.integers(0, 6))
    return draw(st.one_of(st.just(_MISSING), DATE_TEXT, NUMBER, TEXT, JSON_JUNK, slipped))


@st.composite
def records(draw, kind: str, hostility: int) -> dict:
    """One record of `kind` numbered F-0…F-7: the documented example (hostility 0), with one field replaced by a
    date of any year and offset, a number, text or junk, or left out (1), or any field so (2); sometimes with
    attributes, a team, an unknown field."""
    spec = KIND_SPECS[kind]
    number = draw(st.integers(min_value=0, max_value=7))
    external_id = f"F-{number}"
    record: dict = {"external_id": external_id if hostility < 2 else draw(st.just(external_id) | TEXT | JSON_LEAF)}
    fields = [field.name for field in spec.fields] + ["attributes", "team"]
    spoiled = draw(st.sampled_from(fields)) if hostility == 1 else None
    for field in spec.fields:
        hostile = hostility == 2 and draw(st.integers(min_value=0, max_value=2)) == 0
        if hostile or field.name == spoiled:
            value = _hostile_value(draw, kind, field)
        else:
            value = _clean_value(kind, field, number)
        if value is not None and value is not _MISSING:
            record[field.name] = value
    if spoiled == "attributes" or (hostility == 2 and draw(st.integers(min_value=0, max_value=3)) == 0):
        record["attributes"] = draw(st.dictionaries(TEXT, JSON_JUNK, max_size=3) | JSON_JUNK)
    elif draw(st.booleans()):
        # Clean attributes that change from one example to the next: the record is then updated
        record["attributes"] = draw(
            st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=2)
        )
    if spoiled == "team" or (hostility == 2 and draw(st.integers(min_value=0, max_value=5)) == 0):
        record["team"] = draw(st.sampled_from(["team-a", "team-b", "fuzz-sub", ""]) | TEXT)
    elif draw(st.integers(min_value=0, max_value=3)) == 0:
        record["team"] = "team-a"
    if hostility == 2 and draw(st.integers(min_value=0, max_value=7)) == 0:
        record[draw(TEXT)] = draw(JSON_LEAF)
    return record


@st.composite
def batches(draw) -> tuple[str, str, int]:
    """(kind, JSON body, number of records): a list of records, or {"records": [...]}; half of the batches clean,
    a quarter with one spoiled field per record, a quarter hostile (and sometimes not objects at all)."""
    kind = draw(st.sampled_from(KINDS))
    hostility = draw(st.sampled_from([0, 1, 1, 2]))
    if hostility == 2:
        items = draw(st.lists(records(kind, 2) | JSON_LEAF.filter(lambda value: value is not None), max_size=6))
    else:
        # Clean records, each named once (a batch naming one twice is refused, rightly); at level 1 one of them
        # gets one spoiled field, so that the batch stands or falls by that one value.
        items = draw(st.lists(records(kind, 0), min_size=1, max_size=6, unique_by=lambda r: r["external_id"]))
        if hostility == 1:
            position = draw(st.integers(min_value=0, max_value=len(items) - 1))
            spoiled = draw(records(kind, 1))
            spoiled["external_id"] = items[position]["external_id"]
            items[position] = spoiled
    items = items or [{}]
    payload = {"records": items} if draw(st.booleans()) else items
    body = json.dumps(payload)  # ensure_ascii: NUL and lone surrogates go as \u0000, \ud800 escapes
    for token, raw in RAW_TOKENS.items():
        body = body.replace(json.dumps(token), raw)
    return kind, body, len(items)


# ---------------------------------------------------------------------------------------------------------------------
# Fixtures: a team with a sub-team, the records referred to, a key, a manager
# ---------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def fuzz_team(db):
    team = team_upsert(slug="team-a", name="Équipe A", kind="sales")
    team_upsert(slug="fuzz-sub", name="Sous-équipe", kind="sales", parent_slug="team-a")
    team_upsert(slug="team-b", name="Équipe B", kind="sales")
    for kind, external_id in (("customers", "C-1"), ("campaigns", "CMP-1")):
        example = {**EXAMPLES[kind], "external_id": external_id}
        activity_ingest(kind=kind, records=[example], default_team_id=team.pk, writable_team_ids={team.pk})
    return team


@pytest.fixture
def key_client(fuzz_team) -> APIClient:
    _api_key, key = api_key_create(team=fuzz_team, name="fuzz", scopes=["read", "write"])
    client = APIClient()
    client.raise_request_exception = False  # a view's crash comes back as the 500 it would be
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_ACCEPT_LANGUAGE="fr")
    return client


@pytest.fixture
def manager_client(client, fuzz_team, monkeypatch):
    user = user_upsert(username="fuzz-manager", email="fuzz@example.test", password="x" * 20, language="en")
    membership_set(user=user, team=fuzz_team, role=Role.MANAGER)
    client.raise_request_exception = False
    client.force_login(user)
    task = import_tasks.activity_import_task
    monkeypatch.setattr(task, "apply_async", lambda args=(), kwargs=None, **options: task(*args, **(kwargs or {})))
    return client


def row_counts() -> dict[str, int]:
    counts = {kind: model._base_manager.count() for kind, model in ACTIVITY_MODELS.items()}
    counts["dirty-marks"] = DirtyMark.objects.count()
    return counts


def _answer(response) -> dict | list | None:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------------------------------------------------
@FUZZ_SETTINGS
@given(batch=batches())
def test_fuzzed_batches_never_fail_and_are_all_or_nothing(key_client, batch):
    kind, body, size = batch
    model = KIND_SPECS[kind].model
    COUNTS["examples"] += 1
    before = row_counts()
    stored_before = model._base_manager.count()
    response = key_client.post(f"/api/v1/activity/{kind}/", data=body.encode(), content_type="application/json")
    COUNTS["requests"] += 1
    answer = _answer(response)
    if response.status_code >= 500:
        COUNTS["server_errors"] += 1
        pytest.fail(f"{response.status_code} for {kind} {body[:500]!r}: {response.content[:500]!r}")
    assert response.status_code in (200, 400), (response.status_code, answer)
    if response.status_code == 400:
        COUNTS["refused"] += 1
        if row_counts() != before:
            COUNTS["half_written"] += 1
            pytest.fail(f"a refused batch changed the tables: {before} -> {row_counts()} for {body[:500]!r}")
        assert isinstance(answer, dict) and answer.get("errors"), answer
        for error in answer["errors"]:
            assert {"index", "external_id", "field", "message"} <= set(error) and error["message"], error
            if "detail" not in answer:  # a record-level error names its record and field
                assert isinstance(error["index"], int) and 0 <= error["index"] < size, error
                assert isinstance(error["field"], str | type(None)), error
        return
    COUNTS["accepted"] += 1
    assert set(answer) == {"created", "updated", "unchanged"}, answer
    assert answer["created"] + answer["updated"] + answer["unchanged"] == size, (answer, size)
    if model._base_manager.count() - stored_before != answer["created"]:
        COUNTS["half_written"] += 1
        pytest.fail(f"created {answer['created']} but {model._base_manager.count() - stored_before} rows added")


FILTERS = ["external_id", "team", "updated_since", "page_size", "cursor", "format"]


@st.composite
def listings(draw) -> tuple[str, dict[str, str]]:
    """(kind, query): the kind's date filters and the others, with dates of any year and offset, text, numbers."""
    kind = draw(st.sampled_from(KINDS))
    main = KIND_SPECS[kind].main_date
    names = st.sampled_from([f"{main}_after", f"{main}_before", *FILTERS])
    values = DATE_TEXT | TEXT | NUMBER.map(str) | st.sampled_from(["csv", "json", "api", "team-a", "team-b"])
    return kind, draw(st.dictionaries(names, values, max_size=4))


@FUZZ_SETTINGS
@given(listing=listings())
def test_fuzzed_listings_never_fail(key_client, listing):
    kind, query = listing
    COUNTS["examples"] += 1
    response = key_client.get(f"/api/v1/activity/{kind}/", query)
    if response.streaming:
        b"".join(response.streaming_content)  # the CSV export is written as it is read
    COUNTS["requests"] += 1
    if response.status_code >= 500:
        COUNTS["server_errors"] += 1
        pytest.fail(f"{response.status_code} for GET {kind} {query!r}: {response.content[:300]!r}")
    assert response.status_code in (200, 400, 404), (response.status_code, query)


# ---------------------------------------------------------------------------------------------------------------------
# The CSV import
# ---------------------------------------------------------------------------------------------------------------------
CELL_EXAMPLES = {
    "datetime": ["05/01/2026 10:00", "2026-01-05T10:00:00Z", "01/01/1900", "0001-01-01T00:00:00+14:00", "31/02/2026"],
    "date": ["05/01/2026", "2026-01-05", "9999-12-31", "0001-01-01T00:00:00+14:00"],
    "decimal": ["1 234,56 €", "12.5", "-3", "1e400", "NaN", "9" * 60],
    "integer": ["3", "1 200", "2,5", "9" * 5000],
    "boolean": ["oui", "non", "x", "peut-être"],
}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "cp1252", "latin-1"]


@st.composite
def cells(draw, field_name: str, kind: str, clean: bool) -> str:
    """A cell of column `field_name`: what a spreadsheet writes for it (the first example of its type when
    `clean`), or text and junk."""
    spec = KIND_SPECS[kind].by_name.get(field_name)
    if clean and field_name == "external_id":
        return draw(st.sampled_from([f"F-{n}" for n in range(4)]))
    if clean and spec is not None:
        good = CELL_EXAMPLES.get(spec.type, [None])[0] or (spec.choices[0] if spec.choices else None)
        good = "C-1" if field_name == "customer" else good
        if good is not None or not spec.required:
            return good or ""
    choices = list(CELL_EXAMPLES.get(spec.type, [])) if spec is not None else []
    if spec is not None and spec.choices:
        choices += list(spec.choices)
    if field_name == "external_id":
        choices += [f"F-{n}" for n in range(4)]
    if field_name in ("customer",):
        choices.append("C-1")
    if field_name == "team":
        choices += ["team-a", "fuzz-sub", "team-b"]
    if field_name == "attributes":
        choices += ['{"a": 1}', '{"a": "\\u0000"}', "[1, 2]", '{"x": 1e400}', "{"]
    options = [TEXT, st.just("")]
    if choices:
        options.insert(0, st.sampled_from(choices))
    return draw(st.one_of(*options))


@st.composite
def csv_files(draw) -> tuple[str, bytes]:
    """(kind, file content): headers from the kind's fields, synonyms or junk, rows of cells that are right,
    wrong or hostile, a separator, an encoding (with or without its byte order mark) — or random bytes."""
    kind = draw(st.sampled_from(IMPORT_KINDS))
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return kind, draw(st.binary(max_size=400))
    clean = draw(st.booleans())
    names = import_field_names(KIND_SPECS[kind])
    required = ["external_id", *(f.name for f in KIND_SPECS[kind].fields if f.required)]
    headers = list(required) if clean or draw(st.booleans()) else []
    headers += draw(st.lists(st.sampled_from([n for n in names if n not in headers]) | TEXT, max_size=4, unique=True))
    headers = headers or ["external_id"]
    rows = draw(
        st.lists(
            st.tuples(*(cells(header, kind, clean) for header in headers)).map(list),
            min_size=1,
            max_size=5,
        )
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=draw(st.sampled_from([";", ",", "\t"])), lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(ENCODINGS[:7] if clean else ENCODINGS))
    # Lone surrogates are written as the (invalid) bytes they would be; what a code page lacks becomes "?".
    errors = "replace" if encoding in ("cp1252", "latin-1") else "surrogatepass"
    content = text.encode(encoding, errors=errors)
    if encoding == "utf-16-le" and draw(st.booleans()):
        content = codecs.BOM_UTF16_LE + content
    if not clean and draw(st.integers(min_value=0, max_value=5)) == 0:
        position = draw(st.integers(min_value=0, max_value=len(content)))
        content = content[:position] + draw(st.binary(min_size=1, max_size=4)) + content[position:]
    return kind, content


@FUZZ_SETTINGS
@given(upload=csv_files(), valid_only=st.booleans())
def test_fuzzed_imports_never_fail_and_end_written_or_not_at_all(manager_client, upload, valid_only):
    kind, content = upload
    model = KIND_SPECS[kind].model
    COUNTS["examples"] += 1
    before = row_counts()
    stored_before = model._base_manager.count()
    jobs_before = set(ImportJob.objects.values_list("pk", flat=True))

    def request(method: str, url: str, data=None):
        response = getattr(manager_client, method)(url, data, HTTP_ACCEPT_LANGUAGE="en")
        COUNTS["requests"] += 1
        if response.status_code >= 500:
            COUNTS["server_errors"] += 1
            pytest.fail(f"{response.status_code} on {method.upper()} {url} for {kind} file {content[:300]!r}")
        return response

    file = SimpleUploadedFile("fuzz.csv", content, content_type="text/csv")
    response = request("post", "/import/team-a/", {"kind": kind, "file": file})
    assert response.status_code in (302, 400), response.status_code
    new_jobs = ImportJob.objects.exclude(pk__in=jobs_before)
    if response.status_code == 400:
        COUNTS["refused"] += 1
        assert not new_jobs.exists() and row_counts() == before
        return
    job = new_jobs.get()
    data = {f"column_{position}": name for position, name in enumerate(job.mapping)}
    if valid_only:
        data["valid_only"] = "on"
    response = request("post", f"/import/team-a/jobs/{job.pk}/", data)
    assert response.status_code in (302, 400), response.status_code
    job.refresh_from_db()
    request("get", f"/import/team-a/jobs/{job.pk}/")
    if job.status == ImportStatus.DRAFT:  # the mapping was refused on the page (a required field unmapped)
        COUNTS["refused"] += 1
        assert row_counts() == before
        return
    COUNTS["imports_run"] += 1
    assert job.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED), (job.status, job.report)
    if job.error_file:
        request("get", f"/import/team-a/jobs/{job.pk}/errors.csv")
    if job.status == ImportStatus.FAILED:
        COUNTS["refused"] += 1
        if row_counts() != before:
            COUNTS["half_written"] += 1
            pytest.fail(f"a failed import changed the tables: {job.report} for {content[:300]!r}")
        return
    COUNTS["accepted"] += 1
    report = job.report
    assert report["written"] is True
    if model._base_manager.count() - stored_before != report["created"]:
        COUNTS["half_written"] += 1
        pytest.fail(f"import created {report['created']} but {model._base_manager.count() - stored_before} rows added")
