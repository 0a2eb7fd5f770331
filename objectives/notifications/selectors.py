"""Reads of the notification centre and of a team's webhooks, scoped to a user or a team."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from accounts.models import Team, User
from objectives.models import (
    AlertEvent,
    AlertEventKind,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
)

DELIVERY_LOG_SIZE = 50


def alert_fired_drivers(*, alert_ids: list[int]) -> dict[int, dict]:
    """What drove each alert's change, as recorded when it fired (AlertEvent.drivers), by alert id; an alert
    without a breakdown is left out. One query."""
    rows = (
        AlertEvent.objects.filter(alert_id__in=alert_ids, kind=AlertEventKind.FIRED, drivers__isnull=False)
        .order_by("alert_id", "at", "id")
        .values_list("alert_id", "drivers")
    )
    return dict(rows)


def alert_bands(*, alert_ids: list[int]) -> dict[int, dict]:
    """The expected band each anomaly alert's value was last judged against (AlertEvent.band), by alert id; an
    alert without one is left out. One query, whatever the number of alerts."""
    rows = (
        AlertEvent.objects.filter(alert_id__in=alert_ids, band__isnull=False)
        .order_by("alert_id", "-at", "-id")
        .values_list("alert_id", "band")
    )
    bands: dict[int, dict] = {}
    for alert_id, band in rows:
        bands.setdefault(alert_id, band)  # the newest row of each alert comes first
    return bands


def notifications_of(*, user: User, limit: int | None = None) -> QuerySet[Notification]:
    """A user's own notifications, unread first, then newest first."""
    notifications = (
        Notification.objects.filter(user=user)
        # What the titles are written again from, in the reader's current language.
        .select_related(
            "team",
            "alert__team",
            "alert__rule__kpi",
            "alert__rule__target__kpi",
            "alert__rule__budget",
            "objective__team",
        )
        .order_by(ExpressionWrapper(Q(read_at__isnull=True), BooleanField()).desc(), "-created_at", "-id")
    )
    return notifications[:limit] if limit else notifications


def webhooks_of(*, team: Team) -> QuerySet[WebhookEndpoint]:
    """A team's webhook endpoints by name."""
    return WebhookEndpoint.objects.filter(team=team).order_by("name", "id")


def webhook_deliveries_of(*, team: Team, limit: int = DELIVERY_LOG_SIZE) -> list[WebhookDelivery]:
    """The team's latest webhook deliveries, newest first, with their endpoint."""
    deliveries = WebhookDelivery.objects.filter(endpoint__team=team).select_related("endpoint")
    return list(deliveries.order_by("-created_at", "-id")[:limit])


def notifications_unread_count(*, user: User) -> int:
    """How many of the user's notifications are unread; one query."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
