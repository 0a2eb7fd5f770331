"""KPI definitions as data, their measures, the stored values, and the team closure.

A KPI is a formula (metrics.engine.formula) over named measures; a measure is one
aggregate over one record source with filters and a period binding
(metrics.engine.measures). The catalogue the product ships is loaded by
`manage.py load_kpi_catalogue`; admins edit it and add KPIs in the Django admin.
Computed values are stored per (KPI, team, granularity, period, segment) so dashboards
and the API never aggregate raw activity.
"""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from metrics.engine.aggregates import aggregate_choices
from metrics.engine.formula import FUNCTIONS, FormulaError, formula_parse
from metrics.engine.measures import Binding, DurationUnit, MeasureSpec, StateMode, measure_spec_errors
from metrics.engine.periods import Granularity
from metrics.engine.sources import source_choices

MEASURE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class KpiUnit(models.TextChoices):
    PERCENT = "%", "%"
    POINTS = "pts", _("points")
    EURO = "€", "€"
    HOURS = "h", _("hours")
    DAYS = "d", _("days")
    SECONDS = "s", _("seconds")
    COUNT = "n", _("count")
    EURO_PER_DAY = "€/d", _("€ per day")


class KpiDirection(models.TextChoices):
    HIGHER = "higher", _("Higher is better")
    LOWER = "lower", _("Lower is better")
    NEUTRAL = "neutral", _("Neutral (context)")


class KpiCategory(models.TextChoices):
    SALES = "sales", _("Sales")
    CUSTOMERS = "customers", _("Customers")
    SUPPORT = "support", _("Customer service")
    MARKETING = "marketing", _("Marketing")
    ADOPTION = "adoption", _("CRM adoption")


