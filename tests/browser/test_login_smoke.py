"""In real Chromium: log in as a demo user and see the home page in French."""

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_demo_user_logs_in_and_sees_home_in_french(live_server, page, screenshot, transactional_db):
    call_command("seed_demo", "--records", "0")

    page.goto(f"{live_server.url}/")
    # redirected to the login page, in French
    assert "/accounts/login/" in page.url
    assert page.locator("html").get_attribute("lang") == "fr"
    # the organisation's manager sees several teams: the home page lists them (one team would open its dashboard)
    page.get_by_label("Identifiant ou adresse e-mail").fill("isabelle.morel")
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Bonjour Isabelle").is_visible()
    assert page.get_by_role("heading", name="Ventes").is_visible()
    path = screenshot(page, "home-fr")
    assert path.stat().st_size > 5_000
    assert page.console_errors == []


def test_language_switch_to_english(live_server, page, transactional_db):
    call_command("seed_demo", "--records", "0")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name="EN").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Log in").is_visible()
