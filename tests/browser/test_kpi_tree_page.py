"""In real Chromium: the KPI detail says what drove the change and leads to the KPI's tree, where a manager
carries a target down and creates the child objectives."""

from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache

from metrics.kpis.services import kpi_catalogue_load
from objectives.models import Objective
from tests.conftest import PASSWORD
from tests.metrics.kpi_support import at, order, values

pytestmark = pytest.mark.browser
NBSP = "\u00a0"


def test_the_kpi_detail_drivers_and_the_tree(live_server, page, screenshot, transactional_db, team_a, manager_a):
    # Given January 150 € (2 web orders: 100 € and 50 €) and February 240 € (web 100 €, e-mail 60 € and 80 €)
    cache.clear()
    kpi_catalogue_load()
    for when, amount, channel in [
        (at(2026, 1, 5), 100, "web"),
        (at(2026, 1, 6), 50, "web"),
        (at(2026, 2, 5), 100, "web"),
        (at(2026, 2, 6), 60, "email"),
        (at(2026, 2, 7), 80, "email"),
    ]:
        order(team_a, when, amount, channel=channel)
    values("revenue", team_a, start=date(2025, 12, 1), end=date(2026, 3, 1))  # the history beside the drivers
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill(manager_a.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    with (
        mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=date(2026, 2, 28)),
        mock.patch("objectives.dashboards.trees.today_local", return_value=date(2026, 3, 10)),
    ):
        # When the manager opens revenue's detail over the last 3 months (February the last one shown)
        page.goto(f"{live_server.url}/dashboard/team-a/kpi/revenue/?range=3m&granularity=month")
        card = page.locator("[data-drivers]")
        # Then it says what drove +90 € (+60 %): e-mail +140 € (+93,3 pts), web −50 € (−33,3 pts)
        text = card.inner_text()
        assert f"Chiffre d'affaires +60{NBSP}% (dont E-mail +93,3{NBSP}pts)" in text
        assert f"+140{NBSP}€" in text and f"−50{NBSP}€" in text
        # and its components: orders +77,50 €, the basket +12,50 €
        components = page.locator("[data-drivers-components]").inner_text()
        assert f"+77,50{NBSP}€" in components and f"+12,50{NBSP}€" in components
        # its one measure under the KPI's own name, with no total row beside it (it is its own total), and no card
        # for the customer segment, whose one segment is « (non renseigné) »
        measures = page.locator("[data-drivers-measures] tbody th").all_inner_texts()
        assert measures == ["Chiffre d'affaires"]
        assert page.locator("[data-drivers-measures] tfoot").count() == 0
        assert "(non renseigné)" not in card.inner_text()
        assert page.locator("[data-drivers-dimension] h3").all_inner_texts() == ["Canal"]
        screenshot(page, "kpi-detail-drivers-fr")
        # And its tree: revenue 240 € = 3 orders × 80 € basket
        page.locator('a[href="/dashboard/team-a/kpi/revenue/tree/"]').click()
        page.wait_for_url("**/kpi/revenue/tree/")
        tree = page.locator("[data-tree]")
        assert f"240{NBSP}€" in tree.locator('[data-node="root"]').inner_text()
        assert "3" in tree.locator('[data-node="root.0"]').inner_text()
        assert f"80{NBSP}€" in tree.locator('[data-node="root.1"]').inner_text()
        # carrying 300 € down: 3 orders at 100 €, or 4 orders at 80 €
        page.locator("#target").fill("300")
        page.locator("[data-carried-down] form[method=get] button").click()
        page.wait_for_url("**/tree/?*target=300*")
        combinations = page.locator("[data-combinations]").inner_text()
        assert f"100{NBSP}€" in combinations
        screenshot(page, "kpi-tree-fr")
        page.locator('[data-combination="root.1@0"] input[type=radio]').check()
        page.locator("form.tree-cascade button[type=submit]").click()
        page.wait_for_url("**/teams/team-a/objectives/")
    targets = sorted((t.kpi.code, t.target_value) for o in Objective.objects.all() for t in o.targets.all())
    assert targets == [("average_purchase_value", Decimal("100")), ("orders", Decimal("3"))]
    assert page.console_errors == []
