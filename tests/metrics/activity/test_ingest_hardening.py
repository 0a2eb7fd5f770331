"""Ingestion against hostile input (issue 16): implausible dates and UTC offsets, NUL characters, lone
surrogates, non-finite and huge numbers, deep nesting — each a 400 naming the record and field, nothing
written, never a 500 — and exact counters when batches over the same records run at the same time."""

import json
import time

import pytest
from django.db import connection
from django.utils import translation

from metrics.activity import ingest as ingest_module
from metrics.activity.ingest import IngestError, activity_ingest
from metrics.models import Customer, DirtyMark, Order, Spend
from tests.metrics.activity.concurrency import ingest_at_the_same_time

URL = "/api/v1/activity/orders/"
ORDER = {"external_id": "O-1", "ordered_at": "2025-03-05T14:30:00Z", "amount": "10.00"}
WINDOW = "enter a date from 1990-01-01 to 2100-12-31."
OFFSET = "Enter a UTC offset between -14:00 and +14:00, in whole minutes"
UNSTORABLE = "Contains a NUL character or an invalid Unicode character (a lone surrogate)."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def post(client, body, url=URL):
    # json.dumps writes NUL as \u0000 and a lone surrogate as \ud800: what an attacker's client sends.
    return client.post(url, data=json.dumps(body), content_type="application/json")


def nothing_written() -> bool:
    return not Order.objects.exists() and not Customer.objects.exists() and not DirtyMark.objects.exists()


# --- Plausible dates and offsets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ordered_at", "message"),
    [
        ("1900-01-01T00:00:00Z", f"1900-01-01T00:00:00+00:00 is out of range: {WINDOW}"),
        ("0001-01-01T00:00:00Z", f"0001-01-01T00:00:00+00:00 is out of range: {WINDOW}"),
        ("2999-06-01T00:00:00Z", f"2999-06-01T00:00:00+00:00 is out of range: {WINDOW}"),
        # These two were 500s (OverflowError) when moved to UTC or to Paris time for the dirty marks.
        ("9999-12-31T23:59:59Z", f"9999-12-31T23:59:59+00:00 is out of range: {WINDOW}"),
        ("0001-01-01T00:00:00+14:00", f"0001-01-01T00:00:00+14:00 is out of range: {WINDOW}"),
        # A naive date-time is read in Paris time, then checked the same way.
        ("1989-12-31T23:59:59", f"1989-12-31T23:59:59 is out of range: {WINDOW}"),
        ("2025-03-05T14:30:00-19:18", f"{OFFSET} (got 2025-03-05T14:30:00-19:18)."),
        ("2025-03-05T14:30:00+14:01", f"{OFFSET} (got 2025-03-05T14:30:00+14:01)."),
        ("2025-03-05T14:30:00+01:00:30", f"{OFFSET} (got 2025-03-05T14:30:00+01:00:30)."),
    ],
)
def test_an_implausible_date_or_offset_answers_400_on_its_field_and_writes_nothing(
    key_client, team_a, ordered_at, message
):
    # Given a valid order, then one dated outside the window (or with an impossible offset)
    body = [{**ORDER, "external_id": "O-0"}, {**ORDER, "ordered_at": ordered_at}]
    # When the batch is posted
    response = post(key_client(team_a), body)
    # Then the batch is refused on the second record's date, and nothing is stored or marked dirty
    assert (response.status_code, response.json()) == (
        400,
        {"errors": [{"index": 1, "external_id": "O-1", "field": "ordered_at", "message": message}]},
    )
    assert nothing_written()


@pytest.mark.parametrize(
    "ordered_at",
    ["1990-01-01T00:00:00Z", "2100-12-31T23:59:59Z", "2025-03-05T14:30:00+14:00", "2025-03-05T14:30:00-12:00"],
)
def test_dates_at_the_edges_of_the_window_and_offsets_up_to_14_hours_are_accepted(key_client, team_a, ordered_at):
    response = post(key_client(team_a), [{**ORDER, "ordered_at": ordered_at}])
    assert (response.status_code, response.json()) == (200, {"created": 1, "updated": 0, "unchanged": 0})


