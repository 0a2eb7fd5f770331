"""No raw code on screen, and one date style (issue 15, items 3 and 4): the pages a manager reads — the team
dashboard, a KPI detail with its breakdown, the alerts list and an alert, an objective, the budgets — show
channels, segments, stages, events and people in words, counts without a unit, and dates in the language's one
style. Only what a reader sees is checked: tag attributes and JSON data for the charts may keep the codes."""

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from accounts.demo import demo_organisation_create
from accounts.models import TeamApiKey, User
from metrics.demo import demo_activity_create
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import KpiDefinition
from metrics.recompute.services import kpi_values_recompute
from objectives.budgets.services import budget_create
from objectives.demo import demo_alert_rules_create, demo_budgets_create, demo_objectives_create
from objectives.models import Target, WebhookDelivery, WebhookEndpoint
from tests import factories

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 21)
NOW = dt.datetime(2026, 11, 21, 14, 30, tzinfo=ZoneInfo("Europe/Paris"))

# Codes as stored that must never reach a reader: channels, customer segments, webhook events, the user name of
# a person who has a full name, a KPI code in brackets.
CODES = ("paid_search", "mid_market", "smb", "closed_won", "alert.firing", "claire.martin", "(crm_active_user_rate)")
UNIT_LEAK = re.compile(r"\d[\s\u00a0]+n(?![\w’'])")  # « 173,91 n »: a count with its unit code written
DATE_TIME_DIGITS = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")  # « 04/12/2026 13:30 », « 12/04/2026 »
TWELVE_HOURS = re.compile(r"\b[ap]\.m\.", re.IGNORECASE)  # « 1:36 p.m. »


