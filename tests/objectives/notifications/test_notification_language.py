"""A notification reads in the reader's current language, whatever the language of the day it was written."""

import pytest
from django.utils import translation

from objectives.models import Notification
from objectives.notifications.outbox import alert_notify, objective_notify
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_french_notification_reads_in_english_after_switching(client, api_client, team_a, manager_a, make_kpi):
    churn = make_kpi("churn_rate", unit="%", name_fr="Taux d'attrition", name_en="Churn rate")
    alert = factories.alert_with_rule(team=team_a, kpi=churn, severity="critical")
    manager_a.language = "fr"
    manager_a.save()
    alert_notify(alert=alert, event=alert.events.get())
    stored = Notification.objects.get(user=manager_a)
    assert stored.title.startswith("Alerte critique")  # written in French, the reader's language then
    # when the reader switches to English
    client.force_login(manager_a)
    client.cookies["django_language"] = "en"
    html = client.get("/notifications/").content.decode()
    assert "Critical alert: Churn rate above the threshold — Équipe A" in html
    assert "Alerte critique" not in html
    api_client.force_authenticate(manager_a)
    with translation.override("en"):
        body = api_client.get("/api/v1/notifications/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["results"][0]["title"] == "Critical alert: Churn rate above the threshold — Équipe A"


def test_objective_notifications_too(client, team_a, manager_a, make_kpi):
    revenue = make_kpi("revenue", name_fr="Chiffre d'affaires", name_en="Revenue")
    objective = factories.objective(team=team_a, owner=manager_a, kpi=revenue, title="T1")
    Notification.objects.all().delete()
    manager_a.language = "fr"
    manager_a.save()
    objective_notify(objective=objective, event="objective.at_risk")
    assert Notification.objects.get(user=manager_a).title.startswith("Objectif à risque")
    client.force_login(manager_a)
    client.cookies["django_language"] = "en"
    html = client.get("/notifications/").content.decode()
    assert "Objective at risk: T1 — Équipe A" in html
