"""The Celery application: configured from Django settings (``CELERY_`` namespace)."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpiplatform.settings")

app = Celery("kpiplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each capability package keeps its tasks in its own tasks.py; the worker imports them all at start.
TASK_PACKAGES = [
    "metrics.activity",
    "metrics.recompute",
    "objectives",
    "objectives.alerts",
    "objectives.notifications",
]
app.autodiscover_tasks(TASK_PACKAGES)


def ensure_broker_folders() -> None:
    """Create the filesystem broker's folders (kombu does not)."""
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = app.conf.broker_transport_options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


ensure_broker_folders()


@app.task(name="kpiplatform.celery.heartbeat")
def heartbeat() -> str:
    """Prove that beat schedules and a worker runs: write the time to the cache-free log."""
    from django.utils import timezone

    return timezone.now().isoformat()