def test_every_date_of_a_record_is_checked_not_only_the_main_one(key_client, team_a):
    # A customer acquired in 2024 who churned in year 3000
    customer = {"external_id": "C-1", "acquired_at": "2024-01-01T00:00:00Z", "churned_at": "3000-01-01T00:00:00Z"}
    response = post(key_client(team_a), [customer], url="/api/v1/activity/customers/")
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "churned_at")]
    assert nothing_written()


def test_a_calendar_date_field_is_checked_too(team_a):
    with pytest.raises(IngestError) as caught:
        activity_ingest(
            kind="spend",
            records=[{"external_id": "SP-1", "date": "1899-12-31", "category": "acquisition", "amount": "1"}],
            default_team_id=team_a.pk,
            writable_team_ids={team_a.pk},
        )
    assert [(e["field"], e["message"]) for e in caught.value.errors] == [
        ("date", f"1899-12-31 is out of range: {WINDOW}")
    ]
    assert not Spend.objects.exists()


def test_the_window_is_a_setting(key_client, team_a, settings):
    settings.KPI_DATE_MIN_YEAR, settings.KPI_DATE_MAX_YEAR = 2020, 2030
    response = post(key_client(team_a), [{**ORDER, "ordered_at": "2019-12-31T12:00:00Z"}])
    assert response.json()["errors"][0]["message"] == (
        "2019-12-31T12:00:00+00:00 is out of range: enter a date from 2020-01-01 to 2030-12-31."
    )


# --- What no column can hold -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field", "external_id"),
    [
        ({**ORDER, "external_id": "O-\x00"}, "external_id", None),
        ({**ORDER, "external_id": "O-\ud800"}, "external_id", None),
        ({**ORDER, "team": "team-a\x00"}, "team", "O-1"),
        ({**ORDER, "customer": "C-\udfff"}, "customer", "O-1"),
        ({**ORDER, "channel": "web\x00"}, "channel", "O-1"),
        ({**ORDER, "attributes": {"note": "a\x00b"}}, "attributes", "O-1"),
        ({**ORDER, "attributes": {"k\x00": 1}}, "attributes", "O-1"),
        ({**ORDER, "attributes": {"deep": [{"deeper": ["\ud83d"]}]}}, "attributes", "O-1"),
    ],
)
def test_a_nul_or_a_lone_surrogate_anywhere_in_a_record_answers_400_naming_it(
    key_client, team_a, record, field, external_id
):
    # When a batch holds a string that PostgreSQL cannot store (NUL) or UTF-8 cannot encode (a lone surrogate)
    response = post(key_client(team_a), [{**ORDER, "external_id": "O-0"}, record])
    # Then a 400 names the record and the field (and its external_id only when that one is clean)
    assert (response.status_code, response.json()) == (
        400,
        {"errors": [{"index": 1, "external_id": external_id, "field": field, "message": UNSTORABLE}]},
    )
    assert nothing_written()


def test_a_nul_in_a_field_name_is_named_without_the_nul(key_client, team_a):
    response = post(key_client(team_a), [{**ORDER, "amo\x00unt": "1"}])
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": 0,
            "external_id": "O-1",
            "field": "amo\ufffdunt",
            "message": "This field name contains a NUL character or an invalid Unicode character (a lone surrogate).",
        }
    ]


def test_emoji_and_accents_are_stored_as_they_are(key_client, team_a):
    # A surrogate pair written as escapes is one valid character (😀), not a lone surrogate
    body = (
        '[{"external_id": "O-\\ud83d\\ude00", "ordered_at": "2025-03-05T14:30:00Z", "amount": "1", '
        '"attributes": {"note": "Crème brûlée 🍮"}}]'
    )
    response = key_client(team_a).post(URL, data=body, content_type="application/json")
    assert response.status_code == 200
    assert Order.objects.get().external_id == "O-😀"
    assert Order.objects.get().attributes == {"note": "Crème brûlée 🍮"}


