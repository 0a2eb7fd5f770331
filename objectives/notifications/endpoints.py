"""Webhook endpoints of a team: validation and the writes behind the settings page and the admin."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Team
from objectives.models import (
    WebhookEndpoint,
    WebhookEvent,
)
from objectives.notifications.webhooks import webhook_url_errors


def webhook_endpoint_clean(*, data: dict, instance: WebhookEndpoint | None = None) -> dict:
    """Validate a webhook's name, URL (public addresses only, see objectives.notifications.webhooks) and events."""
    merged = {"name": "", "url": "", "events": [], "active": True}
    if instance is not None:
        merged.update(name=instance.name, url=instance.url, events=instance.events, active=instance.active)
    merged.update({k: v for k, v in data.items() if k in merged})
    errors: dict[str, list[str]] = {}
    name = (merged["name"] or "").strip()
    if not name:
        errors["name"] = [_("Give the webhook a name.")]
    url = (merged["url"] or "").strip()
    if not url:
        errors["url"] = [_("Give the URL to send events to.")]
    else:
        url_errors = webhook_url_errors(url)
        if url_errors:
            errors["url"] = [str(e) for e in url_errors]
    events = list(merged["events"] or [])
    unknown = [e for e in events if e not in WebhookEvent.values or e == WebhookEvent.TEST]
    if unknown:
        errors["events"] = [_("Unknown events: %(events)s.") % {"events": ", ".join(map(str, unknown))}]
    if errors:
        raise ValidationError(errors)
    return {"name": name, "url": url, "events": events, "active": bool(merged["active"])}


@transaction.atomic
def webhook_endpoint_create(*, team: Team, data: dict) -> WebhookEndpoint:
    """Add a webhook to `team`; its signing secret is generated here and shown once."""
    return WebhookEndpoint.objects.create(team=team, **webhook_endpoint_clean(data=data))


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, data: dict) -> WebhookEndpoint:
    """Change a webhook's name, URL, events or active flag (never its secret)."""
    for field, value in webhook_endpoint_clean(data=data, instance=endpoint).items():
        setattr(endpoint, field, value)
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete a webhook and its delivery log."""
    endpoint.delete()
