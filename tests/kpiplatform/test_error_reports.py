"""An error report never shows a secret, even the debug page asked for by mistake (issue 16, defect 1).

Django's safe filter hides settings by name (…KEY, …PASS…), but `DATABASE_URL` and `REDIS_URL` carry
their password inside the value: the debug page of a deployment that left debug on showed both.
"""

import secrets
import sys

import pytest
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from kpiplatform.errors import SecretsHidingFilter, url_passwords_hidden

# Drawn at run time: the debug page shows source lines, and these must be found only where a setting put them.
DB_PASSWORD, REDIS_PASSWORD, SMTP_PASSWORD = (secrets.token_hex(10) for _ in range(3))


def debug_page(request) -> str:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


@override_settings(
    DATABASE_URL=f"postgres://kpi:{DB_PASSWORD}@db.internal:5432/kpi",
    REDIS_URL=f"redis://:{REDIS_PASSWORD}@cache.internal:6379/0",
    CELERY_BROKER_URL=f"redis://:{REDIS_PASSWORD}@cache.internal:6379/0",
    CELERY_RESULT_BACKEND=f"redis://default:{REDIS_PASSWORD}@cache.internal:6379/0",
    EMAIL_HOST_PASSWORD=SMTP_PASSWORD,
    DEFAULT_EXCEPTION_REPORTER_FILTER="kpiplatform.errors.SecretsHidingFilter",
)
def test_the_debug_page_shows_no_password_from_settings_or_the_environment(rf: RequestFactory):
    # given a request whose environment carries the URLs too (runserver copies os.environ into META)
    request = rf.get(
        "/boom/", DATABASE_URL=f"postgres://kpi:{DB_PASSWORD}@db/kpi", SENTRY=f"https://k:{SMTP_PASSWORD}@s"
    )
    # when Django renders its technical 500 page
    html = debug_page(request)
    # then no password appears, while the settings themselves are still listed for the operator
    for secret in (DB_PASSWORD, REDIS_PASSWORD, SMTP_PASSWORD):
        assert secret not in html
    assert "DATABASE_URL" in html


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgres://kpi:secret@db:5432/kpi", "postgres://kpi:***@db:5432/kpi"),
        ("redis://:secret@cache:6379/0", "redis://:***@cache:6379/0"),
        (
            "see https://user:p%40ss@host/x and amqp://guest:guest@mq//",
            "see https://user:***@host/x and amqp://guest:***@mq//",
        ),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("http://127.0.0.1:8000/dashboard/", "http://127.0.0.1:8000/dashboard/"),
    ],
)
def test_url_passwords_are_replaced_and_nothing_else(text, shown):
    assert url_passwords_hidden(text, "***") == shown


def test_settings_named_like_connections_are_hidden_whole():
    cleansed = SecretsHidingFilter().cleanse_setting("CELERY_BROKER_URL", "redis://cache:6379/0")
    assert cleansed == SecretsHidingFilter.cleansed_substitute
