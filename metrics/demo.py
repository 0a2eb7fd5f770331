"""Demo CRM activity at scale: deterministic, plausible records over the last 24 months.

`demo_activity_create` spreads N records over the given teams by team kind — sales:
customers, leads, deals, orders, subscriptions, meetings; marketing: campaigns and
their daily stats, spend, daily web traffic, leads, interactions; support: tickets and
survey responses. The same (seed, records, teams, today) gives the same records.
Re-running replaces the previous demo records (external ids starting with `demo-`, of
any team) instead of adding to them.

Memory stays bounded whatever the size (ten million records and more): records are
generated as a stream and written as they come — PostgreSQL COPY on PostgreSQL,
bulk_create in chunks elsewhere — and the only records held are the customers of the
one sales team being referred to (each marketing or support team refers to the
customers of a sales team of its rank, the sales teams to their own). Everything is
written in one transaction: a failure leaves the previous state, never half a demo.

Dirty marks: one mark per (team, kind) covering the whole generated range is written
in the same transaction, so the KPI recompute (the task, the periodic sweep, or
`recompute_kpis`) computes the demo KPIs from it.
"""

from __future__ import annotations

import bisect
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Team, TeamKind
from metrics.models import (
    ActivityRecord,
    Campaign,
    CampaignStat,
    Customer,
    Deal,
    Interaction,
    Lead,
    Meeting,
    Order,
    Spend,
    Subscription,
    SurveyResponse,
    Ticket,
    WebTrafficStat,
)
from metrics.recompute.marks import dirty_marks_widen

DEMO_PREFIX = "demo-"
SPAN_DAYS = 730
CHUNK = 5000  # rows per bulk_create (SQLite)
PROGRESS_EVERY = 20_000  # rows between two progress reports

# Share (in %, of all records) of each kind, by the kind of team that owns it; a kind's share is split evenly
# among the teams of that kind. Whole numbers, so that the counts are exact (integer division) and tests can
# compute them by hand.
SHARES: dict[str, list[tuple[type[ActivityRecord], int]]] = {
    TeamKind.SALES: [
        (Customer, 9),
        (Lead, 8),
        (Deal, 6),
        (Order, 22),
        (Subscription, 4),
        (Meeting, 4),
    ],
    TeamKind.MARKETING: [
        (CampaignStat, 6),
        (Spend, 3),
        (WebTrafficStat, 3),
        (Lead, 5),
        (Interaction, 10),
    ],
    TeamKind.SUPPORT: [(Ticket, 12), (SurveyResponse, 8)],
}
# Deletion order: records referring to others first.
DELETE_ORDER = (
    Interaction,
    Meeting,
    SurveyResponse,
    Ticket,
    Subscription,
    Order,
    Deal,
    Lead,
    CampaignStat,
    Spend,
    Campaign,
    WebTrafficStat,
    Customer,
)

