"""Ingestion of CRM activity: validation and idempotent bulk upsert of typed records.

The only door for writing activity: the REST API, the CSV import, the management
command and the demo data go through here (or, for the demo, through `dirty_marks_widen`).

- What a valid record of each kind is comes from the kinds' registry (`metrics.activity.kinds`).
- A batch is all or nothing: one invalid record rejects it, with one error per
  problem `{"index", "external_id", "field", "message"}` (messages in the active language).
- The upsert is keyed on (team, external_id). Existing rows are read in one query and
  compared, so unchanged records are not written (their `updated_at` stays) and the
  answer counts created / updated / unchanged.
- In the same transaction, the dirty marks of the changed (team, kind, date range) are
  widened in one statement (`metrics.recompute.marks`); after commit the recompute task is
  enqueued (`metrics.recompute.tasks.recompute_dirty_enqueue`). A broker that
  is down never fails an ingest: the marks stay and the periodic sweep finds them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Team
from kpiplatform.text import UNSTORABLE_TEXT
from metrics.activity.kinds import (
    KIND_SPECS,
    FieldError,
    KindSpec,
    external_id_parse,
    kind_spec,
    local_zone,
)
from metrics.activity.related_reads import RelatedReads, related_reads
from metrics.models import ActivityRecord
from metrics.recompute.marks import dirty_marks_widen
from metrics.recompute.tasks import recompute_dirty_enqueue

logger = logging.getLogger(__name__)


# Rows per INSERT statement: stays under PostgreSQL's 65,535 bound parameters.
_WRITE_CHUNK_PARAMS = 60_000


# Values per IN (...) list when reading existing rows and references (SQLite's limit is 32,766).
_IN_CHUNK = 10_000


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
@dataclass
class ValidRow:
    """One record that passed validation, ready to be written."""

    index: int
    team_id: int
    external_id: str
    values: dict[str, Any]  # by attname, references resolved to ids
    attributes: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)  # reference field name -> external_id


@dataclass
class ValidatedBatch:
    """A batch after validation: the rows to write and the errors of the others."""

    spec: KindSpec
    rows: list[ValidRow]
    errors: list[dict[str, Any]]

    @property
    def error_indexes(self) -> set[int]:
        return {error["index"] for error in self.errors}


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did: records created, updated and left unchanged."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.created + other.created, self.updated + other.updated, self.unchanged + other.unchanged
        )


class IngestError(ValueError):
    """A batch was rejected; `errors` lists every problem, one dict per record and field."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} invalid record(s)")
        self.errors = errors


def _error(index: int | None, external_id: Any, field_name: str | None, message: str) -> dict[str, Any]:
    return {
        "index": index,
        "external_id": external_id if isinstance(external_id, str) else None,
        "field": field_name,
        "message": str(message),
    }


def storable_text(text: str) -> str:
    """`text` with what no database column can hold (NUL, lone surrogates) replaced by U+FFFD: safe to echo."""
    return UNSTORABLE_TEXT.sub("\ufffd", text)


def _value_problem(value: Any) -> str | None:
    """Why a JSON value (a field's, or the whole `attributes`) cannot be stored, else None: a NUL or a lone
    surrogate in a string or a key, a non-finite number (1e400 parses as infinity), or too deep a nesting.

    Checked before anything else reads the record: the messages of the other checks quote its values.
    """
    limit = settings.KPI_MAX_JSON_DEPTH  # the site's limit on JSON nesting (kpiplatform.edge)
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE_TEXT.search(item):
                return _("Contains a NUL character or an invalid Unicode character (a lone surrogate).")
        elif isinstance(item, float):
            if not math.isfinite(item):
                return _("Enter a finite number.")
        elif isinstance(item, dict | list):
            if depth >= limit:
                return _("Nested too deeply (at most %(levels)d levels).") % {"levels": limit}
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


def _is_plain_record(record: dict[Any, Any]) -> bool:
    """Whether a record needs no closer look: known field names, and values that are clean text, whole numbers,
    finite floats, booleans or null (the common case, kept fast: ASCII without NUL is clean)."""
    if not record.keys() <= _FIELD_NAMES:
        return False
    for value in record.values():
        kind = value.__class__
        if kind is str:
            if "\x00" in value or not (value.isascii() or UNSTORABLE_TEXT.search(value) is None):
                return False
        elif kind not in _PLAIN_TYPES and (kind is not float or not math.isfinite(value)):
            return False
    return True


