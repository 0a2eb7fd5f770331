"""How fresh a KPI's data is: when its record sources last saw a record for some teams.

Used by "no data for N days" alert rules. A record's time is the date its KPI's measures
place it by (the event date, or the start and end of its active interval for a state
measure), so a source that keeps receiving corrections of old records still counts as silent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Max, Q
from django.utils import timezone

from metrics.engine.periods import local_date, local_midnight
from metrics.engine.sources import SOURCES, is_date, resolve_path
from metrics.models import KpiDefinition


def kpi_record_date_fields(*, kpi: KpiDefinition) -> dict[str, set[str]]:
    """The date fields that place records in periods, per record source the KPI's measures read."""
    fields: dict[str, set[str]] = {}
    for measure in kpi.measures.all():
        spec = measure.spec
        if spec.source not in SOURCES:
            continue
        paths = {spec.date_field} if spec.date_field else {spec.active_from, spec.active_to}
        fields.setdefault(spec.source, set()).update(p for p in paths if p)
    return fields


def kpi_latest_record_at(
    *, kpi: KpiDefinition, team_ids: Iterable[int], now: dt.datetime | None = None
) -> dt.datetime | None:
    """The latest instant, up to `now`, at which a record the KPI reads happened for these teams; None if none.

    One aggregate query per record source. Dates in the future (a renewal due next month) are
    ignored; a plain date (daily statistics) counts from its local midnight.
    """
    now = now or timezone.now()
    team_ids = list(team_ids)
    latest: list[dt.datetime] = []
    for source_name, paths in kpi_record_date_fields(kpi=kpi).items():
        source = SOURCES[source_name]
        aggregates = {}
        for index, path in enumerate(sorted(paths)):
            field, _crossed = resolve_path(source.model, path)
            bound = local_date(now) if is_date(field) else now
            aggregates[f"m{index}"] = Max(path, filter=Q(**{f"{path}__lte": bound}))
        if not aggregates:
            continue
        values = source.model._default_manager.filter(**{f"{source.team_path}__in": team_ids}).aggregate(**aggregates)
        for value in values.values():
            if isinstance(value, dt.datetime):
                latest.append(value)
            elif isinstance(value, dt.date):
                latest.append(local_midnight(value))
    return max(latest) if latest else None
