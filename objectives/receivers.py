"""Receivers of other apps' signals: they only enqueue work (no business logic here)."""

from kpiplatform.queue import Send, enqueue_on_commit
from objectives.alerts.tasks import alerts_evaluate_task
from objectives.tasks import objectives_progress_refresh_task


def on_kpi_values_changed(
    sender, *, kpi_ids=None, team_ids=None, granularities=None, start=None, end=None, **kwargs
) -> None:
    """New KPI values were stored: after commit, refresh the progress of the objectives reading them and
    judge the alert rules on the recomputed cells.

    If the broker is down, the hourly progress sweep and the 15-minute alert schedule
    (CELERY_BEAT_SCHEDULE) catch up.
    """
    kpi_ids = list(kpi_ids) if kpi_ids is not None else None
    team_ids = list(team_ids) if team_ids is not None else None
    enqueue_on_commit(
        Send(objectives_progress_refresh_task, kwargs={"kpi_ids": kpi_ids, "team_ids": team_ids}),
        what="the objectives' progress refresh",
        later="objectives progress will be refreshed by the periodic sweep",
    )
    if not granularities or start is None or end is None:
        return
    cells = {"granularities": list(granularities), "start": start.isoformat(), "end": end.isoformat()}
    enqueue_on_commit(
        Send(alerts_evaluate_task, kwargs={"kpi_ids": kpi_ids, "team_ids": team_ids, **cells}),
        what="the alert evaluation",
        later="alert rules will be judged by the scheduled evaluation",
    )
