"""Delivery of alert and objective events: in-app notifications, e-mails and signed webhooks.

Everything is written as rows inside the caller's transaction (Notification, also the e-mail
outbox; WebhookDelivery, the delivery log) and sent after commit by Celery tasks. When the
broker is down the rows stay pending and ``deliveries_sweep`` sends them later, so a broker
error never fails the evaluation or the acknowledgement that caused the event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership, User
from accounts.roles import Role
from accounts.selectors import team_ids_with_ancestors
from metrics.engine.periods import business_tz
from objectives import emails, webhooks
from objectives.models import (
    Alert,
    AlertEvent,
    AlertEventKind,
    EmailState,
    Notification,
    NotificationSettings,
    Objective,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

ALERT_WEBHOOK_EVENTS = {
    AlertEventKind.FIRED: WebhookEvent.ALERT_FIRING,
    AlertEventKind.ACKNOWLEDGED: WebhookEvent.ALERT_ACKNOWLEDGED,
    AlertEventKind.RESOLVED: WebhookEvent.ALERT_RESOLVED,
}
# People are told when an alert fires and when it is over; an acknowledgement only goes to webhooks.
USER_NOTIFIED_KINDS = {AlertEventKind.FIRED, AlertEventKind.RESOLVED}
OBJECTIVE_EVENTS = {WebhookEvent.OBJECTIVE_AT_RISK, WebhookEvent.OBJECTIVE_ACHIEVED}

WEBHOOK_MAX_ATTEMPTS = 6
WEBHOOK_BACKOFF_SECONDS = 30
# While an attempt is in flight the sweep leaves the row alone (longer than the HTTP timeout).
WEBHOOK_LEASE = dt.timedelta(seconds=webhooks.TIMEOUT_SECONDS * 6)
EMAIL_MAX_ATTEMPTS = 5
EMAIL_BATCH_SIZE = 200


# ---------------------------------------------------------------------------
# Recipients, settings and quiet hours
# ---------------------------------------------------------------------------
def _rule_recipients(rule) -> list[int]:
    """User ids the rule notifies: its chosen recipients, else the team's managers."""
    from objectives.alert_services import alert_rule_recipients

    return [user.pk for user in alert_rule_recipients(rule=rule)]


def team_manager_ids(*, team) -> set[int]:
    """Users who manage the team, directly or through a parent team."""
    return set(
        Membership.objects.filter(
            team_id__in=team_ids_with_ancestors([team.pk]), role=Role.MANAGER, user__is_active=True
        ).values_list("user_id", flat=True)
    )


def users_seeing_team(*, user_ids: Iterable[int], team) -> list[User]:
    """These users, restricted to active ones who can still see the team (member of it or a parent, or staff)."""
    ids = set(user_ids)
    if not ids:
        return []
    ancestors = team_ids_with_ancestors([team.pk])
    return list(
        User.objects.filter(id__in=ids, is_active=True)
        .filter(Q(is_staff=True) | Q(memberships__team_id__in=ancestors))
        .distinct()
        .order_by("id")
    )


def _settings_of(user_ids: Iterable[int]) -> dict[int, NotificationSettings]:
    """Each user's settings; users without a row get the defaults (unsaved)."""
    ids = set(user_ids)
    found = {s.user_id: s for s in NotificationSettings.objects.filter(user_id__in=ids)}
    return {uid: found.get(uid) or NotificationSettings(user_id=uid) for uid in ids}


