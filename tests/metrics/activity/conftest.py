"""Fixtures of the activity tests: import jobs run at once, as a worker would."""

import pytest


@pytest.fixture
def eager_imports(monkeypatch):
    """Run import jobs at once, as a worker would: the job is sent with `apply_async` (kpiplatform.queue), which
    runs the task here instead of writing to the broker."""
    from metrics.activity import tasks as import_tasks

    task = import_tasks.activity_import_task

    def run_now(args=(), kwargs=None, **options):
        task(*args, **(kwargs or {}))

    monkeypatch.setattr(task, "apply_async", run_now)
