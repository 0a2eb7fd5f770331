"""Settings read the environment: safe by default (debug off, refusing to start without a key and hosts, saying
which variable to set), embedded when no database or broker is named (SQLite, filesystem broker)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "db = settings.DATABASES['default'];"
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'host': db.get('HOST', ''),"
    " 'broker': settings.CELERY_BROKER_URL, 'backend': settings.CELERY_RESULT_BACKEND,"
    " 'folders': settings.CELERY_BROKER_TRANSPORT_OPTIONS, 'tz': settings.TIME_ZONE,"
    " 'lang': settings.LANGUAGE_CODE, 'debug': settings.DEBUG}))"
)
ENV_NAMES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "TIME_ZONE",
    "LANGUAGE_CODE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_ALLOWED_HOSTS",
    "KPI_VAR_DIR",
)
LOCAL = {"DJANGO_DEBUG": "true"}
PRODUCTION = {"DJANGO_SECRET_KEY": "x" * 60 + "-prod-Secret_key!", "DJANGO_ALLOWED_HOSTS": "kpi.example"}


def run_probe(code: str = PROBE, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    clean.update(env, DJANGO_SETTINGS_MODULE="kpiplatform.settings")
    return subprocess.run([sys.executable, *args, "-c", code] if code else [sys.executable, *args],
                          cwd=ROOT, env=clean, capture_output=True, text=True)  # fmt: skip


def read_settings(**env: str) -> dict:
    out = run_probe(**env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_debug_is_off_unless_asked():
    # given a production environment that forgets DJANGO_DEBUG, then one that says it in words
    assert read_settings(**PRODUCTION)["debug"] is False
    assert read_settings(**PRODUCTION, DJANGO_DEBUG="false")["debug"] is False
    assert read_settings(DJANGO_DEBUG="true")["debug"] is True


def test_no_environment_at_all_refuses_to_start_naming_every_variable_to_set():
    result = run_probe()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "DJANGO_ALLOWED_HOSTS is not set" in result.stderr
    assert "DJANGO_DEBUG=true for a local run" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG='maybe' is not a yes/no value"),
        ({"KPI_MAX_BATCH_RECORDS": "ten"}, "KPI_MAX_BATCH_RECORDS='ten' is not a whole number"),
        ({"DATABASE_URL": "nonsense://x"}, "DATABASE_URL cannot be read"),
    ],
)
def test_a_malformed_variable_is_named_at_start(env, message):
    result = run_probe(**{**LOCAL, **env})
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_no_environment_but_debug_means_sqlite_and_filesystem_broker():
    conf = read_settings(**LOCAL)
    assert conf["engine"] == "django.db.backends.sqlite3"
    assert conf["name"].endswith("var/db.sqlite3")
    assert conf["broker"] == "filesystem://"
    assert conf["folders"]["data_folder_in"].endswith("var/broker/queue")
    assert conf["backend"] is None
    assert (conf["tz"], conf["lang"], conf["debug"]) == ("Europe/Paris", "fr", True)


def test_database_and_redis_urls_are_used():
    conf = read_settings(
        **LOCAL, DATABASE_URL="postgres://kpi:secret@db.example:5433/kpi", REDIS_URL="redis://cache.example:6380/2"
    )
    assert conf["engine"] == "django.db.backends.postgresql"
    assert (conf["name"], conf["host"]) == ("kpi", "db.example")
    assert conf["broker"] == "redis://cache.example:6380/2"
    assert conf["backend"] is None  # no code reads task results (issue 16); CELERY_RESULT_BACKEND sets one
    assert "data_folder_in" not in conf["folders"]  # Redis's own options instead (test_celery_settings.py)


def test_production_refuses_to_start_without_a_secret_key():
    result = run_probe(DJANGO_DEBUG="false", DJANGO_ALLOWED_HOSTS="kpi.example")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "DJANGO_ALLOWED_HOSTS" not in result.stderr


@pytest.mark.parametrize("flag", ["1", "true", "yes", "on"])
def test_production_settings_pass_the_deploy_check(flag):
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x" * 60 + "-prod-Secret_key!",
        DJANGO_ALLOWED_HOSTS="kpi.example",
        DJANGO_SECURE_COOKIES=flag,
        DJANGO_SECURE_SSL_REDIRECT=flag,
        DJANGO_HSTS_SECONDS="31536000",
        DJANGO_SETTINGS_MODULE="kpiplatform.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
