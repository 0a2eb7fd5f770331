"""Celery tasks of the metrics app: thin wrappers around metrics.services.

Ingestion calls `recompute_dirty_enqueue()` (or enqueues `recompute_dirty_task` itself)
after committing data and dirty marks. The task is debounced — a burst of ingests
yields one effective run — idempotent, and safe when two run at once. If the broker is
down nothing is lost: the marks stay in the database and the beat sweep
(CELERY_BEAT_SCHEDULE, every minute) consumes them later.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.core.cache import cache
from django.db import OperationalError, transaction

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 2
DEBOUNCE_KEY = "metrics:recompute-dirty:queued"
RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "retry_backoff_max": 300, "max_retries": 8}


class DebouncedTask(Task):
    """A task whose plain enqueues are debounced: delayed by DEBOUNCE_SECONDS, and dropped while one is queued.

    Dropping is safe: the queued run has not started yet (it waits its countdown), so it
    will see every dirty mark committed before the dropped enqueue. Explicit countdowns
    and ETAs (retries) are never dropped. The guard lives in Django's cache; with a
    per-process cache it debounces each web process's bursts.
    """

    abstract = True

    def apply_async(self, args=None, kwargs=None, **options):
        if "countdown" in options or "eta" in options:
            return super().apply_async(args, kwargs, **options)
        if not cache.add(DEBOUNCE_KEY, 1, timeout=DEBOUNCE_SECONDS):
            return None
        try:
            return super().apply_async(args, kwargs, countdown=DEBOUNCE_SECONDS, **options)
        except Exception:
            cache.delete(DEBOUNCE_KEY)
            raise


@shared_task(name="metrics.tasks.recompute_dirty_task", bind=True, base=DebouncedTask, acks_late=True, **RETRY)
def recompute_dirty_task(self) -> dict:
    """Recompute the KPI values made stale by dirty marks, then release the marks."""
    from metrics.services import dirty_marks_recompute

    result = dirty_marks_recompute()
    if result.busy:
        # Another run holds the lock and loops until no marks remain; look again shortly.
        raise self.retry(countdown=DEBOUNCE_SECONDS * 2, max_retries=3)
    return {
        "marks_claimed": result.marks_claimed,
        "marks_released": result.marks_released,
        "values_written": result.values_written,
    }


@shared_task(name="metrics.tasks.recompute_all_task", acks_late=True, **RETRY)
def recompute_all_task() -> dict:
    """Nightly recovery: recompute every active KPI for every team from the earliest activity to today."""
    from metrics.services import kpi_values_recompute_all

    result = kpi_values_recompute_all()
    return {"values_written": result.values_written}


@shared_task(name="metrics.tasks.recompute_kpis_task", acks_late=True, **RETRY)
def recompute_kpis_task(
    *, kpi_codes: list[str] | None = None, team_slugs: list[str] | None = None, since: str | None = None
) -> dict:
    """Recompute some KPIs / teams from an ISO date (admin action, `recompute_kpis` without --sync)."""
    import datetime as dt

    from metrics.services import kpi_values_recompute_all

    result = kpi_values_recompute_all(
        since=dt.date.fromisoformat(since) if since else None, kpi_codes=kpi_codes, team_slugs=team_slugs
    )
    return {"values_written": result.values_written}


def _send() -> None:
    try:
        recompute_dirty_task.delay()
    except Exception:  # broker unreachable: the marks are saved, the periodic sweep will consume them
        logger.warning("Could not enqueue the KPI recompute; the periodic sweep will pick the dirty marks up.")


def recompute_dirty_enqueue() -> None:
    """Enqueue a debounced recompute once the current transaction commits; never raises."""
    transaction.on_commit(_send)