@pytest.mark.parametrize(
    ("raw_record", "field", "message"),
    [
        # 1e400 parses as infinity: PostgreSQL's jsonb refuses it
        ('"attributes": {"x": 1e400}', "attributes", "Enter a finite number."),
        ('"amount": 1e400', "amount", "Enter a finite number."),
        ('"amount": "1e999999999"', "amount", "Number too large (at most 14 digits)."),
        ('"amount": "-1E+999999999999"', "amount", "Number too large (at most 14 digits)."),
    ],
)
def test_infinite_and_huge_numbers_answer_400(key_client, team_a, raw_record, field, message):
    body = f'[{{"external_id": "O-1", "ordered_at": "2025-03-05T14:30:00Z", "amount": "1", {raw_record}}}]'
    response = key_client(team_a).post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [(field, message)]
    assert nothing_written()


def test_a_whole_number_of_5000_digits_answers_400_not_500(key_client, team_a):
    ticket = {"external_id": "T-1", "created_at": "2025-03-05T14:30:00Z", "contact_count": "9" * 5000}
    response = post(key_client(team_a), [ticket], url="/api/v1/activity/tickets/")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "contact_count"


def test_attributes_nested_deeper_than_the_limit_answer_400(key_client, team_a, settings):
    settings.KPI_MAX_JSON_DEPTH = 10
    nested: list = []
    for _level in range(12):
        nested = [nested]
    response = post(key_client(team_a), [{**ORDER, "attributes": {"x": nested}}])
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "external_id": "O-1", "field": "attributes", "message": "Nested too deeply (at most 10 levels)."}
    ]


def test_a_body_nested_beyond_what_the_json_decoder_can_follow_answers_400(key_client, team_a):
    body = "[" * 100_000 + "]" * 100_000
    response = key_client(team_a).post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    message = "JSON parse error - the body is nested too deeply."
    assert response.json() == {
        "detail": message,
        "errors": [{"index": None, "external_id": None, "field": None, "message": message}],
    }


