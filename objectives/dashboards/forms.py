"""Forms of dashboards: the query parameters of the dashboard and KPI detail pages (and their exports), and one edit
of a team's charts, refusing any chart the panel registry does not know."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kpiplatform.dates import validate_plausible_date
from metrics.kpis.comparisons import BASES
from metrics.kpis.periods import Granularity
from objectives.dashboards.cards import dashboard_cards_edited
from objectives.dashboards.kpi_detail import RANGES
from objectives.dashboards.panels import PANELS, PANELS_BY_KEY
from objectives.dashboards.team import PERIODS, TREND_GRANULARITIES

MOVES = ("up", "down", "remove")
UNKNOWN_CHART = {"invalid_choice": _("Unknown chart: %(value)s.")}


def _keys(keys) -> list[tuple[str, str]]:
    return [(key, key) for key in keys]


class DashboardQueryForm(forms.Form):
    """The query parameters of a team's dashboard and its data.json; empty ones take the page's defaults."""

    period = forms.ChoiceField(choices=_keys(PERIODS), required=False)
    granularity = forms.ChoiceField(choices=_keys(TREND_GRANULARITIES), required=False)
    kpi = forms.SlugField(max_length=100, required=False)
    compare = forms.ChoiceField(choices=_keys(BASES), required=False)


class KpiDetailQueryForm(forms.Form):
    """The query parameters of a KPI detail page, its data.json and its CSV and XLSX exports (checked before any
    export is written); empty ones take the page's defaults."""

    granularity = forms.ChoiceField(choices=_keys(Granularity.values), required=False)
    range = forms.ChoiceField(choices=_keys(RANGES), required=False)
    at = forms.DateField(input_formats=["%Y-%m-%d"], required=False, validators=[validate_plausible_date])


class FocusForm(forms.Form):
    """The button to focus on the cards and charts editors after a move: "<action>:<key>"."""

    focus = forms.CharField(max_length=120, required=False)


def panel_choices() -> list[tuple[str, str]]:
    """Every chart of the registry, by key, with its title."""
    return [(panel.key, panel.title) for panel in PANELS]


class DashboardPanelsForm(forms.Form):
    """One press of a button of the charts editor: the charts shown, in order, and the button — "up:<key>",
    "down:<key>", "remove:<key>", "add" (with `add_panel`) or "reset"."""

    panels = forms.MultipleChoiceField(choices=panel_choices, required=False, error_messages=UNKNOWN_CHART)
    add_panel = forms.ChoiceField(choices=panel_choices, required=False, error_messages=UNKNOWN_CHART)
    action = forms.CharField(max_length=80)

    def clean(self) -> dict:
        cleaned = super().clean()
        verb, _sep, key = cleaned.get("action", "").partition(":")
        if verb == "add":
            if not cleaned.get("add_panel") and "add_panel" not in self.errors:
                self.add_error("add_panel", _("Choose a chart to add."))
            key = cleaned.get("add_panel", "")
        elif verb in MOVES:
            if key not in PANELS_BY_KEY:
                self.add_error("action", UNKNOWN_CHART["invalid_choice"] % {"value": key})
        elif verb != "reset":
            self.add_error("action", _("Unknown action."))
        cleaned["verb"], cleaned["key"] = verb, key
        return cleaned

    def edited_keys(self) -> list[str]:
        """The charts after the edit, in order; [] on "reset" (the kind's defaults). Valid forms only."""
        verb = self.cleaned_data["verb"]
        if verb == "reset":
            return []
        # The same edit of an ordered list as the cards': move one up or down, remove it, or add it at the end.
        return dashboard_cards_edited(codes=self.cleaned_data["panels"], action=verb, code=self.cleaned_data["key"])


class KpiTreeQueryForm(forms.Form):
    """The query parameters of a KPI tree page: the granularity of the period shown and a target to carry down
    (empty: the team's target on the KPI)."""

    granularity = forms.ChoiceField(choices=_keys(Granularity.values), required=False)
    target = forms.DecimalField(max_digits=20, decimal_places=4, required=False, label=_("Target to carry down"))


class TreeCascadeForm(forms.Form):
    """A manager's choice of one carried-down combination, with the dates of the child objectives it creates."""

    granularity = forms.ChoiceField(choices=_keys(Granularity.values))
    target = forms.DecimalField(max_digits=20, decimal_places=4)
    combination = forms.ChoiceField(
        label=_("Combination"), error_messages={"invalid_choice": _("Choose one of the combinations shown.")}
    )
    start_date = forms.DateField(label=_("Start date"), validators=[validate_plausible_date])
    due_date = forms.DateField(label=_("Due date"), validators=[validate_plausible_date])

    def __init__(self, *args, combinations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["combination"].choices = [(c.key, c.key) for c in combinations]

    def clean(self) -> dict:
        cleaned = super().clean()
        start, due = cleaned.get("start_date"), cleaned.get("due_date")
        if start and due and due < start:
            self.add_error("due_date", _("The due date must be on or after the start date."))
        return cleaned
