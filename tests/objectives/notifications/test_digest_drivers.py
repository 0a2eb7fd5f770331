"""The digest's drivers clause: each KPI line that moved says what drove it, as alert e-mails do, from the same
exact breakdown (metrics.kpis.drivers); none when the stored value is not the records' yet; a bounded number."""

import datetime as dt
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.utils import translation

from metrics.kpis.services import kpi_catalogue_load
from metrics.models import KpiDefinition, KpiValue
from metrics.recompute.services import kpi_values_recompute
from objectives.notifications import digest
from tests.metrics.kpi_support import at, order

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
MONDAY = date(2026, 11, 23)  # the weekly digest covers 16–22 November, against 9–15 November


@pytest.fixture
def shop(team_a, team_b):
    """Team A — week of 9 Nov: e-mail 300 €, web 200 € (500 €, 2 orders); week of 16 Nov: e-mail 150 €, web 200 €,
    social 100 € (450 €, 3 orders). Team B: 70 € then 80 €. Every week stored by a recompute."""
    kpi_catalogue_load()
    for when, amount, channel in [
        (at(2026, 11, 10), 300, "email"),
        (at(2026, 11, 11), 200, "web"),
        (at(2026, 11, 17), 150, "email"),
        (at(2026, 11, 18), 200, "web"),
        (at(2026, 11, 19), 100, "social"),
    ]:
        order(team_a, when, amount, channel=channel)
    order(team_b, at(2026, 11, 10), 70, channel="web")
    order(team_b, at(2026, 11, 17), 80, channel="web")
    kpi_values_recompute(
        start=date(2026, 11, 9),
        end=date(2026, 11, 23),
        kpi_ids=list(KpiDefinition.objects.values_list("pk", flat=True)),
        team_ids=[team_a.pk, team_b.pk],
        granularities=["week"],
    )


def lines(data):
    return {
        (block["team"]["slug"], row["code"]): row.get("drivers") for block in data["teams"] for row in block["kpis"]
    }


def test_a_moved_line_says_what_drove_it(shop, team_a, make_user):
    claire = make_user("claire", team=team_a, language="fr")
    with translation.override("fr"):
        data = digest.digest_for_user(user=claire, today=MONDAY, frequency="weekly")
        added = digest.digest_drivers_add(digest=data)
    found = lines(data)
    # revenue 500 → 450 €: −50 € = −10 %; e-mail −150 € = −30 pts of 500 €, social +100 € = +20 pts
    assert found[("team-a", "revenue")].startswith(f"Chiffre d'affaires −10{NBSP}% (dont E-mail −30{NBSP}pts)")
    # orders 2 → 3: +50 %; e-mail 1 → 1, web 1 → 1, social 0 → 1: +50 pts
    assert found[("team-a", "orders")].startswith(f"Nombre de commandes +50{NBSP}% (dont Réseaux sociaux +50{NBSP}pts)")
    # the basket 250 → 150 €: −40 %
    assert found[("team-a", "average_purchase_value")].startswith("Panier moyen −40")
    assert added == 3


def test_only_the_largest_moves_get_a_clause(shop, team_a, make_user):
    claire = make_user("claire", team=team_a, language="fr")
    with translation.override("fr"):
        data = digest.digest_for_user(user=claire, today=MONDAY, frequency="weekly")
        assert digest.digest_drivers_add(digest=data, limit=1) == 1
    # orders moved most (+50 %), then the basket (−40 %), then revenue (−10 %)
    assert [key for key, line in lines(data).items() if line] == [("team-a", "orders")]


def test_no_clause_when_the_stored_value_is_not_the_records(shop, team_a, make_user):
    KpiValue.objects.filter(
        kpi__code="revenue", team=team_a, granularity="week", period_start=date(2026, 11, 16)
    ).update(value=999)
    claire = make_user("claire", team=team_a, language="fr")
    with translation.override("fr"):
        data = digest.digest_for_user(user=claire, today=MONDAY, frequency="weekly")
        digest.digest_drivers_add(digest=data)
    assert lines(data)[("team-a", "revenue")] is None
    assert lines(data)[("team-a", "orders")] is not None


def test_the_digest_email_carries_the_clause_and_nothing_of_other_teams(shop, team_a, team_b, make_user):
    make_user("claire", team=team_a, language="fr")
    make_user("bob", team=team_b, language="fr")
    with time_machine.travel(dt.datetime(2026, 11, 23, 7, 0, tzinfo=PARIS), tick=False):
        assert digest.digests_send() == 2
    by_user = {message.to[0]: message for message in mail.outbox}
    claire, bob = by_user["claire@example.test"], by_user["bob@example.test"]
    [(html, _mimetype)] = claire.alternatives
    for body in (claire.body, html.replace("&#x27;", "'")):
        assert f"Chiffre d'affaires −10{NBSP}% (dont E-mail −30{NBSP}pts)" in body
    # team B: 70 → 80 € on the web only; never team A's channels
    assert f"Chiffre d'affaires +14,3{NBSP}% (dont Site web +14,3{NBSP}pts)" in bob.body
    assert "E-mail" not in bob.body and "Réseaux sociaux" not in bob.body
