"""Celery task of the CSV/XLSX import, and the door that queues it (its name is the one it had in
`metrics.import_tasks`: queued messages refer to it)."""

from collections.abc import Sequence

from celery import shared_task
from django.db import OperationalError

from kpiplatform.queue import Send, enqueue_now
from metrics.activity.import_jobs import import_job_queue, import_job_run
from metrics.models import ImportJob


@shared_task(
    bind=True,
    name="metrics.import_tasks.activity_import_task",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def activity_import_task(self, job_id: int) -> None:
    """Run import job `job_id`; harmless when run twice or when the job is gone.

    A transient database error is retried (the job stays running and the retry claims it again);
    on the last try it ends the job failed, like any other error.
    """
    retries_left = self.request.retries < (self.max_retries or 0)
    import_job_run(job_id=job_id, reraise=(OperationalError,) if retries_left else ())


def import_job_start(*, job: ImportJob, mapping: Sequence[str], valid_only: bool) -> ImportJob:
    """Save the mapping and queue the job; when the broker is down, run it here and now.

    Sent at once rather than after a commit: the page that starts a job runs in autocommit, so the
    queued job is already stored, and the in-process fallback must finish before the page answers.
    """
    if import_job_queue(job=job, mapping=mapping, valid_only=valid_only):
        enqueue_now(
            Send(activity_import_task, (job.pk,)),
            what=f"import job {job.pk}",
            later="running it in this process",
            on_failure=lambda: import_job_run(job_id=job.pk),
        )
        job.refresh_from_db()
    return job
