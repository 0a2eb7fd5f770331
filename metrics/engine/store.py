"""Storing computed cells as KpiValue rows: a bulk upsert keyed on the cell, per database.

Both paths upsert on the unique (kpi, team, granularity, period_start, segment) — safe
when two recomputes write the same cells — and delete the segment rows of the
recomputed cells that no longer occur (a channel with no records any more).

* PostgreSQL: into a range holding nothing yet (a first run), the rows are COPYed straight into the
  table. Otherwise they are COPYed into a temporary table, then one
  INSERT … SELECT … ON CONFLICT DO UPDATE writes only the cells whose value or
  components changed (an unchanged cell is not rewritten: `computed_at` is when its
  value last changed), and one DELETE … NOT EXISTS removes stale segments.
* SQLite: one prepared INSERT … ON CONFLICT DO UPDATE run for every row (executemany):
  the values bound as Django binds them, without building a model instance per row; as on
  PostgreSQL, an unchanged cell is not rewritten and keeps its `computed_at`.
* Elsewhere: Django's bulk_create(update_conflicts=True) in batches.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from metrics.engine.compute import ValueRow
from metrics.models import KpiValue

BATCH_SIZE = 2000
UNIQUE = ["kpi", "team", "granularity", "period_start", "segment"]


def _stale_segments_delete(rows, *, kpi_ids, team_ids, granularity, first, last) -> None:
    """Delete the stored segment rows of the recomputed cells that are not among `rows` any more."""
    fresh = {(row.kpi_id, row.team_id, row.period_start, row.segment) for row in rows if row.segment}
    segmented = (
        KpiValue.objects.filter(
            kpi_id__in=kpi_ids,
            team_id__in=team_ids,
            granularity=granularity,
            period_start__gte=first,
            period_start__lte=last,
        )
        .exclude(segment="")
        .values_list("pk", "kpi_id", "team_id", "period_start", "segment")
    )
    gone = [pk for pk, *key in segmented if tuple(key) not in fresh]
    for start in range(0, len(gone), BATCH_SIZE):
        KpiValue.objects.filter(pk__in=gone[start : start + BATCH_SIZE]).delete()


def _store_generic(rows, *, kpi_ids, team_ids, granularity, first, last, now) -> None:
    _stale_segments_delete(rows, kpi_ids=kpi_ids, team_ids=team_ids, granularity=granularity, first=first, last=last)
    KpiValue.objects.bulk_create(
        [
            KpiValue(
                kpi_id=row.kpi_id,
                team_id=row.team_id,
                granularity=row.granularity,
                period_start=row.period_start,
                segment=row.segment,
                value=row.value,
                components=row.components,
                shares=row.shares,
                computed_at=now,
            )
            for row in rows
        ],
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=UNIQUE,
        update_fields=["value", "components", "shares", "computed_at"],
    )


def _copy_escaped(text: str) -> str:
    """A text field in COPY's text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _per_object(encode: Callable[[object], str]) -> Callable[[object], str]:
    """`encode`, run once per object: the engine shares one components dict, shares dict and value between the
    cells computed from the same inputs (ids stay unique while the rows hold the objects)."""
    encoded: dict[int, str] = {}

    def once(value: object) -> str:
        text = encoded.get(id(value))
        if text is None:
            text = encoded[id(value)] = encode(value)
        return text

    return once


def _json_memo(*, escaped: bool) -> Callable[[dict], str]:
    """json.dumps of a components or shares dict, encoded once per dict object (COPY-escaped if `escaped`)."""
    return _per_object(lambda value: _copy_escaped(json.dumps(value)) if escaped else json.dumps(value))


