"""Celery's settings keep the product up when Redis comes and goes (issue 16).

Enqueueing from a web request never waits for a Redis that is down: one attempt, short timeouts, no result
backend; the worker, on the contrary, retries its broker for as long as it takes; Redis redelivers the task of
a killed worker after the longest task's time, not after an hour. Each probe runs the project's settings in a
fresh interpreter, configured by the environment as in production.
"""

import json
import socket

import pytest

from tests.kpiplatform.test_settings import LOCAL, PRODUCTION, run_probe

CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once
ENQUEUE_PROBE = """
import json, logging, time, django
django.setup()
from kpiplatform.celery import heartbeat
from kpiplatform.queue import Send, enqueue_now
from metrics.recompute.tasks import recompute_dirty_task
warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("kpiplatform.queue").addHandler(Keep(logging.WARNING))
sends = []
for task in (heartbeat, recompute_dirty_task):
    started = time.monotonic()
    sent = enqueue_now(Send(task), what=task.name, later="later")
    sends.append({"task": task.name, "sent": sent, "seconds": time.monotonic() - started})
print(json.dumps({"sends": sends, "warnings": warnings}))
"""
CELERY_PROBE = """
import json, django
django.setup()
from kpiplatform.celery import app
c = app.conf
print(json.dumps({"backend": c.result_backend, "transport": c.broker_transport_options,
    "max_retries": c.broker_connection_max_retries, "retry": c.broker_connection_retry,
    "time_limit": c.task_time_limit, "soft_time_limit": c.task_soft_time_limit,
    "redis_timeouts": [c.redis_socket_connect_timeout, c.redis_socket_timeout],
    "backend_transport": c.result_backend_transport_options}))
"""


def probe(code: str, **env: str) -> dict:
    result = run_probe(code, **LOCAL, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def hung_redis():
    """A server that accepts connections and never answers (a Redis frozen, or a half-open connection)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel completes the handshakes; nobody ever reads or writes
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


@pytest.mark.parametrize(
    "env",
    [
        {"REDIS_URL": CLOSED_PORT},  # production: REDIS_URL names the broker
        {"REDIS_URL": CLOSED_PORT, "CELERY_RESULT_BACKEND": CLOSED_PORT},  # and a result backend asked for
    ],
    ids=["broker", "broker-and-result-backend"],
)
def test_enqueueing_while_redis_is_down_returns_at_once_and_says_so(env):
    # given Redis down; when a task is enqueued (the recompute the ingest API sends, and a plain one)
    outcome = probe(ENQUEUE_PROBE, **env)
    # then nothing was sent, each attempt returned in a fraction of a second (it took 19 s), with one warning each
    assert [send["sent"] for send in outcome["sends"]] == [0, 0]
    assert max(send["seconds"] for send in outcome["sends"]) < 1.0, outcome
    assert len(outcome["warnings"]) == 2
    assert all(w.startswith("Could not enqueue") and "task queue unavailable" in w for w in outcome["warnings"])


def test_enqueueing_to_a_redis_that_never_answers_gives_up_after_the_socket_timeout(hung_redis):
    # it used to wait for as long as the connection stayed open
    outcome = probe(ENQUEUE_PROBE, REDIS_URL=hung_redis)
    assert [send["sent"] for send in outcome["sends"]] == [0, 0]
    assert max(send["seconds"] for send in outcome["sends"]) < 2.0, outcome
    assert len(outcome["warnings"]) == 2


def test_with_redis_there_is_no_result_backend_and_the_worker_retries_its_broker_forever():
    conf = probe(CELERY_PROBE, REDIS_URL="redis://cache.example:6380/2")
    # no result is ever read: no backend for `delay()` to subscribe to
    assert conf["backend"] is None
    # the worker's consuming connection: retried without limit (it used to give up after 1 retry and exit)
    assert conf["retry"] is True
    assert conf["max_retries"] is None
    # senders: short timeouts, a single connection attempt
    transport = conf["transport"]
    assert (transport["socket_connect_timeout"], transport["socket_timeout"], transport["max_retries"]) == (0.5, 1.0, 0)
    assert conf["redis_timeouts"] == [0.5, 1.0]
    assert conf["backend_transport"] == {"retry_policy": {"max_retries": 0}}


def test_a_killed_task_is_redelivered_after_the_longest_task_time_not_after_an_hour():
    conf = probe(CELERY_PROBE, REDIS_URL="redis://cache.example:6380/2")
    assert (conf["time_limit"], conf["soft_time_limit"]) == (30 * 60, 25 * 60)
    assert conf["transport"]["visibility_timeout"] == 35 * 60  # the hard limit plus five minutes
    # it follows the time limit, and can be set on its own
    longer = probe(CELERY_PROBE, REDIS_URL="redis://cache.example:6380/2", CELERY_TASK_TIME_LIMIT="3600",
                   CELERY_TASK_SOFT_TIME_LIMIT="3300")  # fmt: skip
    assert longer["transport"]["visibility_timeout"] == 3600 + 300
    short = probe(CELERY_PROBE, REDIS_URL="redis://cache.example:6380/2", CELERY_VISIBILITY_TIMEOUT="5")
    assert short["transport"]["visibility_timeout"] == 5


def test_the_filesystem_broker_keeps_its_folders_and_no_redis_options():
    conf = probe(CELERY_PROBE)
    assert set(conf["transport"]) == {
        "data_folder_in",
        "data_folder_out",
        "processed_folder",
        "control_folder",
        "store_processed",
    }
    assert conf["backend"] is None


def test_a_soft_time_limit_not_below_the_hard_one_is_refused():
    result = run_probe(**PRODUCTION, CELERY_TASK_TIME_LIMIT="600", CELERY_TASK_SOFT_TIME_LIMIT="600")
    assert result.returncode != 0
    assert "CELERY_TASK_SOFT_TIME_LIMIT (600) must be above 0 and below CELERY_TASK_TIME_LIMIT (600)" in result.stderr
