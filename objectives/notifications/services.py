"""Writes of the notification centre."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import User
from objectives.models import (
    Alert,
    Notification,
)


# ---------------------------------------------------------------------------
# Notification centre
# ---------------------------------------------------------------------------
def notifications_mark_read(*, user: User, ids: list[int] | None = None, alert: Alert | None = None) -> int:
    """Mark the user's unread notifications read (these ids, or those about `alert`, or all); return how many
    changed. Ids of other users' notifications are ignored."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(id__in=ids)
    if alert is not None:
        unread = unread.filter(alert=alert)
    return unread.update(read_at=timezone.now())
