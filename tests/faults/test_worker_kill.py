"""A worker killed (SIGKILL) in the middle of a recompute: Redis hands the unacknowledged task to the next worker
once the visibility timeout has passed, and the stored values end up those of a synchronous recompute (DESIGN
§5, §10).

Real services: Celery workers in subprocesses, PostgreSQL (the test database, shared with them) and a Redis
server of the test's own. The task is the admin's recompute of some KPIs (`recompute_kpis` without --sync): no
dirty mark backs it, so only the redelivery of its message can finish the work. The workers run with a
visibility timeout of a few seconds (CELERY_VISIBILITY_TIMEOUT) so that the redelivery happens within the test.
"""

import datetime as dt
import os
import signal
import time

import pytest
from celery import Celery
from django.utils import timezone

from accounts.demo import demo_organisation_create
from metrics.demo import demo_activity_create
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import DirtyMark, KpiValue
from metrics.recompute.services import kpi_values_recompute_all
from tests.faults.report import record
from tests.integration.workers import celery_worker, redis_server, shared_database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TASK = "metrics.tasks.recompute_kpis_task"
# KPIs whose recompute over the demo data takes several seconds (state measures over two years of days), so
# that the kill lands in the middle of it.
KPI_CODES = ["active_customers", "churn_rate", "retention_rate", "revenue_churn_rate", "crm_active_user_rate"]
RECORDS = 3000
VISIBILITY_TIMEOUT = 5


def kpi_value_cells() -> dict[tuple, tuple]:
    """Every stored KPI value: (kpi, team, granularity, period, segment) -> (value, components)."""
    return {
        (kpi, team, granularity, period_start, segment): (value, components)
        for kpi, team, granularity, period_start, segment, value, components in KpiValue.objects.values_list(
            "kpi__code", "team__slug", "granularity", "period_start", "segment", "value", "components"
        )
    }


def task_lines(log, word: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if f"{TASK}[" in line and word in line]


def test_a_recompute_killed_mid_run_is_redelivered_and_converges(tmp_path):
    database_url = shared_database_url()
    # given two years of demo activity and no dirty mark: the queued task alone holds the work
    kpi_catalogue_load()
    teams, _logins = demo_organisation_create()
    demo_activity_create(teams, records=RECORDS, seed=16)
    DirtyMark.objects.all().delete()
    since = (timezone.localdate() - dt.timedelta(days=800)).isoformat()

    with redis_server(log=tmp_path / "redis.log") as broker:
        env = {
            "DJANGO_SETTINGS_MODULE": "kpiplatform.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": broker.url,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "KPI_VAR_DIR": str(tmp_path),
            "DB_CONN_MAX_AGE": "0",
        }
        first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"
        # when the recompute is queued and its worker is killed once it has started storing values
        with celery_worker(env=env, log=first_log, hostname="doomed") as doomed:
            with Celery("kill-client", broker=broker.url, set_as_current=False) as client:
                client.send_task(TASK, kwargs={"kpi_codes": KPI_CODES, "since": since})
            wait_for(lambda: task_lines(first_log, "received"), timeout=60, what="the task to start", log=first_log)
            wait_for(
                KpiValue.objects.exists, timeout=60, what="the first values to be stored", log=first_log, every=0.05
            )
            os.kill(doomed.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            doomed.wait(timeout=10)
        assert not task_lines(first_log, "succeeded"), "the recompute ended before the kill: give it more work"
        values_at_kill = KpiValue.objects.count()
        # then a new worker, started once the message's visibility timeout has passed, runs it again to the end
        time.sleep(max(0.0, killed_at + VISIBILITY_TIMEOUT + 1 - time.monotonic()))
        with celery_worker(env=env, log=second_log, hostname="heir"):
            wait_for(lambda: task_lines(second_log, "received"), timeout=60, what="the redelivery", log=second_log)
            redelivered_after = time.monotonic() - killed_at
            wait_for(lambda: task_lines(second_log, "succeeded"), timeout=120, what="the recompute", log=second_log)

    # and the stored values are exactly those of a synchronous recompute, cell by cell
    from_workers = kpi_value_cells()
    assert values_at_kill < len(from_workers)  # the kill did leave the work unfinished
    KpiValue.objects.all().delete()
    kpi_values_recompute_all(kpi_codes=KPI_CODES, since=dt.date.fromisoformat(since))
    synchronous = kpi_value_cells()
    cells = from_workers.keys() | synchronous.keys()
    differences = {cell for cell in cells if from_workers.get(cell) != synchronous.get(cell)}
    assert not differences, [(cell, from_workers.get(cell), synchronous.get(cell)) for cell in sorted(differences)[:10]]
    record(
        "worker-kill",
        cells_compared=len(cells),
        differences=len(differences),
        values_at_kill=values_at_kill,
        redelivered_after_seconds=round(redelivered_after, 1),
    )
