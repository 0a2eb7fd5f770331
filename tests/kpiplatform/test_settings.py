"""Settings read the environment; with none they run embedded (SQLite, filesystem broker)."""

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
)


def read_settings(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    clean.update(env, DJANGO_SETTINGS_MODULE="kpiplatform.settings")
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_environment_means_sqlite_and_filesystem_broker():
    conf = read_settings()
    assert conf["engine"] == "django.db.backends.sqlite3"
    assert conf["name"].endswith("var/db.sqlite3")
    assert conf["broker"] == "filesystem://"
    assert conf["folders"]["data_folder_in"].endswith("var/broker/queue")
    assert conf["backend"] is None
    assert (conf["tz"], conf["lang"], conf["debug"]) == ("Europe/Paris", "fr", True)


def test_database_and_redis_urls_are_used():
    conf = read_settings(
        DATABASE_URL="postgres://kpi:secret@db.example:5433/kpi", REDIS_URL="redis://cache.example:6380/2"
    )
    assert conf["engine"] == "django.db.backends.postgresql"
    assert (conf["name"], conf["host"]) == ("kpi", "db.example")
    assert conf["broker"] == "redis://cache.example:6380/2"
    assert conf["backend"] == "redis://cache.example:6380/2"
    assert conf["folders"] == {}


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(DJANGO_DEBUG="false", DJANGO_SETTINGS_MODULE="kpiplatform.settings")
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set" in result.stderr


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
