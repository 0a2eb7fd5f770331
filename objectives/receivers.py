"""Receivers of other apps' signals: they only enqueue work (no business logic here)."""

import logging

from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)


def on_kpi_values_changed(sender, *, kpi_ids=None, team_ids=None, **kwargs) -> None:
    """New KPI values were stored: refresh the progress of the objectives reading them, after commit.

    If the broker is down, the hourly sweep (CELERY_BEAT_SCHEDULE) catches up.
    """
    from objectives.tasks import objectives_progress_refresh_task

    try:
        objectives_progress_refresh_task.delay_on_commit(
            kpi_ids=list(kpi_ids) if kpi_ids is not None else None,
            team_ids=list(team_ids) if team_ids is not None else None,
        )
    except BrokerError:
        logger.warning("Broker unavailable: objectives progress will be refreshed by the periodic sweep.")
