"""In real Chromium: from the dashboard to a KPI's detail page, its history chart, breakdown, selectors and
exports; and a manager reordering the dashboard cards with the keyboard."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from accounts.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill(username)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/dashboard/ventes/")  # one team: its dashboard


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", "--records", "3000")
    call_command("load_kpi_catalogue")
    call_command("recompute_kpis", "--sync")


def test_kpi_detail_from_the_dashboard_with_chart_breakdown_and_exports(live_server, page, screenshot, demo):
    _log_in(page, live_server, "claire.martin")
    page.goto(f"{live_server.url}/dashboard/ventes/")

    # the revenue card's name leads to its detail page
    page.locator('[data-kpi="revenue"] .kpi-name a').click()
    page.wait_for_url("**/dashboard/ventes/kpi/revenue/")
    page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length === 1")

    assert (
        page.get_by_role("heading", name="Chiffre d’affaires")
        .or_(page.get_by_role("heading", name="Chiffre d'affaires"))
        .is_visible()
    )
    assert page.locator(".formula-words").inner_text().startswith("Somme de « montant » sur les commandes")
    size = page.evaluate("() => { const c = document.getElementById('chart-history'); return [c.width, c.height]; }")
    assert size[0] > 300 and size[1] > 100
    assert page.locator(".breakdown[data-dimension='channel'] tbody tr").count() >= 2
    assert page.locator(".values-table tbody tr").count() == 12  # 12 months by default
    assert page.locator(".values-table tbody tr").first.locator("td").first.inner_text().endswith("€")
    screenshot(page, "kpi-detail-fr")

    # switch to quarters: the page reloads with 4 or 5 quarters over the last 12 months
    page.get_by_label("Granularité").select_option("quarter")
    page.wait_for_url("**granularity=quarter*")
    page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length === 1")
    assert page.locator(".values-table tbody tr").count() in (4, 5)
    assert page.locator(".values-table tbody th").first.inner_text().startswith("T")

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Exporter en CSV").click()
    text = Path(csv_download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))  # French readers: semicolons
    assert rows[0][:5] == ["Début de période", "Période", "Valeur (€)", "Variation", "Variation (%)"]
    assert len(rows) - 1 == page.locator(".values-table tbody tr").count()

    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="Exporter en XLSX").click()
    sheet = load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes())).active
    values = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert any(isinstance(v, float) for v in values)
    screenshot(page, "kpi-detail-quarters-fr")

    # on a phone nothing is wider than the screen (the values table scrolls inside its card)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "kpi-detail-mobile-fr")
    assert page.console_errors == []


def test_manager_reorders_cards_with_the_keyboard(live_server, page, screenshot, demo):
    _log_in(page, live_server, "claire.martin")
    page.goto(f"{live_server.url}/dashboard/ventes/")
    page.get_by_role("link", name="Choisir les cartes").click()
    page.wait_for_url("**/dashboard/ventes/cards/")
    first_two = page.locator(".card-order li").evaluate_all("items => items.slice(0, 2).map(i => i.dataset.card)")

    # move the second card up with the keyboard: focus its button, press Enter
    page.locator(f'button[value="up:{first_two[1]}"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/cards/?focus=*")

    order = page.locator(".card-order li").evaluate_all("items => items.map(i => i.dataset.card)")
    assert order[:2] == [first_two[1], first_two[0]]
    # the focus stays on the moved card: it is now first, its "up" is disabled, so its "down" has the focus
    assert page.evaluate("() => document.activeElement.value") == f"down:{first_two[1]}"
    screenshot(page, "dashboard-cards-fr")

    page.goto(f"{live_server.url}/dashboard/ventes/")
    cards = page.locator("[data-kpi]").evaluate_all("items => items.slice(0, 2).map(i => i.dataset.kpi)")
    assert cards == [first_two[1], first_two[0]]
    assert page.console_errors == []