FIRST = ["Boulangerie", "Atelier", "Cabinet", "Garage", "Pharmacie", "Librairie", "Studio", "Maison", "Ferme", "Agence"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon"]
OWNERS = ["claire.martin", "hugo.bernard", "lea.petit", "lucas.moreau", "sophie.durand"]
ACQUISITION = [("email", 20), ("organic", 25), ("paid_search", 20), ("social", 15), ("referral", 12), ("events", 8)]
SEGMENTS = [("smb", 60), ("mid_market", 30), ("enterprise", 10)]
ORDER_CHANNELS = [("web", 55), ("shop", 25), ("phone", 10), ("marketplace", 10)]
TICKET_KINDS = [("question", 45), ("request", 20), ("complaint", 15), ("incident", 15), ("other", 5)]
TICKET_CHANNELS = [("email", 40), ("phone", 25), ("chat", 25), ("web_form", 10)]
INTERACTIONS = [("email_open", 40), ("click", 20), ("visit", 25), ("social", 10), ("loyalty", 5)]
TOUCHPOINTS = ["after_purchase", "after_support", "onboarding", "quarterly"]
TRAFFIC_SOURCES = ["organic", "paid", "social", "email", "direct", "referral"]
SPEND_CHANNELS = [
    ("search_ads", "acquisition"),
    ("social_ads", "acquisition"),
    ("crm", "retention"),
    ("tools", "other"),
]
DAILY_CAPS = {Spend: SPAN_DAYS * len(SPEND_CHANNELS), WebTrafficStat: SPAN_DAYS * len(TRAFFIC_SOURCES)}
SURVEYS = [("nps", 50), ("csat", 35), ("ces", 15)]
COMMENTS = ["Très satisfait", "Livraison rapide", "Service à améliorer", "Trop cher", "Parfait", ""]

# A progress report: the kind being written, the records written so far, the records asked for.
Progress = Callable[[str, int, int], None]
# A customer as the generators refer to it: (id, acquired_at, churned_at).
CustomerRef = tuple[int, datetime, datetime | None]

# The cumulative weights of each weighted list above (module constants only), by identity.
_CUMULATIVE: dict[int, tuple[list[tuple[str, int]], list[str], list[int], float]] = {}


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    # The draw of rng.choices(values, weights)[0] (same random numbers, same result), without rebuilding the
    # cumulative weights on every call: this runs tens of millions of times for a large demo.
    cached = _CUMULATIVE.get(id(weighted))
    if cached is None or cached[0] is not weighted:
        cumulative, total = [], 0
        for _value, weight in weighted:
            total += weight
            cumulative.append(total)
        cached = _CUMULATIVE[id(weighted)] = (weighted, [value for value, _w in weighted], cumulative, total + 0.0)
    _weighted, values, cumulative, total = cached
    return values[bisect.bisect(cumulative, rng.random() * total, 0, len(values) - 1)]


class _Clock:
    """Random moments over the last SPAN_DAYS days, denser towards today (a growing business)."""

    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.end = datetime.combine(today, time(18, 0), tzinfo=UTC)
        self.start = self.end - timedelta(days=SPAN_DAYS)

    def moment(self, after: datetime | None = None, before: datetime | None = None) -> datetime:
        low = max(after or self.start, self.start)
        high = min(before or self.end, self.end)
        if high <= low:
            return low
        # sqrt of a uniform: density grows linearly towards `high`.
        fraction = math.sqrt(self.rng.random())
        moment = low + (high - low) * fraction
        return moment.replace(microsecond=0)

    def hours(self, median: float, sigma: float = 1.0) -> timedelta:
        return timedelta(hours=self.rng.lognormvariate(math.log(median), sigma))


def _money(value: float) -> Decimal:
    return Decimal(str(round(max(value, 0.0), 2)))


class _Writer:
    """Writes streams of records (dicts of attribute values) as they come: COPY on PostgreSQL, bulk_create in
    chunks of CHUNK elsewhere; counts them and reports the progress."""

    def __init__(self, total: int, progress: Progress | None):
        self.counts: Counter[str] = Counter()
        self.total = total
        self.done = 0
        self.progress = progress
        self.now = timezone.now()
        self.copy = connection.vendor == "postgresql"

    def write(self, model: type[ActivityRecord], rows: Iterable[dict[str, Any]]) -> None:
        if self.copy:
            self._copy(model, rows)
        else:
            self._bulk_create(model, rows)
        self._report(model)

    def _report(self, model: type[ActivityRecord]) -> None:
        if self.progress is not None:
            self.progress(model.record_kind, self.done, self.total)

    def _count(self, model: type[ActivityRecord], rows: int) -> None:
        self.counts[model.record_kind] += rows
        before, self.done = self.done, self.done + rows
        if before // PROGRESS_EVERY != self.done // PROGRESS_EVERY:
            self._report(model)

    def _bulk_create(self, model: type[ActivityRecord], rows: Iterable[dict[str, Any]]) -> None:
        buffer: list[ActivityRecord] = []
        for row in rows:
            buffer.append(model(**row))
            if len(buffer) >= CHUNK:
                model.objects.bulk_create(buffer, batch_size=CHUNK)
                self._count(model, len(buffer))
                buffer = []
        if buffer:
            model.objects.bulk_create(buffer, batch_size=CHUNK)
            self._count(model, len(buffer))

    def _copy(self, model: type[ActivityRecord], rows: Iterable[dict[str, Any]]) -> None:
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        defaults = [self._default(field) for field in fields]
        attnames = [field.attname for field in fields]
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        table = connection.ops.quote_name(model._meta.db_table)
        written = 0
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row.get(name, default) for name, default in zip(attnames, defaults, strict=True)])
                written += 1
                if written == PROGRESS_EVERY:
                    self._count(model, written)
                    written = 0
        self._count(model, written)

    def _default(self, field: models.Field) -> Any:
        """The value COPY writes for a field the generator leaves out (what the model's save would)."""
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return self.now
        if isinstance(field, models.JSONField):
            return json.dumps(field.get_default())
        return field.get_default()


