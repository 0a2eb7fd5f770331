"""Where alerts and objective events go: in-app notifications (an outbox for e-mails too),
each user's notification settings, and teams' outgoing webhooks with their delivery log.

Notifications and webhook deliveries are rows first and messages second: a task sends
them after commit and a periodic sweep retries whatever is still pending, so nothing is
lost while the broker or a worker is down.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Team
from objectives.models.alerts import Alert
from objectives.models.objectives import Objective


class EmailState(models.TextChoices):
    NONE = "none", _("No e-mail")
    PENDING = "pending", _("To send")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Notification(models.Model):
    """A message for one user in the notification centre; also the outbox of its e-mail."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    objective = models.ForeignKey(
        Objective, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(_("event"), max_length=40)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_state = models.CharField(max_length=8, choices=EmailState.choices, default=EmailState.NONE)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_user_read"),
            models.Index(fields=["email_state"], name="notification_email_state"),
        ]

    def __str__(self) -> str:
        return self.title


class DigestFrequency(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    NEVER = "never", _("Never")


class NotificationSettings(models.Model):
    """One user's preferences: e-mails, quiet hours (in the organisation's time zone) and the digest."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_alerts = models.BooleanField(_("alerts by e-mail"), default=True)
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    digest = models.CharField(
        _("digest"), max_length=8, choices=DigestFrequency.choices, default=DigestFrequency.WEEKLY
    )
    digest_last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return str(self.user)


class WebhookEvent(models.TextChoices):
    """What a webhook is told about: the code is the payload's `event`, the label what pages show."""

    ALERT_FIRING = "alert.firing", pgettext_lazy("webhook event", "Alert fired")
    ALERT_ACKNOWLEDGED = "alert.acknowledged", pgettext_lazy("webhook event", "Alert acknowledged")
    ALERT_RESOLVED = "alert.resolved", pgettext_lazy("webhook event", "Alert resolved")
    OBJECTIVE_AT_RISK = "objective.at_risk", pgettext_lazy("webhook event", "Objective at risk")
    OBJECTIVE_ACHIEVED = "objective.achieved", pgettext_lazy("webhook event", "Objective achieved")
    TEST = "test", pgettext_lazy("webhook event", "Test")


def event_label(code: str) -> str:
    """An event (of a webhook or a notification) in words: « alert.firing » → « Alerte déclenchée »; an unknown
    one as stored."""
    return str(WebhookEvent(code).label) if code in WebhookEvent.values else code


def webhook_secret_new() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A team's outgoing webhook: events are POSTed as JSON, signed with HMAC-SHA256 of timestamp + body."""

    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(_("name"), max_length=120)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100, default=webhook_secret_new)
    events = models.JSONField(
        _("events"), default=list, blank=True, help_text=_("Events sent to this URL (empty: all).")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "name"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events or event == WebhookEvent.TEST)


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one webhook, and how its delivery went (the webhook's delivery log)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField(_("payload"))
    state = models.CharField(
        _("state"), max_length=10, choices=WebhookDeliveryState.choices, default=WebhookDeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhookdelivery_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.state})"