class KpiDefinition(models.Model):
    """A KPI: a formula over named measures, with its names, unit and direction."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name_fr = models.CharField(_("name (French)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    description_fr = models.TextField(_("description (French)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    category = models.CharField(_("category"), max_length=16, choices=KpiCategory.choices)
    unit = models.CharField(_("unit"), max_length=4, choices=KpiUnit.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=KpiDirection.choices)
    formula = models.TextField(
        _("formula"),
        help_text=_(
            "Arithmetic over the measure names: + - * / ( ), numbers, prev(x) for the preceding period, "
            "min, max, abs, if_null(x, y), positive(x). Division by zero gives no value."
        ),
    )
    default_granularity = models.CharField(
        _("default granularity"), max_length=8, choices=Granularity.choices, default=Granularity.MONTH
    )
    segments = models.JSONField(
        _("segment dimensions"),
        default=list,
        blank=True,
        help_text=_('Dimensions the KPI is broken down by, e.g. ["channel"]; every measure\'s source must have them.'),
    )
    active = models.BooleanField(_("active"), default=True)
    additive = models.BooleanField(
        _("additive"),
        default=False,
        help_text=_("The value of a period is the sum of its sub-periods' values (counts and sums)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "code"]
        verbose_name = _("KPI definition")
        verbose_name_plural = _("KPI definitions")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def name(self) -> str:
        """The name in the active language (French unless English is active)."""
        return self.name_en if (get_language() or "fr").startswith("en") else self.name_fr

    @property
    def description(self) -> str:
        return self.description_en if (get_language() or "fr").startswith("en") else self.description_fr

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            formula_parse(self.formula or "")
        except FormulaError as exc:
            errors["formula"] = [str(exc)]
        if not isinstance(self.segments, list) or not all(isinstance(s, str) and s for s in self.segments):
            errors["segments"] = [_('A list of dimension names, e.g. ["channel", "owner"].')]
        if errors:
            raise ValidationError(errors)


class KpiMeasure(models.Model):
    """One named aggregate of a KPI over one record source, bound to the period by an event date or a state."""

    kpi = models.ForeignKey(KpiDefinition, on_delete=models.CASCADE, related_name="measures")
    name = models.CharField(_("name"), max_length=60, help_text=_("The name the formula uses, e.g. won."))
    source = models.CharField(_("source"), max_length=30, choices=source_choices)
    aggregate = models.CharField(_("aggregate"), max_length=16, choices=aggregate_choices)
    field = models.CharField(
        _("field"),
        max_length=120,
        blank=True,
        help_text=_("The value aggregated (e.g. amount, customer); the end date-time of a duration."),
    )
    duration_from = models.CharField(
        _("duration from"),
        max_length=120,
        blank=True,
        help_text=_("For a duration: the start date-time field; the value is field − duration from."),
    )
    duration_unit = models.CharField(_("duration unit"), max_length=1, choices=DurationUnit.choices, blank=True)
    multiply_by = models.CharField(
        _("multiply by"), max_length=120, blank=True, help_text=_("A second numeric field: the value is field × it.")
    )
    min_count = models.PositiveSmallIntegerField(
        _("minimum occurrences"),
        default=1,
        help_text=_("count_distinct only: count values that occur in at least this many records."),
    )
    filters = models.JSONField(
        _("filters"),
        default=list,
        blank=True,
        help_text=_(
            'e.g. [{"field": "status", "op": "exact", "value": "completed"}]; ops: exact, in, gte, lte, gt, lt, '
            'isnull, in_period; {"any": [...]} for "or"; a value {"field": name} compares two fields.'
        ),
    )
    binding = models.CharField(_("period binding"), max_length=8, choices=Binding.choices, default=Binding.EVENT)
    date_field = models.CharField(
        _("date field"), max_length=120, blank=True, help_text=_("Event binding: the date that places a record.")
    )
    active_from = models.CharField(
        _("active from"), max_length=120, blank=True, help_text=_("State binding: start of the active interval.")
    )
    active_to = models.CharField(
        _("active to"),
        max_length=120,
        blank=True,
        help_text=_("State binding: end of the active interval (empty value = still active)."),
    )
    state = models.CharField(_("state"), max_length=8, choices=StateMode.choices, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("KPI measure")
        verbose_name_plural = _("KPI measures")
        constraints = [models.UniqueConstraint(fields=["kpi", "name"], name="kpimeasure_kpi_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} = {self.aggregate}({self.source}.{self.field or '*'})"

    @property
    def spec(self) -> MeasureSpec:
        return MeasureSpec.of(self)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if not MEASURE_NAME_RE.match(self.name or ""):
            errors["name"] = [_("Letters, digits and underscores, not starting with a digit.")]
        elif self.name in FUNCTIONS:
            errors["name"] = [_("This name is a function of the formula language.")]
        if self.source and self.aggregate:
            for key, messages in measure_spec_errors(self.spec).items():
                errors.setdefault(key, []).extend(messages)
        if errors:
            raise ValidationError(errors)


class KpiValue(models.Model):
    """The stored value of a KPI for one team, granularity, period and segment ('' = all records)."""

    # No index of their own: the cell's unique index starts with kpi, kpivalue_team_gran_period with team (two
    # fewer indexes to maintain on every value the recompute writes). No database constraint either: the
    # recompute writes only the KPIs and teams it has just read, and a deletion cascades through the ORM;
    # checking both keys of every inserted value cost more than the insert itself (PostgreSQL, 2,000,000
    # day values: 10.2 s without the checks, 27.3 s with them, 15.8 s of it at COMMIT).
    kpi = models.ForeignKey(
        KpiDefinition, on_delete=models.CASCADE, related_name="values", db_index=False, db_constraint=False
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    granularity = models.CharField(_("granularity"), max_length=8, choices=Granularity.choices)
    period_start = models.DateField(_("period start"))
    segment = models.CharField(_("segment"), max_length=200, blank=True, default="")
    value = models.DecimalField(_("value"), max_digits=30, decimal_places=10, null=True, blank=True)
    components = models.JSONField(_("components"), default=dict, blank=True)
    # Internal: this cell's shares of the longer periods containing it (metrics.engine.shares).
    shares = models.JSONField(_("shares of longer periods"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("KPI value")
        verbose_name_plural = _("KPI values")
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "team", "granularity", "period_start", "segment"], name="kpivalue_cell_unique"
            ),
        ]
        indexes = [models.Index(fields=["team", "granularity", "period_start"], name="kpivalue_team_gran_period")]

    def __str__(self) -> str:
        segment = f" [{self.segment}]" if self.segment else ""
        return f"{self.kpi_id}/{self.team_id} {self.granularity} {self.period_start}{segment} = {self.value}"


class TeamClosure(models.Model):
    """(ancestor, descendant) pairs of the team tree, each team its own ancestor at depth 0.

    The engine joins facts to this table to roll a team's KPIs up over the union of its
    own and its sub-teams' facts in the same grouped query. It mirrors accounts.Team and
    is re-synchronised before every computation (metrics.engine.hierarchy).
    """

    ancestor = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="descendant_links")
    descendant = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="ancestor_links")
    depth = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("team closure pair")
        verbose_name_plural = _("team closure pairs")
        constraints = [
            models.UniqueConstraint(fields=["ancestor", "descendant"], name="teamclosure_pair_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.ancestor_id} ⊇ {self.descendant_id} ({self.depth})"