class VisibleText(HTMLParser):
    """The text a reader sees: no tags, no attribute values, nothing of scripts and styles."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def demo():
    """The demo organisation with a few months of activity computed, its objectives, rules and budget, plus what
    the demo lacks to show every kind of code: a target and an alert on a segment, an alert acknowledged by a
    manager, a webhook delivery and a budget on a channel."""
    kpi_catalogue_load()
    teams, _logins = demo_organisation_create()
    with time_machine.travel(NOW, tick=False):
        demo_activity_create(teams, records=1200, seed=4, today=TODAY)
        team_ids = [team.pk for team in teams.values()]
        kpi_values_recompute(
            start=dt.date(2026, 9, 1),
            end=TODAY + dt.timedelta(days=1),
            team_ids=team_ids,
            granularities=("day", "month", "quarter"),
            notify=False,
        )
        objectives = demo_objectives_create(teams=teams, today=TODAY)
        demo_alert_rules_create(teams=teams)
        demo_budgets_create(teams=teams, today=TODAY)
        budget_create(
            team=teams["marketing"],
            name="Recherche payante de novembre",
            category="acquisition",
            channel="paid_search",
            campaign=None,
            start_date=dt.date(2026, 11, 1),
            end_date=dt.date(2026, 11, 30),
            amount=Decimal(2500),
        )
    claire = User.objects.get(username="claire.martin")
    ventes = teams["ventes"]
    # A target on the mid-market segment of the revenue objective.
    revenue_objective = next(o for o in objectives if o.team == ventes and o.targets.filter(kpi__code="revenue"))
    Target.objects.create(
        objective=revenue_objective,
        kpi=KpiDefinition.objects.get(code="revenue"),
        segment="customer_segment=mid_market",
        target_value=Decimal(120000),
    )
    # An alert on a segment, acknowledged by Claire, who was told by e-mail.
    leads = KpiDefinition.objects.get(code="new_customers")
    rule = factories.alert_rule(
        team=ventes, kpi=leads, name="Nouveaux clients PME", condition="below", threshold=5, segment="segment=smb"
    )
    alert = factories.alert(
        rule=rule,
        period_start=dt.date(2026, 11, 1),
        value=3,
        threshold=5,
        segment="segment=smb",
        state="acknowledged",
        acknowledged_by=claire,
        acknowledged_at=NOW,
    )
    factories.alert_event(
        alert=alert,
        kind="fired",
        notified=[{"user": claire.pk, "username": "claire.martin", "channels": ["in_app", "email"]}],
    )
    factories.alert_event(alert=alert, kind="acknowledged", actor=claire, comment="Vu")
    # A webhook of Ventes told of the alert.
    endpoint = WebhookEndpoint.objects.create(
        team=ventes, name="Ops", url="https://hooks.example.com/kpi", events=["alert.firing", "objective.at_risk"]
    )
    WebhookDelivery.objects.create(endpoint=endpoint, event="alert.firing", payload={}, state="succeeded")
    return {"teams": teams, "claire": claire, "alert": alert, "objective": revenue_objective}


def pages(demo) -> list[tuple[str, str]]:
    """(who reads, address) of every page checked."""
    alert, objective = demo["alert"], demo["objective"]
    return [
        ("claire.martin", "/dashboard/ventes/"),
        ("claire.martin", "/dashboard/ventes/kpi/pipeline_value/"),
        ("claire.martin", "/dashboard/ventes/kpi/revenue/"),
        ("claire.martin", "/alerts/?state=all"),
        ("claire.martin", f"/alerts/{alert.pk}/"),
        ("claire.martin", f"/teams/ventes/objectives/{objective.pk}/"),
        ("claire.martin", "/teams/ventes/alert-rules/"),
        ("claire.martin", "/teams/ventes/alert-rules/new/"),
        ("claire.martin", "/teams/ventes/webhooks/"),
        ("claire.martin", "/teams/ventes/objectives/"),
        ("sophie.durand", "/dashboard/marketing/"),
        ("sophie.durand", "/dashboard/marketing/kpi/leads/"),
        ("sophie.durand", "/teams/marketing/budgets/"),
        ("julien.roux", "/dashboard/service-client/kpi/csat/"),
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_pages_show_words_not_codes_and_one_date_style(client, demo, language):
    User.objects.update(language=language)
    for username, address in pages(demo):
        client.force_login(User.objects.get(username=username))
        with time_machine.travel(NOW, tick=False), translation.override(language):
            response = client.get(address, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, address
        text = visible_text(response.content.decode())
        leaked = [code for code in CODES if code in text]
        assert not leaked, (address, leaked)
        assert not UNIT_LEAK.search(text), (address, UNIT_LEAK.search(text))
        assert not DATE_TIME_DIGITS.search(text), (address, DATE_TIME_DIGITS.search(text))
        assert not TWELVE_HOURS.search(text), (address, TWELVE_HOURS.search(text))


def test_the_pages_write_the_french_words_and_dates(client, demo):
    # given Claire, manager of Ventes, reading in French on 21 November 2026 at 14:30 (Paris)
    client.force_login(demo["claire"])

    def text_of(address: str) -> str:
        with time_machine.travel(NOW, tick=False):
            return visible_text(client.get(address).content.decode())

    # the alert: its period is a month (a monthly rule), its segment in words, Claire by her name, a count as a
    # plain number (3 new customers against 5), the moments in 24 h
    alert = text_of(f"/alerts/{demo['alert'].pk}/")
    assert "Nouveaux clients [Segment de clientèle : PME]" in alert
    assert "Période novembre 2026 Valeur 3 Seuil 5" in alert
    assert "Prise en compte 21 nov. 2026 à 14:30 · Claire Martin" in alert
    assert "Claire Martin (dans l’application, e-mail)" in alert
    assert "Nouveaux clients [Segment de clientèle : PME] novembre 2026 3 / 5" in text_of("/alerts/?state=all")
    # the objective: its span, its owner by name, the target's segment in words, when it was computed
    objective = text_of(f"/teams/ventes/objectives/{demo['objective'].pk}/")
    assert "Ventes · 1er oct. – 31 déc. 2026 · responsable : Claire Martin" in objective
    assert "Chiffre d'affaires (Segment de clientèle : ETI)" in objective
    assert "calculé le 21 nov. 2026 à 14:30" in objective
    assert "Daté : du 1er oct. 2026 au 31 déc. 2026 (92 jours)." in objective
    # the dashboard: the period's span, what a card is compared with, when it was computed
    dashboard = text_of("/dashboard/ventes/")
    assert "Ce mois-ci · 1er–30 nov. 2026" in dashboard
    assert "du 1er–21 oct. 2026" in dashboard and "Valeur inchangée depuis le 21 nov. 2026 à 14:30" in dashboard
    # the pipeline's breakdown by owner and by stage: people by name, stages in words, periods as months
    pipeline = text_of("/dashboard/ventes/kpi/pipeline_value/")
    assert "Responsable · novembre 2026 Responsable Valeur Claire Martin" in pipeline
    assert "Négociation" in pipeline and "Prospection" in pipeline and "Qualification" in pipeline
    # (no row for the won deals: none is open at the end of November, and a state with nothing in it has no cell)
    assert "Gagnée" not in pipeline
    # the rule form names the KPIs without their codes; the webhooks their events in words
    assert "Taux d'utilisateurs actifs" in text_of("/teams/ventes/alert-rules/new/")
    webhooks = text_of("/teams/ventes/webhooks/")
    assert "Événements : Alerte déclenchée, Objectif à risque" in webhooks
    assert "Ops Alerte déclenchée" in webhooks
    # the budgets page: the channel in words, the period as one span
    client.force_login(User.objects.get(username="sophie.durand"))
    budgets = text_of("/teams/marketing/budgets/")
    assert "Recherche payante de novembre 1er–30 nov. 2026 Acquisition Recherche payante" in budgets
    assert "jusqu’à aujourd’hui (21 nov. 2026)" in budgets
    # the leads' breakdown by channel, in words
    leads = text_of("/dashboard/marketing/kpi/leads/")
    assert "Canal · novembre 2026 Canal Valeur Part" in leads and "Recherche payante" in leads


def test_the_admin_names_aggregates_and_keys_in_french(client, make_user, team_a):
    # given a French-speaking administrator, and a team's key
    client.force_login(make_user("admin-fr", staff=True, language="fr"))
    User.objects.filter(username="admin-fr").update(is_superuser=True)
    key, _secret = TeamApiKey.objects.create_key(name="CRM", team=team_a)

    # the index has no section of the library's unused keys, titled in English only
    index = visible_text(client.get("/admin/").content.decode())
    assert "API Key Permissions" not in index and "API KEY PERMISSIONS" not in index
    # a KPI's measures offer their aggregates in French
    measure_form = client.get("/admin/metrics/kpidefinition/add/").content.decode()
    assert "nombre d’enregistrements" in measure_form and "moyenne" in measure_form
    assert ">count of records<" not in measure_form and ">mean<" not in measure_form
    # the team keys' columns are named in French
    keys = visible_text(client.get("/admin/accounts/teamapikey/").content.decode())
    assert "Préfixe" in keys and "Expire le" in keys and "Révoquée" in keys and "Par révoquée" in keys
    assert "Prefix" not in keys and "revoked" not in keys
    # and so are a key's fields
    change = client.get(f"/admin/accounts/teamapikey/{key.pk}/change/")
    assert change.status_code == 200
    assert "Préfixe" in visible_text(change.content.decode()) and "Révoquée" in visible_text(change.content.decode())
    assert client.get("/admin/accounts/teamapikey/add/").status_code == 200
