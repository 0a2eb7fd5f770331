"""Reads of CRM activity: team-scoped querysets, records as plain dicts, a formula-safe CSV export, and the two
grouped reads a dashboard falls back on when no segment values are stored (open deals by stage, leads by channel)."""

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from metrics.activity.kinds import KindSpec, kind_spec
from metrics.engine.periods import local_midnight
from metrics.models import ActivityRecord, Deal, DealStatus, Lead, Spend

# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def activity_records(*, kind: str, team_ids: set[int] | None) -> QuerySet[ActivityRecord]:
    """The records of `kind` in these teams (None: every team), oldest first."""
    records = kind_spec(kind).model.objects.all()
    if team_ids is not None:
        records = records.filter(team_id__in=team_ids)
    return records.order_by("id")


def activity_columns(spec: KindSpec) -> list[str]:
    """The column names of a record kind, in API and CSV order."""
    return ["external_id", "team", *(f.name for f in spec.fields), "attributes", "ingested_at", "updated_at"]


def _lookups(spec: KindSpec) -> list[str]:
    fields = [f"{f.name}__external_id" if f.reference is not None else f.attname for f in spec.fields]
    return ["external_id", "team__slug", *fields, "attributes", "ingested_at", "updated_at"]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def activity_record_values(*, spec: KindSpec, records: QuerySet[ActivityRecord]) -> QuerySet:
    """The records as rows of plain values (with `id`, references joined): one query per page."""
    return records.values("id", *_lookups(spec))


def activity_row_dict(*, spec: KindSpec, row: dict[str, Any]) -> dict[str, Any]:
    """One row of `activity_record_values` as the API shows it (references by external_id, times in UTC)."""
    return {
        column: _json_value(row[lookup]) for column, lookup in zip(activity_columns(spec), _lookups(spec), strict=True)
    }


def csv_safe(value: Any) -> str:
    """A cell as text that no spreadsheet runs as a formula: a leading = + - @ tab or CR gets a quote."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(_json_value(value))
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def activity_csv_lines(*, kind: str, records: QuerySet[ActivityRecord], chunk_size: int = 2000) -> Iterator[str]:
    """The records as CSV text, header first, streamed in chunks; cells escaped against formula injection."""
    spec = kind_spec(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(activity_columns(spec))
    yield flush()
    rows = records.order_by("id").values_list(*_lookups(spec))
    for count, row in enumerate(rows.iterator(chunk_size=chunk_size), start=1):
        writer.writerow([csv_safe(value) for value in row])
        if count % chunk_size == 0:
            yield flush()
    yield flush()


def open_deals_by_stage(*, team_ids: Iterable[int]) -> list[tuple[str, int, Decimal | None]]:
    """(stage, count, amount) of the open deals of these teams, largest amount first; one grouped query."""
    rows = (
        Deal.objects.filter(team_id__in=list(team_ids), status=DealStatus.OPEN)
        .values("stage")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("-amount", "stage")
    )
    return [(row["stage"], row["count"], row["amount"]) for row in rows]


def leads_by_channel(*, team_ids: Iterable[int], start: date, end: date) -> list[tuple[str, int]]:
    """(channel, count) of the leads of these teams created from day `start` to day `end` included (local days),
    most first; one grouped query."""
    rows = (
        Lead.objects.filter(
            team_id__in=list(team_ids),
            created_at__gte=local_midnight(start),
            created_at__lt=local_midnight(end + timedelta(days=1)),
        )
        .values("channel")
        .annotate(count=Count("id"))
        .order_by("-count", "channel")
    )
    return [(row["channel"], row["count"]) for row in rows]


@dataclass(frozen=True)
class SpendScope:
    """Which recorded spend to add up: these teams, days [first, last], one category, optionally a channel or a
    campaign."""

    team_ids: frozenset[int]
    first: date
    last: date
    category: str
    channel: str = ""
    campaign_id: int | None = None

    def condition(self) -> Q:
        condition = Q(team_id__in=self.team_ids, date__gte=self.first, date__lte=self.last, category=self.category)
        if self.channel:
            condition &= Q(channel=self.channel)
        if self.campaign_id is not None:
            condition &= Q(campaign_id=self.campaign_id)
        return condition


def spend_totals(*, scopes: Sequence[SpendScope]) -> list[Decimal]:
    """The recorded spend of each scope (0 when none), in one query whatever the number of scopes."""
    if not scopes:
        return []
    sums = {f"s{i}": Sum("amount", filter=scope.condition()) for i, scope in enumerate(scopes)}
    found = Spend.objects.filter(team_id__in={t for scope in scopes for t in scope.team_ids}).aggregate(**sums)
    return [Decimal(found[f"s{i}"] or 0) for i in range(len(scopes))]
