"""What people do to alerts and rules: acknowledge, resolve by hand, snooze; and who a rule notifies.

Pages, the API and the admin call these; evaluation (objectives.alerts) moves alerts by itself.
Each change locks the alert row, so it cannot interleave with an evaluation of the same alert.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, User
from accounts.roles import Role
from accounts.selectors import team_ids_with_ancestors, team_tree
from objectives.alerts import alert_event_record
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


def alert_rule_recipients(*, rule: AlertRule) -> list[User]:
    """Who the rule notifies: its chosen recipients who may see the team, else the team's managers.

    A team without a manager of its own falls back on the managers of its nearest managed parent.
    """
    chosen = list(rule.recipients.filter(is_active=True).order_by("username"))
    if chosen:
        # A recipient must still be able to see the team: no notification crosses team lines.
        allowed_teams = team_ids_with_ancestors([rule.team_id])
        members = set(
            Membership.objects.filter(user__in=chosen, team_id__in=allowed_teams).values_list("user_id", flat=True)
        )
        return [user for user in chosen if user.is_staff or user.pk in members]
    parents, _children = team_tree()
    chain = []
    current: int | None = rule.team_id
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    managers = Membership.objects.filter(Q(team_id__in=chain), role=Role.MANAGER, user__is_active=True)
    by_team: dict[int, list[User]] = {}
    for membership in managers.select_related("user").order_by("user__username"):
        by_team.setdefault(membership.team_id, []).append(membership.user)
    for team_id in chain:
        if by_team.get(team_id):
            return by_team[team_id]
    return []
