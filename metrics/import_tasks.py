"""Celery task of the CSV/XLSX import (listed in CELERY_IMPORTS; metrics.tasks belongs to the KPI engine)."""

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def activity_import_task(job_id: int) -> None:
    """Run import job `job_id`; harmless when run twice or when the job is gone."""
    from metrics.imports import import_job_run

    import_job_run(job_id=job_id)
