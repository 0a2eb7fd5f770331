"""Admin of objectives, alert rules, alerts, notifications and webhooks.

Alert rules are validated and saved by objectives.alerts.rules, webhooks by objectives.notifications.endpoints,
like on the pages and in the API;
alerts, their history and webhook deliveries are read-only here (they change through their services).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from metrics.kpis.labels import channel_label
from objectives.alerts import rules as alert_rules
from objectives.models import (
    Alert,
    AlertEvent,
    AlertRule,
    Budget,
    Notification,
    NotificationSettings,
    Objective,
    Target,
    WebhookDelivery,
    WebhookEndpoint,
)
from objectives.models.notifications import event_label
from objectives.notifications import endpoints as webhook_endpoints


class TargetInline(admin.TabularInline):
    model = Target
    extra = 0
    fields = ("kpi", "segment", "baseline_value", "target_value", "judged", "warning_percent", "critical_percent")
    autocomplete_fields = ["kpi"]


@admin.register(Objective)
class ObjectiveAdmin(admin.ModelAdmin):
    list_display = ("title", "team", "start_date", "due_date", "state", "progress_status")
    list_filter = ("team", "state", "progress_status")
    search_fields = ("title", "description")
    autocomplete_fields = ["team", "owner", "parent"]
    inlines = [TargetInline]


class AlertRuleAdminForm(forms.ModelForm):
    """The rule's fields, checked by the same validation as the pages and the API."""

    class Meta:
        model = AlertRule
        fields = ("team", *alert_rules.RULE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        team = cleaned.get("team") or (self.instance.team if self.instance.pk else None)
        if team is None:
            return cleaned
        data = {k: v for k, v in cleaned.items() if k in alert_rules.RULE_FIELDS}
        data["recipients"] = list(cleaned.get("recipients") or [])
        try:
            self.service_data = alert_rules.alert_rule_clean(
                team=team, data=data, instance=self.instance if self.instance.pk else None
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleAdminForm
    list_display = ("name", "team", "condition", "kpi", "target", "threshold", "severity", "active", "snoozed_until")
    list_filter = ("team", "condition", "severity", "active")
    search_fields = ("name", "team__name", "kpi__code")
    filter_horizontal = ("recipients",)
    autocomplete_fields = ["team", "kpi"]
    raw_id_fields = ("target",)
    readonly_fields = ("created_by", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data.get(k) for k in alert_rules.RULE_FIELDS if k in form.cleaned_data}
        data["recipients"] = list(form.cleaned_data.get("recipients") or [])
        if change:
            rule = AlertRule.objects.get(pk=obj.pk)
            alert_rules.alert_rule_update(rule=rule, data=data)
        else:
            rule = alert_rules.alert_rule_create(user=request.user, team=form.cleaned_data["team"], data=data)
            obj.pk = rule.pk
            obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        # Recipients were saved by the service with the rule.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "value", "threshold", "actor", "comment", "notified")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("rule", "team", "period_start", "state", "severity", "value", "threshold", "opened_at")
    list_filter = ("state", "severity", "team")
    search_fields = ("rule__name", "team__name")
    date_hierarchy = "opened_at"
    list_select_related = ("rule", "team")
    inlines = [AlertEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "team", "event_name", "created_at", "read_at", "email_state")
    list_filter = ("event", "email_state", "team")
    search_fields = ("title", "user__username")
    list_select_related = ("user", "team")
    raw_id_fields = ("user", "alert", "objective")

    @admin.display(description=_("event"), ordering="event")
    def event_name(self, obj: Notification) -> str:
        return event_label(obj.event)


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ("user", "email_alerts", "quiet_start", "quiet_end", "digest", "digest_last_sent_at")
    list_filter = ("email_alerts", "digest")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


class WebhookEndpointAdminForm(forms.ModelForm):
    """Name, URL and events checked like on the webhook page (public addresses only)."""

    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("team", "name", "url", "events", "active")

    def clean(self):
        cleaned = super().clean()
        data = {k: cleaned.get(k) for k in ("name", "url", "events", "active") if k in cleaned}
        try:
            webhook_endpoints.webhook_endpoint_clean(data=data, instance=self.instance if self.instance.pk else None)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointAdminForm
    list_display = ("name", "team", "url", "active", "created_at")
    list_filter = ("active", "team")
    search_fields = ("name", "url")
    readonly_fields = ("secret", "created_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "endpoint", "state", "attempts", "response_status", "created_at", "delivered_at")
    list_filter = ("state", "event")
    list_select_related = ("endpoint",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "category", "channel_name", "start_date", "end_date", "amount")
    list_filter = ("category", "team")
    search_fields = ("name", "channel")
    raw_id_fields = ("campaign",)

    @admin.display(description=_("channel"), ordering="channel")
    def channel_name(self, obj: Budget) -> str:
        return channel_label(obj.channel) if obj.channel else ""
