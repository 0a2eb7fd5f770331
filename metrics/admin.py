"""Admin of the KPI catalogue: definitions with their measures inline, stored values read-only.

Admins edit shipped KPIs and create new ones from the same building blocks (sources,
aggregates, filters, bindings, formula) without code. The formula is validated against
the measures being saved, with a message saying what is wrong.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kpiplatform.queue import Send, enqueue_now
from metrics.engine.formula import FormulaError, formula_parse
from metrics.engine.measures import MeasureSpec
from metrics.kpis.services import kpi_definition_errors
from metrics.models import KpiDefinition, KpiMeasure, KpiValue
from metrics.recompute.tasks import recompute_kpis_task


class KpiMeasureFormSet(BaseInlineFormSet):
    """Checks the KPI as a whole: formula names against the measures kept, segments against their sources."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        measures = [
            (form.instance.name, MeasureSpec.of(form.instance))
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            formula_parse(self.instance.formula or "")
        except FormulaError:
            return  # the formula field already says what is wrong
        problems = kpi_definition_errors(
            formula=self.instance.formula, measures=measures, segments=self.instance.segments
        )
        if problems:
            raise ValidationError(problems)


class KpiMeasureInline(admin.StackedInline):
    model = KpiMeasure
    formset = KpiMeasureFormSet
    extra = 0
    fieldsets = (
        (None, {"fields": (("name", "position"), ("source", "aggregate"), "field", "filters")}),
        (
            _("Period binding"),
            {"fields": ("binding", "date_field", ("active_from", "active_to", "state"))},
        ),
        (
            _("Value options"),
            {"classes": ("collapse",), "fields": (("duration_from", "duration_unit"), "multiply_by", "min_count")},
        ),
    )


@admin.register(KpiDefinition)
class KpiDefinitionAdmin(admin.ModelAdmin):
    list_display = ("code", "name_fr", "name_en", "category", "unit", "direction", "formula", "active")
    list_filter = ("category", "unit", "direction", "active", "additive")
    search_fields = ("code", "name_fr", "name_en", "description_fr", "description_en")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", ("name_fr", "name_en"), ("description_fr", "description_en"))}),
        (_("Computation"), {"fields": ("formula", "segments", "default_granularity", "additive")}),
        (_("Display"), {"fields": (("category", "unit", "direction"), "active", ("created_at", "updated_at"))}),
    )
    inlines = [KpiMeasureInline]
    actions = ["recompute"]

    def save_related(self, request, form, formsets, change) -> None:
        """A saved definition or measure changes how the KPI is computed: recompute its stored values from the
        records after commit, as incremental recomputes build long periods from the stored short ones
        (the nightly full recompute catches up if the broker is down)."""
        super().save_related(request, form, formsets, change)
        codes = [form.instance.code]
        transaction.on_commit(lambda: self._enqueue_recompute(request, codes))

    @admin.action(description=_("Recompute the selected KPIs (in the background)"))
    def recompute(self, request, queryset) -> None:
        self._enqueue_recompute(request, list(queryset.values_list("code", flat=True)))

    def _enqueue_recompute(self, request, codes: list[str]) -> bool:
        if not enqueue_now(Send(recompute_kpis_task, kwargs={"kpi_codes": codes})):  # the broker is down: say so
            self.message_user(
                request,
                _("The task queue is unavailable: recompute later (action or manage.py recompute_kpis)."),
                messages.ERROR,
            )
            return False
        self.message_user(
            request,
            ngettext("Recompute of %(n)d KPI queued.", "Recompute of %(n)d KPIs queued.", len(codes))
            % {"n": len(codes)},
            messages.SUCCESS,
        )
        return True


@admin.register(KpiValue)
class KpiValueAdmin(admin.ModelAdmin):
    list_display = ("kpi", "team", "granularity", "period_start", "segment", "value", "computed_at")
    list_filter = ("granularity", "kpi__category", "team")
    search_fields = ("kpi__code", "team__slug", "segment")
    date_hierarchy = "period_start"
    list_select_related = ("kpi", "team")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
