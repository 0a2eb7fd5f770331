"""Celery tasks delivering e-mails, webhooks and digests — thin wrappers around the delivery and digest
services — and the doors that queue them. Each task takes ids, and running one twice sends nothing twice.

Tasks keep the names they had when they lived in `objectives.delivery_tasks`: django-celery-beat's rows
and messages already queued refer to them by name.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from kpiplatform.queue import Send, enqueue_now, enqueue_on_commit
from objectives.models import WebhookDeliveryState
from objectives.notifications.delivery import (
    notifications_email_send,
    webhook_backoff_seconds,
    webhook_deliveries_due,
    webhook_delivery_attempt,
)
from objectives.notifications.digest import digests_send


@shared_task(
    name="objectives.delivery_tasks.webhook_delivery_send_task",
    bind=True,
    max_retries=None,
    acks_late=True,
    ignore_result=True,
)
def webhook_delivery_send_task(self, delivery_id: int, expected_attempts: int | None = None) -> None:
    """One attempt at a webhook delivery; on failure, retry later with exponential backoff (30 s × 2ⁿ)
    until the delivery succeeds or has failed WEBHOOK_MAX_ATTEMPTS times."""
    delivery = webhook_delivery_attempt(delivery_id=delivery_id, expected_attempts=expected_attempts)
    if delivery is None or delivery.state != WebhookDeliveryState.PENDING:
        return
    # The retry expects the attempts made so far: if the sweep got there first, it does nothing.
    raise self.retry(
        args=[delivery_id],
        kwargs={"expected_attempts": delivery.attempts},
        countdown=webhook_backoff_seconds(delivery.attempts),
    )


@shared_task(
    name="objectives.delivery_tasks.notifications_email_send_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
)
def notifications_email_send_task(notification_ids: list[int]) -> int:
    """Send the pending e-mails of these notifications (those in quiet hours wait for the sweep)."""
    return notifications_email_send(notification_ids=notification_ids)


@shared_task(name="objectives.delivery_tasks.deliveries_sweep_task", acks_late=True, ignore_result=True)
def deliveries_sweep_task() -> dict:
    """Send e-mails held by quiet hours or a broker outage; enqueue webhook deliveries due for an attempt."""
    return deliveries_sweep()


@shared_task(name="objectives.delivery_tasks.digests_send_task", acks_late=True, ignore_result=True)
def digests_send_task() -> int:
    """Send today's digests: daily ones every day, weekly ones on Mondays, at most one per user and day."""
    return digests_send()


def deliveries_enqueue(*, notification_ids: list[int], delivery_ids: list[int]) -> None:
    """Send these pending e-mails and webhook deliveries once the caller's transaction commits. The rows are
    saved: when the broker is down the sweep sends them later."""
    sends = [Send(notifications_email_send_task, (notification_ids,))] if notification_ids else []
    sends += [
        Send(webhook_delivery_send_task, (delivery_id,), {"expected_attempts": 0}) for delivery_id in delivery_ids
    ]
    enqueue_on_commit(*sends, what="notifications", later="notifications stay pending for the delivery sweep")


def deliveries_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Send pending e-mails whose users are outside quiet hours, and enqueue webhook deliveries that
    are due; return {"emails": sent, "webhooks": enqueued}."""
    now = now or timezone.now()
    sent = notifications_email_send(now=now)
    due = webhook_deliveries_due(now=now)
    enqueued = enqueue_now(
        *(
            Send(webhook_delivery_send_task, (delivery_id,), {"expected_attempts": attempts})
            for delivery_id, attempts in due
        ),
        what="webhook deliveries",
        later="they wait for the next sweep",
    )
    return {"emails": sent, "webhooks": enqueued}
