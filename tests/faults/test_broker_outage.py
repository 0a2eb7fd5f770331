"""Redis stops in the middle of an ingest: every batch is still answered quickly and stored, the worker waits for
the broker instead of exiting, and once Redis is back the KPI values converge (DESIGN §5, §10).

Real services, as in production: gunicorn serving the API, a Celery worker, PostgreSQL (the test database,
shared with both subprocesses) and a Redis server of the test's own, stopped and started again on its port.
Redis keeps nothing across the restart (no persistence), so the messages queued before it stopped are lost
too: what brings the values back is the dirty marks stored with the data, consumed by the sweep that beat
sends every minute. The test sends that same task by name once Redis is back instead of waiting for beat.
"""

import datetime as dt
import time
from decimal import Decimal

import pytest
import requests
from celery import Celery
from django.core.management import call_command
from django.utils import timezone

from accounts.services import api_key_create, team_upsert
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import DirtyMark, KpiValue, Order
from tests.faults.report import record
from tests.integration.workers import celery_worker, redis_server, shared_database_url, wait_for, web_server

pytestmark = pytest.mark.django_db(transaction=True)

RECORDS_PER_BATCH = 25
BATCHES_BEFORE, BATCHES_DURING, BATCHES_AFTER = 2, 6, 1
AMOUNT = Decimal("10.00")
# A request that enqueues while the broker is down answers about as fast as any other: well under this.
MAX_REQUEST_SECONDS = 1.0
SWEEP_TASK = "metrics.tasks.recompute_dirty_task"


def kpi_value_cells() -> dict[tuple, tuple]:
    """Every stored KPI value: (kpi, team, granularity, period, segment) -> (value, components)."""
    return {
        (kpi, team, granularity, period_start, segment): (value, components)
        for kpi, team, granularity, period_start, segment, value, components in KpiValue.objects.values_list(
            "kpi__code", "team__slug", "granularity", "period_start", "segment", "value", "components"
        )
    }


def same_value(one: tuple | None, other: tuple | None) -> bool:
    """Whether two stored cells agree; a cell not stored is empty (no value, zero counts).

    The recompute of dirty marks stores only the KPIs reading the changed kinds; a full recompute stores every
    KPI, from the first activity to today."""
    return one == other or (is_empty(one) and is_empty(other))


def is_empty(cell: tuple | None) -> bool:
    if cell is None:
        return True
    value, components = cell
    return not value and not any(components.values())


def recomputes_done(log) -> int:
    """How many recompute runs the worker's log shows as finished."""
    return sum(1 for line in log.read_text().splitlines() if f"{SWEEP_TASK}[" in line and "succeeded" in line)


def orders_batch(number: int) -> list[dict]:
    """RECORDS_PER_BATCH completed orders of AMOUNT each, spread over the last three local days."""
    today = timezone.localdate()
    return [
        {
            "external_id": f"O-{number:02d}-{i:03d}",
            "ordered_at": timezone.make_aware(
                dt.datetime.combine(today - dt.timedelta(days=i % 3), dt.time(10))
            ).isoformat(),
            "amount": str(AMOUNT),
            "status": "completed",
        }
        for i in range(RECORDS_PER_BATCH)
    ]


