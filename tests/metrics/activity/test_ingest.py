"""metrics.ingest: validation of every kind, references, all-or-nothing, idempotency, dirty marks, concurrency."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import translation

from metrics.activity.ingest import IngestError, activity_ingest
from metrics.activity.kinds import KIND_SPECS
from metrics.api.activity_schema import EXAMPLES
from metrics.models import Customer, DirtyMark, Order, SurveyResponse
from metrics.recompute.tasks import recompute_dirty_task
from tests.metrics.activity.concurrency import ingest_at_the_same_time


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def ingest(team, kind, records, writable=None):
    return activity_ingest(
        kind=kind,
        records=records,
        default_team_id=team.pk,
        writable_team_ids={team.pk} if writable is None else writable,
    ).as_dict()


def errors_of(team, kind, records, writable=None):
    with pytest.raises(IngestError) as caught:
        ingest(team, kind, records, writable)
    return caught.value.errors


@pytest.fixture
def referenced(team_a):
    """The customer and campaign that the examples refer to (C-1042, CMP-2025-03)."""
    ingest(team_a, "customers", [EXAMPLES["customers"]])
    ingest(team_a, "campaigns", [EXAMPLES["campaigns"]])


@pytest.mark.parametrize("kind", sorted(KIND_SPECS))
def test_the_documented_example_of_every_kind_is_accepted(team_a, referenced, kind):
    # Given the referenced customer and campaign exist (they were created by the fixture)
    # When the kind's documented example is sent (customers/campaigns: the same again)
    result = ingest(team_a, kind, [EXAMPLES[kind]])
    # Then it is stored, or found unchanged for the two already sent
    expected = {"created": 0, "updated": 0, "unchanged": 1} if kind in ("customers", "campaigns") else None
    assert result == (expected or {"created": 1, "updated": 0, "unchanged": 0})
    assert KIND_SPECS[kind].model.objects.filter(team=team_a, external_id=EXAMPLES[kind]["external_id"]).exists()


ORDER = {"external_id": "O-1", "ordered_at": "2025-03-05T14:30:00Z", "amount": "10.00"}
DEAL = {"external_id": "D-1", "created_at": "2025-03-01T10:00:00Z", "amount": "100"}
SURVEY = {"external_id": "R-1", "responded_at": "2025-03-01T10:00:00Z"}


@pytest.mark.parametrize(
    ("kind", "record", "field", "message"),
    [
        (
            "survey-responses",
            {**SURVEY, "survey": "nps", "score": 11},
            "score",
            "A NPS score is between 0 and 10 (got 11).",
        ),
        (
            "survey-responses",
            {**SURVEY, "survey": "csat", "score": 0},
            "score",
            "A CSAT score is between 1 and 5 (got 0).",
        ),
        (
            "survey-responses",
            {**SURVEY, "survey": "ces", "score": 8},
            "score",
            "A CES score is between 1 and 7 (got 8).",
        ),
        (
            "survey-responses",
            {**SURVEY, "survey": "xyz", "score": 3},
            "survey",
            "Must be one of: nps, csat, ces (got 'xyz').",
        ),
        ("deals", {**DEAL, "status": "won"}, "closed_at", "A won or lost deal needs closed_at."),
        (
            "deals",
            {**DEAL, "status": "open", "closed_at": "2025-03-02T10:00:00Z"},
            "closed_at",
            "An open deal has no closed_at; set status to won or lost.",
        ),
        (
            "deals",
            {**DEAL, "status": "lost", "closed_at": "2025-02-01T10:00:00Z"},
            "closed_at",
            "Must not be before created_at.",
        ),
        ("deals", {**DEAL, "probability": 120}, "probability", "Must be at most 100 (got 120.00)."),
        ("orders", {**ORDER, "amount": "-5"}, "amount", "Must be at least 0 (got -5.00)."),
        ("orders", {**ORDER, "amount": "ten"}, "amount", "Enter a number (got 'ten')."),
        ("orders", {**ORDER, "amount": None}, "amount", "This field is required."),
        ("orders", {**ORDER, "colour": "red"}, "colour", "Unknown field."),
        (
            "orders",
            {**ORDER, "ordered_at": "05/03/2025"},
            "ordered_at",
            "Enter an ISO 8601 date-time such as 2025-03-01T14:30:00Z (got '05/03/2025').",
        ),
        (
            "orders",
            {**ORDER, "status": "lost"},
            "status",
            "Must be one of: completed, abandoned, returned (got 'lost').",
        ),
        ("orders", {**ORDER, "is_upsell": "maybe"}, "is_upsell", "Enter true or false (got 'maybe')."),
        ("orders", {**ORDER, "external_id": ""}, "external_id", "This field is required."),
        ("orders", {**ORDER, "attributes": [1]}, "attributes", "Must be a JSON object."),
        (
            "spend",
            {"external_id": "S-1", "date": "2025-3-1", "category": "acquisition", "amount": 1},
            "date",
            "Enter a date as YYYY-MM-DD (got '2025-3-1').",
        ),
        (
            "tickets",
            {"external_id": "T-1", "created_at": "2025-03-01T10:00:00Z", "contact_count": -1},
            "contact_count",
            "Must be at least 0 (got -1).",
        ),
        (
            "tickets",
            {"external_id": "T-1", "created_at": "2025-03-01T10:00:00Z", "contact_count": 1.5},
            "contact_count",
            "Enter a whole number (got 1.5).",
        ),
        (
            "tickets",
            {"external_id": "T-1", "created_at": "2025-03-02T10:00:00Z", "resolved_at": "2025-03-01T10:00:00Z"},
            "resolved_at",
            "Must not be before created_at.",
        ),
        (
            "customers",
            {"external_id": "C-1", "acquired_at": "2025-03-02T10:00:00Z", "churned_at": "2025-03-01T10:00:00Z"},
            "churned_at",
            "Must not be before acquired_at.",
        ),
        ("leads", {"external_id": "L-1"}, "created_at", "This field is required."),
        (
            "web-traffic",
            {"external_id": "W-1", "date": "2025-03-01", "visits": 10, "bounces": 11},
            "bounces",
            "Must not be greater than visits.",
        ),
        (
            "interactions",
            {"external_id": "I-1", "kind": "click", "occurred_at": "2025-03-01T10:00:00Z"},
            "customer",
            "This field is required.",
        ),
        (
            "subscriptions",
            {"external_id": "S-1", "started_at": "2025-03-01T00:00:00Z", "recurring_amount": "1e30"},
            "recurring_amount",
            "Number too large (at most 14 digits).",
        ),
    ],
)
def test_an_invalid_value_is_rejected_with_its_field_and_message(team_a, kind, record, field, message):
    # Given one bad record; when it is sent
    errors = errors_of(team_a, kind, [record])
    # Then the batch is refused with one error naming the field, and nothing is stored
    assert errors == [{"index": 0, "external_id": record["external_id"] or None, "field": field, "message": message}]
    assert not KIND_SPECS[kind].model.objects.exists()


def test_a_record_that_is_not_an_object_is_rejected(team_a):
    assert errors_of(team_a, "orders", ["O-1"]) == [
        {"index": 0, "external_id": None, "field": None, "message": "Each record must be a JSON object."}
    ]


def test_an_unknown_customer_is_reported_on_the_customer_field(team_a, team_b):
    # Given customer C-9 exists, but in team B
    ingest(team_b, "customers", [{"external_id": "C-9", "acquired_at": "2025-01-01T00:00:00Z"}])
    # When team A sends an order of C-9
    errors = errors_of(team_a, "orders", [{**ORDER, "customer": "C-9"}])
    # Then the reference does not resolve across teams
    assert errors == [
        {
            "index": 0,
            "external_id": "O-1",
            "field": "customer",
            "message": "No customer with external_id 'C-9' in this team.",
        }
    ]


def test_references_resolve_to_the_team_customer(team_a, team_b):
    ingest(team_a, "customers", [{"external_id": "C-9", "acquired_at": "2025-01-01T00:00:00Z"}])
    ingest(team_b, "customers", [{"external_id": "C-9", "acquired_at": "2025-01-01T00:00:00Z"}])
    ingest(team_a, "orders", [{**ORDER, "customer": "C-9"}])
    order = Order.objects.get()
    assert order.customer == Customer.objects.get(team=team_a, external_id="C-9")


def test_one_invalid_record_rejects_the_whole_batch(team_a):
    # Given a batch of three orders, the second with a negative amount
    batch = [ORDER, {**ORDER, "external_id": "O-2", "amount": -1}, {**ORDER, "external_id": "O-3", "amount": "x"}]
    # When it is sent
    errors = errors_of(team_a, "orders", batch)
    # Then both bad records are reported, by index, and not even the good one is written
    assert [(e["index"], e["field"]) for e in errors] == [(1, "amount"), (2, "amount")]
    assert Order.objects.count() == 0
    assert DirtyMark.objects.count() == 0


def test_a_duplicate_external_id_in_a_batch_is_rejected(team_a):
    errors = errors_of(team_a, "orders", [ORDER, ORDER])
    assert errors == [
        {
            "index": 1,
            "external_id": "O-1",
            "field": "external_id",
            "message": "Duplicate external_id: record 0 has the same.",
        }
    ]


def test_the_same_batch_twice_changes_nothing(team_a):
    # Given two orders were ingested
    batch = [ORDER, {**ORDER, "external_id": "O-2", "amount": 20, "is_upsell": True}]
    assert ingest(team_a, "orders", batch) == {"created": 2, "updated": 0, "unchanged": 0}
    stamps = dict(Order.objects.values_list("external_id", "updated_at"))
    # When the same batch is sent again
    again = ingest(team_a, "orders", batch)
    # Then nothing is written: all unchanged, updated_at kept
    assert again == {"created": 0, "updated": 0, "unchanged": 2}
    assert dict(Order.objects.values_list("external_id", "updated_at")) == stamps


def test_a_changed_record_is_updated_and_a_missing_optional_field_resets(team_a):
    ingest(team_a, "orders", [{**ORDER, "channel": "web", "is_upsell": True}])
    # When the order comes back with another amount and without channel/is_upsell
    result = ingest(team_a, "orders", [{**ORDER, "amount": "12.5"}, {**ORDER, "external_id": "O-2"}])
    # Then it is updated (a record states the whole record) and the new one created
    assert result == {"created": 1, "updated": 1, "unchanged": 0}
    order = Order.objects.get(external_id="O-1")
    assert (order.amount, order.channel, order.is_upsell) == (Decimal("12.50"), "", False)


def test_naive_times_are_read_in_the_settings_time_zone(team_a):
    # Europe/Paris is UTC+1 in March: 14:30 local is 13:30 UTC
    ingest(team_a, "orders", [{**ORDER, "ordered_at": "2025-03-05T14:30:00"}])
    assert Order.objects.get().ordered_at.isoformat() == "2025-03-05T13:30:00+00:00"


def test_records_go_to_a_writable_sub_team_named_by_slug(make_team, team_a):
    sub = make_team("team-a-north", parent=team_a)
    result = ingest(team_a, "orders", [{**ORDER, "team": "team-a-north"}], writable={team_a.pk, sub.pk})
    assert result["created"] == 1
    assert Order.objects.get().team == sub


def test_a_team_slug_outside_the_writable_teams_is_rejected(team_a, team_b):
    errors = errors_of(team_a, "orders", [{**ORDER, "team": "team-b"}, {**ORDER, "external_id": "O-2", "team": "nope"}])
    assert errors == [
        {"index": 0, "external_id": "O-1", "field": "team", "message": "No team 'team-b' you may write to."},
        {"index": 1, "external_id": "O-2", "field": "team", "message": "No team 'nope' you may write to."},
    ]
    assert Order.objects.count() == 0


def test_a_second_stat_for_the_same_campaign_day_is_rejected(team_a):
    ingest(team_a, "campaigns", [{"external_id": "CMP-1"}])
    stat = {"campaign": "CMP-1", "date": "2025-03-01", "sent": 10, "delivered": 9}
    ingest(team_a, "campaign-stats", [{**stat, "external_id": "ST-1"}])
    errors = errors_of(team_a, "campaign-stats", [{**stat, "external_id": "ST-2"}])
    assert errors == [
        {
            "index": 0,
            "external_id": "ST-2",
            "field": "date",
            "message": "Record 'ST-1' already has the same campaign, date.",
        }
    ]


def test_dirty_marks_cover_the_changed_dates_old_and_new(team_a):
    # Given orders on 3 and 5 March (UTC noon: same day in Paris)
    ingest(
        team_a,
        "orders",
        [
            {**ORDER, "ordered_at": "2025-03-03T12:00:00Z"},
            {**ORDER, "external_id": "O-2", "ordered_at": "2025-03-05T12:00:00Z"},
        ],
    )
    mark = DirtyMark.objects.get(team=team_a, record_kind="orders")
    # Then the mark is [3 March, 6 March): the end is exclusive
    assert (mark.period_start, mark.period_end, mark.generation) == (date(2025, 3, 3), date(2025, 3, 6), 1)
    # When O-1 moves from 3 March to 20 April (the old and the new date are both affected)
    ingest(team_a, "orders", [{**ORDER, "ordered_at": "2025-04-20T12:00:00Z"}])
    mark.refresh_from_db()
    # Then the range is widened to [3 March, 21 April) and the generation bumped
    assert (mark.period_start, mark.period_end, mark.generation) == (date(2025, 3, 3), date(2025, 4, 21), 2)
    # And an unchanged resend marks nothing more
    ingest(team_a, "orders", [{**ORDER, "ordered_at": "2025-04-20T12:00:00Z"}])
    mark.refresh_from_db()
    assert mark.generation == 2


def test_a_late_evening_utc_time_marks_both_calendar_days(team_a):
    # 23:30 UTC on 5 March is 00:30 on 6 March in Paris: both days may hold it
    ingest(team_a, "orders", [{**ORDER, "ordered_at": "2025-03-05T23:30:00Z"}])
    mark = DirtyMark.objects.get()
    assert (mark.period_start, mark.period_end) == (date(2025, 3, 5), date(2025, 3, 7))


def test_an_open_ended_state_is_dirty_up_to_today(team_a, monkeypatch):
    # A customer not churned is active in every period up to today
    monkeypatch.setattr("metrics.activity.ingest.timezone.localdate", lambda *a, **k: date(2025, 6, 30))
    ingest(team_a, "customers", [{"external_id": "C-1", "acquired_at": "2025-03-01T12:00:00Z"}])
    mark = DirtyMark.objects.get(record_kind="customers")
    assert (mark.period_start, mark.period_end) == (date(2025, 3, 1), date(2025, 7, 1))


def test_the_recompute_is_enqueued_after_commit_and_a_broken_broker_does_not_fail(
    team_a, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    calls = []

    def broken_enqueue(*args, **kwargs):
        calls.append("enqueue")
        raise ConnectionError("broker down")

    # kpiplatform.queue sends with apply_async
    monkeypatch.setattr(recompute_dirty_task, "apply_async", broken_enqueue)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = ingest(team_a, "orders", [ORDER])
    assert result["created"] == 1 and len(callbacks) == 1 and calls == ["enqueue"]
    assert "Could not enqueue the KPI recompute" in caplog.text
    assert Order.objects.count() == 1 and DirtyMark.objects.count() == 1


def test_survey_scores_at_the_edges_of_each_scale_are_accepted(team_a):
    records = [
        {**SURVEY, "external_id": f"R-{survey}-{score}", "survey": survey, "score": score}
        for survey, score in [("nps", 0), ("nps", 10), ("csat", 1), ("csat", 5), ("ces", 1), ("ces", 7)]
    ]
    assert ingest(team_a, "survey-responses", records)["created"] == 6
    assert SurveyResponse.objects.count() == 6


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_parallel_never_fail(team_a):
    # Given two batches sharing 200 of their 300 orders, sent at the same time from two threads
    first = [{**ORDER, "external_id": f"O-{i}", "amount": i} for i in range(0, 300)]
    second = [{**ORDER, "external_id": f"O-{i}", "amount": i} for i in range(100, 400)]
    results, failures = ingest_at_the_same_time(team_a, "orders", [first, second])
    # Then both succeed and the 400 distinct orders are stored once each
    assert failures == []
    assert Order.objects.count() == 400
    assert sum(r["created"] + r["updated"] + r["unchanged"] for r in results) == 600
    assert DirtyMark.objects.get().generation >= 1


@pytest.mark.parametrize("kind", sorted(KIND_SPECS))
def test_resending_the_example_of_every_kind_changes_nothing(team_a, referenced, kind):
    # Given the example of the kind was stored (with attributes, to compare JSON too)
    record = {**EXAMPLES[kind], "attributes": {"source": "crm", "tags": ["a", "b"]}}
    ingest(team_a, kind, [record])
    model = KIND_SPECS[kind].model
    stamp = model.objects.get(team=team_a, external_id=record["external_id"]).updated_at
    # When it is sent again, unchanged
    result = ingest(team_a, kind, [record])
    # Then every field compares equal to what the database gives back: nothing is written
    assert result == {"created": 0, "updated": 0, "unchanged": 1}
    assert model.objects.get(team=team_a, external_id=record["external_id"]).updated_at == stamp
