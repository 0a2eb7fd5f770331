"""Celery tasks delivering e-mails, webhooks and digests: thin wrappers around objectives.notify and
objectives.digest. Each takes ids, and running one twice sends nothing twice."""

from celery import shared_task
from django.db import OperationalError


@shared_task(bind=True, max_retries=None, acks_late=True, ignore_result=True)
def webhook_delivery_send_task(self, delivery_id: int, expected_attempts: int | None = None) -> None:
    """One attempt at a webhook delivery; on failure, retry later with exponential backoff (30 s × 2ⁿ)
    until the delivery succeeds or has failed WEBHOOK_MAX_ATTEMPTS times."""
    from objectives.models import WebhookDeliveryState
    from objectives.notify import webhook_backoff_seconds, webhook_delivery_attempt

    delivery = webhook_delivery_attempt(delivery_id=delivery_id, expected_attempts=expected_attempts)
    if delivery is None or delivery.state != WebhookDeliveryState.PENDING:
        return
    # The retry expects the attempts made so far: if the sweep got there first, it does nothing.
    raise self.retry(
        args=[delivery_id],
        kwargs={"expected_attempts": delivery.attempts},
        countdown=webhook_backoff_seconds(delivery.attempts),
    )


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5, acks_late=True, ignore_result=True)
def notifications_email_send_task(notification_ids: list[int]) -> int:
    """Send the pending e-mails of these notifications (those in quiet hours wait for the sweep)."""
    from objectives.notify import notifications_email_send

    return notifications_email_send(notification_ids=notification_ids)


@shared_task(acks_late=True, ignore_result=True)
def deliveries_sweep_task() -> dict:
    """Send e-mails held by quiet hours or a broker outage; enqueue webhook deliveries due for an attempt."""
    from objectives.notify import deliveries_sweep

    return deliveries_sweep()


@shared_task(acks_late=True, ignore_result=True)
def digests_send_task() -> int:
    """Send today's digests: daily ones every day, weekly ones on Mondays, at most one per user and day."""
    from objectives.digest import digests_send

    return digests_send()
