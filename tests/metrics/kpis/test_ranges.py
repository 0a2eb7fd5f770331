"""Any date range, exactly: KPIs over random ranges against counts by hand, calendar ranges against the
stored values, `prev()` over ranges, segments, and GET /api/v1/kpis/<code>/range/.

The fixture is random but seeded: orders (some without a customer, some abandoned), customers acquired
and churned, deals won, lost and open, tickets and NPS answers, at minute precision in Paris time over
January–April 2026. The oracle below reads the same records in plain Python with the catalogue's
definitions (KPI_CATALOGUE.md) — no engine code — and each KPI's value over a range is compared with it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal
from statistics import median

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.engine.compute import KpiPlan, kpis_compute_spans
from metrics.engine.hierarchy import team_closure_sync
from metrics.engine.periods import local_midnight, period_end, period_starts
from metrics.kpis.catalogue import CATALOGUE_CODES
from metrics.kpis.ranges import range_values, value_over
from metrics.models import Customer, Deal, KpiDefinition, KpiValue, Order, SurveyResponse, Ticket
from metrics.recompute.services import kpi_values_recompute
from tests.metrics.kpi_support import PARIS, customer, deal, order, q, responses, ticket

pytestmark = pytest.mark.usefixtures("catalogue")

D = dt.date
FIRST, LAST = D(2026, 1, 1), D(2026, 5, 1)  # records fall in [FIRST, LAST)
GRANULARITIES = ["day", "week", "month", "quarter", "year"]


def instant(rng: random.Random, first: dt.date = FIRST, last: dt.date = LAST) -> dt.datetime:
    """A random minute in [first, last), Paris time."""
    minutes = int((local_midnight(last) - local_midnight(first)).total_seconds() // 60)
    return (local_midnight(first) + dt.timedelta(minutes=rng.randrange(minutes))).astimezone(PARIS)


def random_activity(team, seed: int) -> None:
    rng = random.Random(seed)
    people = [
        customer(team, instant(rng, D(2025, 10, 1)), acquisition_channel=rng.choice(["web", "shop"])) for _ in range(25)
    ]
    for person in people:  # about a third churn, some before they were even counted
        if rng.random() < 0.35:
            person.churned_at = person.acquired_at + dt.timedelta(days=rng.randrange(1, 120), minutes=rng.randrange(60))
            person.save(update_fields=["churned_at"])
    for _ in range(60):
        order(
            team,
            instant(rng),
            rng.randrange(5, 500),
            status=rng.choice(["completed"] * 4 + ["abandoned"]),
            customer=rng.choice([*people[:10], None]),  # few buyers, so repeat purchases happen
            channel=rng.choice(["web", "shop"]),
        )
    for _ in range(30):
        created = instant(rng, D(2025, 12, 1))
        status = rng.choice(["won", "lost", "open"])
        closed = created + dt.timedelta(hours=rng.randrange(1, 24 * 60)) if status != "open" else None
        deal(team, created, rng.randrange(100, 5000), status=status, closed=closed, owner=rng.choice(["ana", "bob"]))
    for _ in range(40):
        created = instant(rng)
        answered = created + dt.timedelta(minutes=rng.randrange(1, 3000)) if rng.random() < 0.8 else None
        resolved = created + dt.timedelta(hours=rng.randrange(1, 200)) if rng.random() < 0.7 else None
        ticket(team, created, first_response_at=answered, resolved_at=resolved, contact_count=rng.randrange(0, 4))
    for _ in range(30):
        responses(team, "nps", {rng.randrange(0, 11): 1}, instant(rng), touchpoint=rng.choice(["web", "phone"]))
    team_closure_sync()


# --------------------------------------------------------------------------- the oracle, by hand


def _in(moment: dt.datetime | None, start: dt.date, end: dt.date) -> bool:
    return moment is not None and local_midnight(start) <= moment < local_midnight(end)


def _before(moment: dt.datetime | None, day: dt.date) -> bool:
    return moment is not None and moment < local_midnight(day)


def _ratio(numerator, denominator) -> Decimal | None:
    return None if not denominator else Decimal(100) * Decimal(numerator) / Decimal(denominator)


def by_hand(code: str, team, start: dt.date, end: dt.date) -> Decimal | None:
    """The KPI over [start, end) read from the records in plain Python (catalogue definitions)."""
    completed = [o for o in Order.objects.filter(team=team, status="completed") if _in(o.ordered_at, start, end)]
    revenue = sum((o.amount for o in completed), Decimal(0))
    buyers = {o.customer_id for o in completed if o.customer_id}
    people = list(Customer.objects.filter(team=team))
    closed = [d for d in Deal.objects.filter(team=team) if _in(d.closed_at, start, end)]
    won, lost = sum(d.status == "won" for d in closed), sum(d.status == "lost" for d in closed)
    tickets = list(Ticket.objects.filter(team=team))
    resolved = [t for t in tickets if _in(t.resolved_at, start, end) and t.contact_count >= 1]
    nps = [r.score for r in SurveyResponse.objects.filter(team=team, survey="nps") if _in(r.responded_at, start, end)]

    def active_at(c: Customer, day: dt.date) -> bool:
        return _before(c.acquired_at, day) and not _before(c.churned_at, day)

    if code == "revenue":
        return revenue
    if code == "orders":
        return Decimal(len(completed))
    if code == "average_purchase_value":
        return revenue / len(completed) if completed else None
    if code == "buying_customers":
        return Decimal(len(buyers))
    if code == "repeat_purchase_rate":
        repeat = {c for c in buyers if sum(o.customer_id == c for o in completed) >= 2}
        return _ratio(len(repeat), len(buyers))
    if code == "sales_growth_rate":  # prev(): the preceding range of the same length
        length = end - start
        before = by_hand("revenue", team, start - length, end - length)
        return None if before <= 0 else Decimal(100) * (revenue - before) / before
    if code == "new_customers":
        return Decimal(sum(_in(c.acquired_at, start, end) for c in people))
    if code == "active_customers":
        return Decimal(sum(active_at(c, end) for c in people))
    if code == "churn_rate":
        at_start = [c for c in people if active_at(c, start)]
        return _ratio(sum(_in(c.churned_at, start, end) for c in at_start), len(at_start))
    if code == "win_rate":
        return _ratio(won, won + lost)
    if code == "pipeline_value":
        open_at_end = [
            d for d in Deal.objects.filter(team=team) if _before(d.created_at, end) and not _before(d.closed_at, end)
        ]
        return sum((d.amount for d in open_at_end), Decimal(0))
    if code == "sales_cycle_length":  # mean days from creation to close of the deals won
        days = [Decimal((d.closed_at - d.created_at).total_seconds()) / 86400 for d in closed if d.status == "won"]
        return sum(days) / len(days) if days else None
    if code == "ticket_first_response_time":  # median hours, tickets created in the range and answered
        hours = [
            Decimal((t.first_response_at - t.created_at).total_seconds()) / 3600
            for t in tickets
            if _in(t.created_at, start, end) and t.first_response_at
        ]
        return median(hours) if hours else None
    if code == "first_contact_resolution_rate":
        return _ratio(sum(t.contact_count == 1 for t in resolved), len(resolved))
    if code == "nps":
        return _ratio(sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps), len(nps))
    raise AssertionError(f"no hand count for {code}")


# One KPI per query shape: event sums, counts, means, distinct counts, repeat counts (min_count), medians of
# durations, ratios of filtered counts, prev(), and state measures (start, end, new, lost).
BY_HAND = [
    "revenue", "orders", "average_purchase_value", "buying_customers", "repeat_purchase_rate", "sales_growth_rate",
    "new_customers", "active_customers", "churn_rate", "win_rate", "pipeline_value", "sales_cycle_length",
    "ticket_first_response_time", "first_contact_resolution_rate", "nps",
]  # fmt: skip


def random_ranges(seed: int, count: int = 8) -> list[tuple[dt.date, dt.date]]:
    """Ranges [start, end) inside the records' months: single days, a few days, across month ends."""
    rng = random.Random(seed)
    spans = [(D(2026, 1, 31), D(2026, 2, 1)), (D(2026, 2, 20), D(2026, 3, 11))]  # one day; over February's end
    while len(spans) < count:
        start = FIRST + dt.timedelta(days=rng.randrange(0, 100))
        spans.append((start, start + dt.timedelta(days=rng.randrange(1, 20))))
    return spans