def in_quiet_hours(*, prefs: NotificationSettings, now: dt.datetime | None = None) -> bool:
    """Whether `now` falls in the user's quiet hours, read in the organisation's time zone.

    A window whose start is after its end crosses midnight (22:00–07:00); equal or missing
    bounds mean no quiet hours.
    """
    start, end = prefs.quiet_start, prefs.quiet_end
    if start is None or end is None or start == end:
        return False
    local = (now or timezone.now()).astimezone(business_tz()).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def users_in_quiet_hours(*, now: dt.datetime | None = None) -> set[int]:
    """Ids of the users whose quiet hours include `now`; one query over the settings that have some."""
    with_hours = NotificationSettings.objects.filter(quiet_start__isnull=False, quiet_end__isnull=False)
    return {
        prefs.user_id
        for prefs in with_hours.only("user_id", "quiet_start", "quiet_end")
        if in_quiet_hours(prefs=prefs, now=now)
    }


def _wants_email(*, rule_wants: bool, user: User, prefs: NotificationSettings) -> bool:
    return rule_wants and prefs.email_alerts and bool(user.email)


# ---------------------------------------------------------------------------
# Webhook deliveries
# ---------------------------------------------------------------------------
def _webhook_deliveries(*, team, event: str, payload: dict) -> list[WebhookDelivery]:
    """One pending delivery per active endpoint of the team that wants the event; due now."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(team=team, active=True).order_by("id") if e.wants(event)]
    now = timezone.now()
    return WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=e, event=event, payload=payload, next_attempt_at=now) for e in endpoints]
    )


# ---------------------------------------------------------------------------
# After commit: enqueue, never fail the caller
# ---------------------------------------------------------------------------
def _enqueue_after_commit(*, notification_ids: list[int], delivery_ids: list[int]) -> None:
    """Send the e-mails and webhooks once the rows are committed.

    `delay_on_commit` would raise a broker error out of the caller's commit; this callback swallows
    it instead, since the rows are saved and the periodic sweep sends them.
    """
    if not notification_ids and not delivery_ids:
        return

    def enqueue() -> None:
        from objectives.delivery_tasks import notifications_email_send_task, webhook_delivery_send_task

        try:
            if notification_ids:
                notifications_email_send_task.delay(notification_ids)
            for delivery_id in delivery_ids:
                webhook_delivery_send_task.delay(delivery_id, expected_attempts=0)
        except Exception:  # a broker outage of any transport
            logger.warning("Broker unavailable: notifications stay pending for the delivery sweep.")

    transaction.on_commit(enqueue)


# ---------------------------------------------------------------------------
# Alert and objective events
# ---------------------------------------------------------------------------
def alert_notify(*, alert: Alert, event: AlertEvent) -> list[dict]:
    """Write the notifications, e-mails and webhook deliveries of an alert event (fired, acknowledged,
    resolved) and send them after commit; return who was notified (the history row's `notified`)."""
    webhook_event = ALERT_WEBHOOK_EVENTS.get(event.kind)
    if webhook_event is None:
        return []
    rule = alert.rule
    notified: list[dict] = []
    notifications: list[Notification] = []
    if event.kind in USER_NOTIFIED_KINDS and (rule.notify_in_app or rule.notify_email):
        users = users_seeing_team(user_ids=_rule_recipients(rule), team=alert.team)
        prefs = _settings_of(u.pk for u in users)
        now = timezone.now()
        for user in users:
            email = _wants_email(rule_wants=rule.notify_email, user=user, prefs=prefs[user.pk])
            if not rule.notify_in_app and not email:
                continue
            with translation.override(user.language or settings.LANGUAGE_CODE):
                title = emails.alert_title(alert=alert, kind=event.kind)
                body = emails.alert_summary(alert=alert)
            notifications.append(
                Notification(
                    user=user,
                    team=alert.team,
                    alert=alert,
                    event=webhook_event,
                    title=title[:300],
                    body=body,
                    url=f"/alerts/{alert.pk}/",
                    # E-mail only: the row is the outbox, already read so the bell does not count it.
                    read_at=None if rule.notify_in_app else now,
                    email_state=EmailState.PENDING if email else EmailState.NONE,
                )
            )
            channels = (["in_app"] if rule.notify_in_app else []) + (["email"] if email else [])
            notified.append({"user": user.pk, "username": user.get_username(), "channels": channels})
        notifications = Notification.objects.bulk_create(notifications)
    deliveries: list[WebhookDelivery] = []
    if rule.notify_webhook:
        payload = webhooks.alert_payload(alert=alert, event=webhook_event, alert_event=event)
        deliveries = _webhook_deliveries(team=alert.team, event=webhook_event, payload=payload)
        notified.extend({"webhook": d.endpoint_id, "url": d.endpoint.url} for d in deliveries)
    _enqueue_after_commit(
        notification_ids=[n.pk for n in notifications if n.email_state == EmailState.PENDING],
        delivery_ids=[d.pk for d in deliveries],
    )
    return notified


def objective_notify(*, objective: Objective, event: str) -> list[dict]:
    """Tell the team's managers and the objective's owner (in-app) and the team's webhooks that an
    objective became at risk or achieved; return who was notified."""
    if event not in OBJECTIVE_EVENTS:
        raise ValueError(f"Unknown objective event: {event}")
    team = objective.team
    candidates = team_manager_ids(team=team) | ({objective.owner_id} if objective.owner_id else set())
    users = users_seeing_team(user_ids=candidates, team=team)
    notified: list[dict] = []
    rows = []
    url = emails.objective_url(objective)
    for user in users:
        with translation.override(user.language or settings.LANGUAGE_CODE):
            if event == WebhookEvent.OBJECTIVE_ACHIEVED:
                title = _("Objective achieved: %(title)s — %(team)s")
            else:
                title = _("Objective at risk: %(title)s — %(team)s")
            title = title % {"title": objective.title, "team": team.name}
        rows.append(Notification(user=user, team=team, objective=objective, event=event, title=title[:300], url=url))
        notified.append({"user": user.pk, "username": user.get_username(), "channels": ["in_app"]})
    Notification.objects.bulk_create(rows)
    deliveries = _webhook_deliveries(
        team=team, event=event, payload=webhooks.objective_payload(objective=objective, event=event)
    )
    notified.extend({"webhook": d.endpoint_id, "url": d.endpoint.url} for d in deliveries)
    _enqueue_after_commit(notification_ids=[], delivery_ids=[d.pk for d in deliveries])
    return notified


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


def notifications_unread_count(*, user: User) -> int:
    """How many of the user's notifications are unread; one query."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


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
                "user", "team", "alert__team", "alert__rule__kpi", "alert__rule__target__kpi"
            ).order_by("id")[:EMAIL_BATCH_SIZE]
        )
        prefs = _settings_of(n.user_id for n in rows)
        sparklines: dict = {}
        changed = []
        for notification in rows:
            user_prefs = prefs[notification.user_id]
            if not user_prefs.email_alerts or not notification.user.email:
                notification.email_state = EmailState.NONE  # turned off since: nothing to send
            else:
                notification.email_attempts += 1
                try:
                    emails.alert_email(notification=notification, sparklines=sparklines).send()
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


# ---------------------------------------------------------------------------
# Sweep
# ---------------------------------------------------------------------------
def deliveries_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Send pending e-mails whose users are outside quiet hours, and enqueue webhook deliveries that
    are due; return {"emails": sent, "webhooks": enqueued}."""
    now = now or timezone.now()
    sent = notifications_email_send(now=now)
    due = list(
        WebhookDelivery.objects.filter(state=WebhookDeliveryState.PENDING, next_attempt_at__lte=now).values_list(
            "id", "attempts"
        )
    )
    from objectives.delivery_tasks import webhook_delivery_send_task

    enqueued = 0
    for delivery_id, attempts in due:
        try:
            webhook_delivery_send_task.delay(delivery_id, expected_attempts=attempts)
        except Exception:
            logger.warning("Broker unavailable: %s webhook deliveries wait for the next sweep.", len(due) - enqueued)
            break
        enqueued += 1
    return {"emails": sent, "webhooks": enqueued}
