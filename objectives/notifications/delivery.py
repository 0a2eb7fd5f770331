"""Delivery of what the outbox holds: e-mails (outside the users' quiet hours) and signed webhook attempts
with exponential backoff."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from objectives.models import (
    EmailState,
    Notification,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEvent,
)
from objectives.notifications import emails, webhooks
from objectives.notifications.recipients import settings_of, users_in_quiet_hours

logger = logging.getLogger(__name__)


WEBHOOK_MAX_ATTEMPTS = 6
WEBHOOK_BACKOFF_SECONDS = 30


# While an attempt is in flight the sweep leaves the row alone (longer than the HTTP timeout).
WEBHOOK_LEASE = dt.timedelta(seconds=webhooks.TIMEOUT_SECONDS * 6)
EMAIL_MAX_ATTEMPTS = 5
EMAIL_BATCH_SIZE = 200


# ---------------------------------------------------------------------------
# E-mails
# ---------------------------------------------------------------------------
def notifications_email_send(*, notification_ids: Iterable[int] | None = None, now: dt.datetime | None = None) -> int:
    """Send the pending e-mails of these notifications (all pending with None) whose users are outside
    their quiet hours; return how many were sent. Held ones stay pending for the sweep."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        # Rows another sender holds are skipped (PostgreSQL), so a sweep and a task never both send one.
        pending = Notification.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            email_state=EmailState.PENDING, alert__isnull=False
        )
        if notification_ids is not None:
            pending = pending.filter(id__in=list(notification_ids))
        # Held e-mails are left out of the batch (and unlocked) rather than skipped inside it.
        pending = pending.exclude(user_id__in=users_in_quiet_hours(now=now))
        # A bounded batch keeps the row locks short; the sweep takes the rest on its next run.
        rows = list(
            pending.select_related(
                "user", "team", "alert__team", "alert__rule__kpi", "alert__rule__target__kpi", "alert__rule__budget"
            ).order_by("id")[:EMAIL_BATCH_SIZE]
        )
        prefs = settings_of(n.user_id for n in rows)
        sparklines: dict = {}
        drivers: dict = {}
        changed = []
        for notification in rows:
            user_prefs = prefs[notification.user_id]
            if not user_prefs.email_alerts or not notification.user.email:
                notification.email_state = EmailState.NONE  # turned off since: nothing to send
            else:
                notification.email_attempts += 1
                try:
                    emails.alert_email(notification=notification, sparklines=sparklines, drivers=drivers).send()
                except Exception as exc:  # SMTP errors come in many classes
                    logger.warning("E-mail of notification %s failed: %s", notification.pk, exc)
                    if notification.email_attempts >= EMAIL_MAX_ATTEMPTS:
                        notification.email_state = EmailState.FAILED
                else:
                    notification.email_state = EmailState.SENT
                    notification.email_sent_at = now
                    sent += 1
            changed.append(notification)
        Notification.objects.bulk_update(changed, ["email_state", "email_attempts", "email_sent_at"])
    return sent


# ---------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------
def webhook_backoff_seconds(attempts: int) -> int:
    """Wait before the next attempt after `attempts` failed ones: 30 s, 60 s, 120 s, 240 s, 480 s."""
    return WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)


def webhook_delivery_attempt(
    *, delivery_id: int, expected_attempts: int | None = None, now: dt.datetime | None = None
) -> WebhookDelivery | None:
    """Make one attempt at a pending delivery and record it; None when the row is gone, done, not due,
    or claimed by another worker.

    `expected_attempts` is the number of attempts the caller saw: of two workers holding the same
    expectation only one claims the row. Without it the row is claimed only when due.
    After WEBHOOK_MAX_ATTEMPTS failures the delivery is failed; otherwise next_attempt_at says when
    the next attempt is due (exponential backoff).
    """
    now = now or timezone.now()
    claim = WebhookDelivery.objects.filter(pk=delivery_id, state=WebhookDeliveryState.PENDING)
    if expected_attempts is not None:
        claim = claim.filter(attempts=expected_attempts)
    else:
        claim = claim.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    if not claim.update(attempts=F("attempts") + 1, next_attempt_at=now + WEBHOOK_LEASE):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active:
        delivery.state = WebhookDeliveryState.FAILED
        delivery.error = _("The webhook was deactivated.")
        delivery.next_attempt_at = None
    else:
        result = webhooks.deliver(
            url=endpoint.url,
            secret=endpoint.secret,
            event=delivery.event,
            delivery_id=delivery.pk,
            payload=delivery.payload,
        )
        delivery.response_status = result.status
        delivery.error = result.error
        if result.ok:
            delivery.state = WebhookDeliveryState.SUCCEEDED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
            delivery.state = WebhookDeliveryState.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + dt.timedelta(seconds=webhook_backoff_seconds(delivery.attempts))
    delivery.save(update_fields=["state", "error", "response_status", "delivered_at", "next_attempt_at"])
    return delivery


def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `test` event to the endpoint now, once, and return its delivery row with the result."""
    now = timezone.now()
    payload = {
        "event": WebhookEvent.TEST,
        "created_at": now.isoformat(),
        "team": endpoint.team.slug,
        "data": {"message": "Test event from the KPI platform.", "webhook": endpoint.pk},
    }
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=WebhookEvent.TEST, payload=payload, next_attempt_at=now
    )
    attempted = webhook_delivery_attempt(delivery_id=delivery.pk, expected_attempts=0)
    delivery = attempted or delivery
    if delivery.state == WebhookDeliveryState.PENDING:
        # A test is one attempt: it is not retried by the sweep.
        delivery.state = WebhookDeliveryState.FAILED
        delivery.next_attempt_at = None
        delivery.save(update_fields=["state", "next_attempt_at"])
    return delivery


def webhook_deliveries_due(*, now: dt.datetime) -> list[tuple[int, int]]:
    """(id, attempts made) of the pending webhook deliveries due for an attempt at `now`."""
    return list(
        WebhookDelivery.objects.filter(state=WebhookDeliveryState.PENDING, next_attempt_at__lte=now).values_list(
            "id", "attempts"
        )
    )
