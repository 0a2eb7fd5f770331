"""Celery tasks of alert evaluation: thin wrappers around objectives.alerts.evaluation; safe to run twice.

Tasks keep the names they had in `objectives.alert_tasks`: beat's rows and queued messages refer to them."""

import datetime as dt

from celery import shared_task
from django.db import OperationalError

from objectives.alerts.evaluation import alerts_evaluate_cells, alerts_evaluate_scheduled, alerts_evaluate_targets


@shared_task(
    name="objectives.alert_tasks.alerts_evaluate_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
)
def alerts_evaluate_task(
    kpi_ids: list[int] | None, team_ids: list[int] | None, granularities: list[str], start: str, end: str
) -> int:
    """Judge the rules on recomputed cells: these KPIs and teams, these granularities, periods in [start, end)."""
    result = alerts_evaluate_cells(
        kpi_ids=kpi_ids,
        team_ids=team_ids,
        granularities=granularities,
        start=dt.date.fromisoformat(start),
        end=dt.date.fromisoformat(end),
    )
    return result.event_count


@shared_task(
    name="objectives.alert_tasks.alerts_evaluate_targets_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
)
def alerts_evaluate_targets_task(kpi_ids: list[int] | None = None, team_ids: list[int] | None = None) -> int:
    """Judge the objective-target rules on targets reading these KPIs for these teams (all when None)."""
    return alerts_evaluate_targets(kpi_ids=kpi_ids, team_ids=team_ids).event_count


@shared_task(
    name="objectives.alert_tasks.alerts_evaluate_scheduled_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    acks_late=True,
    ignore_result=True,
)
def alerts_evaluate_scheduled_task() -> int:
    """Judge every active rule: current and previous periods, objective targets, no-data rules."""
    return alerts_evaluate_scheduled().event_count
