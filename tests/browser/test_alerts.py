"""In real Chromium: a manager creates an alert rule, sees the bell and the alerts list, acknowledges an alert."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import Role
from metrics.models import KpiDefinition, KpiValue
from objectives.models import Alert, AlertEvent, AlertRule, AlertState, Notification
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def firing_alert(transactional_db, make_team, make_user):
    team = make_team("ventes", name="Ventes")
    claire = make_user("claire", team=team, role=Role.MANAGER)
    revenue = KpiDefinition.objects.create(
        code="revenue",
        name_fr="Chiffre d'affaires",
        name_en="Revenue",
        unit="€",
        direction="higher",
        additive=True,
        category="sales",
        formula="x",
    )
    # Six months of revenue, the last one under the 10 000 € floor of the rule.
    for month, value in zip(range(1, 7), [12000, 12500, 11800, 12100, 10400, 8700], strict=True):
        KpiValue.objects.create(
            kpi=revenue,
            team=team,
            granularity="month",
            period_start=date(2026, month, 1),
            value=Decimal(value),
            computed_at=timezone.now(),
        )
    rule = AlertRule.objects.create(
        team=team, name="CA mensuel sous 10 000 €", condition="below", kpi=revenue, threshold=Decimal(10000)
    )
    alert = Alert.objects.create(
        rule=rule,
        team=team,
        period_start=date(2026, 6, 1),
        state=AlertState.FIRING,
        severity="critical",
        value=Decimal(8700),
        threshold=Decimal(10000),
        fired_at=timezone.now(),
    )
    AlertEvent.objects.create(
        alert=alert,
        kind="fired",
        value=alert.value,
        threshold=alert.threshold,
        notified=[{"user": claire.pk, "username": "claire", "channels": ["in_app", "email"]}],
    )
    Notification.objects.create(
        user=claire,
        team=team,
        alert=alert,
        event="alert.firing",
        title="CA mensuel sous 10 000 €",
        url=f"/alerts/{alert.pk}/",
    )
    return alert


def test_manager_creates_a_rule_and_acknowledges_an_alert(live_server, page, screenshot, firing_alert):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill("claire")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/dashboard/ventes/")  # one team: its dashboard

    # The rule form: choosing an objective condition hides the KPI fields, a KPI condition shows them.
    page.goto(f"{live_server.url}/teams/ventes/alert-rules/new/")
    assert page.get_by_role("heading", name="Nouvelle règle d’alerte").is_visible()
    page.get_by_label("Condition").select_option("off_track")
    assert page.locator("#id_kpi").is_hidden() and page.locator("#id_target").is_visible()
    page.get_by_label("Condition").select_option("change_below")
    assert page.locator("#id_kpi").is_visible() and page.locator("#id_change_floor").is_visible()
    page.get_by_label("Nom").fill("Chute du CA de plus de 15 %")
    page.get_by_label("Indicateur").select_option("revenue")
    page.get_by_label("Seuil", exact=True).fill("15")
    page.get_by_label("Gravité").select_option("critical")
    screenshot(page, "alert-rule-form-fr")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(f"{live_server.url}/teams/ventes/alert-rules/")
    assert page.get_by_text("Règle d’alerte créée.").is_visible()
    assert page.get_by_role("heading", name="Chute du CA de plus de 15 %").is_visible()
    rule = AlertRule.objects.get(name="Chute du CA de plus de 15 %")
    assert (rule.condition, rule.threshold, rule.severity) == ("change_below", Decimal(15), "critical")

    # The alerts list, with the bell counting one unread notification.
    page.get_by_role("link", name="Alertes", exact=True).first.click()
    page.wait_for_url(f"{live_server.url}/alerts/")
    bell = page.get_by_role("link", name="Notifications (1 non lue)")
    assert bell.is_visible()
    row = page.locator(f'tr[data-alert="{firing_alert.pk}"]')
    assert "Déclenchée" in row.inner_text() and "Ventes" in row.inner_text()
    screenshot(page, "alert-list-fr")

    # The alert: chart with the threshold, then acknowledge with a comment.
    row.get_by_role("link", name="CA mensuel sous 10 000 €").click()
    page.wait_for_url(f"{live_server.url}/alerts/{firing_alert.pk}/")
    page.wait_for_function("document.querySelector('canvas[data-alert-chart]').width > 0")
    box = page.locator("canvas[data-alert-chart]").bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    page.get_by_label("Commentaire").fill("Baisse saisonnière, on relance la campagne d’été.")
    page.get_by_role("button", name="Prendre en compte").click()
    page.wait_for_url(f"{live_server.url}/alerts/{firing_alert.pk}/")
    assert page.get_by_text("Alerte prise en compte.").is_visible()
    history = page.locator('tr[data-event="acknowledged"]')
    assert "Baisse saisonnière, on relance la campagne d’été." in history.inner_text()
    assert "claire" in history.inner_text()
    path = screenshot(page, "alert-detail-fr")
    assert path.stat().st_size > 10_000
    firing_alert.refresh_from_db()
    assert firing_alert.state == AlertState.ACKNOWLEDGED

    # On a phone the page does not scroll sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/alerts/?state=all")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "alert-list-phone-fr")
    assert page.console_errors == []


def test_manager_adds_a_webhook_and_reads_notifications(live_server, page, screenshot, firing_alert, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill("claire")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/dashboard/ventes/")  # one team: its dashboard

    page.goto(f"{live_server.url}/teams/ventes/webhooks/")
    page.get_by_label("Nom").fill("Canal ops")
    page.get_by_label("URL").fill("https://93.184.216.34/kpi")
    page.get_by_label("Alerte déclenchée").check()  # the event in words, not its code
    page.get_by_role("button", name="Ajouter", exact=True).click()
    page.wait_for_url(f"{live_server.url}/teams/ventes/webhooks/")
    secret = page.locator("[data-secret]").inner_text()
    assert len(secret) > 30
    screenshot(page, "webhooks-fr")
    page.reload()
    assert page.locator("[data-secret]").count() == 0

    page.get_by_role("link", name="Notifications (1 non lue)").click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    assert page.locator(".notification.unread").count() == 1
    screenshot(page, "notifications-fr")
    page.get_by_role("button", name="Tout marquer comme lu").click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    assert page.get_by_role("link", name="Notifications (0 non lue)").is_visible()
    assert page.locator(".notification.unread").count() == 0
    assert page.console_errors == []
