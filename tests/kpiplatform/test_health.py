"""/healthz reports database and broker status."""

from unittest import mock


def test_healthz_reports_database_and_broker(client, db):
    with mock.patch("kpiplatform.health.broker_status", return_value={"ok": True, "transport": "filesystem"}):
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"]["ok"] is True


def test_healthz_stays_up_but_degraded_when_the_broker_is_down(client, db):
    from kombu import Connection

    # a real connection attempt to a port where nothing listens
    def unreachable():
        return Connection("redis://127.0.0.1:1/0", connect_timeout=1)

    with mock.patch("kpiplatform.health.celery_app.connection_for_write", side_effect=unreachable):
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded" and body["broker"]["ok"] is False


def test_healthz_is_503_when_the_database_is_down(client, db):
    with (
        mock.patch("kpiplatform.health.database_status", return_value={"ok": False, "vendor": "x"}),
        mock.patch("kpiplatform.health.broker_status", return_value={"ok": True, "transport": "filesystem"}),
    ):
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "down"