def close(value: Decimal | None, expected: Decimal | None) -> bool:
    """Equal at the stored precision (the engine keeps 10 decimals; durations divide by 3600 or 86400)."""
    if value is None or expected is None:
        return value is expected
    return abs(value - expected) < Decimal("1e-8")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_ranges_equal_the_hand_counts(team_a, seed):
    # given random activity and random ranges (none of them a calendar period but the single day)
    random_activity(team_a, seed)
    spans = random_ranges(seed)
    plans = [KpiPlan.of(k) for k in KpiDefinition.objects.filter(code__in=BY_HAND).prefetch_related("measures")]
    # when every KPI is computed over every range at once
    computed = kpis_compute_spans(plans=plans, team_ids=[team_a.pk], spans=spans)
    # then each equals the count by hand
    wrong = []
    for plan in plans:
        for span in spans:
            value, expected = computed[(team_a.pk, plan.kpi_id, span)].value, by_hand(plan.code, team_a, *span)
            if not close(value, expected):
                wrong.append((plan.code, span, value, expected))
    assert wrong == []


def test_one_query_per_measure_for_all_the_ranges(team_a, django_assert_max_num_queries):
    random_activity(team_a, 4)
    plans = [KpiPlan.of(k) for k in KpiDefinition.objects.filter(code__in=BY_HAND).prefetch_related("measures")]
    counts = []
    for count in (2, 12):
        spans = [
            (D(2026, 1, 1) + dt.timedelta(days=7 * i), D(2026, 1, 5) + dt.timedelta(days=7 * i)) for i in range(count)
        ]
        with CaptureQueriesContext(connection) as ctx:
            kpis_compute_spans(plans=plans, team_ids=[team_a.pk], spans=spans)
        counts.append(len(ctx.captured_queries))
    # then the number of queries does not depend on the number of ranges
    assert counts[0] == counts[1]


