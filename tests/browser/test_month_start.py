"""In real Chromium, on the 4th day of a month (the clock frozen there): the demo dashboards compare the month so far
with the same days of the last one, so steady activity shows no false fall and the change rules raise no alert;
objective cards show value, target and gap."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.management import call_command
from django.utils import translation

from accounts.demo import DEMO_PASSWORD
from metrics.kpis.comparisons import comparison_span
from objectives.alerts.evaluation import alerts_evaluate_scheduled
from objectives.models import Alert, AlertRule

pytestmark = pytest.mark.browser

FOURTH = dt.datetime(2026, 11, 4, 15, 0, tzinfo=dt.UTC)
PERCENT = re.compile(r"([+−-])\s?(\d+(?:,\d+)?)\s?%")


def _percent_changes(page) -> dict[str, float]:
    """Each card's change when it is a relative one (in %; rates and scores move in points)."""
    changes = {}
    for card in page.locator("[data-kpi]").all():
        if not card.locator(".kpi-change").count():  # a card without data this month
            continue
        text = card.locator(".kpi-change").inner_text()
        match = PERCENT.search(text.split("vs")[0])
        if match:
            sign = -1 if match[1] in "−-" else 1
            changes[card.get_attribute("data-kpi")] = sign * float(match[2].replace(",", "."))
    return changes


def test_a_months_fourth_day_shows_no_false_fall(live_server, page, screenshot, transactional_db):
    with time_machine.travel(FOURTH, tick=True):
        call_command("load_kpi_catalogue")
        call_command("seed_demo", "--records", "20000")
        call_command("recompute_kpis", "--sync")

        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "isabelle.morel")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"{live_server.url}/**")

        for slug in ("ventes", "marketing", "service-client"):
            page.goto(f"{live_server.url}/dashboard/{slug}/")
            page.wait_for_load_state("load")
            changes = _percent_changes(page)
            # every card of the running month is compared with 1–4 October, and says so
            with translation.override("fr"):
                label = comparison_span(
                    granularity="month", period_start=FOURTH.date().replace(day=1), today=FOURTH.date()
                ).label
            assert label in page.locator(".kpi-change").first.inner_text()
            # steady activity: no card falls by 30 % or more
            assert changes and min(changes.values()) > -30, (slug, changes)
            screenshot(page, f"month-start-{slug}")

        # objective cards: value, target and gap (or % of target) of the period shown
        page.goto(f"{live_server.url}/dashboard/ventes/")
        targets = page.locator(".kpi-target")
        assert targets.count() >= 1
        first = targets.first.inner_text()
        assert first.startswith("Cible") and re.search(r"· [+−-]?\d", first), first
        assert page.console_errors == []

        # and the demo's change rules, judged on the 4th, raise nothing
        change_rules = AlertRule.objects.filter(condition__in=["change_above", "change_below"])
        assert change_rules.exists()
        alerts_evaluate_scheduled(now=FOURTH)
        assert not Alert.objects.filter(rule__in=change_rules).exists()