def test_malformed_json_answers_400_with_detail_and_errors(key_client, team_a):
    response = key_client(team_a).post(URL, data='[{"external_id": NaN}]', content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("JSON parse error") and body["errors"][0]["message"] == body["detail"]


def test_raw_bytes_that_are_not_utf8_answer_400(key_client, team_a):
    # A lone surrogate sent as raw (CESU-8) bytes rather than an escape
    body = b'[{"external_id": "O-\xed\xa0\x80", "ordered_at": "2025-03-05T14:30:00Z", "amount": "1"}]'
    response = key_client(team_a).post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert nothing_written()


# --- Exact counters under concurrency --------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_at_the_same_time_count_exactly_what_each_created(team_a, monkeypatch):
    # Given two batches of 300 orders sharing 200 (O-100 … O-299), with the same values, sent at the same time;
    # each batch pauses between reading what is stored and writing, so that without serialisation both would
    # read "nothing stored" and both answer created=300 (600 claimed for 400 rows)
    first = [{**ORDER, "external_id": f"O-{i}", "amount": i} for i in range(0, 300)]
    second = [{**ORDER, "external_id": f"O-{i}", "amount": i} for i in range(100, 400)]
    read = ingest_module._existing_rows

    def slow_read(*args, **kwargs):
        rows = read(*args, **kwargs)
        time.sleep(0.5)
        return rows

    monkeypatch.setattr(ingest_module, "_existing_rows", slow_read)
    results, failures = ingest_at_the_same_time(team_a, "orders", [first, second])
    # Then both succeed; what they say they created is what is stored (400), and the 200 shared orders were
    # found unchanged by whichever batch came second: 300 + 100 created, 200 unchanged
    assert failures == []
    assert Order.objects.count() == 400
    assert sum(r["created"] for r in results) == 400
    assert sum(r["unchanged"] for r in results) == 200
    assert sum(r["updated"] for r in results) == 0
    assert sorted(r["created"] for r in results) == [100, 300]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_the_same_change_sent_twice_at_the_same_time_is_one_update_and_one_unchanged(team_a, monkeypatch):
    # Given 200 stored orders, and two identical batches changing all their amounts, sent at the same time; each
    # pauses between reading what is stored and writing, so that both read the old amounts
    stored = [{**ORDER, "external_id": f"O-{i}", "amount": i} for i in range(200)]
    activity_ingest(kind="orders", records=stored, default_team_id=team_a.pk, writable_team_ids={team_a.pk})
    changed = [{**record, "amount": record["amount"] + 1000} for record in stored]
    read = ingest_module._existing_rows

    def slow_read(*args, **kwargs):
        rows = read(*args, **kwargs)
        time.sleep(0.5)
        return rows

    monkeypatch.setattr(ingest_module, "_existing_rows", slow_read)
    results, failures = ingest_at_the_same_time(team_a, "orders", [changed, changed])
    # Then the first to write updates the 200 orders and the second finds them already so: 200 updated, 200
    # unchanged in all (not 400 updated), and the stored amounts are the new ones
    assert failures == []
    assert sorted((r["updated"], r["unchanged"], r["created"]) for r in results) == [(0, 200, 0), (200, 0, 0)]
    assert sorted(Order.objects.values_list("amount", flat=True)) == sorted(i + 1000 for i in range(200))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_batches_of_different_records_of_one_team_write_side_by_side(team_a, monkeypatch):
    # Given two batches of different orders of the same team; each pauses after reading what is stored
    first = [{**ORDER, "external_id": f"A-{i}"} for i in range(50)]
    second = [{**ORDER, "external_id": f"B-{i}"} for i in range(50)]
    read = ingest_module._existing_rows
    pauses = []

    def slow_read(*args, **kwargs):
        rows = read(*args, **kwargs)
        began = time.monotonic()
        time.sleep(1.0)
        pauses.append((began, time.monotonic()))
        return rows

    monkeypatch.setattr(ingest_module, "_existing_rows", slow_read)
    results, failures = ingest_at_the_same_time(team_a, "orders", [first, second])
    # Then both create their orders, and neither waited for the other to commit (no lock per team): the second
    # pause began before the first ended (with a lock, it could begin only after the first batch's commit)
    assert failures == []
    assert [r["created"] for r in results] == [50, 50]
    assert Order.objects.count() == 100
    (first_began, first_ended), (second_began, _) = sorted(pauses)
    assert second_began < first_ended


# --- The listing's date filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # Year 9999 at -14:00 is after Python's calendar in UTC (an OverflowError on SQLite)
        ({"ordered_at_after": "9999-12-31T23:59:59-14:00"}, f"9999-12-31T23:59:59-14:00 is out of range: {WINDOW}"),
        ({"updated_since": "0001-01-01T00:00:00+14:00"}, f"0001-01-01T00:00:00+14:00 is out of range: {WINDOW}"),
        # PostgreSQL refuses a displacement beyond ±15:59 (a DataError)
        ({"ordered_at_before": "2025-01-01T00:00:00-19:18"}, f"{OFFSET} (got 2025-01-01T00:00:00-19:18)."),
    ],
)
def test_an_implausible_date_filter_answers_400_naming_the_parameter(key_client, team_a, query, message):
    response = key_client(team_a).get(URL, query)
    assert (response.status_code, response.json()) == (400, {name: [message] for name in query})


def test_the_browsable_api_renders_the_listing_and_its_form(key_client, team_a):
    # It drew its forms from a serializer the view did not name (an AssertionError, a 500)
    client = key_client(team_a)
    post(client, [ORDER])
    response = client.get(URL, {"format": "api"})
    assert response.status_code == 200 and b"O-1" in response.content and b"<form" in response.content
