"""Dirty marks: which (team, record kind) changed over which days, written in the ingest's own
transaction and consumed by the recompute (DESIGN §5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from metrics.models import DirtyMark


def dirty_marks_widen(*, ranges: dict[tuple[int, str], tuple[date, date]]) -> None:
    """Mark (team, kind) dirty over [start, end), widening any existing mark and bumping its generation.

    One INSERT … ON CONFLICT DO UPDATE for all marks (PostgreSQL and SQLite alike), in
    the caller's transaction. Rows go in (team, kind) order so concurrent ingests lock
    them in the same order.
    """
    if not ranges:
        return
    table = DirtyMark._meta.db_table
    quote = connection.ops.quote_name
    t = quote(table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = []
    for (team_id, kind), (start, end) in sorted(ranges.items()):
        params += [
            team_id,
            kind,
            connection.ops.adapt_datefield_value(start),
            connection.ops.adapt_datefield_value(end),
            now,
        ]
    values = ", ".join(["(%s, %s, %s, %s, 1, %s)"] * len(ranges))
    sql = (
        f"INSERT INTO {t} (team_id, record_kind, period_start, period_end, generation, updated_at) "  # nosec B608 - table name from model metadata, values bound
        f"VALUES {values} ON CONFLICT (team_id, record_kind) DO UPDATE SET "
        f"period_start = CASE WHEN excluded.period_start < {t}.period_start "
        f"THEN excluded.period_start ELSE {t}.period_start END, "
        f"period_end = CASE WHEN excluded.period_end > {t}.period_end "
        f"THEN excluded.period_end ELSE {t}.period_end END, "
        f"generation = {t}.generation + 1, updated_at = excluded.updated_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


DIRTY_BATCH_SIZE = 500
FULL_RECOMPUTE_CLAIM = 100_000  # marks are per (team, record kind): all of them


@dataclass(frozen=True)
class ClaimedMark:
    """A dirty mark as read when claimed; it is released only if its generation is unchanged."""

    id: int
    team_id: int
    record_kind: str
    period_start: dt.date
    period_end: dt.date
    generation: int


def dirty_marks_claim(*, limit: int = DIRTY_BATCH_SIZE) -> list[ClaimedMark]:
    """Read up to `limit` dirty marks, oldest first, skipping rows an ingestion is writing right now.

    PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED; SQLite: a plain select in the IMMEDIATE
    transaction the settings configure. The marks are not deleted here: see dirty_marks_release.
    """
    with transaction.atomic():
        marks = DirtyMark.objects.order_by("updated_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            marks = marks.select_for_update(skip_locked=True)
        return [
            ClaimedMark(m.pk, m.team_id, m.record_kind, m.period_start, m.period_end, m.generation)
            for m in marks[:limit]
        ]


def dirty_marks_release(*, marks: Sequence[ClaimedMark]) -> int:
    """Delete the claimed marks still at their claimed generation; a mark bumped meanwhile stays for the next run."""
    if not marks:
        return 0
    condition = Q()
    for mark in marks:
        condition |= Q(pk=mark.id, generation=mark.generation)
    deleted, _ = DirtyMark.objects.filter(condition).delete()
    return deleted
