"""Import jobs: an uploaded file kept with its mapping and report, run by a worker with its progress
saved as it goes (the page polls it), and undone within a few days if it was a mistake.

The mapping a team chooses is remembered per kind (ImportMapping) and proposed for its next
file. A job that writes keeps, in the same transaction, the records it created and the values
of those it updated (ImportChange): its undo deletes the first and restores the second, in one
transaction, with the dirty marks that bring the KPIs back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import selectors as account_selectors
from accounts.models import Team, User
from metrics.activity.imports import (
    ImportFileError,
    ImportPreview,
    RecordChange,
    activity_table_import,
    header_key,
    import_columns_guess,
    import_file_read,
    import_mapping_check,
    import_preview,
    record_attnames,
)
from metrics.activity.ingest import (
    ValidatedBatch,
    ValidRow,
    activity_batch_lock,
    activity_batch_write,
    storable_text,
)
from metrics.activity.kinds import KindSpec, kind_spec, local_zone
from metrics.models import ActivityRecord, ImportChange, ImportJob, ImportMapping, ImportStatus
from metrics.recompute.marks import dirty_marks_widen
from metrics.recompute.tasks import recompute_dirty_enqueue

logger = logging.getLogger(__name__)

# Rows validated between two progress updates of a job.
PROGRESS_EVERY = 2000
# Characters of an unexpected error's own message kept in a failed job's report.
_ERROR_SUMMARY_CHARS = 300
# Days during which an import can be undone (settings.KPI_IMPORT_UNDO_DAYS overrides it).
DEFAULT_UNDO_DAYS = 7
_IN_CHUNK = 5000


class ImportUndoRefused(Exception):
    """An import cannot be undone; the message says why (translated)."""


@dataclass(frozen=True)
class ImportUndoResult:
    """What an undo did: records deleted (the import had created them) and restored (it had updated them)."""

    deleted: int
    restored: int


def import_writable_team_ids(*, team: Team) -> set[int]:
    """An import writes to its team and, through a `team` column, to the team's sub-teams."""
    return account_selectors.team_ids_with_descendants([team.pk])


# ---------------------------------------------------------------------------
# Remembered mappings
# ---------------------------------------------------------------------------
def import_mapping_remembered(*, team: Team, kind: str) -> dict[str, str]:
    """The mapping the team last chose for this kind: header key → field ('' for a column left out)."""
    mapping = ImportMapping.objects.filter(team=team, kind=kind).values_list("columns", flat=True).first()
    return dict(mapping or {})


def import_mapping_remember(*, team: Team, kind: str, headers: Sequence[str], mapping: Sequence[str]) -> None:
    """Remember the field chosen for each of these headers, keeping what was chosen for other headers before."""
    columns = import_mapping_remembered(team=team, kind=kind)
    for header, name in zip(headers, mapping, strict=False):
        if key := header_key(header):
            columns[key] = name
    ImportMapping.objects.update_or_create(team=team, kind=kind, defaults={"columns": columns})


# ---------------------------------------------------------------------------
# Import jobs (the page)
# ---------------------------------------------------------------------------
def import_job_create(*, team: Team, kind: str, user: User | None, filename: str, content: bytes) -> ImportJob:
    """Store an uploaded file as a draft job, with its headers and a proposed mapping (the team's remembered one,
    else guessed from the headers)."""
    spec = kind_spec(kind)
    table = import_file_read(content=content, filename=filename)
    if not table.rows:
        raise ImportFileError(_("The file has a header but no rows."))
    remembered = import_mapping_remembered(team=team, kind=kind)
    return ImportJob.objects.create(
        team=team,
        kind=kind,
        created_by=user,
        filename=storable_text(filename)[:255],
        content=content,
        headers=table.headers,
        mapping=import_columns_guess(spec=spec, headers=table.headers, remembered=remembered),
        total_rows=len(table.rows),
    )


