"""Forms of notification delivery: a user's settings and a team's webhooks."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from objectives.models import NotificationSettings, WebhookEvent

# The events a webhook may choose, by label (the test event is sent by hand only).
WEBHOOK_EVENT_CHOICES = [(value, label) for value, label in WebhookEvent.choices if value != WebhookEvent.TEST]


class WebhookForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text=_("Events are POSTed as JSON to this public HTTPS address."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WEBHOOK_EVENT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Events sent to this URL (empty: all)."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class NotificationSettingsForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = ["email_alerts", "quiet_start", "quiet_end", "digest"]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quiet_start"].help_text = _(
            "E-mails are held during these hours (time zone %(tz)s) and sent when they end; "
            "in-app notifications still arrive. A window may cross midnight (22:00 → 07:00)."
        ) % {"tz": settings.TIME_ZONE}

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if self.has_error("quiet_start") or self.has_error("quiet_end"):
            return data  # an unreadable time already has its message
        if (start is None) != (end is None):
            missing = "quiet_end" if end is None else "quiet_start"
            self.add_error(missing, _("Give both ends of the quiet hours, or neither."))
        elif start is not None and start == end:
            self.add_error("quiet_end", _("The quiet hours must end at another time than they start."))
        return data
