"""The one way work is handed to Celery: after the caller's commit, never failing the caller.

Every write that queues work has already stored what the work needs (dirty marks, pending
notifications and deliveries, a queued import job) in the database, and a periodic sweep or a
fallback picks it up when a message is lost. So a broker that is down, slow or misconfigured
must never undo or fail the write that asked for the work: the error is logged once, as a
warning, and the caller goes on. Tasks are sent by their own `apply_async`, so a task class's own
sending rules (the recompute's debounce) apply.

Sending never waits for a broker that is down: one attempt, no publish retries (Celery's default would retry
and sleep), and the connection attempt is bounded by the short Redis timeouts of the settings. A web request
that enqueues work answers at once; the worker and beat, for their part, wait for the broker to come back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

DEFAULT_LATER = "the periodic sweep sends the stored work later"


@dataclass(frozen=True)
class Send:
    """One message to send: a Celery task and its arguments."""

    task: Any
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def enqueue_now(
    *sends: Send, what: str = "", later: str = DEFAULT_LATER, on_failure: Callable[[], None] | None = None
) -> int:
    """Send these messages in order and return how many were sent.

    At the first broker error the rest are not tried (they would wait for the same broker): the
    error is logged once, naming `what` was not sent and what `later` catches up, and `on_failure`
    runs if given (the work's own fallback).
    """
    sent = 0
    for send in sends:
        try:
            send.task.apply_async(send.args, send.kwargs, retry=False)
        except Exception:  # noqa: BLE001 - a broker outage raises kombu, redis, socket or OS errors alike
            logger.warning(
                "Could not enqueue %s (task queue unavailable, %s of %s messages not sent); %s.",
                what or getattr(send.task, "name", send.task),
                len(sends) - sent,
                len(sends),
                later,
                exc_info=True,
            )
            if on_failure is not None:
                on_failure()
            break
        sent += 1
    return sent


def enqueue_on_commit(
    *sends: Send, what: str = "", later: str = DEFAULT_LATER, on_failure: Callable[[], None] | None = None
) -> None:
    """Send these messages once the current transaction commits (at once outside a transaction); a broker
    error never reaches the caller (see `enqueue_now`). Nothing is sent if the transaction rolls back."""
    if sends:
        transaction.on_commit(lambda: enqueue_now(*sends, what=what, later=later, on_failure=on_failure))
