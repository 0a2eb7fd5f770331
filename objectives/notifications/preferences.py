"""A user's notification preferences: alert e-mails, quiet hours and the digest's frequency."""

from django.db import transaction

from accounts.models import User
from objectives.models import NotificationSettings


def notification_settings_get(*, user: User) -> NotificationSettings:
    """The user's settings, or the defaults (unsaved) when they never changed them."""
    return NotificationSettings.objects.filter(user=user).first() or NotificationSettings(user=user)


@transaction.atomic
def notification_settings_update(*, user: User, data: dict) -> NotificationSettings:
    """Save the user's preferences (keys: email_alerts, quiet_start, quiet_end, digest), validated by the form."""
    fields = ("email_alerts", "quiet_start", "quiet_end", "digest")
    prefs, _created = NotificationSettings.objects.update_or_create(
        user=user, defaults={field: data[field] for field in fields if field in data}
    )
    return prefs