def test_overlapping_ranges_and_prev_over_ranges(team_a):
    # given revenue of 100 on 3 January, 40 on 10 January, 60 on 17 January (completed orders)
    for day, amount in ((3, 100), (10, 40), (17, 60)):
        order(team_a, dt.datetime(2026, 1, day, 12, tzinfo=PARIS), amount)
    team_closure_sync()
    plans = [KpiPlan.of(k) for k in KpiDefinition.objects.filter(code="sales_growth_rate").prefetch_related("measures")]
    # when the growth is read over 8–14 Jan and over 8–21 Jan (overlapping ranges)
    spans = [(D(2026, 1, 8), D(2026, 1, 15)), (D(2026, 1, 8), D(2026, 1, 22))]
    computed = kpis_compute_spans(plans=plans, team_ids=[team_a.pk], spans=spans)
    # then 8–14 Jan (40) against the 7 days before, 1–7 Jan (100): (40 − 100) / 100 = −60 %
    week = computed[(team_a.pk, plans[0].kpi_id, spans[0])]
    assert week.value == q(-60) and week.components == {"revenue": 40, "prev(revenue)": 100}
    # and 8–21 Jan (100) against the 14 days before, 25 Dec–7 Jan (100): 0 %
    assert computed[(team_a.pk, plans[0].kpi_id, spans[1])].value == q(0)