def import_job_preview(*, job: ImportJob, mapping: Sequence[str] | None = None) -> ImportPreview:
    """The first rows of the job's file checked with `mapping` (else the job's), as the import will check them."""
    table = import_file_read(content=bytes(job.content), filename=job.filename)
    return import_preview(
        kind=job.kind,
        table=table,
        mapping=job.mapping if mapping is None else mapping,
        team=job.team,
        writable_team_ids=import_writable_team_ids(team=job.team),
    )


def import_job_queue(*, job: ImportJob, mapping: Sequence[str], valid_only: bool) -> bool:
    """Save and remember the mapping and mark a draft job queued; False when it is not a draft any more (nothing
    to send)."""
    problems = import_mapping_check(spec=kind_spec(job.kind), mapping=mapping)
    if problems:
        raise ImportFileError(" ".join(problems))
    with transaction.atomic():
        updated = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.DRAFT).update(
            mapping=list(mapping), valid_only=valid_only, status=ImportStatus.QUEUED
        )
        if updated:
            import_mapping_remember(team=job.team, kind=job.kind, headers=job.headers, mapping=mapping)
    job.refresh_from_db()
    return bool(updated)


def import_job_run(*, job_id: int, reraise: tuple[type[Exception], ...] = ()) -> ImportJob | None:
    """Run a queued job: progress is saved as rows are validated; the report, the error file and the records
    changed (for an undo) when done.

    Safe to run twice: only a queued (or interrupted running) job is claimed, and the
    upsert is idempotent. Returns None when the job is gone. Whatever goes wrong ends the
    job failed with the reason in words (the write is one transaction: nothing is half-written),
    except the exceptions of `reraise` (a transient database error the task will retry), which
    leave the job running for the retry to claim again.
    """
    import_changes_purge()
    claimed = ImportJob.objects.filter(pk=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), progress=0
    )
    job = ImportJob.objects.select_related("team", "created_by").filter(pk=job_id).first()
    if job is None or not claimed:
        return job

    def progress(done: int, total: int) -> None:
        if total and (done % PROGRESS_EVERY == 0 or done == total):
            # Validation is most of the work: it fills the bar up to 90 %.
            ImportJob.objects.filter(pk=job_id).update(progress=min(90, int(90 * done / total)))

    def journal(changes: list[RecordChange]) -> None:
        # A run after an interruption finds the records already written: the first journal stays.
        ImportChange.objects.bulk_create(
            [
                ImportChange(
                    job_id=job_id,
                    team_id=change.team_id,
                    external_id=change.external_id,
                    created=change.created,
                    previous=change.previous,
                )
                for change in changes
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )

    language = job.created_by.language if job.created_by else settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            table = import_file_read(content=bytes(job.content), filename=job.filename)
            report = activity_table_import(
                kind=job.kind,
                table=table,
                mapping=job.mapping,
                team=job.team,
                writable_team_ids=import_writable_team_ids(team=job.team),
                valid_only=job.valid_only,
                on_progress=progress,
                on_written=journal,
            )
        except ImportFileError as exc:
            job.status, job.report = ImportStatus.FAILED, {"detail": str(exc), "errors": [], "written": False}
        except reraise:
            raise
        except Exception as exc:  # noqa: BLE001 - a job must never stay "running": any failure ends it
            logger.exception("Import job %s failed unexpectedly", job_id)
            job.status, job.report = ImportStatus.FAILED, {"detail": _failure_text(exc), "errors": [], "written": False}
            job.error_file = b""
        else:
            job.report = report.as_dict()
            job.error_file = report.error_file
            job.status = ImportStatus.SUCCEEDED if report.written else ImportStatus.FAILED
    job.progress = 100
    job.finished_at = timezone.now()
    if job.status == ImportStatus.SUCCEEDED:
        job.content = b""
    job.save(update_fields=["status", "report", "progress", "finished_at", "content", "error_file"])
    return job


def _failure_text(exc: Exception) -> str:
    """What a failed job's page says of an unexpected error: that nothing was written, and the error itself."""
    error = storable_text(f"{type(exc).__name__}: {exc}")
    if len(error) > _ERROR_SUMMARY_CHARS:
        error = error[: _ERROR_SUMMARY_CHARS - 1] + "…"
    return _(
        "The import stopped on an unexpected error, and nothing was written: %(error)s. Try again later; if it "
        "fails again, send the file to your administrator."
    ) % {"error": error}


# ---------------------------------------------------------------------------
# Undo
# ---------------------------------------------------------------------------
def import_undo_days() -> int:
    """Days during which an import can be undone."""
    return int(getattr(settings, "KPI_IMPORT_UNDO_DAYS", DEFAULT_UNDO_DAYS))


def import_job_undo_deadline(*, job: ImportJob) -> datetime | None:
    """Until when the job can be undone; None when it cannot be (it wrote nothing, or it is already undone)."""
    if job.status != ImportStatus.SUCCEEDED or job.finished_at is None:
        return None
    if not (job.report.get("created") or job.report.get("updated")):
        return None
    return job.finished_at + timedelta(days=import_undo_days())


def import_changes_purge(*, now: datetime | None = None) -> int:
    """Forget the records changed by imports that can no longer be undone; return how many rows were deleted."""
    limit = (now or timezone.now()) - timedelta(days=import_undo_days())
    deleted, _detail = ImportChange.objects.filter(job__finished_at__lt=limit).delete()
    return deleted


def import_job_undo(*, job: ImportJob, user: User | None, now: datetime | None = None) -> ImportUndoResult:
    """Undo an import: delete the records it created, restore those it updated to their previous values, widen
    the dirty marks of both, all in one transaction; ImportUndoRefused says why it cannot be.

    Refused after the delay (`import_undo_days`), when already undone, when a record it wrote was
    changed since (undoing would lose that change), or when other records now refer to one it
    created (they would lose their link, or be deleted with it).
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        _undo_check(job, now)
        spec = kind_spec(job.kind)
        changes = list(job.changes.values_list("team_id", "external_id", "created", "previous"))
        # Before locking the rows, as an ingest does: the two never wait for each other in opposite orders.
        activity_batch_lock(kind=job.kind, team_ids={team_id for team_id, _e, _c, _p in changes})
        current = _current_rows(spec, [(team_id, external_id) for team_id, external_id, _c, _p in changes])
        changed = sum(1 for row in current.values() if row["updated_at"] > job.finished_at)
        if changed:
            raise ImportUndoRefused(
                ngettext(
                    "%(count)d record was changed after this import (by another import or the API): undoing the "
                    "import would lose that change. Undo the later changes first.",
                    "%(count)d records were changed after this import (by other imports or the API): undoing the "
                    "import would lose those changes. Undo the later changes first.",
                    changed,
                )
                % {"count": changed}
            )
        created = [current[(t, e)] for t, e, was_created, _p in changes if was_created and (t, e) in current]
        referring = _referring_count(spec.model, [row["pk"] for row in created])
        if referring:
            raise ImportUndoRefused(
                ngettext(
                    "%(count)d other record refers to records this import created: undo the import that added it "
                    "first.",
                    "%(count)d other records refer to records this import created: undo the imports that added "
                    "them first.",
                    referring,
                )
                % {"count": referring}
            )
        restored = _restore(spec, changes, current)
        _delete(spec, created)
        job.status, job.undone_at, job.undone_by = ImportStatus.UNDONE, now, user
        job.save(update_fields=["status", "undone_at", "undone_by"])
        job.changes.all().delete()  # nothing left to undo
        if created or restored:
            recompute_dirty_enqueue()
    return ImportUndoResult(deleted=len(created), restored=restored)


def _undo_check(job: ImportJob, now: datetime) -> None:
    if job.status == ImportStatus.UNDONE:
        raise ImportUndoRefused(_("This import has already been undone."))
    deadline = import_job_undo_deadline(job=job)
    if deadline is None:
        raise ImportUndoRefused(_("This import wrote nothing: there is nothing to undo."))
    if now > deadline:
        days = import_undo_days()
        raise ImportUndoRefused(
            ngettext(
                "This import can no longer be undone: an import can be undone during %(days)d day.",
                "This import can no longer be undone: an import can be undone during %(days)d days.",
                days,
            )
            % {"days": days}
        )


def _current_rows(spec: KindSpec, keys: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    """The stored rows of these records that still exist, locked until the transaction ends (PostgreSQL)."""
    columns = ["pk", "team_id", "external_id", "updated_at", *record_attnames(spec)]
    wanted = set(keys)
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    team_ids = sorted({team_id for team_id, _e in keys})
    external_ids = sorted({external_id for _t, external_id in keys})
    for start in range(0, len(external_ids), _IN_CHUNK):
        query = spec.model.objects.select_for_update().filter(
            team_id__in=team_ids, external_id__in=external_ids[start : start + _IN_CHUNK]
        )
        for row in query.order_by("pk").values(*columns):
            key = (row["team_id"], row["external_id"])
            if key in wanted:
                rows[key] = row
    return rows


def _referring_count(model: type[ActivityRecord], pks: list[int]) -> int:
    """How many rows of any model refer to one of these records (one count per relation)."""
    total = 0
    for relation in model._meta.related_objects if pks else ():
        for start in range(0, len(pks), _IN_CHUNK):
            lookup = {f"{relation.field.name}__in": pks[start : start + _IN_CHUNK]}
            total += relation.related_model._base_manager.filter(**lookup).count()
    return total


def _restore(spec: KindSpec, changes: list[tuple], current: dict[tuple[int, str], dict[str, Any]]) -> int:
    """Write back the previous values of the updated records still there, through ingestion's upsert (which
    widens the dirty marks of their old and new dates, and of the records reading them)."""
    model = spec.model
    attnames = record_attnames(spec)
    rows = []
    for index, (team_id, external_id, created, previous) in enumerate(changes):
        stored = current.get((team_id, external_id))
        if created or stored is None:
            continue
        values = {
            attname: model._meta.get_field(attname).to_python(previous[attname])
            if attname in previous
            else stored[attname]
            for attname in attnames
        }
        attributes = values.pop("attributes")
        rows.append(ValidRow(index, team_id, external_id, values, attributes))
    if not rows:
        return 0
    result = activity_batch_write(batch=ValidatedBatch(spec=spec, rows=rows, errors=[]))
    return result.updated


def _delete(spec: KindSpec, rows: list[dict[str, Any]]) -> None:
    """Delete the records an import created and mark their dates dirty."""
    if not rows:
        return
    pks = [row["pk"] for row in rows]
    for start in range(0, len(pks), _IN_CHUNK):
        spec.model._base_manager.filter(pk__in=pks[start : start + _IN_CHUNK]).delete()
    dirty_marks_widen(ranges=_date_ranges(spec, rows, timezone.localdate()))


def _date_ranges(spec: KindSpec, rows: list[dict[str, Any]], today: date) -> dict[tuple[int, str], tuple[date, date]]:
    """Per team, the days [first, last + 1) these records count on: each date and, for a date-time, both its UTC
    and its local day (whichever the KPIs bucket by); a state still open counts up to today."""
    zone = local_zone()
    days: dict[int, list[date]] = {}
    for row in rows:
        found = days.setdefault(row["team_id"], [])
        for attname in spec.date_attnames:
            value = row.get(attname)
            if isinstance(value, datetime):
                found += [value.astimezone(UTC).date(), value.astimezone(zone).date()]
            elif isinstance(value, date):
                found.append(value)
        if spec.open_ended is not None and row.get(spec.open_ended) is None:
            found.append(today)
    return {
        (team_id, spec.kind): (min(found), max(found) + timedelta(days=1)) for team_id, found in days.items() if found
    }
