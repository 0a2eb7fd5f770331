"""Receivers of other apps' signals: they only enqueue work (no business logic here)."""

import logging

from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)


def on_kpi_values_changed(
    sender, *, kpi_ids=None, team_ids=None, granularities=None, start=None, end=None, **kwargs
) -> None:
    """New KPI values were stored: after commit, refresh the progress of the objectives reading them and
    judge the alert rules on the recomputed cells.

    If the broker is down, the hourly progress sweep and the 15-minute alert schedule
    (CELERY_BEAT_SCHEDULE) catch up.
    """
    from objectives.alert_tasks import alerts_evaluate_task
    from objectives.tasks import objectives_progress_refresh_task

    kpi_ids = list(kpi_ids) if kpi_ids is not None else None
    team_ids = list(team_ids) if team_ids is not None else None
    try:
        objectives_progress_refresh_task.delay_on_commit(kpi_ids=kpi_ids, team_ids=team_ids)
    except BrokerError:
        logger.warning("Broker unavailable: objectives progress will be refreshed by the periodic sweep.")
    if not granularities or start is None or end is None:
        return
    try:
        alerts_evaluate_task.delay_on_commit(
            kpi_ids=kpi_ids,
            team_ids=team_ids,
            granularities=list(granularities),
            start=start.isoformat(),
            end=end.isoformat(),
        )
    except BrokerError:
        logger.warning("Broker unavailable: alert rules will be judged by the scheduled evaluation.")
