"""Each task goes to the queue of its kind of work (issue 17, item 2): a long recompute or a big import
never holds back an alert or an e-mail, and production can give each queue its own workers."""

import pytest

from kpiplatform.celery import app

EXPECTED = {
    "kpiplatform.celery.heartbeat": "celery",
    "metrics.tasks.recompute_dirty_task": "recompute",
    "metrics.tasks.recompute_all_task": "recompute",
    "metrics.tasks.recompute_kpis_task": "recompute",
    "metrics.import_tasks.activity_import_task": "imports",
    "objectives.alert_tasks.alerts_evaluate_task": "alerts",
    "objectives.alert_tasks.alerts_evaluate_targets_task": "alerts",
    "objectives.alert_tasks.alerts_evaluate_scheduled_task": "alerts",
    "objectives.tasks.objectives_progress_refresh_task": "alerts",
    "objectives.delivery_tasks.notifications_email_send_task": "deliveries",
    "objectives.delivery_tasks.webhook_delivery_send_task": "deliveries",
    "objectives.delivery_tasks.deliveries_sweep_task": "deliveries",
    "objectives.delivery_tasks.digests_send_task": "deliveries",
}


def test_every_project_task_is_listed_here():
    app.loader.import_default_modules()
    project = {name for name in app.tasks if not name.startswith("celery.")}
    assert project == set(EXPECTED)


@pytest.mark.parametrize(("task", "queue"), EXPECTED.items())
def test_each_task_is_routed_to_its_queue(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_a_worker_without_queue_option_consumes_every_queue():
    # `make run` starts one worker without -Q: it must take work from every queue, not only the default one
    assert {queue.name for queue in app.conf.task_queues} == {"celery", "recompute", "imports", "alerts", "deliveries"}
