"""SMART objectives, their targets on KPIs, and the monthly phasing of a target (DESIGN.md §6).

Progress figures (value so far, expected pace, forecast, status) are computed by
objectives.services from the KPI engine and cached on each target and objective, so pages
and the API read them without recomputing anything.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team

VALUE = {"max_digits": 20, "decimal_places": 6}


class ObjectiveState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


class ProgressStatus(models.TextChoices):
    """From worst to best: missed, off track, at risk, on track, achieved (see objectives.progress)."""

    MISSED = "missed", _("Missed")
    OFF_TRACK = "off_track", _("Off track")
    AT_RISK = "at_risk", _("At risk")
    ON_TRACK = "on_track", _("On track")
    ACHIEVED = "achieved", _("Achieved")


class Judged(models.TextChoices):
    PERIOD = "period", _("Over the whole period")
    END = "end", _("At the end (last month)")


class Phasing(models.TextChoices):
    NONE = "none", _("Linear (not phased)")
    EVEN = "even", _("Even")
    SEASONAL = "seasonal", _("Seasonal (last year)")
    MANUAL = "manual", _("Manual")


class Objective(models.Model):
    """A team's SMART objective: what, who, until when, why, measured by one or more targets."""

    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="objectives")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_objectives",
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    relevance_note = models.TextField(
        _("why it matters"), blank=True, help_text=_("How this objective serves the company's goals.")
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent objective"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
    )
    start_date = models.DateField(_("start date"))
    due_date = models.DateField(_("due date"), help_text=_("Last day of the objective (included)."))
    state = models.CharField(_("state"), max_length=10, choices=ObjectiveState.choices, default=ObjectiveState.ACTIVE)
    progress_status = models.CharField(
        _("progress"), max_length=10, choices=ProgressStatus.choices, default=ProgressStatus.ON_TRACK
    )
    progress_computed_at = models.DateTimeField(_("progress computed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_date", "title"]
        verbose_name = _("objective")
        verbose_name_plural = _("objectives")
        constraints = [
            models.CheckConstraint(condition=Q(due_date__gte=F("start_date")), name="objective_due_after_start"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="objective_not_own_parent"),
        ]
        indexes = [models.Index(fields=["team", "state"], name="objective_team_state")]

    def __str__(self) -> str:
        return self.title


class Recommendation(models.TextChoices):
    """What to do about a running target (objectives.progress.target_outlook)."""

    MAINTAIN = "maintain", _("Maintain")
    REINFORCE = "reinforce", _("Push harder")
    REVISE = "revise", _("Revise or drop")


class RelativeBasis(models.TextChoices):
    """What a relative target is measured against."""

    LAST_YEAR = "last_year", _("the same period last year")
    BASELINE = "baseline", _("the baseline")


class Target(models.Model):
    """A KPI value an objective aims for, with its baseline, how it is judged and its alert thresholds."""

    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="targets")
    kpi = models.ForeignKey(
        "metrics.KpiDefinition", verbose_name=_("KPI"), on_delete=models.PROTECT, related_name="targets"
    )
    segment = models.CharField(_("segment"), max_length=120, blank=True, help_text=_("e.g. channel=email"))
    baseline_value = models.DecimalField(
        _("baseline"),
        null=True,
        blank=True,
        help_text=_("Left empty: the KPI over the preceding period of the same length."),
        **VALUE,
    )
    target_value = models.DecimalField(_("target"), **VALUE)
    # Target bands: below the minimum is a miss, the stretch is the ambitious value (drawn on charts).
    minimum_value = models.DecimalField(_("minimum"), null=True, blank=True, **VALUE)
    stretch_value = models.DecimalField(_("stretch"), null=True, blank=True, **VALUE)
    # A relative target (« +20 % vs la même période l'an dernier »): target_value is derived from the basis
    # and kept in step when the basis is recomputed.
    relative_basis = models.CharField(
        _("relative to"), max_length=10, choices=RelativeBasis.choices, blank=True, default=""
    )
    relative_percent = models.DecimalField(
        _("change vs the basis (%)"), null=True, blank=True, max_digits=9, decimal_places=2
    )
    judged = models.CharField(_("judged"), max_length=8, choices=Judged.choices, default=Judged.PERIOD)
    warning_percent = models.DecimalField(
        _("warning threshold (% of the expected pace)"), max_digits=5, decimal_places=2, default=Decimal("90")
    )
    critical_percent = models.DecimalField(
        _("critical threshold (% of the expected pace)"), max_digits=5, decimal_places=2, default=Decimal("75")
    )
    phasing = models.CharField(_("phasing"), max_length=10, choices=Phasing.choices, default=Phasing.NONE)
    # Snapshot of the last progress computation, for cheap reads.
    current_value = models.DecimalField(_("value so far"), null=True, blank=True, **VALUE)
    progress_percent = models.DecimalField(_("progress (%)"), null=True, blank=True, **VALUE)
    expected_value_today = models.DecimalField(_("expected by today"), null=True, blank=True, **VALUE)
    forecast_value = models.DecimalField(_("forecast"), null=True, blank=True, **VALUE)
    required_daily_rate = models.DecimalField(_("needed per day"), null=True, blank=True, **VALUE)
    # Push harder or drop it (objectives.progress.target_outlook).
    pace_so_far = models.DecimalField(_("pace so far (per day)"), null=True, blank=True, **VALUE)
    required_pace = models.DecimalField(_("pace required (per day)"), null=True, blank=True, **VALUE)
    best_pace = models.DecimalField(_("best pace in the history"), null=True, blank=True, **VALUE)
    recommendation = models.CharField(
        _("recommendation"), max_length=10, choices=Recommendation.choices, blank=True, default=""
    )
    recommendation_reason = models.CharField(_("reason"), max_length=12, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=10, choices=ProgressStatus.choices, default=ProgressStatus.ON_TRACK
    )
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)
    # Chart points prepared with the snapshot: {"labels": [...], "actual": [...], "expected": [...], ...}.
    chart = models.JSONField(_("chart data"), default=dict, blank=True)

    class Meta:
        ordering = ["objective", "id"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.CheckConstraint(
                condition=Q(critical_percent__gt=0)
                & Q(warning_percent__lte=100)
                & Q(critical_percent__lte=F("warning_percent")),
                name="target_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} → {self.target_value}"


class TargetPhase(models.Model):
    """The part of a target planned for one month (`month` is its first day)."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="phases")
    month = models.DateField(_("month"))
    value = models.DecimalField(_("value"), **VALUE)

    class Meta:
        ordering = ["target", "month"]
        verbose_name = _("target phase")
        verbose_name_plural = _("target phases")
        constraints = [models.UniqueConstraint(fields=["target", "month"], name="targetphase_target_month_unique")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.value}"
