"""In real Chromium: the sales team's dashboard over seeded demo data shows KPI cards and drawn charts, in French."""

import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from accounts.demo import DEMO_PASSWORD
from metrics.kpis.comparisons import comparison_span

pytestmark = pytest.mark.browser


def test_sales_dashboard_shows_cards_and_charts_in_french(live_server, page, screenshot, transactional_db):
    call_command("seed_demo", "--records", "3000")
    call_command("load_kpi_catalogue")
    call_command("recompute_kpis", "--sync")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill("claire.martin")
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/dashboard/ventes/")  # one team: its dashboard

    page.goto(f"{live_server.url}/dashboard/ventes/")
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length >= 3")

    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", name="Indicateurs clés").is_visible()
    assert page.locator("[data-kpi]").count() >= 4
    assert page.locator('[data-kpi="revenue"] .kpi-value').inner_text().endswith("€")
    # this month so far is compared with the same days of the last one, and the card says which
    today = timezone.localdate()
    with translation.override("fr"):
        span = comparison_span(granularity="month", period_start=today.replace(day=1), today=today)
        assert f"du {span.label}" in page.locator('[data-kpi="revenue"] .kpi-change').inner_text()
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('.chart-box canvas'))
              .filter(c => !c.hidden && c.width > 0 && c.height > 0).length"""
    )
    assert drawn >= 3
    screenshot(page, "dashboard-fr")

    # on a phone: one column, nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    screenshot(page, "dashboard-mobile-fr")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

    # switch the period: the page reloads for last month, charts drawn again
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Période", exact=True).select_option("last_month")
    page.wait_for_url("**/dashboard/ventes/?period=last_month*")
    page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length >= 3")
    assert page.get_by_label("Période", exact=True).input_value() == "last_month"
    assert page.locator(".dash-head .muted").inner_text().startswith("Le mois dernier")
    assert _drawn_charts(page) >= 3
    screenshot(page, "dashboard-last-month-fr")

    # switch the language: the same page and period in English, English number formats
    page.get_by_role("button", name="EN", exact=True).click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length >= 3")
    assert "period=last_month" in page.url
    assert page.get_by_role("heading", name="Key indicators").is_visible()
    assert page.locator(".dash-head .muted").inner_text().startswith("Last month")
    revenue = page.locator('[data-kpi="revenue"] .kpi-value').inner_text()
    assert revenue.endswith("€") and "," in revenue or revenue.startswith("No ")
    assert _drawn_charts(page) >= 3
    screenshot(page, "dashboard-last-month-en")
    assert page.console_errors == []


def _drawn_charts(page) -> int:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.chart-box canvas'))
              .filter(c => !c.hidden && c.width > 0 && c.height > 0).length"""
    )
