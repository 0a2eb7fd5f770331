"""The digest: its content per team (KPIs with change, objectives with forecast, open alerts) computed
with the recipient's permissions in a constant number of queries; who gets it when; unsubscribing."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.roles import Role
from objectives.models import NotificationSettings, Objective, Target
from objectives.notifications import digest
from tests import factories

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
# Monday 23 November 2026: the weekly digest covers 16–22 November, against 9–15 November.
MONDAY = date(2026, 11, 23)
LAST_WEEK, WEEK_BEFORE = date(2026, 11, 16), date(2026, 11, 9)


@pytest.fixture
def orders(make_kpi):
    return make_kpi("orders", unit="n", name_fr="Commandes", name_en="Orders")


@pytest.fixture
def world(team_a, team_b, revenue, orders, churn, store):
    """Team A: revenue 1 000 → 1 200 €, orders 40 → 30, an at-risk objective, one firing alert (plus a
    pending and a resolved one that a digest leaves out). Team B: figures, an objective and an alert
    that team A's people must never see."""
    store(revenue, team_a, "week", WEEK_BEFORE, 1000)
    store(revenue, team_a, "week", LAST_WEEK, 1200)
    store(orders, team_a, "week", WEEK_BEFORE, 40)
    store(orders, team_a, "week", LAST_WEEK, 30)
    store(revenue, team_a, "week", date(2026, 11, 2), 1)  # older than the two weeks compared
    store(revenue, team_a, "month", date(2026, 11, 1), 7777)  # another granularity
    store(revenue, team_b, "week", LAST_WEEK, 5555)
    objective = Objective.objects.create(
        team=team_a,
        title="Grow Q4 revenue",
        start_date=date(2026, 10, 1),
        due_date=date(2026, 12, 31),
        progress_status="at_risk",
    )
    Target.objects.create(
        objective=objective,
        kpi=revenue,
        target_value=D("90000"),
        current_value=D("27900"),
        forecast_value=D("80000"),
        status="at_risk",
        recommendation="reinforce",
    )
    Objective.objects.create(
        team=team_a, title="Old draft", start_date=date(2026, 1, 1), due_date=date(2026, 3, 31), state="draft"
    )
    Objective.objects.create(team=team_b, title="Secret B", start_date=date(2026, 10, 1), due_date=date(2026, 12, 31))
    alerts = {}
    for team, state in [(team_a, "firing"), (team_a, "pending"), (team_a, "resolved"), (team_b, "firing")]:
        rule = factories.alert_rule(
            team=team, name=f"{team.slug} {state}", condition="above", kpi=churn, threshold=D("10"), severity="critical"
        )
        alerts[(team.slug, state)] = factories.alert(
            rule=rule,
            team=team,
            period_start=date(2026, 11, 1),
            state=state,
            severity="critical",
            value=D("12.5"),
            threshold=D("10"),
            fired_at=None,
        )
    return {"objective": objective, "alerts": alerts}


def test_digest_content_of_a_team_member(world, team_a, make_user, settings):
    settings.SITE_URL = "https://kpi.example.fr"
    claire = make_user("claire", team=team_a, language="en")
    with translation.override("en"):
        data = digest.digest_for_user(user=claire, today=MONDAY, frequency="weekly")
    assert data["period"] == {
        "granularity": "week",
        "start": LAST_WEEK,
        "end": date(2026, 11, 22),
        "previous_start": WEEK_BEFORE,
    }
    # only team A
    assert [block["team"]["slug"] for block in data["teams"]] == ["team-a"]
    block = data["teams"][0]
    # revenue: (1 200 − 1 000) / 1 000 = +20 %, good (higher is better); orders: (30 − 40) / 40 = −25 %, bad
    assert [(k["code"], k["value"], k["previous_value"], k["change_percent"], k["colour"]) for k in block["kpis"]] == [
        ("revenue", D("1200"), D("1000"), D("20.0"), "good"),
        ("orders", D("30"), D("40"), D("-25.0"), "bad"),
    ]
    assert [k["name"] for k in block["kpis"]] == ["Revenue", "Orders"]
    # the active objective, with its target's forecast; not the draft
    [objective] = block["objectives"]
    assert (objective["title"], objective["status"]) == ("Grow Q4 revenue", "at_risk")
    assert objective["url"] == f"https://kpi.example.fr/teams/team-a/objectives/{world['objective'].pk}/"
    [target] = objective["targets"]
    assert (target["current_value"], target["target_value"], target["forecast_value"]) == (
        D("27900"),
        D("90000"),
        D("80000"),
    )
    # the firing alert only (pending not yet confirmed, resolved over)
    firing = world["alerts"][("team-a", "firing")]
    assert [a["id"] for a in block["alerts"]] == [firing.pk]
    assert block["alerts"][0]["url"] == f"https://kpi.example.fr/alerts/{firing.pk}/"
    assert data["unsubscribe_url"].startswith("https://kpi.example.fr/notifications/unsubscribe/")


