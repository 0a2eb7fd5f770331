"""A round-trip through a real Celery worker with Redis (127.0.0.1:6379 by default)."""

import os

import pytest
import redis
from celery import Celery

from tests.integration.workers import celery_worker

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module")
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required on CI and is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: start it (scripts/ensure-services.sh) to run this test")
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


@pytest.fixture(scope="module")
def worker(redis_url, tmp_path_factory):
    env = {
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "KPI_VAR_DIR": str(tmp_path_factory.mktemp("worker-var")),
    }
    log = tmp_path_factory.mktemp("worker-log") / "worker.log"
    with celery_worker(env=env, log=log, hostname="itest") as proc:
        yield proc


def test_task_runs_on_a_real_worker_and_its_result_comes_back(worker, redis_url):
    # given a client app talking to the same Redis as the worker
    client = Celery("itest-client", broker=redis_url, backend=redis_url)
    # when the project's heartbeat task is sent by name
    result = client.send_task("kpiplatform.celery.heartbeat")
    # then the worker ran it: its ISO timestamp comes back through Redis
    value = result.get(timeout=30)
    assert value[:4].isdigit() and "T" in value
    assert result.successful()


@pytest.mark.parametrize("queue", ["recompute", "imports", "alerts", "deliveries"])
def test_a_worker_started_without_queues_takes_work_from_every_queue(worker, redis_url, queue):
    # given the worker as `make run` starts it (no -Q) and a message put on one of the work queues
    client = Celery("itest-client", broker=redis_url, backend=redis_url)
    result = client.send_task("kpiplatform.celery.heartbeat", queue=queue)
    # then the worker consumes that queue too
    assert result.get(timeout=30)[:4].isdigit()
