"""Celery tasks of the objectives app: thin wrappers around objectives.services."""

from celery import shared_task
from django.db import OperationalError

from kpiplatform.queue import Send, enqueue_on_commit
from objectives.alerts.tasks import alerts_evaluate_targets_task
from objectives.services import objectives_progress_refresh


@shared_task(
    name="objectives.tasks.objectives_progress_refresh_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
)
def objectives_progress_refresh_task(kpi_ids: list[int] | None = None, team_ids: list[int] | None = None) -> int:
    """Refresh the progress of active objectives reading these KPIs for these teams (all when None), then have
    the target alert rules judged on the new statuses."""
    count = objectives_progress_refresh(kpi_ids=kpi_ids, team_ids=team_ids)
    enqueue_on_commit(
        Send(alerts_evaluate_targets_task, kwargs={"kpi_ids": kpi_ids, "team_ids": team_ids}),
        what="the target alerts' evaluation",
        later="target alerts will be judged by the scheduled evaluation",
    )
    return count