@pytest.mark.parametrize("seed", [5])
def test_calendar_ranges_equal_the_stored_values_for_every_catalogue_kpi(team_a, seed):
    # given random activity, recomputed and stored for every granularity
    random_activity(team_a, seed)
    kpi_values_recompute(start=FIRST, end=LAST, team_ids=[team_a.pk], granularities=GRANULARITIES)
    kpis = list(KpiDefinition.objects.filter(code__in=CATALOGUE_CODES).prefetch_related("measures"))
    plans = [dataclasses.replace(KpiPlan.of(k), segments=()) for k in kpis]
    # when the engine computes calendar periods as plain ranges (not read from the store)
    calendar = []
    for granularity in ("day", "week", "month", "quarter"):
        starts = period_starts(start=D(2026, 2, 1), end=D(2026, 3, 1), granularity=granularity)
        calendar += [(granularity, (start, period_end(start, granularity))) for start in starts[:3]]
    computed = kpis_compute_spans(plans=plans, team_ids=[team_a.pk], spans=[span for _, span in calendar])
    stored = {
        (row.kpi_id, row.period_start, row.granularity): row.value
        for row in KpiValue.objects.filter(team=team_a, segment="")
    }
    # then every catalogue KPI's range value is its stored value
    wrong = []
    for kpi in kpis:
        for granularity, span in calendar:
            value, expected = computed[(team_a.pk, kpi.pk, span)].value, stored[(kpi.pk, span[0], granularity)]
            if value != expected:
                wrong.append((kpi.code, granularity, span, value, expected))
    assert wrong == []


def test_a_range_of_a_segment(team_a):
    # given web orders 100 (2 Jan) and 50 (9 Jan), a shop order 70 (3 Jan)
    order(team_a, dt.datetime(2026, 1, 2, 10, tzinfo=PARIS), 100, channel="web")
    order(team_a, dt.datetime(2026, 1, 9, 10, tzinfo=PARIS), 50, channel="web")
    order(team_a, dt.datetime(2026, 1, 3, 10, tzinfo=PARIS), 70, channel="shop")
    revenue = KpiDefinition.objects.get(code="revenue")
    basket = KpiDefinition.objects.get(code="average_purchase_value")
    window = (D(2026, 1, 2), D(2026, 1, 10))
    # then 2–9 Jan: web 150, shop 70, all 220; the web basket is 150 / 2 = 75
    assert value_over(kpi=revenue, team=team_a, segment="channel=web", start=window[0], end=window[1]) == q(150)
    assert value_over(kpi=revenue, team=team_a, segment="channel=shop", start=window[0], end=window[1]) == q(70)
    assert value_over(kpi=revenue, team=team_a, start=window[0], end=window[1]) == q(220)
    assert value_over(kpi=basket, team=team_a, segment="channel=web", start=window[0], end=window[1]) == q(75)
    # and a segment without any record: no revenue (0), no basket
    assert value_over(kpi=revenue, team=team_a, segment="channel=phone", start=window[0], end=window[1]) == q(0)
    assert value_over(kpi=basket, team=team_a, segment="channel=phone", start=window[0], end=window[1]) is None


def test_a_calendar_range_reads_the_stored_value(team_a):
    order(team_a, dt.datetime(2026, 1, 2, 10, tzinfo=PARIS), 100)
    kpi_values_recompute(start=FIRST, end=D(2026, 2, 1), team_ids=[team_a.pk], granularities=["month"])
    basket = KpiDefinition.objects.get(code="average_purchase_value")
    KpiValue.objects.filter(kpi=basket, granularity="month").update(value=Decimal("123"))  # marks the stored row
    found = range_values(kpi=basket, team=team_a, windows=[(FIRST, D(2026, 2, 1)), (FIRST, D(2026, 1, 31))])
    assert found[(FIRST, D(2026, 2, 1))].value == Decimal("123") and found[(FIRST, D(2026, 2, 1))].stored
    assert found[(FIRST, D(2026, 1, 31))].value == q(100) and not found[(FIRST, D(2026, 1, 31))].stored


# --------------------------------------------------------------------------- the API

URL = "/api/v1/kpis/{code}/range/"


