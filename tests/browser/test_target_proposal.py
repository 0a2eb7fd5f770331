"""In real Chromium: creating an objective, a manager sees minimum / target / stretch proposed from the team's history
with their probabilities and monthly path, fills the fields with them, and finds the band on the objective's page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from metrics.models import KpiDefinition
from objectives.progress import month_start, next_month
from objectives.proposals import shift_months
from tests import factories
from tests.conftest import PASSWORD
from tests.objectives.test_proposals import seasonal_revenue

pytestmark = pytest.mark.browser


def test_a_new_objective_offers_minimum_target_and_stretch_from_history(
    live_server, page, screenshot, transactional_db, make_team, make_user
):
    team = make_team("ventes", name="Ventes")
    make_user("claire", team=team, role=Role.MANAGER)
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
    # given the seasonal history of test_proposals (36 months), ending with the month before the current one
    this_month = month_start(timezone.localdate())
    for i, (_month, value) in enumerate(sorted(seasonal_revenue().items())):
        month = shift_months(this_month, -36 + i)
        factories.kpi_value(kpi=revenue, team=team, granularity="month", period_start=month, value=value)
        factories.kpi_value(kpi=revenue, team=team, granularity="day", period_start=month, value=value)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill("claire")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/dashboard/ventes/")

    # when an objective for the current month is typed
    page.goto(f"{live_server.url}/teams/ventes/objectives/new/")
    page.get_by_label("Titre").fill("Chiffre d'affaires du mois")
    page.get_by_label("Date de début").fill(this_month.isoformat())
    page.get_by_label("Date d'échéance").fill((next_month(this_month) - timedelta(days=1)).isoformat())
    page.locator("#id_targets-0-kpi").select_option("revenue")

    # then the proposal appears (hand-computed in test_proposals: the same 24 changes over a year, last year 132 €)
    result = page.locator("[data-proposal-result]")
    result.wait_for()
    values = result.locator("[data-proposal-values]").inner_text()
    assert "132\u00a0€" in values and "145,20\u00a0€" in values and "158,40\u00a0€" in values
    probabilities = result.locator("[data-proposal-probabilities]").inner_text()
    assert "91,7\u00a0%" in probabilities and "62,5\u00a0%" in probabilities and "29,2\u00a0%" in probabilities
    assert result.locator("[data-proposal-month]").count() == 1
    screenshot(page, "target-proposal-form-fr")

    # and one click fills minimum, target and stretch
    result.locator("[data-fill-proposal]").click()
    assert page.locator("#id_targets-0-minimum_value").input_value() == "132"
    assert page.locator("#id_targets-0-target_value").input_value() == "145,2"
    assert page.locator("#id_targets-0-stretch_value").input_value() == "158,4"

    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.wait_for_url("**/teams/ventes/objectives/*/")
    assert page.locator('[data-band="minimum"]').inner_text() == "132\u00a0€"
    assert page.locator('[data-band="stretch"]').inner_text() == "158,40\u00a0€"
    page.wait_for_function("document.querySelector('canvas[data-chart]').width > 0")
    screenshot(page, "target-proposal-detail-fr")
    assert page.console_errors == []