def _copy_text_chunks(rows: Sequence[ValueRow], *, now: dt.datetime, size: int = 5000) -> Iterator[str]:
    """The rows as COPY text lines, built here rather than adapted field by field (millions of rows):
    integers and dates as text, NULL as \\N, the Decimal's own text, JSON encoded once per dict."""
    stamp = now.isoformat()
    components, shares_json = _json_memo(escaped=True), _json_memo(escaped=True)
    value_text = _per_object(lambda value: "\\N" if value is None else str(value))
    # Dates and segments repeat from row to row too: each is turned into text once.
    dates: dict[dt.date, str] = {}
    segments: dict[str, str] = {}
    lines: list[str] = []
    for row in rows:
        day = dates.get(row.period_start)
        if day is None:
            day = dates[row.period_start] = row.period_start.isoformat()
        segment = segments.get(row.segment)
        if segment is None:
            segment = segments[row.segment] = _copy_escaped(row.segment)
        lines.append(
            f"{row.kpi_id}\t{row.team_id}\t{row.granularity}\t{day}\t{segment}\t{value_text(row.value)}\t"
            f"{components(row.components)}\t{shares_json(row.shares)}\t{stamp}\n"
        )
        if len(lines) >= size:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)


def _scope_stored(cursor, table: str, condition: str, scope: list) -> bool:
    """Whether any cell of the recomputed scope is stored (`condition` on the table aliased v)."""
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} v WHERE {condition})", scope)  # nosec B608 - table name from model metadata, values bound
    return cursor.fetchone()[0]


def _store_postgresql(rows, *, kpi_ids, team_ids, granularity, first, last, now) -> None:
    table = connection.ops.quote_name(KpiValue._meta.db_table)
    columns = "kpi_id, team_id, granularity, period_start, segment, value, components, shares, computed_at"
    scope = [list(kpi_ids), list(team_ids), granularity, first, last]

    def in_scope(alias: str) -> str:
        return (
            f"{alias}.kpi_id = ANY(%s) AND {alias}.team_id = ANY(%s) AND {alias}.granularity = %s "
            f"AND {alias}.period_start BETWEEN %s AND %s"
        )

    with connection.cursor() as cursor:
        stored = _scope_stored(cursor, table, in_scope("v"), scope)
        if not stored:
            # Nothing stored in the range (a first run): the rows are COPYed straight into the table, parsed once
            # instead of staged and copied again. A dirty-mark recompute may have written some of these cells
            # since: the unique index refuses the COPY, and the upsert below writes them.
            try:
                with (
                    transaction.atomic(),  # a savepoint: a refused COPY leaves the transaction usable
                    connection.wrap_database_errors,  # psycopg's unique violation as Django's IntegrityError
                    cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                ):
                    for chunk in _copy_text_chunks(rows, now=now):
                        copy.write(chunk)
                return
            except IntegrityError:
                stored = True
        cursor.execute(
            "CREATE TEMPORARY TABLE kpivalue_stage (kpi_id bigint, team_id bigint, granularity varchar(8), "
            "period_start date, segment varchar(200), value numeric(30, 10), components jsonb, shares jsonb, "
            "computed_at timestamptz) ON COMMIT DROP"
        )
        with cursor.cursor.copy(f"COPY kpivalue_stage ({columns}) FROM STDIN") as copy:
            for chunk in _copy_text_chunks(rows, now=now):
                copy.write(chunk)
        if stored:
            # Indexed, so the anti-join below stays a lookup per stored segment row whatever the planner
            # believes of the tables' sizes (fresh rows have no statistics yet). Into an empty scope (a first
            # run), nothing is compared: no index to build over millions of staged days.
            cursor.execute("CREATE INDEX ON kpivalue_stage (kpi_id, team_id, period_start, segment)")
            cursor.execute("ANALYZE kpivalue_stage")
            cursor.execute(
                f"DELETE FROM {table} v WHERE {in_scope('v')} AND v.segment <> '' AND NOT EXISTS ("  # nosec B608 - table name from model metadata, values bound
                "SELECT 1 FROM kpivalue_stage s WHERE s.kpi_id = v.kpi_id AND s.team_id = v.team_id "
                "AND s.granularity = v.granularity AND s.period_start = v.period_start AND s.segment = v.segment)",
                scope,
            )
        # Over stored cells, the unchanged ones are left out before the upsert: ON CONFLICT locks every row it
        # meets, even those its WHERE leaves alone, so a recompute of everything would hold every cell until it
        # commits and make the dirty-mark rounds of fresh ingests wait on it. (Nothing stored: plain inserts.)
        # The stored side is restricted to the recomputed scope in so many words: joined on the stage's columns
        # alone, the planner hashes the whole table — every granularity, tens of millions of days — to compare
        # a month's cells (1M × 200: 17.7 s instead of about 3 s).
        changed = (
            f"LEFT JOIN {table} o ON o.kpi_id = s.kpi_id AND o.team_id = s.team_id AND o.granularity = s.granularity "
            "AND o.period_start = s.period_start AND o.segment = s.segment AND "
            f"{in_scope('o')} WHERE o.id IS NULL "
            "OR (o.value, o.components, o.shares) IS DISTINCT FROM (s.value, s.components, s.shares)"
            if stored
            else ""
        )
        cursor.execute(
            f"INSERT INTO {table} AS v ({columns}) SELECT {', '.join('s.' + c for c in columns.split(', '))} "  # nosec B608 - table and column names from model metadata
            f"FROM kpivalue_stage s {changed} "
            "ON CONFLICT (kpi_id, team_id, granularity, period_start, segment) DO UPDATE "
            "SET value = EXCLUDED.value, components = EXCLUDED.components, shares = EXCLUDED.shares, "
            "computed_at = CASE WHEN (v.value, v.components) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.components) "
            "THEN EXCLUDED.computed_at ELSE v.computed_at END "
            "WHERE (v.value, v.components, v.shares) "
            "IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.components, EXCLUDED.shares)",
            scope if stored else [],
        )
        cursor.execute("DROP TABLE kpivalue_stage")


