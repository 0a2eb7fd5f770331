"""Liveness and readiness: is the database reachable, is the broker reachable."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kpiplatform.celery import app as celery_app


def database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says why
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def broker_status() -> dict:
    transport = celery_app.conf.broker_url.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=1)
    except Exception as exc:  # the broker being down is a state to report, not a crash
        return {"ok": False, "transport": transport, "error": exc.__class__.__name__}
    return {"ok": True, "transport": transport}


@never_cache
@require_GET
def healthz(request):
    """Report database and broker status as JSON; 503 when the database is down.

    A broker outage does not make the app unhealthy: data is still saved and the
    periodic sweep catches up, so it is reported but keeps the status 200.
    """
    db = database_status()
    broker = broker_status()
    status = "ok" if db["ok"] and broker["ok"] else ("degraded" if db["ok"] else "down")
    return JsonResponse({"status": status, "database": db, "broker": broker}, status=200 if db["ok"] else 503)
