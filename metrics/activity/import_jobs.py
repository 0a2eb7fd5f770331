"""Import jobs: an uploaded file kept with its mapping and report, run by a worker with its progress
saved as it goes (the page polls it).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import selectors as account_selectors
from accounts.models import Team, User
from metrics.activity.imports import (
    ImportFileError,
    activity_table_import,
    import_columns_guess,
    import_file_read,
    import_mapping_check,
)
from metrics.activity.kinds import kind_spec
from metrics.models import ImportJob, ImportStatus

# Rows validated between two progress updates of a job.
PROGRESS_EVERY = 2000


def import_writable_team_ids(*, team: Team) -> set[int]:
    """An import writes to its team and, through a `team` column, to the team's sub-teams."""
    return account_selectors.team_ids_with_descendants([team.pk])


# ---------------------------------------------------------------------------
# Import jobs (the page)
# ---------------------------------------------------------------------------
def import_job_create(*, team: Team, kind: str, user: User | None, filename: str, content: bytes) -> ImportJob:
    """Store an uploaded file as a draft job, with its headers and a guessed mapping."""
    spec = kind_spec(kind)
    table = import_file_read(content=content, filename=filename)
    if not table.rows:
        raise ImportFileError(_("The file has a header but no rows."))
    return ImportJob.objects.create(
        team=team,
        kind=kind,
        created_by=user,
        filename=filename[:255],
        content=content,
        headers=table.headers,
        mapping=import_columns_guess(spec=spec, headers=table.headers),
        total_rows=len(table.rows),
    )


def import_job_preview(*, job: ImportJob, rows: int = 10) -> list[list[str]]:
    """The first rows of the job's file, as cells."""
    table = import_file_read(content=bytes(job.content), filename=job.filename)
    return table.rows[:rows]


def import_job_queue(*, job: ImportJob, mapping: Sequence[str], valid_only: bool) -> bool:
    """Save the mapping and mark a draft job queued; False when it is not a draft any more (nothing to send)."""
    problems = import_mapping_check(spec=kind_spec(job.kind), mapping=mapping)
    if problems:
        raise ImportFileError(" ".join(problems))
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.DRAFT).update(
        mapping=list(mapping), valid_only=valid_only, status=ImportStatus.QUEUED
    )
    job.refresh_from_db()
    return bool(updated)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued job: progress is saved as rows are validated; the report when done.

    Safe to run twice: only a queued (or interrupted running) job is claimed, and the
    upsert is idempotent. Returns None when the job is gone.
    """
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
            )
        except ImportFileError as exc:
            job.status, job.report = ImportStatus.FAILED, {"detail": str(exc), "errors": [], "written": False}
        else:
            job.report = report.as_dict()
            job.status = ImportStatus.SUCCEEDED if report.written else ImportStatus.FAILED
    job.progress = 100
    job.finished_at = timezone.now()
    if job.status == ImportStatus.SUCCEEDED:
        job.content = b""
    job.save(update_fields=["status", "report", "progress", "finished_at", "content"])
    return job
