"""Celery tasks of the objectives app: thin wrappers around objectives.services."""

from celery import shared_task
from django.db import OperationalError


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5, acks_late=True, ignore_result=True)
def objectives_progress_refresh_task(kpi_ids: list[int] | None = None, team_ids: list[int] | None = None) -> int:
    """Refresh the progress of active objectives reading these KPIs for these teams (all when None)."""
    from objectives.services import objectives_progress_refresh

    return objectives_progress_refresh(kpi_ids=kpi_ids, team_ids=team_ids)