def _unstorable_errors(index: int, record: dict[Any, Any]) -> list[dict[str, Any]]:
    """One error per field of a record holding what cannot be stored (see `_value_problem`), each naming the
    field with those characters replaced; the record's external_id is given only when it is clean."""
    if _is_plain_record(record):
        return []
    errors: list[dict[str, Any]] = []
    search = UNSTORABLE_TEXT.search
    for key, value in record.items():
        if key.__class__ is str and search(key):
            message = _("This field name contains a NUL character or an invalid Unicode character (a lone surrogate).")
            errors.append(_error(index, None, storable_text(key), message))
        elif (problem := _value_problem(value)) is not None:
            errors.append(_error(index, None, str(key), problem))
    external_id = record.get("external_id")
    if errors and isinstance(external_id, str) and not search(external_id):
        for error in errors:
            error["external_id"] = external_id
    return errors


# Values that need no look: whole numbers, booleans, null; and what the CSV import's cell readers give (a
# non-finite Decimal is refused by the field's parser).
_PLAIN_TYPES = frozenset({int, bool, type(None), Decimal, date, datetime})
# Every field name of every kind (clean text by construction).
_FIELD_NAMES = frozenset(name for spec in KIND_SPECS.values() for name in spec.accepted_names)


def activity_batch_validate(
    *,
    kind: str,
    records: Sequence[Any],
    default_team_id: int | None,
    writable_team_ids: set[int] | None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ValidatedBatch:
    """Check every record of a batch and resolve its team and references; never writes.

    `writable_team_ids` None means any team (staff). A record's `team` slug must name a
    writable team; without one it goes to `default_team_id`. References (`customer`,
    `campaign`, `lead`) are external_ids of records of the same team, resolved with one
    query per referenced kind.
    """
    spec = kind_spec(kind)
    errors: list[dict[str, Any]] = []
    pending: list[tuple[ValidRow, str | None]] = []
    accepted = spec.accepted_names
    # Per field: (name, parser, spec, whether a reference), looked up once per batch rather than per record.
    plan = [(f.name, f.parse, f, f.reference is not None) for f in spec.fields]
    rules = spec.rules
    total = len(records)
    for index, record in enumerate(records):
        if on_progress is not None and index % 1000 == 0:
            on_progress(index, total)
        if not isinstance(record, dict):
            errors.append(_error(index, None, None, _("Each record must be a JSON object.")))
            continue
        if not _is_plain_record(record):
            unstorable = _unstorable_errors(index, record)
            if unstorable:
                errors.extend(unstorable)
                continue
        raw_id = record.get("external_id")
        record_errors: list[dict[str, Any]] = []
        external_id = None
        try:
            if raw_id is None or raw_id == "":
                raise FieldError(_("This field is required."))
            external_id = external_id_parse(raw_id)
            if not external_id:
                raise FieldError(_("This field is required."))
        except FieldError as exc:
            record_errors.append(_error(index, None, "external_id", str(exc)))
        if not record.keys() <= accepted:
            for name in record.keys() - accepted:
                record_errors.append(_error(index, external_id, str(name), _("Unknown field.")))
        values: dict[str, Any] = {}
        refs: dict[str, str] = {}
        for name, parse, spec_field, is_reference in plan:
            raw = record.get(name)
            if raw is None:
                # A missing or null field takes its default: a record states the whole record.
                if spec_field.required:
                    record_errors.append(_error(index, external_id, name, _("This field is required.")))
                else:
                    values[name] = spec_field.default_value()
                continue
            try:
                value = values[name] = parse(raw)
            except FieldError as exc:
                record_errors.append(_error(index, external_id, name, str(exc)))
                continue
            if is_reference:
                refs[name] = value
        attributes = record.get("attributes")
        if attributes is None:
            attributes = {}
        elif not isinstance(attributes, dict):
            record_errors.append(_error(index, external_id, "attributes", _("Must be a JSON object.")))
        team_slug = record.get("team")
        if team_slug is not None and not isinstance(team_slug, str):
            record_errors.append(_error(index, external_id, "team", _("Enter a team slug.")))
        if rules and not record_errors:
            for rule in rules:
                problem = rule.check(values)
                if problem is not None:
                    record_errors.append(_error(index, external_id, problem[0], problem[1]))
        if record_errors:
            errors.extend(record_errors)
            continue
        row = ValidRow(index, 0, external_id, values, attributes, refs)
        pending.append((row, team_slug.strip() if team_slug else None))
    if on_progress is not None:
        on_progress(total, total)

    rows = _resolve_teams(pending, default_team_id, writable_team_ids, errors)
    rows = _reject_duplicates(rows, errors)
    rows = _resolve_references(spec, rows, errors)
    rows = _check_natural_keys(spec, rows, errors)
    errors.sort(key=lambda error: error["index"])
    return ValidatedBatch(spec=spec, rows=rows, errors=errors)


def _resolve_teams(
    pending: list[tuple[ValidRow, str | None]],
    default_team_id: int | None,
    writable_team_ids: set[int] | None,
    errors: list[dict[str, Any]],
) -> list[ValidRow]:
    slugs = {slug for _row, slug in pending if slug}
    team_ids = dict(Team.objects.filter(slug__in=slugs).values_list("slug", "id")) if slugs else {}
    rows = []
    for row, slug in pending:
        if slug:
            team_id = team_ids.get(slug)
            if team_id is None or (writable_team_ids is not None and team_id not in writable_team_ids):
                # Same message whether the team exists or not: slugs of other teams do not leak.
                message = _("No team '%(slug)s' you may write to.") % {"slug": slug}
                errors.append(_error(row.index, row.external_id, "team", message))
                continue
        elif default_team_id is not None:
            team_id = default_team_id
        else:
            errors.append(_error(row.index, row.external_id, "team", _("Name the team of this record (a team slug).")))
            continue
        row.team_id = team_id
        rows.append(row)
    return rows


def _reject_duplicates(rows: list[ValidRow], errors: list[dict[str, Any]]) -> list[ValidRow]:
    seen: dict[tuple[int, str], int] = {}
    kept = []
    for row in rows:
        key = (row.team_id, row.external_id)
        if key in seen:
            message = _("Duplicate external_id: record %(first)d has the same.") % {"first": seen[key]}
            errors.append(_error(row.index, row.external_id, "external_id", message))
            continue
        seen[key] = row.index
        kept.append(row)
    return kept


def _chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pg_array(values: list[str | None]) -> str:
    """A PostgreSQL text[] literal of `values` (bound as one text parameter, cast by the server): psycopg's
    dumping of a list, element by element in Python, cost about 50 ms per 5,000-record batch."""
    if not values:
        return "{}"
    if None not in values:
        probe = "".join(values)  # no None (checked above)
        if '"' not in probe and "\\" not in probe:
            # The common case (ids, codes, dates, numbers, "{}"): nothing to escape, one join.
            return '{"' + '","'.join(values) + '"}'
    return (
        "{"
        + ",".join(
            "NULL" if value is None else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values
        )
        + "}"
    )


def _rows_by_external_id(
    model: type[ActivityRecord],
    team_ids: Iterable[int],
    external_ids: Iterable[str],
    columns: Sequence[str],
    *,
    lock: bool = False,
) -> Iterator[tuple]:
    """Rows (team_id, external_id, *columns) of `model` with these external ids in these teams; with `lock`, locked
    (FOR NO KEY UPDATE, in key order) until the transaction ends.

    PostgreSQL: one query with two array parameters; elsewhere a few ORM IN-lists (SQLite has one
    writer at a time: nothing to lock).
    """
    team_ids = sorted(set(team_ids))
    external_ids = sorted(set(external_ids))
    if connection.vendor == "postgresql":
        from psycopg import Cursor

        quote = connection.ops.quote_name
        attnames = {f.name: f.column for f in model._meta.concrete_fields}
        selected = ", ".join(quote(attnames.get(c, c)) for c in ("team_id", "external_id", *columns))
        sql = (
            f"SELECT {selected} FROM {quote(model._meta.db_table)} "  # nosec B608 - names from model metadata, values bound
            "WHERE team_id = ANY(%s::bigint[]) AND external_id = ANY(%s::text[])"
        )
        if lock:
            # One order for every writer: two batches locking the same records never wait for each other in a cycle.
            sql += " ORDER BY team_id, external_id FOR NO KEY UPDATE"
        connection.ensure_connection()
        # Django's psycopg setup loads jsonb as text (JSONField decodes it): decode it here too.
        json_positions = [2 + i for i, c in enumerate(columns) if c == "attributes"]
        with Cursor(connection.connection) as cursor:
            cursor.execute(sql, [team_ids, _pg_array(external_ids)])
            for row in cursor:
                if json_positions:
                    row = list(row)
                    for position in json_positions:
                        if isinstance(row[position], str):
                            row[position] = json.loads(row[position])
                yield tuple(row)
        return
    for chunk in _chunked(external_ids, _IN_CHUNK):
        query = model.objects.filter(team_id__in=team_ids, external_id__in=chunk)
        yield from query.values_list("team_id", "external_id", *columns)


def _ids_by_external_id(model: type[ActivityRecord], pairs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Primary keys of `model` rows by (team_id, external_id), in one query (a few on SQLite)."""
    rows = _rows_by_external_id(model, (t for t, _e in pairs), (e for _t, e in pairs), ["id"])
    return {(team_id, external_id): pk for team_id, external_id, pk in rows}


def _resolve_references(spec: KindSpec, rows: list[ValidRow], errors: list[dict[str, Any]]) -> list[ValidRow]:
    for ref in spec.references:
        pairs = {(row.team_id, row.refs[ref.name]) for row in rows if ref.name in row.refs}
        found = _ids_by_external_id(ref.reference, pairs) if pairs else {}
        kept = []
        for row in rows:
            external = row.refs.get(ref.name)
            if external is not None:
                pk = found.get((row.team_id, external))
                if pk is None:
                    message = _("No %(kind)s with external_id '%(external_id)s' in this team.") % {
                        "kind": ref.reference._meta.verbose_name,
                        "external_id": external,
                    }
                    errors.append(_error(row.index, row.external_id, ref.name, message))
                    continue
                row.values[ref.name] = pk
            kept.append(row)
        rows = kept
    # From here on values are keyed by attname (customer -> customer_id).
    renames = [(ref.name, ref.attname) for ref in spec.references]
    for row in rows:
        for name, attname in renames:
            row.values[attname] = row.values.pop(name, None)
    return rows


def _check_natural_keys(spec: KindSpec, rows: list[ValidRow], errors: list[dict[str, Any]]) -> list[ValidRow]:
    """Other unique keys (a campaign's stat per date): unique in the batch and not held by another record."""
    attnames = {f.name: f.attname for f in spec.model._meta.concrete_fields}
    for key_fields in spec.natural_keys:
        columns = [attnames[name] for name in key_fields]
        seen: dict[tuple, ValidRow] = {}
        kept = []
        for row in rows:
            key = tuple(row.values.get(column) for column in columns)
            if key in seen:
                message = _("Another record of this batch has the same %(fields)s.") % {"fields": ", ".join(key_fields)}
                errors.append(_error(row.index, row.external_id, key_fields[-1], message))
                continue
            seen[key] = row
            kept.append(row)
        rows = kept
        if not seen:
            continue
        # Existing rows holding one of these keys under another external_id.
        first_values = sorted({key[0] for key in seen if key[0] is not None})
        held: dict[tuple, tuple[int, str]] = {}
        for chunk in _chunked(first_values, _IN_CHUNK):
            query = spec.model.objects.filter(**{f"{columns[0]}__in": chunk})
            for values in query.values_list(*columns, "team_id", "external_id"):
                held[tuple(values[: len(columns)])] = (values[-2], values[-1])
        kept = []
        for key, row in seen.items():
            owner = held.get(key)
            if owner is not None and owner != (row.team_id, row.external_id):
                message = _("Record '%(other)s' already has the same %(fields)s.") % {
                    "other": owner[1],
                    "fields": ", ".join(key_fields),
                }
                errors.append(_error(row.index, row.external_id, key_fields[-1], message))
                continue
            kept.append(row)
        kept.sort(key=lambda row: row.index)
        rows = kept
    return rows


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
class _Ranges:
    """Min and max affected moments per team, turned into [start, end) calendar days at the end."""

    def __init__(self, kind: str, open_ended: str | None, today: date):
        self.kind = kind
        self.open_ended = open_ended
        self.today = today
        self.bounds: dict[int, list[Any]] = {}

    def add(self, team_id: int, values: dict[str, Any], date_attnames: Sequence[str]) -> None:
        moments = [value for attname in date_attnames if (value := values.get(attname)) is not None]
        if not moments:
            return
        if self.open_ended is not None and values.get(self.open_ended) is None:
            moments.append(self.today)
        # Dates and datetimes are kept apart (they do not compare): [min date, max date, min dt, max dt].
        bounds = self.bounds.setdefault(team_id, [None, None, None, None])
        for moment in moments:
            low, high = (2, 3) if isinstance(moment, datetime) else (0, 1)
            if bounds[low] is None or moment < bounds[low]:
                bounds[low] = moment
            if bounds[high] is None or moment > bounds[high]:
                bounds[high] = moment

    def as_marks(self) -> dict[tuple[int, str], tuple[date, date]]:
        zone = local_zone()
        marks = {}
        for team_id, bounds in self.bounds.items():
            days = [day for day in bounds[:2] if day is not None]
            for moment in bounds[2:]:
                if moment is not None:
                    # Both the UTC and the local calendar day: whichever the KPI engine buckets by.
                    days += [moment.astimezone(UTC).date(), moment.astimezone(zone).date()]
            marks[(team_id, self.kind)] = (min(days), max(days) + timedelta(days=1))
        return marks


def _existing_rows(
    spec: KindSpec, rows: list[ValidRow], attnames: list[str], *, lock: bool = False
) -> dict[tuple[int, str], tuple]:
    """The stored values of the batch's records that already exist, by (team_id, external_id); with `lock`, locked
    until the transaction ends."""
    found = _rows_by_external_id(
        spec.model,
        (row.team_id for row in rows),
        (row.external_id for row in rows),
        ["attributes", *attnames],
        lock=lock,
    )
    return {(values[0], values[1]): values[2:] for values in found}


def _lock_key(kind: str, team_id: int) -> int:
    """The PostgreSQL advisory lock key of one (team, kind): a signed 64-bit hash (a collision only serialises
    two more writers)."""
    digest = hashlib.blake2b(f"activity-ingest:{kind}:{team_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def activity_batch_lock(*, kind: str, team_ids: Iterable[int], shared: bool = False) -> None:
    """Hold, until the transaction ends, the right to write records of `kind` of these teams; call inside a
    transaction, before reading the stored rows.

    Exclusive (an import journalling what it replaces, an undo): no other batch of the same
    (team, kind) reads, compares or writes meanwhile, so the journal is exact. Shared (every
    batch, `activity_batch_write`): batches run side by side and keep their counters exact with
    row locks; they only wait for an exclusive holder. PostgreSQL: transaction-scoped advisory
    locks, taken in key order (no deadlock between two batches); SQLite takes its one write lock
    when the transaction begins (transaction_mode IMMEDIATE).
    """
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        # One statement per team (a batch has one team, or a few sub-teams): the order is the loop's.
        for key in sorted({_lock_key(kind, team_id) for team_id in team_ids}):
            cursor.execute(f"SELECT {function}(%s)", [key])


def activity_batch_write(*, batch: ValidatedBatch, today: date | None = None) -> IngestResult:
    """Upsert the valid rows of a batch and widen the dirty marks; call inside a transaction.

    Unchanged records are not written. Returns what was created, updated, unchanged: exact even when
    other batches write the same records at the same time. The stored rows are read without a
    lock, and the records found unchanged are left alone; the new ones are inserted unless another
    batch inserted them meanwhile; those and the changed ones are then locked, read again and
    compared with what they hold now, so that the counters, the dirty marks of the dates they
    replace and the related reads are those of the values actually replaced.
    """
    spec = batch.spec
    if not batch.rows:
        return IngestResult()
    activity_batch_lock(kind=spec.kind, team_ids={row.team_id for row in batch.rows}, shared=True)
    attnames = [f.attname for f in spec.fields]
    date_attnames = spec.date_attnames
    existing = _existing_rows(spec, batch.rows, attnames)
    today = today or timezone.localdate()
    ranges = _Ranges(spec.kind, spec.open_ended, today)
    fresh: list[ValidRow] = []
    changed: list[ValidRow] = []
    created = updated = unchanged = 0
    # In key order, as every batch writes and locks: two batches never wait for each other in a cycle.
    for row in sorted(batch.rows, key=lambda row: (row.team_id, row.external_id)):
        old = existing.get((row.team_id, row.external_id))
        if old is None:
            fresh.append(row)
        elif old == (row.attributes, *(row.values[attname] for attname in attnames)):
            unchanged += 1
        else:
            changed.append(row)
    if fresh:
        inserted = INSERTS.get(connection.vendor, _insert_bulk_create)(spec, fresh)
        created = len(inserted)
        for row in fresh:
            if (row.team_id, row.external_id) in inserted:
                ranges.add(row.team_id, row.values, date_attnames)
            else:
                changed.append(row)  # another batch inserted it since the read: compared below
        changed.sort(key=lambda row: (row.team_id, row.external_id))
    reads: RelatedReads | None = None
    read_changed: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    to_write: list[ValidRow] = []
    missing = 0
    if changed:
        current = _existing_rows(spec, changed, attnames, lock=True)
        for row in changed:
            new = (row.attributes, *(row.values[attname] for attname in attnames))
            old = current.get((row.team_id, row.external_id))
            if old is None:
                missing += 1  # deleted since the first read (an undo): written again below
            elif old == new:
                unchanged += 1
                continue
            else:
                ranges.add(row.team_id, dict(zip(attnames, old[1:], strict=True)), date_attnames)
                reads = related_reads(spec.model) if reads is None else reads
                fields = {attname for attname, was, now in zip(attnames, old[1:], new[1:], strict=True) if was != now}
                for key, read in reads.items():
                    if fields & read:
                        read_changed[key].append((row.team_id, row.external_id))
            ranges.add(row.team_id, row.values, date_attnames)
            to_write.append(row)
    if to_write:
        count = UPSERTS.get(connection.vendor, _upsert_bulk_create)(spec, to_write)
        inserted_now = missing if count is None else count
        created += inserted_now
        updated += len(to_write) - inserted_now
    if created or updated:
        marks = ranges.as_marks()
        for key, (start, end) in _related_marks(spec, read_changed, today).items():
            _widen(marks, key, start, end)
        dirty_marks_widen(ranges=marks)
    return IngestResult(created, updated, unchanged)


def _related_marks(
    spec: KindSpec, read_changed: dict[tuple[str, str], list[tuple[int, str]]], today: date
) -> dict[tuple[int, str], tuple[date, date]]:
    """Marks over the dates of the records reading a changed field of these records through a relation (the
    orders of a customer whose segment changed): one query for the ids, then one per reading kind."""
    if not read_changed:
        return {}
    by_team: dict[int, set[str]] = defaultdict(set)
    for team_id, external_id in {pair for pairs in read_changed.values() for pair in pairs}:
        by_team[team_id].add(external_id)
    condition = models.Q()
    for team_id, external_ids in by_team.items():
        condition |= models.Q(team_id=team_id, external_id__in=sorted(external_ids))
    ids = {
        (team_id, external_id): pk
        for pk, team_id, external_id in spec.model.objects.filter(condition).values_list("pk", "team_id", "external_id")
    }
    marks: dict[tuple[int, str], tuple[date, date]] = {}
    for (kind, relation), pairs in read_changed.items():
        reader = KIND_SPECS[kind]
        dated = reader.date_attnames
        ranges = _Ranges(kind, reader.open_ended, today)
        bounds = {f"lo_{a}": models.Min(a) for a in dated} | {f"hi_{a}": models.Max(a) for a in dated}
        if reader.open_ended:
            bounds["open"] = models.Count("pk", filter=models.Q(**{f"{reader.open_ended}__isnull": True}))
        readers = reader.model.objects.filter(**{f"{relation}__in": [ids[pair] for pair in pairs if pair in ids]})
        for row in readers.values("team_id").annotate(**bounds).order_by():
            ranges.add(row["team_id"], {a: row[f"lo_{a}"] for a in dated}, dated)
            latest = {a: row[f"hi_{a}"] for a in dated}
            if reader.open_ended and row["open"]:
                latest[reader.open_ended] = None  # still open: it counts up to today
            ranges.add(row["team_id"], latest, dated)
        for key, (start, end) in ranges.as_marks().items():
            _widen(marks, key, start, end)
    return marks


def _widen(marks: dict[tuple[int, str], tuple[date, date]], key: tuple[int, str], start: date, end: date) -> None:
    known = marks.get(key)
    marks[key] = (start, end) if known is None else (min(known[0], start), max(known[1], end))


def _upsert_bulk_create(spec: KindSpec, rows: list[ValidRow]) -> int | None:
    """Any database: bulk_create with ON CONFLICT (team, external_id) DO UPDATE, a few statements. How many rows
    it inserted is not known (None): with one writer at a time (SQLite), it is what was read."""
    per_statement = max(1, _WRITE_CHUNK_PARAMS // (len(spec.fields) + 6))
    model = spec.model
    spec.model.objects.bulk_create(
        [model(team_id=r.team_id, external_id=r.external_id, attributes=r.attributes, **r.values) for r in rows],
        batch_size=per_statement,
        update_conflicts=True,
        unique_fields=["team", "external_id"],
        update_fields=[*(f.name for f in spec.fields), "attributes", "updated_at"],
    )
    return None


def _insert_bulk_create(spec: KindSpec, rows: list[ValidRow]) -> set[tuple[int, str]]:
    """Any database: the records read as new, upserted; all of them were inserted (one writer at a time)."""
    _upsert_bulk_create(spec, rows)
    return {(row.team_id, row.external_id) for row in rows}


def _pg_text(values: list[Any], kind: str) -> str:
    """One column as a PostgreSQL text[] literal: one text parameter binds and transfers fastest; the server
    casts each element to the column's type."""
    if kind in ("string", "text", "reference-id"):
        return _pg_array(values)
    if kind == "boolean":
        return _pg_array([None if v is None else ("t" if v else "f") for v in values])
    if kind in ("datetime", "date"):
        return _pg_array([None if v is None else v.isoformat() for v in values])
    return _pg_array([None if v is None else str(v) for v in values])


def _pg_write(spec: KindSpec, rows: list[ValidRow], conflict: str | None) -> list[tuple]:
    """PostgreSQL: one INSERT … SELECT FROM unnest(column arrays) [ON CONFLICT `conflict`] for the rows, in their
    order; what its RETURNING gives.

    The same statement as bulk_create's, with one bound text array per column instead of
    one parameter per cell (Django's per-cell SQL compilation was most of an ingest's
    time); the server casts each column to its type.
    """
    from psycopg import Cursor

    model = spec.model
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(f.name) for f in spec.fields]
    columns = ["team_id", "external_id", "attributes", *(f.column for f in fields)]
    types = ["bigint", "text", "jsonb", *(f.db_type(connection) for f in fields)]
    kinds = ["integer", "string", "json", *(s.type for s in spec.fields)]
    raw: list[list[Any]] = [
        [r.team_id for r in rows],
        [r.external_id for r in rows],
        [json.dumps(r.attributes) if r.attributes else "{}" for r in rows],
        *([r.values[f.attname] for r in rows] for f in fields),
    ]
    arrays = [
        _pg_array(values) if kind == "json" else _pg_text(values, kind) for values, kind in zip(raw, kinds, strict=True)
    ]
    aliases = [f"c{i}" for i in range(len(columns))]
    names = ", ".join(quote(c) for c in columns)
    casts = ", ".join(f"u.{a}::{t}" for a, t in zip(aliases, types, strict=True))
    unnest = ", ".join(["%s::text[]"] * len(columns))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}, ingested_at, updated_at) "  # nosec B608 - names from model metadata, values bound
        f"SELECT {casts}, %s::timestamptz, %s::timestamptz FROM unnest({unnest}) AS u({', '.join(aliases)}) "
    )
    if conflict is not None:
        sql += f" ON CONFLICT (team_id, external_id) {conflict}"
    now = timezone.now()
    connection.ensure_connection()
    # Server-side binding: each column goes as one parameter.
    with Cursor(connection.connection) as cursor:
        cursor.execute(sql, [now, now, *arrays])
        return cursor.fetchall() if conflict is not None else []


def _insert_postgresql(spec: KindSpec, rows: list[ValidRow]) -> set[tuple[int, str]]:
    """PostgreSQL: insert the records read as new, skipping any another batch inserted since (after waiting for it
    to commit or roll back); the keys inserted.

    A plain INSERT first, in a savepoint: no conflict to look for, the common case (ON CONFLICT
    cost about a tenth of the statement). Should another batch have inserted one of the records
    since, the savepoint is rolled back and the records inserted again, skipping those.
    """
    from psycopg.errors import UniqueViolation

    try:
        with transaction.atomic():
            _pg_write(spec, rows, None)
    except UniqueViolation as exc:
        if exc.diag.constraint_name not in _external_id_constraints(spec):
            raise
        return set(_pg_write(spec, rows, "DO NOTHING RETURNING team_id, external_id"))
    return {(row.team_id, row.external_id) for row in rows}


def _external_id_constraints(spec: KindSpec) -> set[str]:
    """The names of the model's unique constraints on (team, external_id)."""
    return {
        constraint.name
        for constraint in spec.model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and set(constraint.fields) == {"team", "external_id"}
    }


def _upsert_postgresql(spec: KindSpec, rows: list[ValidRow]) -> int | None:
    """PostgreSQL: upsert the records (locked, or deleted since they were read); how many were inserted."""
    quote = connection.ops.quote_name
    fields = [spec.model._meta.get_field(f.name) for f in spec.fields]
    updates = ", ".join(
        f"{quote(c)} = EXCLUDED.{quote(c)}" for c in ["attributes", *(f.column for f in fields), "updated_at"]
    )
    # xmax is 0 on a row this statement inserted, the updating transaction's id on one it updated.
    returned = _pg_write(spec, rows, f"DO UPDATE SET {updates} RETURNING (xmax = 0)")  # nosec B608 - column names from model metadata
    return sum(1 for (inserted,) in returned if inserted)


# How each database writes a batch (registries by connection.vendor): the records read as new, inserted
# unless another batch did meanwhile (the keys inserted come back); the others, upserted (how many were
# inserted comes back, None if not known).
INSERTS: dict[str, Callable[[KindSpec, list[ValidRow]], set[tuple[int, str]]]] = {"postgresql": _insert_postgresql}
UPSERTS: dict[str, Callable[[KindSpec, list[ValidRow]], int | None]] = {"postgresql": _upsert_postgresql}


def _is_retryable(exc: OperationalError) -> bool:
    """Deadlocks and serialization failures (PostgreSQL), a locked database (SQLite)."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)
    return sqlstate in ("40001", "40P01") or "database is locked" in str(exc)


def activity_ingest(
    *,
    kind: str,
    records: Sequence[Any],
    default_team_id: int | None,
    writable_team_ids: set[int] | None,
) -> IngestResult:
    """Validate and upsert one batch, all or nothing; IngestError lists every problem.

    Sending the same batch twice changes nothing the second time. Concurrent batches
    over the same records upsert on the unique (team, external_id) and are retried once
    on a deadlock or serialization failure. After commit, the recompute is enqueued.
    """
    batch = activity_batch_validate(
        kind=kind, records=records, default_team_id=default_team_id, writable_team_ids=writable_team_ids
    )
    if batch.errors:
        raise IngestError(batch.errors)
    return activity_batch_commit(batch=batch)


def activity_batch_commit(*, batch: ValidatedBatch) -> IngestResult:
    """Write a validated batch in its own transaction (retried once if the database asks), then enqueue."""
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                result = activity_batch_write(batch=batch)
                if result.created or result.updated:
                    recompute_dirty_enqueue()
            return result
        except OperationalError as exc:
            if attempt == 2 or not _is_retryable(exc) or transaction.get_connection().in_atomic_block:
                raise
            logger.info("Retrying an activity batch of %s after %s", batch.spec.kind, exc)
        except IntegrityError as exc:
            # A concurrent writer took a natural key first: report it like a validation error.
            message = _("The batch conflicts with stored records: %(error)s") % {"error": exc}
            raise IngestError([_error(None, None, None, message)]) from exc
    raise AssertionError("unreachable")
