"""Forms of the budgets page: they only parse input; objectives.budgets.services saves it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from kpiplatform.dates import validate_plausible_date
from metrics.models import Campaign
from metrics.models.activity import SpendCategory
from objectives.budgets.selectors import budget_campaigns
from objectives.models import Budget

DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}


class CampaignChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Campaign) -> str:
        return f"{obj.name} ({obj.external_id})" if obj.name else obj.external_id


class BudgetForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    category = forms.ChoiceField(label=_("Category"), choices=SpendCategory.choices)
    channel = forms.CharField(
        label=_("Channel"), max_length=60, required=False, help_text=_("Empty: the spend of every channel.")
    )
    campaign = CampaignChoiceField(
        label=_("Campaign"),
        queryset=Campaign.objects.none(),
        required=False,
        empty_label=_("— every campaign —"),
        error_messages={"invalid_choice": _("Choose a campaign of this team or of its sub-teams.")},
    )
    start_date = forms.DateField(
        label=_("First day"), widget=forms.DateInput(**DATE_WIDGET), validators=[validate_plausible_date]
    )
    end_date = forms.DateField(
        label=_("Last day"),
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=_("Included in the budget."),
        validators=[validate_plausible_date],
    )
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        localize=True,
        error_messages={"min_value": _("The amount cannot be negative.")},
    )

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = budget_campaigns(team=team)

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The last day must be on or after the first day."))
        return data


def budget_initial(budget: Budget) -> dict:
    """The form's initial values for an existing budget."""
    return {
        "name": budget.name,
        "category": budget.category,
        "channel": budget.channel,
        "campaign": budget.campaign_id,
        "start_date": budget.start_date,
        "end_date": budget.end_date,
        "amount": budget.amount,
    }


class BudgetImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: name, category, channel, campaign (external id, optional), start, end, amount — in French or "
            "English; separated by ; or ,; dates as dd/mm/yyyy or yyyy-mm-dd; amounts like 12 500,50."
        ),
    )