def test_a_broker_outage_during_ingest_loses_nothing_and_values_converge(tmp_path):
    database_url = shared_database_url()
    kpi_catalogue_load()
    team = team_upsert(slug="ventes", name="Ventes", kind="sales", parent_slug=None)
    _key, plain_key = api_key_create(team=team, name="crm", scopes=["read", "write"])
    headers = {"Authorization": f"Api-Key {plain_key}", "Accept-Language": "en"}
    posted: list[str] = []
    during: list[float] = []

    with redis_server(log=tmp_path / "redis.log") as broker:
        # The project's settings, configured as in production: REDIS_URL names the broker.
        env = {
            "DJANGO_SETTINGS_MODULE": "kpiplatform.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": broker.url,
            "KPI_VAR_DIR": str(tmp_path),
            "DB_CONN_MAX_AGE": "0",
        }
        # gunicorn with debug off, as deployed.
        web_env = {
            **env,
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "fault-test-" + "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        }
        worker_log, web_log = tmp_path / "worker.log", tmp_path / "web.log"
        with (
            celery_worker(env=env, log=worker_log, hostname="outage") as worker,
            web_server(env=web_env, log=web_log) as web,
        ):
            url = f"{web}/api/v1/activity/orders/"

            def post(number: int) -> float:
                batch = orders_batch(number)
                started = time.monotonic()
                response = requests.post(url, json=batch, headers=headers, timeout=30)
                elapsed = time.monotonic() - started
                assert response.status_code == 200, response.text
                assert response.json() == {"created": len(batch), "updated": 0, "unchanged": 0}
                posted.extend(record["external_id"] for record in batch)
                return elapsed

            # given batches ingested and recomputed while Redis is up
            for number in range(BATCHES_BEFORE):
                post(number)
            wait_for(lambda: recomputes_done(worker_log) and not DirtyMark.objects.exists(),
                     timeout=60, what="the worker to recompute the first batches", log=worker_log)  # fmt: skip

            # when Redis stops and more batches are posted, one a second
            broker.stop()
            outage_started = time.monotonic()
            for number in range(BATCHES_BEFORE, BATCHES_BEFORE + BATCHES_DURING):
                during.append(post(number))
                time.sleep(1)
            # then each was answered at once, saying the recompute waits for the sweep
            assert max(during) < MAX_REQUEST_SECONDS, during
            assert web_log.read_text().count("Could not enqueue the KPI recompute") == BATCHES_DURING
            assert DirtyMark.objects.exists()  # the outage's batches wait, marked dirty, for a recompute
            # and the worker keeps trying to reconnect (it used to give up and exit after one attempt)
            wait_for(lambda: worker_log.read_text().count("Cannot connect to redis") >= 2, timeout=30,
                     what="the worker to retry connecting", log=worker_log)  # fmt: skip
            assert worker.poll() is None, worker_log.read_text()[-3000:]

            # when Redis comes back on the same port
            broker.start()
            outage_seconds = time.monotonic() - outage_started
            wait_for(lambda: worker_log.read_text().count("Connected to redis") >= 2, timeout=60,
                     what="the worker to reconnect", log=worker_log)  # fmt: skip
            reconnect_seconds = time.monotonic() - outage_started - outage_seconds
            # beat's sweep (every minute) is sent now rather than waited for
            runs = recomputes_done(worker_log)
            with Celery("outage-beat", broker=broker.url, set_as_current=False) as beat:
                beat.send_task(SWEEP_TASK)
            wait_for(lambda: recomputes_done(worker_log) > runs and not DirtyMark.objects.exists(), timeout=60,
                     what="the sweep to consume the dirty marks", log=worker_log)  # fmt: skip
            # and the web side's own enqueue works again after the outage
            runs = recomputes_done(worker_log)
            for number in range(BATCHES_BEFORE + BATCHES_DURING, BATCHES_BEFORE + BATCHES_DURING + BATCHES_AFTER):
                post(number)
            wait_for(lambda: recomputes_done(worker_log) > runs and not DirtyMark.objects.exists(), timeout=60,
                     what="the worker to recompute the batch posted after the outage", log=worker_log)  # fmt: skip

            # then the worker never exited
            assert worker.poll() is None, worker_log.read_text()[-3000:]
        web_text = web_log.read_text()

    # the web server's enqueues failed during the outage only
    assert web_text.count("Could not enqueue") == BATCHES_DURING, web_text[-3000:]
    # nothing lost: every posted record is stored
    stored = set(Order.objects.filter(team=team).values_list("external_id", flat=True))
    assert stored == set(posted)
    assert len(posted) == (BATCHES_BEFORE + BATCHES_DURING + BATCHES_AFTER) * RECORDS_PER_BATCH
    # the values the worker stored are those of a synchronous recompute from scratch
    from_worker = kpi_value_cells()
    revenue = sum(value for (kpi, _t, granularity, *_), (value, _c) in from_worker.items()
                  if kpi == "revenue" and granularity == "month")  # fmt: skip
    assert revenue == AMOUNT * len(posted)  # every order counted once, whatever month its day falls in
    KpiValue.objects.all().delete()
    call_command("recompute_kpis", "--sync")
    synchronous = kpi_value_cells()
    # a synchronous recompute stores periods up to today; the incremental one also the next period (for prev())
    today = timezone.localdate()
    cells = {cell for cell in from_worker.keys() | synchronous.keys() if cell[3] <= today}
    differences = {cell for cell in cells if not same_value(from_worker.get(cell), synchronous.get(cell))}
    assert not differences, [(cell, from_worker.get(cell), synchronous.get(cell)) for cell in sorted(differences)[:10]]
    record(
        "broker-outage",
        records_posted=len(posted),
        records_lost=len(set(posted) - stored),
        max_request_seconds=round(max(during), 3),
        outage_seconds=round(outage_seconds, 1),
        worker_alive=1,
        reconnect_seconds=round(reconnect_seconds, 1),
        cells_compared=len(cells),
        differences=len(differences),
    )