def test_a_digest_never_shows_a_team_the_user_does_not_belong_to(world, team_a, team_b, make_user, make_team):
    # given a member of team B only, and a member of a sub-team of A
    bob = make_user("bob", team=team_b)
    sub = make_team("team-a-sub", name="Sous-équipe A", parent=team_a)
    sam = make_user("sam", team=sub)
    bob_teams = [b["team"]["slug"] for b in digest.digest_for_user(user=bob, today=MONDAY)["teams"]]
    sam_teams = [b["team"]["slug"] for b in digest.digest_for_user(user=sam, today=MONDAY)["teams"]]
    assert bob_teams == ["team-b"]
    assert sam_teams == ["team-a-sub"]
    bob_block = digest.digest_for_user(user=bob, today=MONDAY)["teams"][0]
    assert [o["title"] for o in bob_block["objectives"]] == ["Secret B"]
    assert [a["id"] for a in bob_block["alerts"]] == [world["alerts"][("team-b", "firing")].pk]
    assert [(k["code"], k["value"], k["previous_value"]) for k in bob_block["kpis"]] == [("revenue", D("5555"), None)]


def test_the_digest_costs_the_same_queries_for_one_team_or_four(world, team_a, team_b, make_team, make_user):
    one = make_user("one", team=team_a)
    many = make_user("many", team=team_a)
    for slug in ("c", "d"):
        make_user("many", team=make_team(f"team-{slug}"))
    make_user("many", team=team_b)
    counts = []
    for user in (one, many):
        with CaptureQueriesContext(connection) as queries:
            data = digest.digest_for_user(user=user, today=MONDAY, frequency="weekly")
        counts.append(len(queries))
    assert len(data["teams"]) == 4
    assert counts[0] == counts[1]
    # membership, team tree, teams, KPI definitions, values, the previous period's values, objectives, targets,
    # alerts
    assert counts[0] == 9


def test_the_french_digest_email(world, team_a, team_b, make_user):
    claire = make_user("claire", team=team_a, language="fr")
    with time_machine.travel(dt.datetime(2026, 11, 23, 7, 0, tzinfo=PARIS), tick=False):
        assert digest.digests_send() == 1
        # the token is timestamped: the same instant gives the same link
        link = digest.unsubscribe_url(user=claire)
    [message] = mail.outbox
    assert message.to == ["claire@example.test"]
    assert message.subject == "[KPI] Votre synthèse hebdomadaire des KPI"
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    for body in (message.body, html.replace("&#x27;", "'")):
        assert "Équipe A" in body
        assert "Chiffre d'affaires" in body and "Commandes" in body
        assert f"1{NBSP}200{NBSP}€" in body and f"+20{NBSP}%" in body
        assert f"\u221225{NBSP}%" in body
        assert "Grow Q4 revenue" in body and "À risque" in body
        assert f"prévision 80{NBSP}000{NBSP}€" in body
        assert "Renforcer" in body  # push harder or drop it, as on the objective page
        assert "Chiffres de la semaine du 16 nov. 2026 au 22 nov. 2026" in body  # the one date style
        # nothing of team B
        assert "Équipe B" not in body and "Secret B" not in body and "5555" not in body
        assert f"5{NBSP}555" not in body
    # and the unsubscribe link, in the text and in the List-Unsubscribe header
    assert f"Ne plus recevoir cette synthèse{NBSP}: {link}" in message.body
    assert f'href="{link}"' in html
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"


def test_an_english_reader_gets_the_digest_in_english(world, team_a, make_user):
    make_user("john", team=team_a, language="en")
    with time_machine.travel(dt.datetime(2026, 11, 23, 7, 0, tzinfo=PARIS), tick=False):
        assert digest.digests_send() == 1
    [message] = mail.outbox
    assert message.subject == "[KPI] Your weekly KPI digest"
    assert "Revenue" in message.body and "Orders" in message.body
    assert f"1,200{NBSP}€" in message.body and f"+20{NBSP}%" in message.body
    assert "forecast 80,000" in message.body
    assert "Stop receiving this digest: http://127.0.0.1:8000/notifications/unsubscribe/" in message.body


