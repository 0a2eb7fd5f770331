"""In real Chromium: the alert page of a revenue drop says what drove it, in French, and the parts add up."""

import pytest
from django.core.cache import cache

from metrics.kpis.services import kpi_catalogue_load
from tests.conftest import PASSWORD
from tests.metrics.kpi_support import at, order
from tests.objectives.alerts.test_alert_drivers import fire

pytestmark = pytest.mark.browser


def test_the_alert_page_shows_what_drove_the_drop(live_server, page, screenshot, transactional_db, team_a, manager_a):
    # Given revenue by channel: January 600 €, February 430 € (e-mail 300 → 150 €, web 200 → 180 €, social 100 €)
    cache.clear()
    kpi_catalogue_load()
    january, february = {"email": 300, "web": 200, "social": 100}, {"email": 150, "web": 180, "social": 100}
    for month, amounts in ((1, january), (2, february)):
        for channel, amount in amounts.items():
            order(team_a, at(2026, month, 5), amount, channel=channel)
    alert = fire("revenue", team_a)
    # When the manager opens the alert
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill(manager_a.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/alerts/{alert.pk}/")
    card = page.locator("[data-drivers]")
    # Then the card says it: revenue −170 € of 600 € = −28,3 %, e-mail's −150 € = −25 pts the largest part
    assert card.get_by_role("heading", name="Ce qui explique la variation").is_visible()
    text = card.inner_text()
    assert "Chiffre d'affaires −28,3\u00a0%" in text and "E-mail −25\u00a0pts" in text
    screenshot(page, "alert-drivers-fr")
    assert page.console_errors == []
