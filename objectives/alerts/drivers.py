"""What drove the change an alert fired on: the KPI's change over the alert's cell, split by measure and by segment.

The breakdown is metrics.kpis.drivers.kpi_drivers (exact: the parts add up to the change). It is computed once,
when the alert fires, and kept on that history row (AlertEvent.drivers): the webhook's `drivers`, the e-mail's
line and the alert page read the same numbers, whoever receives them. The cell is compared with the span the rule
compares with (metrics.kpis.comparisons.comparison_span): the previous period, or the same period a year earlier
for a change rule set so; like for like while the period is running. A breakdown that cannot be given (no value
to compare with, a rule on one segment, any error) is None: it never stops an alert.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from metrics.kpis.comparisons import LAST_YEAR, PREVIOUS, comparison_span
from metrics.kpis.drivers import Drivers, drivers_document, kpi_drivers
from metrics.kpis.labels import code_label, dimension_label, value_names
from metrics.kpis.periods import local_date, period_end
from metrics.kpis.words import measure_in_words
from metrics.models import KpiMeasure
from objectives.models import Alert, CompareBasis
from objectives.models.alerts import CHANGE_CONDITIONS, KPI_CONDITIONS

logger = logging.getLogger(__name__)

TOP_SEGMENTS = 3  # segments kept per dimension, largest part first

Span = tuple[dt.date, dt.date]  # [start, end)


def alert_spans(*, alert: Alert, today: dt.date) -> tuple[Span, Span]:
    """The alert's cell as of `today` (the period so far while it runs) and the span its rule compares it with."""
    rule = alert.rule
    start = alert.period_start
    end = period_end(start, rule.granularity)
    if start <= today < end:
        end = today + dt.timedelta(days=1)
    basis = (
        LAST_YEAR if rule.condition in CHANGE_CONDITIONS and rule.compare_with == CompareBasis.LAST_YEAR else PREVIOUS
    )
    compared = comparison_span(granularity=rule.granularity, period_start=start, today=today, basis=basis)
    return (start, end), (compared.start, compared.end + dt.timedelta(days=1))


def drivers_labels(drivers: Drivers) -> dict[str, dict]:
    """The measures', dimensions' and segments' labels in each language of the site, for e-mails and pages read
    in another language than the one the breakdown was computed in (people's and campaigns' names: one query)."""
    names = value_names(f"{d.dimension}={s.segment}" for d in drivers.dimensions for s in d.segments)
    by_language: dict[str, dict] = {}
    measures = {m.name: m for m in drivers.kpi.measures.all()}  # prefetched by kpi_drivers
    for language, _language_name in settings.LANGUAGES:
        with translation.override(language):
            by_language[language] = {
                "formula": {item.measure: _measure_label(measures, item.measure) for item in drivers.measures},
                "formula_short": {
                    item.measure: _measure_label(measures, item.measure, short=True) for item in drivers.measures
                },
                "dimensions": {d.dimension: dimension_label(d.dimension) for d in drivers.dimensions},
                "segments": {
                    d.dimension: {
                        s.segment: code_label(d.dimension, s.segment, names=names) for s in d.segments[:TOP_SEGMENTS]
                    }
                    for d in drivers.dimensions
                },
            }
    return by_language


def _short(measure: KpiMeasure) -> KpiMeasure:
    """The measure without its date field and filters, for a label that fits in one line (« commandes »,
    « moyenne de « montant » sur les commandes »): an unsaved copy, never written."""
    return KpiMeasure(
        source=measure.source,
        aggregate=measure.aggregate,
        field=measure.field,
        duration_from=measure.duration_from,
        duration_unit=measure.duration_unit,
        multiply_by=measure.multiply_by,
        binding=measure.binding,  # a state measure keeps its state: « customers active at the start »
        state=measure.state,
        date_field="",
        filters=[],
    )


def _measure_label(measures: dict, measure: str, *, short: bool = False) -> str:
    """A measure's label as metrics.kpis.drivers words it (short: what it aggregates only, lower case, for the
    e-mail's line), in the active language."""
    back = measure.count("prev(")
    name = measure.removeprefix("prev(" * back).removesuffix(")" * back)
    found = measures.get(name)
    label = measure_in_words(_short(found) if short else found) if found is not None else name
    label = label[:1].lower() + label[1:] if short else label[:1].upper() + label[1:]
    if back == 1:
        return _("%(measure)s, over the preceding period") % {"measure": label}
    if back > 1:
        return _("%(measure)s, %(count)d periods before") % {"measure": label, "count": back}
    return label


def alert_drivers_compute(*, alert: Alert, now: dt.datetime | None = None) -> dict | None:
    """The breakdown of the change of a KPI alert's cell, as stored on its history row (see `drivers_document`,
    plus `labels` by language); None for other alerts, a rule on one segment, no value to compare with, or any
    failure — which is logged and never raised."""
    rule = alert.rule
    if rule.condition not in KPI_CONDITIONS or not rule.kpi_id or alert.segment:
        return None  # the breakdown is of a team's whole KPI
    today = local_date(now or alert.fired_at or timezone.now())
    span, compare_span = alert_spans(alert=alert, today=today)
    try:
        # A savepoint: a failing query must not abort the evaluation's transaction (PostgreSQL).
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            drivers = kpi_drivers(kpi=rule.kpi, team=alert.team, span=span, compare_span=compare_span)
            if drivers.change is None:
                return None
            document = drivers_document(drivers, top=TOP_SEGMENTS)
            document["labels"] = drivers_labels(drivers)
    except Exception:  # the breakdown is a courtesy: the alert goes out without it
        logger.warning("Drivers of alert %s could not be computed", alert.pk, exc_info=True)
        return None
    return document
