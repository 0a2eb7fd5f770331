"""In real Chromium: a manager creates an objective with two targets, sees the SMART feedback and the chart."""

import pytest

from accounts.roles import Role
from metrics.models import KpiDefinition
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_manager_creates_objective_with_two_targets(
    live_server, page, screenshot, transactional_db, make_team, make_user
):
    team = make_team("ventes", name="Ventes")
    make_user("claire", team=team, role=Role.MANAGER)
    common = {"category": "sales", "formula": "x"}
    KpiDefinition.objects.create(
        code="revenue",
        name_fr="Chiffre d'affaires",
        name_en="Revenue",
        unit="€",
        direction="higher",
        additive=True,
        **common,
    )
    KpiDefinition.objects.create(
        code="orders",
        name_fr="Nombre de commandes",
        name_en="Orders",
        unit="n",
        direction="higher",
        additive=True,
        **common,
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill("claire")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/dashboard/ventes/")  # one team: its dashboard

    page.goto(f"{live_server.url}/teams/ventes/objectives/new/")
    assert page.get_by_role("heading", name="Nouvel objectif").is_visible()
    page.get_by_label("Titre").fill("Augmenter le chiffre d'affaires du trimestre")
    page.get_by_label("Description").fill("Plus de ventes en ligne grâce à la campagne de printemps.")
    page.get_by_label("Date de début").fill("2025-01-01")
    page.get_by_label("Date d'échéance").fill("2025-03-31")
    page.locator("#id_targets-0-kpi").select_option("revenue")
    page.locator("#id_targets-0-target_value").fill("90000")
    page.get_by_role("button", name="Ajouter une cible").click()
    page.locator("#id_targets-1-kpi").select_option("orders")
    page.locator("#id_targets-1-target_value").fill("300")
    # live SMART feedback: Measurable turns ok, Relevant still asks why
    page.wait_for_selector('[data-letter="measurable"].ok')
    relevant = page.locator('[data-letter="relevant"]')
    assert "Pourquoi est-ce important" in relevant.inner_text()
    screenshot(page, "objective-form-fr")

    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.wait_for_url("**/teams/ventes/objectives/*/")
    assert page.get_by_text("Objectif créé.").is_visible()
    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() == 2
    page.wait_for_function("document.querySelector('canvas[data-chart]').width > 0")
    box = canvases.first.bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    assert page.get_by_role("heading", name="Vérification SMART").is_visible()
    path = screenshot(page, "objective-detail-fr")
    assert path.stat().st_size > 10_000
    assert page.console_errors == []
