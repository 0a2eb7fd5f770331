"""Helpers of the KPI engine tests: Paris-time instants, record factories, compute-and-read."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

from metrics.models import (
    Campaign,
    CampaignStat,
    Customer,
    Deal,
    Interaction,
    KpiDefinition,
    KpiValue,
    Lead,
    Meeting,
    Order,
    Spend,
    Subscription,
    SurveyResponse,
    Ticket,
    WebTrafficStat,
)
from metrics.recompute.services import kpi_values_recompute

PARIS = ZoneInfo("Europe/Paris")
_ids = itertools.count(1)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """An instant given in Paris local time."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=PARIS)


def q(value) -> Decimal:
    """A hand-computed expectation at the stored precision (10 decimals)."""
    return Decimal(value).quantize(Decimal("1e-10"))


def ext(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def values(code: str, team, *, granularity: str = "month", start: dt.date, end: dt.date, segment: str = "") -> dict:
    """Recompute `code` for `team` over [start, end) and return the stored {period_start: value}."""
    kpi = KpiDefinition.objects.get(code=code)
    kpi_values_recompute(start=start, end=end, kpi_ids=[kpi.pk], team_ids=[team.pk], granularities=[granularity])
    rows = KpiValue.objects.filter(kpi=kpi, team=team, granularity=granularity, segment=segment).order_by(
        "period_start"
    )
    return {row.period_start: row.value for row in rows}


def cell(code: str, team, period: dt.date, *, granularity: str = "month", segment: str = "") -> KpiValue:
    """The stored value of one cell, recomputed first."""
    from metrics.engine.periods import period_end

    values(code, team, granularity=granularity, start=period, end=period_end(period, granularity), segment=segment)
    return KpiValue.objects.get(
        kpi__code=code, team=team, granularity=granularity, period_start=period, segment=segment
    )


# --------------------------------------------------------------------------- record factories


def customer(team, acquired, churned=None, **fields) -> Customer:
    return Customer.objects.create(team=team, external_id=ext("C"), acquired_at=acquired, churned_at=churned, **fields)


def customers(team, count: int, acquired, churned=None, **fields) -> list[Customer]:
    return Customer.objects.bulk_create(
        [
            Customer(team=team, external_id=ext("C"), acquired_at=acquired, churned_at=churned, **fields)
            for _ in range(count)
        ]
    )


def order(team, when, amount, *, status="completed", customer=None, **fields) -> Order:
    return Order.objects.create(
        team=team,
        external_id=ext("O"),
        ordered_at=when,
        amount=Decimal(str(amount)),
        status=status,
        customer=customer,
        **fields,
    )


def orders(team, count: int, when, amount, *, status="completed", **fields) -> list[Order]:
    return Order.objects.bulk_create(
        [
            Order(
                team=team, external_id=ext("O"), ordered_at=when, amount=Decimal(str(amount)), status=status, **fields
            )
            for _ in range(count)
        ]
    )


def lead(team, created, **fields) -> Lead:
    return Lead.objects.create(team=team, external_id=ext("L"), created_at=created, **fields)


def deal(team, created, amount, *, status="open", closed=None, probability=0, **fields) -> Deal:
    return Deal.objects.create(
        team=team,
        external_id=ext("D"),
        created_at=created,
        amount=Decimal(str(amount)),
        status=status,
        closed_at=closed,
        probability=Decimal(str(probability)),
        **fields,
    )


def deals(team, count: int, created, amount, *, status="open", closed=None, probability=0) -> list[Deal]:
    return Deal.objects.bulk_create(
        [
            Deal(
                team=team,
                external_id=ext("D"),
                created_at=created,
                amount=Decimal(str(amount)),
                status=status,
                closed_at=closed,
                probability=Decimal(str(probability)),
            )
            for _ in range(count)
        ]
    )


def ticket(team, created, **fields) -> Ticket:
    return Ticket.objects.create(team=team, external_id=ext("T"), created_at=created, **fields)


def responses(team, survey: str, scores: dict[int, int], when, **fields) -> None:
    """`scores` maps a score to how many responses gave it."""
    SurveyResponse.objects.bulk_create(
        [
            SurveyResponse(team=team, external_id=ext("S"), survey=survey, score=score, responded_at=when, **fields)
            for score, count in scores.items()
            for _ in range(count)
        ]
    )


def meeting(team, when, held: bool, **fields) -> Meeting:
    return Meeting.objects.create(team=team, external_id=ext("M"), scheduled_at=when, held=held, **fields)


def subscription(team, started, amount, **fields) -> Subscription:
    return Subscription.objects.create(
        team=team, external_id=ext("SUB"), started_at=started, recurring_amount=Decimal(str(amount)), **fields
    )


def campaign(team, channel="email") -> Campaign:
    return Campaign.objects.create(team=team, external_id=ext("CAMP"), channel=channel)


def campaign_stat(team, campaign, day: dt.date, **counts) -> CampaignStat:
    return CampaignStat.objects.create(team=team, external_id=ext("CS"), campaign=campaign, date=day, **counts)


def spend(team, day: dt.date, category: str, amount, **fields) -> Spend:
    return Spend.objects.create(
        team=team, external_id=ext("SP"), date=day, category=category, amount=Decimal(str(amount)), **fields
    )


def web_traffic(team, day: dt.date, **counts) -> WebTrafficStat:
    return WebTrafficStat.objects.create(team=team, external_id=ext("W"), date=day, **counts)


def interaction(team, customer, when, kind="click") -> Interaction:
    return Interaction.objects.create(team=team, external_id=ext("I"), customer=customer, occurred_at=when, kind=kind)
