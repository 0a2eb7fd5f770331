"""Celery tasks of the objectives app: thin wrappers around objectives.services."""

import logging

from celery import shared_task
from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5, acks_late=True, ignore_result=True)
def objectives_progress_refresh_task(kpi_ids: list[int] | None = None, team_ids: list[int] | None = None) -> int:
    """Refresh the progress of active objectives reading these KPIs for these teams (all when None), then have
    the target alert rules judged on the new statuses."""
    from objectives.alert_tasks import alerts_evaluate_targets_task
    from objectives.services import objectives_progress_refresh

    count = objectives_progress_refresh(kpi_ids=kpi_ids, team_ids=team_ids)
    try:
        alerts_evaluate_targets_task.delay_on_commit(kpi_ids=kpi_ids, team_ids=team_ids)
    except BrokerError:
        logger.warning("Broker unavailable: target alerts will be judged by the scheduled evaluation.")
    return count
