"""The outbox of alert and objective events: in-app notifications, pending e-mails and webhook deliveries.

Everything is written as rows inside the caller's transaction (Notification, also the e-mail
outbox; WebhookDelivery, the delivery log) and sent after commit by Celery tasks. When the
broker is down the rows stay pending and the delivery sweep sends them later, so a broker
error never fails the evaluation or the acknowledgement that caused the event."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone, translation

from objectives.models import (
    Alert,
    AlertEvent,
    AlertEventKind,
    EmailState,
    Notification,
    Objective,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from objectives.notifications import emails, webhooks
from objectives.notifications.recipients import (
    alert_rule_recipients,
    settings_of,
    team_managers,
    users_seeing_team,
    wants_email,
)
from objectives.notifications.tasks import deliveries_enqueue

ALERT_WEBHOOK_EVENTS = {
    AlertEventKind.FIRED: WebhookEvent.ALERT_FIRING,
    AlertEventKind.ACKNOWLEDGED: WebhookEvent.ALERT_ACKNOWLEDGED,
    AlertEventKind.RESOLVED: WebhookEvent.ALERT_RESOLVED,
}


# People are told when an alert fires and when it is over; an acknowledgement only goes to webhooks.
USER_NOTIFIED_KINDS = {AlertEventKind.FIRED, AlertEventKind.RESOLVED}
OBJECTIVE_EVENTS = {WebhookEvent.OBJECTIVE_AT_RISK, WebhookEvent.OBJECTIVE_ACHIEVED}


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
        users = users_seeing_team(user_ids=[u.pk for u in alert_rule_recipients(rule=rule)], team=alert.team)
        prefs = settings_of(u.pk for u in users)
        now = timezone.now()
        for user in users:
            email = wants_email(rule_wants=rule.notify_email, user=user, prefs=prefs[user.pk])
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
    deliveries_enqueue(
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
    candidates = {u.pk for u in team_managers(team_id=team.pk)} | (
        {objective.owner_id} if objective.owner_id else set()
    )
    users = users_seeing_team(user_ids=candidates, team=team)
    notified: list[dict] = []
    rows = []
    url = emails.objective_url(objective)
    for user in users:
        with translation.override(user.language or settings.LANGUAGE_CODE):
            title = emails.objective_title(objective=objective, event=event)
        rows.append(Notification(user=user, team=team, objective=objective, event=event, title=title[:300], url=url))
        notified.append({"user": user.pk, "username": user.get_username(), "channels": ["in_app"]})
    Notification.objects.bulk_create(rows)
    deliveries = _webhook_deliveries(
        team=team, event=event, payload=webhooks.objective_payload(objective=objective, event=event)
    )
    notified.extend({"webhook": d.endpoint_id, "url": d.endpoint.url} for d in deliveries)
    deliveries_enqueue(notification_ids=[], delivery_ids=[d.pk for d in deliveries])
    return notified
