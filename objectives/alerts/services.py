"""What people do to alerts and rules: acknowledge, resolve by hand, snooze; and who a rule notifies.

Pages, the API and the admin call these; evaluation (objectives.alerts) moves alerts by itself.
Each change locks the alert row, so it cannot interleave with an evaluation of the same alert.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from objectives.alerts.events import alert_event_record
from objectives.models import Alert, AlertEventKind, AlertRule, AlertState


class AlertTransitionError(ValueError):
    """The alert cannot make this change from its current state; the message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().select_related("rule").get(pk=alert.pk)


def alert_acknowledge(*, alert: Alert, user: User | None, comment: str = "") -> Alert:
    """Acknowledge a firing alert with an optional comment (user None: an API key); acknowledging it again
    changes nothing."""
    with transaction.atomic():
        locked = _locked(alert)
        if locked.state == AlertState.ACKNOWLEDGED:
            return locked
        if locked.state == AlertState.RESOLVED:
            raise AlertTransitionError(_("This alert is resolved: there is nothing to acknowledge."))
        if locked.state == AlertState.PENDING:
            raise AlertTransitionError(_("This alert has not fired yet: it cannot be acknowledged."))
        locked.state = AlertState.ACKNOWLEDGED
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = user
        locked.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "updated_at"])
        alert_event_record(
            alert=locked, kind=AlertEventKind.ACKNOWLEDGED, actor=user, comment=(comment or "").strip(), notify=True
        )
    return locked


def alert_resolve(*, alert: Alert, user: User | None, note: str = "") -> Alert:
    """Resolve an open alert by hand with a note; those told it fired are told it is resolved."""
    with transaction.atomic():
        locked = _locked(alert)
        if locked.state == AlertState.RESOLVED:
            raise AlertTransitionError(_("This alert is already resolved."))
        had_fired = locked.fired_at is not None
        locked.state = AlertState.RESOLVED
        locked.resolved_at = timezone.now()
        locked.resolved_by = user
        locked.save(update_fields=["state", "resolved_at", "resolved_by", "updated_at"])
        alert_event_record(
            alert=locked, kind=AlertEventKind.RESOLVED, actor=user, comment=(note or "").strip(), notify=had_fired
        )
    return locked


def alert_rule_snooze(*, rule: AlertRule, until: dt.datetime | None) -> AlertRule:
    """Stop evaluating the rule until `until` (None: evaluate it again now)."""
    if until is not None and timezone.is_naive(until):
        until = timezone.make_aware(until)
    rule.snoozed_until = until
    rule.save(update_fields=["snoozed_until", "updated_at"])
    return rule