def _demo_delete() -> None:
    """Remove earlier demo records, of any team, children first, one DELETE per table."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in DELETE_ORDER:
            cursor.execute(
                f"DELETE FROM {quote(model._meta.db_table)} WHERE external_id LIKE %s",  # nosec B608 - table names from model metadata, values bound
                [DEMO_PREFIX + "%"],
            )


def _by_kind(teams: dict[str, Team]) -> dict[str, list[Team]]:
    by_kind: dict[str, list[Team]] = {}
    for team in sorted(teams.values(), key=lambda t: t.slug):
        by_kind.setdefault(team.kind, []).append(team)
    return by_kind


def _counts(teams: dict[str, Team], records: int) -> list[tuple[Team, type[ActivityRecord], int]]:
    """How many records of each kind each team gets: the shares of the kinds present, split evenly among the
    teams of a kind (the first team, by slug, takes the remainder)."""
    by_kind = _by_kind(teams)
    plan = []
    total_share = sum(share for kind, shares in SHARES.items() if kind in by_kind for _m, share in shares)
    for kind, shares in SHARES.items():
        owners = by_kind.get(kind, [])
        for model, share in shares:
            of_kind = records * share // total_share
            for position, team in enumerate(owners):
                count = of_kind // len(owners)
                if position == 0:
                    count += of_kind - count * len(owners)
                plan.append((team, model, count))
    # Daily series hold at most one row per day and series.
    plan = [(team, model, min(count, DAILY_CAPS.get(model, count))) for team, model, count in plan]
    # What rounding and the caps left goes to the largest kind (of the largest entry), split among its teams,
    # so that the total is exactly `records`.
    missing = records - sum(count for _t, _m, count in plan)
    if plan and missing:
        largest = max(plan, key=lambda item: item[2])[1]
        entries = [i for i, (_t, model, _c) in enumerate(plan) if model is largest]
        for position, index in enumerate(entries):
            team, model, count = plan[index]
            extra = missing // len(entries) + (1 if position < missing % len(entries) else 0)
            plan[index] = (team, model, count + extra)
    return plan


def _customer_sources(teams: dict[str, Team]) -> dict[int, Team | None]:
    """Whose customers each team's records refer to: a sales team's own; a marketing or support team's, the
    sales team of its rank among the teams of its kind (round robin); none without sales teams."""
    by_kind = _by_kind(teams)
    sales = by_kind.get(TeamKind.SALES, [])
    sources: dict[int, Team | None] = {}
    for kind, owners in by_kind.items():
        for position, team in enumerate(owners):
            sources[team.pk] = team if kind == TeamKind.SALES else sales[position % len(sales)] if sales else None
    return sources


def _customers_of(team: Team) -> list[CustomerRef]:
    """The demo customers of a team, in acquisition order (ties in external id order)."""
    customers = list(
        Customer.objects.filter(team=team, external_id__startswith=DEMO_PREFIX)
        .order_by("external_id")
        .values_list("id", "acquired_at", "churned_at")
    )
    customers.sort(key=lambda customer: customer[1])
    return customers


@transaction.atomic
def demo_activity_create(
    teams: dict[str, Team],
    *,
    records: int,
    seed: int,
    today: date | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Replace the demo activity with `records` deterministic records spread over `teams`; return the count
    per kind."""
    today = today or timezone.localdate()
    with _foreign_keys_checked_per_statement():
        counts = _activity_write(teams, records=records, seed=seed, today=today, progress=progress)
    demo_anomaly_inject(teams, today=today)
    _demo_marks(teams, today)
    return counts