def test_who_gets_a_digest_and_never_twice_a_day(world, team_a, make_user):
    # given a default (weekly) user, a daily one, one who said never, one without a team, one without e-mail
    weekly = make_user("weekly", team=team_a)
    daily = make_user("daily", team=team_a)
    NotificationSettings.objects.create(user=daily, digest="daily")
    never = make_user("never", team=team_a)
    NotificationSettings.objects.create(user=never, digest="never")
    make_user("no-team")
    no_mail = make_user("no-mail", team=team_a)
    no_mail.email = ""
    no_mail.save()
    monday_7am = dt.datetime(2026, 11, 23, 7, 0, tzinfo=PARIS)
    # when the task runs on Monday at 07:00, and again at 07:30
    with time_machine.travel(monday_7am, tick=False):
        assert digest.digests_send() == 2
    with time_machine.travel(monday_7am + dt.timedelta(minutes=30), tick=False):
        assert digest.digests_send() == 0
    assert sorted(m.to[0] for m in mail.outbox) == ["daily@example.test", "weekly@example.test"]
    assert NotificationSettings.objects.get(user=weekly).digest_last_sent_at == monday_7am
    # then on Tuesday only the daily digest goes, covering Monday against Sunday
    mail.outbox.clear()
    with time_machine.travel(monday_7am + dt.timedelta(days=1), tick=False):
        assert digest.digests_send() == 1
    assert [m.to[0] for m in mail.outbox] == ["daily@example.test"]
    assert mail.outbox[0].subject == "[KPI] Votre synthèse quotidienne des KPI"
    assert "Chiffres du 23 nov. 2026, comparés à la veille." in mail.outbox[0].body


def test_a_failed_digest_can_be_sent_again_the_same_day(world, team_a, make_user, monkeypatch):
    make_user("claire", team=team_a)
    monday_7am = dt.datetime(2026, 11, 23, 7, 0, tzinfo=PARIS)

    def broken_send(self, *args, **kwargs):
        raise OSError("SMTP down")

    with time_machine.travel(monday_7am, tick=False):
        with monkeypatch.context() as patch:
            patch.setattr("django.core.mail.EmailMultiAlternatives.send", broken_send)
            assert digest.digests_send() == 0
        assert digest.digests_send() == 1


# --------------------------------------------------------------------------- unsubscribe


def test_unsubscribe_asks_first_then_stops_the_digest_without_login(world, team_a, make_user, client):
    claire = make_user("claire", team=team_a)
    url = digest.unsubscribe_url(user=claire).removeprefix("http://127.0.0.1:8000")
    # when a mail scanner (or the person) opens the link: a confirmation form, nothing changed
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert "Ne plus envoyer la synthèse périodique des KPI à claire@example.test" in response.content.decode()
    assert b'method="post"' in response.content
    assert not NotificationSettings.objects.filter(user=claire).exists()
    # when the form is submitted
    response = client.post(url, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert "claire@example.test ne recevra plus la synthèse" in response.content.decode()
    assert NotificationSettings.objects.get(user=claire).digest == "never"
    # then Monday's run sends her nothing
    with time_machine.travel(dt.datetime(2026, 11, 23, 7, 0, tzinfo=PARIS), tick=False):
        assert digest.digests_send() == 0


def test_unsubscribe_keeps_other_settings(team_a, make_user, client):
    claire = make_user("claire", team=team_a)
    NotificationSettings.objects.create(user=claire, email_alerts=False, quiet_start=dt.time(22), quiet_end=dt.time(7))
    client.post(digest.unsubscribe_url(user=claire).removeprefix("http://127.0.0.1:8000"))
    prefs = NotificationSettings.objects.get(user=claire)
    assert (prefs.digest, prefs.email_alerts, prefs.quiet_start) == ("never", False, dt.time(22))


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_damaged_token_changes_nothing(team_a, make_user, client, method):
    claire = make_user("claire", team=team_a, role=Role.MANAGER)
    bob = make_user("bob", team=team_a)
    NotificationSettings.objects.create(user=bob, digest="weekly")
    good = digest.unsubscribe_token(user=claire)
    # a token signed for another purpose naming bob, and claire's token with bob's id swapped in
    from django.core import signing

    other_salt = signing.dumps({"u": bob.pk}, salt="something-else")
    tampered = good.replace(good.split(":")[0], signing.dumps({"u": bob.pk}, salt="digest-unsubscribe").split(":")[0])
    for token in (other_salt, tampered, "garbage"):
        response = getattr(client, method)(f"/notifications/unsubscribe/{token}/")
        assert response.status_code == 400
    assert NotificationSettings.objects.get(user=bob).digest == "weekly"
    assert not NotificationSettings.objects.filter(user=claire).exists()


def test_an_inactive_user_token_is_refused(team_a, make_user, client):
    claire = make_user("claire", team=team_a)
    url = digest.unsubscribe_url(user=claire).removeprefix("http://127.0.0.1:8000")
    claire.is_active = False
    claire.save()
    assert client.post(url).status_code == 400
    assert not NotificationSettings.objects.filter(user=claire).exists()
