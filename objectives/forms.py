"""Forms of the objective pages: they only parse input; objectives.services saves it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from accounts.models import Team, User
from kpiplatform.dates import validate_plausible_date
from metrics.kpis.selectors import kpi_name, kpis_for_choice
from metrics.models import KpiDefinition, KpiUnit
from objectives.models import Judged, Objective, ObjectiveState, Phasing, ProgressStatus, RelativeBasis
from objectives.proposals import MAX_SPAN_DAYS
from objectives.services import target_segment_errors


class KpiChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        # The unit in words (« Délai de résolution (heures) »); a count has none to write.
        if not obj.unit or obj.unit == KpiUnit.COUNT:
            return kpi_name(obj)
        return f"{kpi_name(obj)} ({obj.get_unit_display()})"


class ObjectiveFilterForm(forms.Form):
    """The query parameters of a team's objectives list: a progress status, or none for all."""

    status = forms.ChoiceField(choices=ProgressStatus.choices, required=False)


class ObjectiveForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    start_date = forms.DateField(
        label=_("Start date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_plausible_date],
    )
    due_date = forms.DateField(
        label=_("Due date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Last day of the objective (included)."),
        validators=[validate_plausible_date],
    )
    parent = forms.ModelChoiceField(label=_("Parent objective"), queryset=Objective.objects.none(), required=False)
    relevance_note = forms.CharField(
        label=_("Why it matters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("How this objective serves the company's goals."),
    )
    state = forms.ChoiceField(label=_("State"), choices=ObjectiveState.choices, initial=ObjectiveState.ACTIVE)

    def __init__(self, *args, team: Team, objective: Objective | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        teams = account_selectors.team_ids_with_ancestors([team.pk])
        self.fields["owner"].queryset = (
            User.objects.filter(memberships__team_id__in=teams, is_active=True).distinct().order_by("username")
        )
        parents = Objective.objects.filter(team_id__in=teams).select_related("team").order_by("team__name", "title")
        if objective is not None:
            parents = parents.exclude(pk=objective.pk)
        self.fields["parent"].queryset = parents
        self.fields["parent"].label_from_instance = lambda o: f"{o.team.name} · {o.title}"
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username


def value_field(label, help_text) -> forms.DecimalField:
    """An optional KPI value typed in the user's locale (« 145 200,50 »), as the model stores it."""
    return forms.DecimalField(
        label=label, max_digits=20, decimal_places=6, localize=True, required=False, help_text=help_text
    )


class TargetForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kpi = KpiChoiceField(label=_("KPI"), queryset=KpiDefinition.objects.none(), to_field_name="code")
    # Not required here: a relative target computes it (objectives.services says when it is missing).
    target_value = value_field(_("Target"), _("Left empty with a change vs a basis: computed from it."))
    minimum_value = value_field(_("Minimum"), _("The least acceptable: behind its pace, the target is off track."))
    stretch_value = value_field(_("Stretch"), _("The ambitious value, drawn on the chart."))
    relative_basis = forms.ChoiceField(
        label=_("Relative to"),
        choices=[("", _("— (a fixed value)")), *RelativeBasis.choices],
        required=False,
        help_text=_("The target follows its basis when the history is recomputed."),
    )
    relative_percent = forms.DecimalField(
        label=_("Change vs the basis (%)"),
        max_digits=9,
        decimal_places=2,
        localize=True,
        required=False,
        help_text=_("e.g. 20 for +20 %, −10 for −10 %"),
    )
    baseline_value = value_field(_("Baseline"), _("Empty: the KPI over the preceding period of the same length."))
    judged = forms.ChoiceField(label=_("Judged"), choices=Judged.choices, initial=Judged.PERIOD)
    segment = forms.CharField(label=_("Segment"), required=False, max_length=120)
    warning_percent = forms.DecimalField(
        label=_("Warning at (% of pace)"), max_digits=5, decimal_places=2, initial=90, localize=True
    )
    critical_percent = forms.DecimalField(
        label=_("Critical at (% of pace)"), max_digits=5, decimal_places=2, initial=75, localize=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kpi"].queryset = kpis_for_choice()


class BaseTargetFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [f for f in self.forms if f.has_changed() and not self._should_delete_form(f)]
        if not kept:
            raise forms.ValidationError(_("Add at least one target."))

    def targets(self) -> list[dict]:
        """Cleaned targets to save (deleted and untouched blank rows left out)."""
        return [
            {k: v for k, v in f.cleaned_data.items() if k != "DELETE"}
            for f in self.forms
            if f.has_changed() and not self._should_delete_form(f) and f.cleaned_data
        ]


TargetFormSet = forms.formset_factory(TargetForm, formset=BaseTargetFormSet, extra=1, can_delete=True)


class SmartCheckForm(ObjectiveForm):
    """The objective form as it is being typed, for the live SMART check: every field optional, an unreadable one
    is simply left out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class SmartCheckTargetForm(TargetForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


# The live check reads at most 50 targets; the management form's counts are validated like any input.
SmartCheckTargetFormSet = forms.formset_factory(
    SmartCheckTargetForm, extra=0, can_delete=True, max_num=50, absolute_max=50
)


def cleaned_or_none(form: forms.Form) -> dict:
    """The fields that parsed (after is_valid()), the others as None."""
    form.is_valid()
    data = getattr(form, "cleaned_data", {}) or {}
    return {name: data.get(name) for name in form.fields}


class TargetProposalForm(forms.Form):
    """The query of the target proposal shown while a target is typed: a KPI, the objective's dates, a segment."""

    kpi = forms.ModelChoiceField(queryset=KpiDefinition.objects.none(), to_field_name="code")
    start_date = forms.DateField(validators=[validate_plausible_date])
    due_date = forms.DateField(validators=[validate_plausible_date])
    segment = forms.CharField(required=False, max_length=120)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kpi"].queryset = kpis_for_choice()

    def clean(self):
        data = super().clean()
        start, due = data.get("start_date"), data.get("due_date")
        if start and due:
            if due < start:
                self.add_error("due_date", _("The due date must be on or after the start date."))
            elif (due - start).days + 1 > MAX_SPAN_DAYS:
                self.add_error("due_date", _("At most %(limit)d days can be proposed.") % {"limit": MAX_SPAN_DAYS})
        if data.get("kpi") is not None and data.get("segment"):
            for message in target_segment_errors(kpi=data["kpi"], segment=data["segment"], team=None):
                self.add_error("segment", message)
        return data


class PhasingForm(forms.Form):
    mode = forms.ChoiceField(label=_("Phasing"), choices=Phasing.choices)


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's per-field errors on the form (unknown fields go to the form itself)."""
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for field, messages in error.message_dict.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)