def _store_sqlite(rows, *, kpi_ids, team_ids, granularity, first, last, now) -> None:
    _stale_segments_delete(rows, kpi_ids=kpi_ids, team_ids=team_ids, granularity=granularity, first=first, last=last)
    table = connection.ops.quote_name(KpiValue._meta.db_table)
    columns = "kpi_id, team_id, granularity, period_start, segment, value, components, shares, computed_at"
    # What bulk_create binds: the Decimal (sqlite3 stores its str()), ISO dates, json.dumps, UTC text.
    stamp = connection.ops.adapt_datetimefield_value(now)
    components, shares_json = _json_memo(escaped=False), _json_memo(escaped=False)
    value_changed = f"{table}.value IS NOT excluded.value OR {table}.components IS NOT excluded.components"
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "  # nosec B608 - table and column names from model metadata, values bound
            "ON CONFLICT (kpi_id, team_id, granularity, period_start, segment) DO UPDATE "
            "SET value = excluded.value, components = excluded.components, shares = excluded.shares, "
            f"computed_at = CASE WHEN {value_changed} THEN excluded.computed_at ELSE {table}.computed_at END "
            f"WHERE {value_changed} OR {table}.shares IS NOT excluded.shares",
            [
                (
                    row.kpi_id,
                    row.team_id,
                    row.granularity,
                    row.period_start.isoformat(),
                    row.segment,
                    row.value,
                    components(row.components),
                    shares_json(row.shares),
                    stamp,
                )
                for row in rows
            ],
        )


STORES = {"postgresql": _store_postgresql, "sqlite": _store_sqlite}


def kpi_values_store(
    *,
    rows: Sequence[ValueRow],
    kpi_ids: Sequence[int],
    team_ids: Sequence[int],
    granularity: str,
    periods: Sequence[dt.date],
) -> int:
    """Upsert computed cells in bulk, in one transaction; segment rows of the recomputed cells that no
    longer occur are deleted. Return the number of cells stored."""
    if not periods:
        return 0
    store = STORES.get(connection.vendor, _store_generic)
    with transaction.atomic():
        store(
            rows,
            kpi_ids=kpi_ids,
            team_ids=team_ids,
            granularity=granularity,
            first=periods[0],
            last=periods[-1],
            now=timezone.now(),
        )
    return len(rows)
