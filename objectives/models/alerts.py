"""Alert rules on KPIs and objective targets, the alerts they raise and each alert's history (DESIGN.md §7).

An alert is one breach of one rule for one (team, segment, period): while it is open
(pending, firing or acknowledged) the database refuses a second one for the same cell,
so repeated or concurrent evaluations cannot duplicate it. A rule re-fires for a cell
only after its alert resolved. Evaluation lives in objectives.alerts.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from metrics.kpis.periods import Granularity
from objectives.models.objectives import VALUE, Target


class AlertCondition(models.TextChoices):
    ABOVE = "above", _("Value above the threshold")
    BELOW = "below", _("Value below the threshold")
    CHANGE_ABOVE = "change_above", _("Rise vs previous period above X %")
    CHANGE_BELOW = "change_below", _("Fall vs previous period beyond X %")
    OFF_TRACK = "off_track", _("Objective target off track")
    AT_RISK = "at_risk", _("Objective target at risk (or worse)")
    NO_DATA = "no_data", _("No data for N days")
    BUDGET_OVER = "budget_over", _("Spend forecast beyond the budget by X %")
    ANOMALY = "anomaly", _("Value outside its expected band (anomaly)")


class CompareBasis(models.TextChoices):
    PREVIOUS = "previous", _("the previous period")
    LAST_YEAR = "last_year", _("the same period last year")


# Conditions judged on a KPI value, on an objective target, on the freshness of the data, or on a budget.
KPI_CONDITIONS = {
    AlertCondition.ABOVE,
    AlertCondition.BELOW,
    AlertCondition.CHANGE_ABOVE,
    AlertCondition.CHANGE_BELOW,
    AlertCondition.ANOMALY,
}
TARGET_CONDITIONS = {AlertCondition.OFF_TRACK, AlertCondition.AT_RISK}
FRESHNESS_CONDITIONS = {AlertCondition.NO_DATA}
BUDGET_CONDITIONS = {AlertCondition.BUDGET_OVER}
CHANGE_CONDITIONS = {AlertCondition.CHANGE_ABOVE, AlertCondition.CHANGE_BELOW}


class AlertSeverity(models.TextChoices):
    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AlertState(models.TextChoices):
    PENDING = "pending", _("Pending")
    FIRING = "firing", _("Firing")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)


class AlertRule(models.Model):
    """When to raise an alert for a team: a condition on a KPI (optionally one segment) or on an objective target."""

    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(_("name"), max_length=200)
    condition = models.CharField(_("condition"), max_length=16, choices=AlertCondition.choices)
    kpi = models.ForeignKey(
        "metrics.KpiDefinition",
        verbose_name=_("KPI"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    segment = models.CharField(_("segment"), max_length=200, blank=True, help_text=_("e.g. channel=email"))
    granularity = models.CharField(
        _("granularity"), max_length=8, choices=Granularity.choices, default=Granularity.MONTH
    )
    target = models.ForeignKey(
        Target,
        verbose_name=_("objective target"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    budget = models.ForeignKey(
        "objectives.Budget",
        verbose_name=_("budget"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    compare_with = models.CharField(
        _("compared with"),
        max_length=10,
        choices=CompareBasis.choices,
        default=CompareBasis.PREVIOUS,
        help_text=_("Change conditions: the period the value is compared with (like for like on a running period)."),
    )
    threshold = models.DecimalField(
        _("threshold"),
        null=True,
        blank=True,
        help_text=_(
            "A KPI value; a percentage for a change or for spend beyond a budget; a number of days for no data."
        ),
        **VALUE,
    )
    recovery_threshold = models.DecimalField(
        _("recovery threshold"),
        null=True,
        blank=True,
        help_text=_("The alert resolves once the value is back past this level (empty: the threshold)."),
        **VALUE,
    )
    change_floor = models.DecimalField(
        _("minimum absolute change"),
        null=True,
        blank=True,
        help_text=_("Change conditions: ignore changes smaller than this, in the KPI's unit (tiny bases)."),
        **VALUE,
    )
    min_sample = models.PositiveIntegerField(
        _("minimum sample"),
        null=True,
        blank=True,
        help_text=_("Do not judge a value computed from fewer records than this (e.g. 30 answers)."),
    )
    sample_measure = models.CharField(
        _("sample measure"),
        max_length=60,
        blank=True,
        help_text=_("The KPI measure that counts the sample (empty: its largest component)."),
    )
    pending_count = models.PositiveSmallIntegerField(
        _("consecutive breaches before firing"),
        default=1,
        help_text=_("The alert fires after this many evaluations of new data in breach."),
    )
    severity = models.CharField(
        _("severity"), max_length=10, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipients"),
        blank=True,
        related_name="+",
        help_text=_("Empty: the team's managers."),
    )
    notify_in_app = models.BooleanField(_("in-app notification"), default=True)
    notify_email = models.BooleanField(_("e-mail"), default=True)
    notify_webhook = models.BooleanField(_("webhooks"), default=True)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team", "name"]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        constraints = [
            # A KPI rule names a KPI, an objective rule a target, a budget rule a budget; exactly one.
            models.CheckConstraint(
                condition=(Q(kpi__isnull=False) & Q(target__isnull=True) & Q(budget__isnull=True))
                | (Q(kpi__isnull=True) & Q(target__isnull=False) & Q(budget__isnull=True))
                | (Q(kpi__isnull=True) & Q(target__isnull=True) & Q(budget__isnull=False)),
                name="alertrule_one_subject",
            ),
            models.CheckConstraint(condition=Q(pending_count__gte=1), name="alertrule_pending_count_positive"),
        ]
        indexes = [models.Index(fields=["kpi", "team"], name="alertrule_kpi_team")]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """One breach of a rule for a (team, segment, period), from pending or firing to resolved."""

    rule = models.ForeignKey(AlertRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="alerts")
    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="alerts")
    segment = models.CharField(_("segment"), max_length=200, blank=True, default="")
    period_start = models.DateField(_("period start"))
    state = models.CharField(_("state"), max_length=12, choices=AlertState.choices, default=AlertState.PENDING)
    severity = models.CharField(_("severity"), max_length=10, choices=AlertSeverity.choices)
    value = models.DecimalField(_("value"), null=True, blank=True, max_digits=30, decimal_places=10)
    threshold = models.DecimalField(_("threshold"), null=True, blank=True, **VALUE)
    breach_count = models.PositiveSmallIntegerField(_("consecutive breaches"), default=1)
    # When the data last judged was computed: an evaluation of the same data changes nothing.
    data_computed_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    fired_at = models.DateTimeField(_("fired at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "team", "segment", "period_start"],
                condition=~Q(state=AlertState.RESOLVED),
                name="alert_one_open_per_cell",
            ),
        ]
        indexes = [models.Index(fields=["team", "state"], name="alert_team_state")]

    def __str__(self) -> str:
        return f"{self.rule} — {self.period_start} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class AlertEventKind(models.TextChoices):
    PENDING = "pending", _("Breach seen, waiting for confirmation")
    BREACH = "breach", _("Breach seen again")
    FIRED = "fired", _("Fired")
    UPDATED = "updated", _("Value changed")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class AlertEvent(models.Model):
    """A history row: what an evaluation or a person changed on an alert, and who was notified."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=14, choices=AlertEventKind.choices)
    at = models.DateTimeField(_("at"), auto_now_add=True)
    value = models.DecimalField(_("value"), null=True, blank=True, max_digits=30, decimal_places=10)
    threshold = models.DecimalField(_("threshold"), null=True, blank=True, **VALUE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    comment = models.TextField(_("comment"), blank=True)
    # [{"user": id, "username": str, "channels": ["in_app", "email"]}, {"webhook": id, "url": str}]
    notified = models.JSONField(_("notified"), default=list, blank=True)
    # What drove the change, computed once when the alert fired (objectives.alerts.drivers): the webhook's
    # `drivers`, the e-mail's line and the alert page read these numbers; null without a breakdown.
    drivers = models.JSONField(_("drivers"), null=True, blank=True, editable=False)
    # Anomaly rules: the expected band the value fell outside, as computed when the alert was judged
    # ({"expected", "lower", "upper", "method", "distance"}; objectives.alerts): null for other conditions.
    band = models.JSONField(_("expected band"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind} @ {self.at:%Y-%m-%d %H:%M}"
