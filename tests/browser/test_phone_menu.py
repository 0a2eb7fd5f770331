"""In real Chromium: on a phone the header is one line with a menu button that opens and closes the links' panel,
by pointer and by keyboard; on a desktop the links are in the header and the button is gone."""

import pytest

from accounts.roles import Role
from accounts.services import membership_set
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def two_team_manager(transactional_db, make_team, make_user):
    """Claire manages Ventes and reads Marketing: the menu has the overview, the team switcher, every team page."""
    ventes = make_team("ventes", name="Ventes", kind="sales")
    marketing = make_team("marketing", name="Marketing", kind="marketing")
    claire = make_user("claire", team=ventes, role=Role.MANAGER)
    membership_set(user=claire, team=marketing, role=Role.VIEWER)
    return claire


def _log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Identifiant ou adresse e-mail").fill("claire")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/")  # two teams: the home page


def test_phone_header_is_one_line_and_its_menu_opens_and_closes(live_server, page, screenshot, two_team_manager):
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/ventes/")

    # the header is one line: brand, bell, menu button; the links are folded away
    header = page.locator("header.topbar")
    assert header.bounding_box()["height"] <= 80
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.is_visible()
    assert (toggle.get_attribute("aria-expanded"), toggle.get_attribute("aria-controls")) == ("false", "site-menu")
    overview = page.locator('#site-menu [data-nav="overview"]')
    assert overview.is_hidden() and page.locator("#team-switcher").is_hidden()
    # the team menu is one line under it, scrolling sideways rather than widening the page
    assert page.locator("[data-team-menu]").bounding_box()["height"] <= 56
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "phone-menu-closed-fr")

    # the button opens the panel under the header
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert overview.is_visible() and page.locator("#team-switcher").is_visible()
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
    screenshot(page, "phone-menu-open-fr")

    # and closes it
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "false" and overview.is_hidden()

    # by keyboard: Enter opens, Tab reaches the first link, Escape closes and gives the focus back to the button
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#site-menu') !== null")
    assert page.evaluate("document.activeElement.dataset.nav") == "home"
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.hasAttribute('data-menu-toggle')")

    # a link of the panel leads where it says
    toggle.click()
    overview.click()
    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "false"
    assert page.console_errors == []


def test_desktop_header_shows_the_links_without_the_button(live_server, page, screenshot, two_team_manager):
    _log_in(page, live_server)
    page.goto(f"{live_server.url}/teams/ventes/alert-rules/")

    assert page.get_by_role("button", name="Menu").is_hidden()
    assert page.locator('#site-menu [data-nav="overview"]').is_visible()
    assert page.locator("header.topbar").bounding_box()["height"] <= 80
    # the team menu marks the page the user is on
    current = page.locator('[data-team-menu] [aria-current="page"]')
    assert current.get_attribute("data-team-page") == "alert-rules" and current.is_visible()
    screenshot(page, "desktop-team-menu-fr")
    assert page.console_errors == []
