"""An alert's history: one row per state change, handed to the notifications' outbox when people must hear of
it (evaluation opens and resolves alerts, people acknowledge and resolve them: both record events here)."""

from __future__ import annotations

from objectives.alerts.drivers import alert_drivers_compute
from objectives.models import Alert, AlertEvent, AlertEventKind
from objectives.notifications.outbox import alert_notify


def alert_event_record(
    *, alert: Alert, kind: str, actor=None, comment: str = "", notify: bool = False, band: dict | None = None
) -> AlertEvent:
    """Write a history row for the alert's current value and threshold; notify (inside the transaction) if asked,
    and keep whom the event reached on the row. A firing row keeps what drove the change, computed once here for
    the webhook, every recipient's e-mail and the alert page; an anomaly rule's rows keep the expected band the
    value was judged against (`band`, metrics.kpis.anomalies.Band.document), which the notifications read."""
    drivers = alert_drivers_compute(alert=alert) if kind == AlertEventKind.FIRED else None
    event = AlertEvent.objects.create(
        alert=alert,
        kind=kind,
        value=alert.value,
        threshold=alert.threshold,
        actor=actor,
        comment=comment,
        drivers=drivers,
        band=band,
    )
    if notify:
        event.notified = list(alert_notify(alert=alert, event=event) or [])
        event.save(update_fields=["notified"])
    return event
