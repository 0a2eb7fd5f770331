"""In real Chromium: an anomaly alert's page gives the band the value fell outside and how far, in French."""

import pytest

from metrics.models import KpiDefinition
from objectives.models import Alert
from tests import factories
from tests.conftest import PASSWORD
from tests.objectives.alerts.test_anomaly_rules import YESTERDAY, anomaly_rule, evaluate, store_history

pytestmark = pytest.mark.browser


def test_the_anomaly_alert_page_shows_the_band(live_server, page, screenshot, transactional_db, team_a, manager_a):
    # Given ten quiet weeks of daily revenue (1 000 € a weekday) and a Monday at 3 000 €, judged by an anomaly rule
    revenue = KpiDefinition.objects.create(
        code="revenue", name_fr="Chiffre d'affaires", name_en="Revenue", category="sales", unit="€",
        direction="higher", formula="x", additive=True,
    )  # fmt: skip
    store_history(revenue, team_a)
    factories.kpi_value(kpi=revenue, team=team_a, granularity="day", period_start=YESTERDAY, value=3000)
    anomaly_rule(team_a, revenue)
    evaluate()
    alert = Alert.objects.get()
    # When the manager opens the alert
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill(manager_a.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/alerts/{alert.pk}/")
    # Then the breach gives the band (1 000 € × e^±0.035 = 965,61–1 036 €) and how far above it 3 000 € is
    band = page.locator("[data-band]")
    assert band.is_visible()
    text = band.inner_text()
    assert "965,61\u00a0€–1\u00a0036\u00a0€" in text and "+189,7\u00a0%" in text
    # and the chart draws the expected band (lower and upper bounds, the area between them filled) around the values
    page.wait_for_function("window.Chart && Chart.getChart(document.querySelector('canvas[data-alert-chart]'))")
    # (labels from the canvas's data attributes: « Bande attendue (borne basse) » once translated)
    drawn = page.evaluate(
        """() => { const canvas = document.querySelector('canvas[data-alert-chart]');
            return Chart.getChart(canvas).data.datasets.map((d) => [
                d.label === canvas.dataset.labelBandLower ? 'lower' : d.label === canvas.dataset.labelBandUpper
                    ? 'upper' : d.label,
                d.fill === undefined ? null : d.fill, d.data.filter((v) => v !== null).length]); }"""
    )
    assert drawn == [["Chiffre d'affaires", None, 12], ["lower", False, 12], ["upper", "-1", 12]]
    page.locator("canvas[data-alert-chart]").scroll_into_view_if_needed()
    screenshot(page, "alert-anomaly-band")
    assert page.console_errors == []
