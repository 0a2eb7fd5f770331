"""Writes of KPI definitions: validation of a definition (formula, measures, segments) and the
catalogue load that creates or updates the shipped KPIs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from metrics.engine.formula import FormulaError, formula_validate
from metrics.engine.measures import MeasureSpec, measure_spec_errors
from metrics.engine.sources import SOURCES
from metrics.kpis.catalogue import CATALOGUE
from metrics.models import KpiDefinition, KpiMeasure

MEASURE_FIELDS = (
    "source",
    "aggregate",
    "field",
    "duration_from",
    "duration_unit",
    "multiply_by",
    "min_count",
    "filters",
    "binding",
    "date_field",
    "active_from",
    "active_to",
    "state",
)


DEFINITION_FIELDS = (
    "name_fr",
    "name_en",
    "description_fr",
    "description_en",
    "category",
    "unit",
    "direction",
    "formula",
    "default_granularity",
    "segments",
    "additive",
)


class KpiDefinitionError(ValueError):
    """A KPI definition is not valid; the message lists every problem."""


def kpi_definition_errors(*, formula: str, measures: Sequence[tuple[str, MeasureSpec]], segments: object) -> list[str]:
    """Every problem of a KPI made of this formula, these (name, spec) measures and segment dimensions."""
    problems: list[str] = []
    names = [name for name, _ in measures]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"Measure names must be unique: {', '.join(duplicates)}.")
    for name, spec in measures:
        for key, messages in measure_spec_errors(spec).items():
            problems.extend(f"measure {name}, {key}: {message}" for message in messages)
    try:
        formula_validate(formula, measure_names=set(names))
    except FormulaError as exc:
        problems.append(f"formula: {exc}")
    if not isinstance(segments, list) or not all(isinstance(s, str) and s for s in segments):
        problems.append('segments: a list of dimension names, e.g. ["channel"].')
    else:
        for dimension in segments:
            missing = sorted(
                {spec.source for _, spec in measures if spec.source in SOURCES}
                - {s for s, source in SOURCES.items() if dimension in source.dimensions}
            )
            if missing:
                problems.append(
                    f"segments: {dimension!r} is not a dimension of {', '.join(missing)} "
                    f"(dimensions of {missing[0]}: {', '.join(sorted(SOURCES[missing[0]].dimensions)) or 'none'})."
                )
    return problems


def _measure_values(entry: dict) -> dict:
    """A catalogue measure's field values, the model's defaults filling what the entry leaves out."""
    data = KpiMeasure(**{k: v for k, v in entry.items() if k != "name"})
    return {name: getattr(data, name) for name in MEASURE_FIELDS}


@dataclass
class CatalogueLoadResult:
    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)


@transaction.atomic
def kpi_catalogue_load(*, entries: Sequence[dict] = CATALOGUE) -> CatalogueLoadResult:
    """Create or update every KPI of the catalogue and its measures; running it twice changes nothing.

    An admin's `active` switch is kept: reloading does not re-enable a KPI switched off.
    """
    problems: list[str] = []
    for entry in entries:
        specs = [(m["name"], MeasureSpec.of(KpiMeasure(**_measure_values(m)))) for m in entry["measures"]]
        problems += [
            f"{entry['code']}: {p}"
            for p in kpi_definition_errors(formula=entry["formula"], measures=specs, segments=entry["segments"])
        ]
    if problems:
        raise KpiDefinitionError("The KPI catalogue is not valid:\n" + "\n".join(problems))

    result = CatalogueLoadResult()
    existing = {k.code: k for k in KpiDefinition.objects.prefetch_related("measures")}
    for entry in entries:
        values = {name: entry[name] for name in DEFINITION_FIELDS}
        definition = existing.get(entry["code"])
        changed = False
        if definition is None:
            definition = KpiDefinition.objects.create(code=entry["code"], **values)
            result.created.append(entry["code"])
            current_measures: dict[str, KpiMeasure] = {}
        else:
            if any(getattr(definition, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(definition, k, v)
                definition.save()
                changed = True
            current_measures = {m.name: m for m in definition.measures.all()}
        wanted = set()
        for position, measure_entry in enumerate(entry["measures"]):
            name = measure_entry["name"]
            wanted.add(name)
            measure_values = {**_measure_values(measure_entry), "position": position}
            measure = current_measures.get(name)
            if measure is None:
                KpiMeasure.objects.create(kpi=definition, name=name, **measure_values)
                changed = True
            elif any(getattr(measure, k) != v for k, v in measure_values.items()):
                for k, v in measure_values.items():
                    setattr(measure, k, v)
                measure.save()
                changed = True
        stale = [m.pk for name, m in current_measures.items() if name not in wanted]
        if stale:
            KpiMeasure.objects.filter(pk__in=stale).delete()
            changed = True
        if entry["code"] not in result.created:
            (result.updated if changed else result.unchanged).append(entry["code"])
    return result
