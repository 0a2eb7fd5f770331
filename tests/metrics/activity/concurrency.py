"""Batches ingested at the same time from threads (each with its own database connection), for the PostgreSQL tests
of concurrent writers."""

import threading

from django.db import connection

from metrics.activity.ingest import activity_ingest


def ingest_at_the_same_time(team, kind: str, batches: list[list[dict]]) -> tuple[list[dict], list[Exception]]:
    """Send each batch from its own thread, released together; return the answers and any failures."""
    barrier = threading.Barrier(len(batches))
    results, failures = [], []

    def send(batch):
        try:
            barrier.wait()
            result = activity_ingest(kind=kind, records=batch, default_team_id=team.pk, writable_team_ids={team.pk})
            results.append(result.as_dict())
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, failures
