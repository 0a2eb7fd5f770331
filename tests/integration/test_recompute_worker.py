"""A real Celery worker (Redis broker) recomputes KPI values from dirty marks in a shared PostgreSQL database."""

import datetime as dt
import os
from decimal import Decimal
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.db import connection

from metrics.activity.ingest import activity_ingest
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import DirtyMark, KpiValue
from tests.integration.workers import celery_worker

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("TEST_ENGINE_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def broker():
    if connection.vendor != "postgresql":
        pytest.skip(
            "The worker must reach the test database: SQLite's in-memory test database cannot be shared "
            "(run with DATABASE_URL=postgres://…)."
        )
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required on CI and is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: start it (scripts/ensure-services.sh) to run this test")
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    s = connection.settings_dict
    credentials = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(transactional_db, broker, tmp_path):
    log = tmp_path / "worker.log"
    env = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "KPI_VAR_DIR": str(tmp_path),
        "DB_CONN_MAX_AGE": "0",
    }
    with celery_worker(env=env, log=log, hostname="engine-itest") as proc:
        yield proc, log


def test_worker_recomputes_ingested_activity(worker, team_a):
    _proc, log = worker
    kpi_catalogue_load()
    # given orders ingested (data and dirty marks committed; this process's enqueue went nowhere the worker listens)
    records = [
        {"external_id": "O-1", "ordered_at": "2026-01-15T10:00:00+01:00", "amount": "120.50", "status": "completed"},
        {"external_id": "O-2", "ordered_at": "2026-01-20T10:00:00+01:00", "amount": "79.50", "status": "completed"},
    ]
    activity_ingest(kind="orders", records=records, default_team_id=team_a.pk, writable_team_ids=None)
    assert DirtyMark.objects.filter(team=team_a, record_kind="orders").exists()
    # when the recompute task is sent through Redis, as the beat sweep would
    client = Celery("engine-itest-client", broker=REDIS_URL, backend=REDIS_URL)
    result = client.send_task("metrics.tasks.recompute_dirty_task")
    outcome = result.get(timeout=120)
    # then the worker stored the values and released the mark
    assert outcome["marks_released"] == 1, log.read_text()[-3000:]
    revenue = KpiValue.objects.get(
        kpi__code="revenue", team=team_a, granularity="month", period_start=dt.date(2026, 1, 1), segment=""
    )
    assert revenue.value == Decimal("200.0000000000")
    assert revenue.components == {"revenue": 200}
    assert not DirtyMark.objects.exists()