@contextmanager
def _foreign_keys_checked_per_statement() -> Iterator[None]:
    """On PostgreSQL, check the (deferred) foreign keys at the end of each COPY rather than all at the commit: the
    server would otherwise queue one check per row and reference — tens of millions for a large demo — and run
    them all in the COMMIT. Back to deferred (Django's constraints' initial mode) afterwards; after an error the
    setting goes with the transaction being rolled back."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _activity_write(
    teams: dict[str, Team], *, records: int, seed: int, today: date, progress: Progress | None
) -> dict[str, int]:
    _demo_delete()
    writer = _Writer(records, progress)
    plan = [(team, model, count) for team, model, count in _counts(teams, records) if count > 0]
    sources = _customer_sources(teams)
    # Customers first: the other kinds refer to them. Then team by team, grouped by whose customers they
    # refer to, so that one team's customers only are held at a time.
    customers_first = [item for item in plan if item[1] is Customer]
    others = sorted(
        (item for item in plan if item[1] is not Customer),
        key=lambda item: (sources[item[0].pk].slug if sources[item[0].pk] else "", item[0].slug),
    )
    held: tuple[int | None, list[CustomerRef]] = (None, [])
    for team, model, count in customers_first + others:
        rng = random.Random(f"{seed}:{team.slug}:{model.record_kind}")  # nosec B311 - deterministic demo data, not security
        clock = _Clock(rng, today)
        if model is Customer:
            writer.write(model, _customers(team, count, rng, clock, []))
            continue
        if model is CampaignStat:
            # Campaigns and their daily stats are generated together: each campaign runs 30 days.
            _campaigns_write(writer, team, count, rng, clock)
            continue
        source = sources[team.pk]
        if source is not None and held[0] != source.pk:
            held = (source.pk, _customers_of(source))
        writer.write(model, GENERATORS[model](team, count, rng, clock, held[1] if source is not None else []))
    return dict(writer.counts)


# The demo's anomaly: yesterday (the last complete day, the one a daily anomaly rule judges), a large order
# brings the first sales team's revenue to about ANOMALY_FACTOR times a normal day of the last weeks. The
# generated orders have a day-to-day noise of about ±45 % (a dozen orders a day): far enough outside the
# band of its history that the demo's anomaly rule fires on it, and on it only.
ANOMALY_FACTOR = 20
ANOMALY_BASELINE_DAYS = 28


def demo_anomaly_inject(teams: dict[str, Team], *, today: date) -> date | None:
    """Raise the largest completed order of yesterday of the first sales team (by slug) so that the day's
    revenue is ANOMALY_FACTOR times the average day of the ANOMALY_BASELINE_DAYS before; return the day (None:
    no sales team, or no completed order that day, as in a very small demo). The record count is unchanged."""
    sales = _by_kind(teams).get(TeamKind.SALES)
    if not sales:
        return None
    day = today - timedelta(days=1)

    def local_start(of: date) -> datetime:
        return timezone.make_aware(datetime.combine(of, time.min))

    demo_orders = Order.objects.filter(team=sales[0], external_id__startswith=DEMO_PREFIX, status="completed")
    baseline = demo_orders.filter(
        ordered_at__gte=local_start(day - timedelta(days=ANOMALY_BASELINE_DAYS)), ordered_at__lt=local_start(day)
    ).aggregate(total=models.Sum("amount"))["total"]
    of_day = demo_orders.filter(ordered_at__gte=local_start(day), ordered_at__lt=local_start(today))
    largest = of_day.order_by("-amount", "external_id").first()
    if largest is None or not baseline:
        return None
    day_total = of_day.aggregate(total=models.Sum("amount"))["total"]
    target = baseline * ANOMALY_FACTOR / ANOMALY_BASELINE_DAYS
    Order.objects.filter(pk=largest.pk).update(amount=_money(float(largest.amount + target - day_total)))
    return day


def _demo_marks(teams: dict[str, Team], today: date) -> None:
    start = today - timedelta(days=SPAN_DAYS + 1)
    end = today + timedelta(days=1)
    ranges = {}
    for team in teams.values():
        for model, _share in SHARES.get(team.kind, []):
            ranges[(team.pk, model.record_kind)] = (start, end)
            if model is CampaignStat:
                ranges[(team.pk, Campaign.record_kind)] = (start, end)
    dirty_marks_widen(ranges=ranges)


# ---------------------------------------------------------------------------
# Generators: one per kind, yielding the attribute values of unsaved records
# ---------------------------------------------------------------------------
def _external_id(team: Team, prefix: str, number: int) -> str:
    return f"{DEMO_PREFIX}{team.slug}-{prefix}-{number:07d}"


def _customers(team, count, rng, clock, _customers):
    for n in range(count):
        acquired_at = clock.moment()
        churned_at = None
        if rng.random() < 0.18:
            churned_at = acquired_at + timedelta(days=rng.randint(30, 600))
            if churned_at.date() >= clock.end.date():
                churned_at = None
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "C", n),
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "segment": _pick(rng, SEGMENTS),
            "acquisition_channel": _pick(rng, ACQUISITION),
            "acquired_at": acquired_at,
            "churned_at": churned_at,
        }


def _customer(rng, customers):
    return rng.choice(customers) if customers else (None, None, None)


def _customer_active_at(rng, clock, customers) -> tuple[int | None, datetime]:
    """A moment (denser towards today, as the business grows) and a customer already acquired then and, when
    possible, not yet lost. Picking the moment first keeps each kind's volume growing as the customer base
    does; drawing it after a random customer's acquisition would pile recent customers' records up on the
    last weeks. `customers` is in acquisition order."""
    moment = clock.moment()
    if not customers:
        return None, moment
    known = bisect.bisect_right(customers, moment, key=lambda customer: customer[1])
    for _attempt in range(3):
        customer = customers[rng.randrange(known)] if known else customers[0]
        if customer[2] is None or customer[2] > moment:
            break
    pk, acquired_at, churned_at = customer
    if acquired_at > moment or (churned_at is not None and churned_at <= moment):
        moment = clock.moment(after=acquired_at, before=churned_at)
    return pk, moment


def _leads(team, count, rng, clock, customers):
    for n in range(count):
        created_at = clock.moment()
        first_response_at = created_at + clock.hours(4, 1.2) if rng.random() < 0.9 else None
        if first_response_at is not None and first_response_at > clock.end:
            first_response_at = None
        qualified_at = converted_at = None
        customer_id = None
        if rng.random() < 0.4:
            qualified_at = created_at + timedelta(days=rng.randint(1, 20))
            if rng.random() < 0.3 and customers:
                converted_at = qualified_at + timedelta(days=rng.randint(1, 45))
                customer_id = _customer(rng, customers)[0]
        cap = clock.end
        qualified_at = qualified_at if qualified_at and qualified_at <= cap else None
        converted_at = converted_at if converted_at and qualified_at and converted_at <= cap else None
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "L", n),
            "channel": _pick(rng, ACQUISITION),
            "owner": rng.choice(OWNERS),
            "created_at": created_at,
            "first_response_at": first_response_at,
            "qualified_at": qualified_at,
            "converted_at": converted_at,
            "customer_id": customer_id if converted_at else None,
        }


OPEN_STAGES = [("prospecting", 10), ("qualification", 25), ("proposal", 50), ("negotiation", 75)]


def _deals(team, count, rng, clock, customers):
    for n in range(count):
        created_at = clock.moment()
        closed_at = created_at + timedelta(days=rng.randint(7, 120), hours=rng.randint(0, 9))
        roll = rng.random()
        if closed_at > clock.end or roll >= 0.8:
            status, closed_at = "open", None
            stage, probability = rng.choice(OPEN_STAGES)
        elif roll < 0.32:
            status, stage, probability = "won", "closed_won", 100
        else:
            status, stage, probability = "lost", "closed_lost", 0
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "D", n),
            "owner": rng.choice(OWNERS),
            "customer_id": _customer(rng, customers)[0],
            "stage": stage,
            "amount": _money(rng.lognormvariate(math.log(5000), 0.8)),
            "probability": Decimal(probability),
            "created_at": created_at,
            "closed_at": closed_at,
            "status": status,
        }


def _orders(team, count, rng, clock, customers):
    for n in range(count):
        customer_id, ordered_at = _customer_active_at(rng, clock, customers)
        roll = rng.random()
        status = "completed" if roll < 0.85 else "abandoned" if roll < 0.95 else "returned"
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "O", n),
            "customer_id": customer_id,
            "ordered_at": ordered_at,
            "amount": _money(rng.lognormvariate(math.log(80), 0.9)),
            "status": status,
            "is_upsell": rng.random() < 0.08,
            "is_cross_sell": rng.random() < 0.12,
            "channel": _pick(rng, ORDER_CHANNELS),
        }


def _subscriptions(team, count, rng, clock, customers):
    for n in range(count):
        customer_id, started_at = _customer_active_at(rng, clock, customers)
        renewal_due_at = started_at + timedelta(days=365)
        renewed_at = cancelled_at = None
        if renewal_due_at <= clock.end:
            if rng.random() < 0.75:
                renewed_at = renewal_due_at - timedelta(days=rng.randint(0, 20))
            else:
                cancelled_at = renewal_due_at
        elif rng.random() < 0.05:
            cancelled_at = started_at + timedelta(days=rng.randint(30, 300))
            cancelled_at = cancelled_at if cancelled_at <= clock.end else None
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "S", n),
            "customer_id": customer_id,
            "started_at": started_at,
            "renewal_due_at": renewal_due_at,
            "renewed_at": renewed_at,
            "cancelled_at": cancelled_at,
            "recurring_amount": Decimal(rng.choice([19, 49, 99, 249])),
        }


def _meetings(team, count, rng, clock, customers):
    for n in range(count):
        scheduled_at = clock.moment()
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "M", n),
            "owner": rng.choice(OWNERS),
            "customer_id": _customer(rng, customers)[0],
            "scheduled_at": scheduled_at,
            "held": scheduled_at < clock.end and rng.random() < 0.8,
        }


def _campaigns_write(writer: _Writer, team: Team, count: int, rng: random.Random, clock: _Clock) -> None:
    days_each = 30
    last_day = clock.end.date()
    objects: list[dict[str, Any]] = []
    days = 0  # the stats the campaigns so far can have: 30 days each, fewer for the ones started lately

    def campaign() -> None:
        nonlocal days
        # Campaigns run up to today (the last ones are still running): a month's first days have their stats.
        started = clock.moment().replace(hour=8, minute=0, second=0)
        n = len(objects)
        objects.append(
            {
                "team_id": team.pk,
                "external_id": _external_id(team, "CMP", n),
                "name": f"Campagne {n + 1}",
                "channel": rng.choice(["email", "email", "social", "paid_search"]),
                "budget": _money(rng.uniform(500, 8000)),
                "started_at": started,
            }
        )
        days += min(days_each, (last_day - started.date()).days + 1)

    # `count` covers the campaigns and their stats: one campaign per 30 days of stats, and more while the
    # recent ones' days fall short of the count.
    for _n in range(max(1, math.ceil(count / (days_each + 1)))):
        campaign()
    while len(objects) < count and days < count - len(objects):
        campaign()
    count -= len(objects)
    writer.write(Campaign, objects)
    ids = dict(
        Campaign.objects.filter(team_id=team.pk, external_id__startswith=DEMO_PREFIX).values_list("external_id", "id")
    )

    def stats():
        made = 0
        for campaign in objects:
            for day in range(days_each):
                if made >= count:
                    return
                if campaign["started_at"].date() + timedelta(days=day) > last_day:
                    break
                made += 1
                sent = rng.randint(5000, 50000)
                delivered = int(sent * rng.uniform(0.95, 0.99))
                opened = int(delivered * rng.uniform(0.15, 0.35))
                clicked = int(opened * rng.uniform(0.08, 0.25))
                conversions = int(clicked * rng.uniform(0.02, 0.08))
                yield {
                    "team_id": team.pk,
                    "external_id": f"{campaign['external_id']}-{day:02d}",
                    "campaign_id": ids[campaign["external_id"]],
                    "date": campaign["started_at"].date() + timedelta(days=day),
                    "sent": sent,
                    "delivered": delivered,
                    "bounced": sent - delivered,
                    "opened": opened,
                    "clicked": clicked,
                    "unsubscribed": int(delivered * rng.uniform(0.001, 0.004)),
                    "conversions": conversions,
                    "revenue": _money(conversions * rng.uniform(60, 120)),
                }

    writer.write(CampaignStat, stats())


def _days(clock: _Clock, count: int, series: int) -> Iterator[tuple[date, int]]:
    """(day, series index) slots, most recent days first, `series` per day."""
    made = 0
    for back in range(SPAN_DAYS):
        day = clock.end.date() - timedelta(days=back)
        for index in range(series):
            if made >= count:
                return
            made += 1
            yield day, index


def _spend(team, count, rng, clock, _customers):
    series = max(1, min(len(SPEND_CHANNELS), math.ceil(count / SPAN_DAYS)))
    for day, index in _days(clock, count, series):
        channel, category = SPEND_CHANNELS[index]
        yield {
            "team_id": team.pk,
            "external_id": f"{DEMO_PREFIX}{team.slug}-SP-{day.isoformat()}-{channel}",
            "date": day,
            "category": category,
            "amount": _money(rng.uniform(50, 900) * (0.6 if category == "other" else 1)),
            "channel": channel,
        }


def _web_traffic(team, count, rng, clock, _customers):
    series = max(1, min(len(TRAFFIC_SOURCES), math.ceil(count / SPAN_DAYS)))
    for day, index in _days(clock, count, series):
        weekend = day.weekday() >= 5
        visits = int(rng.uniform(500, 3000) * (0.6 if weekend else 1))
        bounces = int(visits * rng.uniform(0.35, 0.55))
        source = TRAFFIC_SOURCES[index]
        yield {
            "team_id": team.pk,
            "external_id": f"{DEMO_PREFIX}{team.slug}-WEB-{day.isoformat()}-{source}",
            "date": day,
            "source": source,
            "visits": visits,
            "bounces": bounces,
            "pageviews": int(visits * rng.uniform(2, 4)),
            "total_time_s": int(visits * rng.uniform(60, 180)),
            "conversions": int(visits * rng.uniform(0.01, 0.03)),
        }


def _interactions(team, count, rng, clock, customers):
    if not customers:
        return
    for n in range(count):
        customer_id, occurred_at = _customer_active_at(rng, clock, customers)
        kind = _pick(rng, INTERACTIONS)
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "I", n),
            "customer_id": customer_id,
            "kind": kind,
            "occurred_at": occurred_at,
            "channel": "email" if kind in ("email_open", "click") else rng.choice(["web", "social", "shop"]),
        }


def _tickets(team, count, rng, clock, customers):
    for n in range(count):
        created_at = clock.moment()
        kind = _pick(rng, TICKET_KINDS)
        first_response_at = created_at + clock.hours(2, 1.1)
        resolved_at = first_response_at + clock.hours(20 if kind != "incident" else 40, 1.0)
        if first_response_at > clock.end:
            first_response_at = None
        if resolved_at > clock.end or rng.random() < 0.05:
            resolved_at = None
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "T", n),
            "customer_id": _customer(rng, customers)[0],
            "channel": _pick(rng, TICKET_CHANNELS),
            "kind": kind,
            "created_at": created_at,
            "first_response_at": first_response_at,
            "resolved_at": resolved_at,
            "contact_count": min(8, 1 + int(rng.expovariate(1.4))),
        }


# Score distributions: NPS ~45 % promoters / 30 % passives / 25 % detractors; CSAT mean ~4.1; CES mean ~5.4.
SCORES = {
    "nps": ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 1, 1, 2, 3, 6, 11, 14, 16, 22, 23]),
    "csat": ([1, 2, 3, 4, 5], [4, 6, 12, 35, 43]),
    "ces": ([1, 2, 3, 4, 5, 6, 7], [2, 4, 7, 12, 20, 30, 25]),
}


def _surveys(team, count, rng, clock, customers):
    for n in range(count):
        survey = _pick(rng, SURVEYS)
        scores, weights = SCORES[survey]
        yield {
            "team_id": team.pk,
            "external_id": _external_id(team, "R", n),
            "customer_id": _customer(rng, customers)[0],
            "survey": survey,
            "score": rng.choices(scores, weights=weights)[0],
            "responded_at": clock.moment(),
            "touchpoint": rng.choice(TOUCHPOINTS),
            "comment": rng.choice(COMMENTS) if rng.random() < 0.3 else "",
        }


GENERATORS: dict[type[ActivityRecord], Callable[..., Iterator[dict[str, Any]]]] = {
    Customer: _customers,
    Lead: _leads,
    Deal: _deals,
    Order: _orders,
    Subscription: _subscriptions,
    Meeting: _meetings,
    Spend: _spend,
    WebTrafficStat: _web_traffic,
    Interaction: _interactions,
    Ticket: _tickets,
    SurveyResponse: _surveys,
}
