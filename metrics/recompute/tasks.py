"""Celery tasks of the recompute: thin wrappers around metrics.recompute.services (named as they were in
`metrics.tasks`: beat's rows and queued messages refer to them by name).

Ingestion and the login/membership receivers call `recompute_dirty_enqueue()` in the
transaction that wrote their dirty marks; the message is sent after the commit. The task is
debounced — a burst of ingests yields one effective run — idempotent, and several workers share the marks
(claimed by team, metrics.recompute.marks). If the broker is
down nothing is lost: the marks stay in the database and the beat sweep
(CELERY_BEAT_SCHEDULE, every minute) consumes them later.
"""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task
from django.core.cache import cache
from django.db import OperationalError

from kpiplatform.queue import Send, enqueue_on_commit
from metrics.recompute.services import dirty_marks_recompute, kpi_values_recompute_all

DEBOUNCE_SECONDS = 2
DEBOUNCE_KEY = "metrics:recompute-dirty:queued"
BUSY_LOOKS = 3  # how many times a run that found another one busy looks again before leaving the marks to it
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
    result = dirty_marks_recompute()
    if result.busy:
        # Other workers hold every team with marks and loop until they can claim none; look again shortly, in
        # case one was finishing as these marks arrived. After a few looks, end quietly: under a steady stream
        # the running loops take them, and the beat sweep (every minute) catches the rare mark left behind.
        if self.request.retries < BUSY_LOOKS:
            raise self.retry(countdown=DEBOUNCE_SECONDS * 2, max_retries=BUSY_LOOKS)
        return {"busy": True}
    return {
        "marks_claimed": result.marks_claimed,
        "marks_released": result.marks_released,
        "values_written": result.values_written,
        **({"marks_kept": result.marks_kept} if result.marks_kept else {}),
    }


@shared_task(name="metrics.tasks.recompute_all_task", acks_late=True, **RETRY)
def recompute_all_task() -> dict:
    """Nightly recovery: recompute every active KPI for every team from the earliest activity to today."""
    result = kpi_values_recompute_all()
    return {"values_written": result.values_written}


@shared_task(name="metrics.tasks.recompute_kpis_task", acks_late=True, **RETRY)
def recompute_kpis_task(
    *, kpi_codes: list[str] | None = None, team_slugs: list[str] | None = None, since: str | None = None
) -> dict:
    """Recompute some KPIs / teams from an ISO date (admin action, `recompute_kpis` without --sync)."""
    result = kpi_values_recompute_all(
        since=dt.date.fromisoformat(since) if since else None, kpi_codes=kpi_codes, team_slugs=team_slugs
    )
    return {"values_written": result.values_written}


def recompute_dirty_enqueue() -> None:
    """Enqueue a debounced recompute once the current transaction commits; never raises (the marks are
    committed: the periodic sweep consumes them if the message is lost)."""
    enqueue_on_commit(
        Send(recompute_dirty_task), what="the KPI recompute", later="the periodic sweep will pick the dirty marks up"
    )
