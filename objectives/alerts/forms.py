"""Forms of the alert pages: rules, snooze, acknowledge/resolve, webhooks.

Forms parse the fields; the rules themselves are checked by objectives.alerts.rules, whose
per-field errors the views put back on the form (see `add_service_errors`).
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from kpiplatform import dates
from kpiplatform.dates import validate_plausible_date
from metrics.kpis.labels import segment_label
from metrics.kpis.periods import Granularity
from metrics.kpis.selectors import kpi_name
from metrics.models import KpiDefinition
from objectives.alerts import selectors as alert_selectors
from objectives.models import AlertCondition, AlertSeverity, AlertState, CompareBasis


class TargetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, target) -> str:
        segment = f" ({segment_label(target.segment)})" if target.segment else ""
        return f"{target.objective.title} — {kpi_name(target.kpi)}{segment}"


class RecipientsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user) -> str:
        return user.get_full_name() or user.username


class KpiChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, kpi) -> str:
        return kpi_name(kpi)


class BudgetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, budget) -> str:
        period = dates.span(budget.start_date, budget.end_date)
        return f"{budget.name} ({budget.get_category_display()}, {period})"


class AlertRuleForm(forms.Form):
    """A rule of one team: the KPI list is the catalogue, targets and recipients are the team's own."""

    name = forms.CharField(
        label=_("Name"), max_length=200, required=False, help_text=_("Empty: named after the KPI and the condition.")
    )
    condition = forms.ChoiceField(label=_("Condition"), choices=AlertCondition.choices)
    kpi = KpiChoiceField(label=_("KPI"), queryset=KpiDefinition.objects.none(), required=False, to_field_name="code")
    segment = forms.CharField(label=_("Segment"), max_length=200, required=False, help_text=_("e.g. channel=email"))
    granularity = forms.ChoiceField(label=_("Granularity"), choices=Granularity.choices, initial=Granularity.MONTH)
    compare_with = forms.ChoiceField(
        label=_("Compared with"),
        choices=CompareBasis.choices,
        initial=CompareBasis.PREVIOUS,
        required=False,
        help_text=_("Change conditions: the period the value is compared with (like for like on a running period)."),
    )
    target = TargetChoiceField(label=_("Objective target"), queryset=None, required=False)
    budget = BudgetChoiceField(label=_("Budget"), queryset=None, required=False)
    # Not required: an anomaly rule has none to give (its band comes from the KPI's history); the service says
    # which other conditions need one.
    threshold = forms.DecimalField(
        label=_("Threshold"),
        required=False,
        help_text=_(
            "A KPI value; a percentage for a change or for spend beyond a budget; a number of days for no data."
        ),
    )
    recovery_threshold = forms.DecimalField(
        label=_("Recovery threshold"),
        required=False,
        help_text=_("The alert resolves once the value is back past this level (empty: the threshold)."),
    )
    change_floor = forms.DecimalField(
        label=_("Minimum absolute change"),
        required=False,
        help_text=_("Change conditions: ignore changes smaller than this, in the KPI's unit (tiny bases)."),
    )
    min_sample = forms.IntegerField(
        label=_("Minimum sample"),
        required=False,
        help_text=_("Do not judge a value computed from fewer records than this (e.g. 30 answers)."),
    )
    sample_measure = forms.CharField(
        label=_("Sample measure"),
        max_length=60,
        required=False,
        help_text=_("The KPI measure that counts the sample (empty: its largest component)."),
    )
    pending_count = forms.IntegerField(
        label=_("Consecutive breaches before firing"),
        initial=1,
        help_text=_("The alert fires after this many evaluations of new data in breach."),
    )
    severity = forms.ChoiceField(label=_("Severity"), choices=AlertSeverity.choices, initial=AlertSeverity.WARNING)
    recipients = RecipientsField(
        label=_("Recipients"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Empty: the team's managers."),
    )
    notify_in_app = forms.BooleanField(label=_("In-app notification"), required=False, initial=True)
    notify_email = forms.BooleanField(label=_("E-mail"), required=False, initial=True)
    notify_webhook = forms.BooleanField(label=_("Webhooks"), required=False, initial=True)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["kpi"].queryset = KpiDefinition.objects.filter(active=True).order_by("category", "code")
        self.fields["target"].queryset = alert_selectors.rule_targets_for(team=team)
        self.fields["budget"].queryset = alert_selectors.rule_budgets_for(team=team)
        self.fields["recipients"].queryset = alert_selectors.rule_recipients_for(team=team)

    def service_data(self) -> dict:
        """The cleaned fields as the service takes them."""
        return dict(self.cleaned_data)


def rule_initial(rule) -> dict:
    """A rule's fields as the form's initial values."""
    fields = [name for name in AlertRuleForm.base_fields if name not in ("kpi", "target", "budget", "recipients")]
    initial = {name: getattr(rule, name) for name in fields}
    initial.update(
        kpi=rule.kpi.code if rule.kpi_id else None,
        target=rule.target_id,
        budget=rule.budget_id,
        recipients=[u.pk for u in rule.recipients.all()],
    )
    return initial


class SnoozeForm(forms.Form):
    until = forms.DateField(
        label=_("Snooze until"), widget=forms.DateInput(attrs={"type": "date"}), validators=[validate_plausible_date]
    )


def state_filter_choices() -> list[tuple[str, str]]:
    """The alerts list's state filters: open (not resolved, the default), each state, all."""
    return [(value, value) for value in (alert_selectors.STATE_OPEN, *AlertState.values, alert_selectors.STATE_ALL)]


class AlertFilterForm(forms.Form):
    """The query parameters of the alerts list: state (empty: open ones), severity, team (a slug) and page."""

    state = forms.ChoiceField(choices=state_filter_choices, required=False)
    severity = forms.ChoiceField(choices=AlertSeverity.choices, required=False)
    team = forms.SlugField(max_length=100, required=False)
    page = forms.IntegerField(min_value=1, required=False)


class AcknowledgeForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ResolveForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
