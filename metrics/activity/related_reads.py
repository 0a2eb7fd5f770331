"""Which record kinds read fields of another kind's records through a relation, for the active KPIs.

An order is broken down by its customer's segment, and new-customer revenue compares its
date with the customer's acquisition: when a customer's segment or acquisition date
changes, the KPI cells of that customer's orders are stale although no order changed.
Ingestion asks `related_reads` which fields matter, and marks the dates of the records
reading a changed one (metrics.activity.ingest).
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from metrics.models import ACTIVITY_MODELS, KpiDefinition

# (record kind reading, relation path from it to the model) → attnames of the model it reads
RelatedReads = dict[tuple[str, str], frozenset[str]]


def related_reads(model: type[models.Model]) -> RelatedReads:
    """For the active KPIs' measures and segment dimensions: the kinds that read fields of `model` through
    a relation, e.g. Customer → {("orders", "customer"): {"segment", "acquired_at", …}}."""
    reads: dict[tuple[str, str], set[str]] = defaultdict(set)
    for kpi in KpiDefinition.objects.filter(active=True).prefetch_related("measures"):
        for measure in kpi.measures.all():
            spec = measure.spec
            if spec.source not in ACTIVITY_MODELS:
                continue
            dimensions = spec.record_source.dimensions
            paths = [*spec.paths(), *(dimensions[d] for d in kpi.segments or () if d in dimensions)]
            for path in paths:
                for relation, attname in _reads_through(spec.model, path, model):
                    reads[(spec.source, relation)].add(attname)
    return {key: frozenset(attnames) for key, attnames in reads.items()}


def _reads_through(start: type[models.Model], path: str, model: type[models.Model]) -> list[tuple[str, str]]:
    """(relation path reaching `model`, attname read on it) for each time `path` crosses `model`."""
    parts, current, found = path.split("__"), start, []
    for index, part in enumerate(parts[:-1]):
        try:
            relation = current._meta.get_field(part)
        except FieldDoesNotExist:
            return found
        if not relation.is_relation:
            return found
        current = relation.related_model
        if current is model:
            try:
                found.append(("__".join(parts[: index + 1]), current._meta.get_field(parts[index + 1]).attname))
            except FieldDoesNotExist:
                return found
    return found
