"""Real services for the integration and fault tests: a Celery worker and a web server of the project in
subprocesses, a Redis server of the test's own that can be stopped and started again, and the URL of the test
database for those subprocesses to share."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def wait_for(
    condition: Callable[[], object], *, timeout: float, what: str, log: Path | None = None, every: float = 0.2
) -> object:
    """Poll `condition` until it returns something true (returned); after `timeout` seconds fail, saying `what`
    was awaited and showing the end of `log`."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            tail = f"\n--- {log.name}:\n{log.read_text()[-4000:]}" if log is not None else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(every)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database), for a worker or server to share.

    Skips on SQLite: the test database is in memory and cannot be opened by another process."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "The worker and server subprocesses must reach the test database: SQLite's in-memory test database "
            "cannot be shared between processes (run with DATABASE_URL=postgres://…)."
        )
    s = connection.settings_dict
    credentials = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
    return f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def stop(proc: subprocess.Popen, *, grace: float = 30) -> None:
    """Stop a process: TERM, then KILL if it is still there after `grace` seconds (a worker blocked on a broker
    that is gone may not get to its warm shutdown), so that no test leaves one behind."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def project_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without its broker settings, with these overrides."""
    names = ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_TASK_ALWAYS_EAGER")
    full_env = {k: v for k, v in os.environ.items() if k not in names}
    full_env.update(env)
    return full_env


@contextmanager
def celery_worker(*, env: dict[str, str], log: Path, hostname: str) -> Iterator[subprocess.Popen]:
    """Run `celery worker` with these environment overrides until the block ends; fail if it never gets ready."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "kpiplatform",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                f"--hostname={hostname}@%h",
            ],  # fmt: skip
            cwd=ROOT,
            env=project_env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "ready" not in log.read_text() and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"worker exited early:\n{log.read_text()}")
            time.sleep(0.3)
        yield proc
    finally:
        stop(proc)


@contextmanager
def web_server(*, env: dict[str, str], log: Path) -> Iterator[str]:
    """Serve the project with gunicorn (one process, as in production) until the block ends; yield its base URL."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "kpiplatform.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--timeout", "60", "--log-level", "info"],
            cwd=ROOT, env=project_env(env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"web server exited early:\n{log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for(answers, timeout=60, what="the web server to listen")
        yield base
    finally:
        stop(proc)


class RedisServer:
    """A Redis server of the test's own (no persistence) on a free port; it can be stopped and started again."""

    def __init__(self, *, log: Path):
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)

        def answers() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"redis-server exited:\n{self.log.read_text()}")
            try:
                return bool(client.ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_for(answers, timeout=20, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        """Stop the server (its queued messages are gone with it: no persistence)."""
        if self.proc is not None:
            stop(self.proc, grace=20)
        self.proc = None


@contextmanager
def redis_server(*, log: Path) -> Iterator[RedisServer]:
    """A running Redis server of this test's own, stopped when the block ends."""
    if not Path(REDIS_SERVER).exists():
        if os.environ.get("CI"):
            pytest.fail(f"redis-server is required on CI and was not found ({REDIS_SERVER})")
        pytest.skip("redis-server not found: install Redis to run this test")
    server = RedisServer(log=log)
    server.start()
    try:
        yield server
    finally:
        server.stop()