@pytest.fixture
def activity(team_a, team_b):
    """Team A: deals closed 5 Jan (won, Ana), 6 Jan (lost, Bob), 20 Jan (won, Ana); team B: one lost deal."""
    created = dt.datetime(2026, 1, 2, tzinfo=PARIS)
    for team, status, day, owner in (
        (team_a, "won", 5, "ana"),
        (team_a, "lost", 6, "bob"),
        (team_a, "won", 20, "ana"),
        (team_b, "lost", 5, ""),
    ):
        deal(team, created, 10, status=status, closed=dt.datetime(2026, 1, day, 9, tzinfo=PARIS), owner=owner)


def test_range_endpoint_gives_value_and_components(api_client, viewer_a, activity):
    api_client.force_authenticate(viewer_a)
    # 5–19 January: 1 won, 1 lost → 50 %
    response = api_client.get(
        URL.format(code="win_rate"), {"team": "team-a", "start": "2026-01-05", "end": "2026-01-19"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "kpi": "win_rate",
        "team": "team-a",
        "start": "2026-01-05",
        "end": "2026-01-19",
        "segment": "",
        "value": 50.0,
        "components": {"won": 1, "lost": 1},
    }
    # both ends included: 5–20 January, Ana's deals only → 2 won of 2
    body = api_client.get(
        URL.format(code="win_rate"),
        {"team": "team-a", "start": "2026-01-05", "end": "2026-01-20", "segment": "owner=ana"},
    ).json()
    assert (body["value"], body["components"], body["segment"]) == (100.0, {"won": 2, "lost": 0}, "owner=ana")


def test_range_endpoint_isolation(api_client, manager_b, key_client, team_a, activity):
    api_client.force_authenticate(manager_b)
    params = {"team": "team-a", "start": "2026-01-01", "end": "2026-01-31"}
    response = api_client.get(URL.format(code="win_rate"), params)
    assert response.status_code == 404 and "value" not in response.json()
    client = key_client(team_a, "read")
    assert client.get(URL.format(code="win_rate"), params).json()["value"] == pytest.approx(200 / 3)
    assert client.get(URL.format(code="win_rate"), {**params, "team": "team-b"}).status_code == 404
    assert api_client.get("/api/v1/kpis/win_rate/range/", {}).status_code in (400, 404)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-01-01", "end": "2026-01-31"}, "team", "required"),
        ({"team": "team-a", "end": "2026-01-31"}, "start", "required"),
        ({"team": "team-a", "start": "2026-01-01"}, "end", "required"),
        ({"team": "team-a", "start": "2026-02-30", "end": "2026-03-01"}, "start", "Date has wrong format"),
        ({"team": "team-a", "start": "2026-03-01", "end": "2026-01-01"}, "start", "on or before end"),
        ({"team": "team-a", "start": "2000-01-01", "end": "2026-01-01"}, "start", "At most 3700 days"),
        ({"team": "team-a", "start": "2026-01-01", "end": "2026-01-02", "segment": "owner"}, "segment", "<dimension>"),
        ({"team": "team-a", "start": "2026-01-01", "end": "2026-01-02", "segment": "x=1"}, "segment", "no 'x'"),
    ],
)
def test_range_endpoint_bad_parameters(api_client, viewer_a, params, field, message):
    api_client.force_authenticate(viewer_a)
    response = api_client.get(URL.format(code="win_rate"), params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert api_client.get(URL.format(code="nope"), {"team": "team-a"}).status_code == 404


def test_range_endpoint_cost_does_not_grow_with_the_range(api_client, viewer_a, activity):
    api_client.force_authenticate(viewer_a)
    team_closure_sync()  # new teams join the closure on their first computation: not what is measured
    counts = []
    for end in ("2026-01-07", "2026-03-31"):
        with CaptureQueriesContext(connection) as ctx:
            params = {"team": "team-a", "start": "2026-01-02", "end": end}
            assert api_client.get(URL.format(code="ticket_first_response_time"), params).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
