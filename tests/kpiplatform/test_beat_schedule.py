"""Every periodic task of Celery beat names a task the worker knows (a typo would fail silently at run time)."""

from django.conf import settings

from kpiplatform.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - set(app.tasks) == set()
    # The sweeps that make the broker optional are among them.
    assert {
        "metrics.tasks.recompute_dirty_task",
        "objectives.alert_tasks.alerts_evaluate_scheduled_task",
        "objectives.delivery_tasks.deliveries_sweep_task",
    } <= scheduled
