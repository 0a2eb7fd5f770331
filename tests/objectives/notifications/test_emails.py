"""Alert e-mails through Django's locmem backend: subject, both alternatives, the recipient's language
and number formats, the last six periods' table and the absolute link to the alert."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal as D

import pytest
from django.core import mail
from django.utils import timezone

from accounts.roles import Role
from objectives.models import Alert, AlertEvent, AlertRule, Notification
from objectives.notifications import delivery, outbox
from tests import factories

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"


@pytest.fixture
def ventes(make_team):
    return make_team("ventes", name="Ventes")


@pytest.fixture
def churn_history(churn, ventes, make_team, store):
    """Monthly churn of Ventes, May–November 2026 (May falls outside the six-period table), plus
    values that must not appear: a segment of Ventes, and another team."""
    for month, value in [(5, 7), (6, 8), (7, 9), (8, "9.5"), (9, 10), (10, 11), (11, "12.5")]:
        store(churn, ventes, "month", date(2026, month, 1), value)
    store(churn, ventes, "month", date(2026, 11, 1), 99, segment="channel=email")
    store(churn, make_team("autre", name="Autre"), "month", date(2026, 11, 1), 77)


def alert_email_for(user, kpi, team, *, value, threshold, condition="above", kind="fired", site_url=None):
    rule = factories.alert_rule(
        team=team, name="Seuil", condition=condition, kpi=kpi, threshold=D(threshold), severity="critical"
    )
    rule.recipients.set([user])
    alert = factories.alert(
        rule=rule,
        team=team,
        period_start=date(2026, 11, 1),
        state="resolved" if kind == "resolved" else "firing",
        severity="critical",
        value=D(value),
        threshold=D(threshold),
        fired_at=timezone.now(),
    )
    event = factories.alert_event(alert=alert, kind=kind)
    outbox.alert_notify(alert=alert, event=event)
    assert delivery.notifications_email_send() == 1
    assert len(mail.outbox) == 1
    return alert, mail.outbox[0]


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_a_french_alert_email_with_french_numbers_the_six_period_table_and_the_link(
    make_user, ventes, churn, churn_history, settings
):
    # given a French-speaking manager of Ventes and the site's public address
    settings.SITE_URL = "https://kpi.example.fr"
    claire = make_user("claire.martin", team=ventes, role=Role.MANAGER, language="fr")
    alert, message = alert_email_for(claire, churn, ventes, value="12.5", threshold="10")
    # then the subject names the severity, the KPI, the condition and the team, in French
    assert message.subject == f"[KPI] Alerte critique{NBSP}: Taux d'attrition au-dessus du seuil — Ventes"
    assert message.to == ["claire.martin@example.test"]
    text, html = message.body, html_of(message)
    link = f"https://kpi.example.fr/alerts/{alert.pk}/"
    for body in (text, html):
        # the value and the threshold with a decimal comma and a non-breaking space before %
        assert f"12,5{NBSP}%" in body
        assert f"10{NBSP}%" in body
        assert link in body
        # the six months June–November named as months (a monthly rule), not May, not the segment nor the other
        # team
        for month, shown in [
            ("juin 2026", f"8{NBSP}%"),
            ("juillet 2026", f"9{NBSP}%"),
            ("août 2026", f"9,5{NBSP}%"),
            ("septembre 2026", f"10{NBSP}%"),
            ("octobre 2026", f"11{NBSP}%"),
            ("novembre 2026", f"12,5{NBSP}%"),
        ]:
            assert month in body and shown in body
        assert "mai 2026" not in body and "/2026" not in body
        assert "99" not in body and "77" not in body
    assert f"Période{NBSP}: novembre 2026\n" in text  # the alert's period is a month: no day, no granularity
    assert f"Valeur{NBSP}: 12,5{NBSP}%" in text
    assert f"Seuil{NBSP}: 10{NBSP}%" in text
    assert f"Voir l’alerte{NBSP}: {link}" in text
    assert '<html lang="fr">' in html
    assert f'href="{link}"' in html
    # the current period's bar is full width (12,5 is the largest of the six), June's is 8/12.5 = 64 %
    assert "width:100%" in html and "width:64%" in html


def test_an_english_alert_email(make_user, ventes, churn, churn_history):
    john = make_user("john", team=ventes, role=Role.MANAGER, language="en")
    alert, message = alert_email_for(john, churn, ventes, value="12.5", threshold="10")
    assert message.subject == "[KPI] Critical alert: Churn rate above the threshold — Ventes"
    text, html = message.body, html_of(message)
    assert f"Value: 12.5{NBSP}%" in text
    assert f"Threshold: 10{NBSP}%" in text
    assert f"See the alert: http://127.0.0.1:8000/alerts/{alert.pk}/" in text
    # the months in English words, never month/day/year
    assert "June 2026" in text and "November 2026" in text and "/2026" not in text
    assert "Period: November 2026\n" in text
    assert '<html lang="en">' in html
    assert "The rule “Seuil” fired for Ventes." in html


@pytest.mark.parametrize(
    ("language", "value", "threshold"),
    [
        # revenue ≥ 1 000 € is shown without decimals: 12 345,5 rounds to 12 346
        ("fr", f"12{NBSP}346{NBSP}€", f"15{NBSP}000{NBSP}€"),
        ("en", f"12,346{NBSP}€", f"15,000{NBSP}€"),
    ],
)
def test_amounts_use_the_recipient_thousand_separators(make_user, ventes, revenue, language, value, threshold):
    user = make_user(f"user-{language}", team=ventes, role=Role.MANAGER, language=language)
    _alert, message = alert_email_for(user, revenue, ventes, value="12345.5", threshold="15000", condition="below")
    assert value in message.body and threshold in message.body
    assert value in html_of(message)


def test_a_resolved_alert_email_says_so(make_user, ventes, churn, churn_history):
    claire = make_user("claire", team=ventes, role=Role.MANAGER, language="fr")
    _alert, message = alert_email_for(claire, churn, ventes, value="9", threshold="10", kind="resolved")
    assert message.subject == f"[KPI] Alerte résolue{NBSP}: Taux d'attrition au-dessus du seuil — Ventes"
    assert f"Cette alerte est résolue{NBSP}: la valeur est revenue en deçà du seuil." in message.body


def test_each_recipient_gets_the_email_in_their_own_language(make_user, ventes, churn, churn_history):
    # given two chosen recipients, one French, one English
    claire = make_user("claire", team=ventes, role=Role.MANAGER, language="fr")
    john = make_user("john", team=ventes, role=Role.MEMBER, language="en")
    rule = AlertRule.objects.create(
        team=ventes, name="Seuil", condition="above", kpi=churn, threshold=D("10"), severity="critical"
    )
    rule.recipients.set([claire, john])
    alert = Alert.objects.create(
        rule=rule,
        team=ventes,
        period_start=date(2026, 11, 1),
        state="firing",
        severity="critical",
        value=D("12.5"),
        threshold=D("10"),
        fired_at=dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC),
    )
    outbox.alert_notify(alert=alert, event=AlertEvent.objects.create(alert=alert, kind="fired"))
    # when the outbox is sent
    assert delivery.notifications_email_send() == 2
    # then each subject is in its reader's language
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects == {
        "claire@example.test": f"[KPI] Alerte critique{NBSP}: Taux d'attrition au-dessus du seuil — Ventes",
        "john@example.test": "[KPI] Critical alert: Churn rate above the threshold — Ventes",
    }
    assert set(Notification.objects.values_list("email_state", flat=True)) == {"sent"}


def test_an_alert_sent_to_several_people_reads_its_recent_values_once_per_language(
    churn, ventes, churn_history, make_user, monkeypatch
):
    # given an alert for three recipients, two reading French and one English
    from objectives.notifications import emails

    people = [
        make_user("fr1", team=ventes, role=Role.MANAGER),
        make_user("fr2", team=ventes, role=Role.MANAGER),
        make_user("en1", team=ventes, role=Role.MANAGER, language="en"),
    ]
    rule = AlertRule.objects.create(team=ventes, name="Seuil", condition="above", kpi=churn, threshold=D(10))
    rule.recipients.set(people)
    alert = Alert.objects.create(
        rule=rule, team=ventes, period_start=date(2026, 11, 1), state="firing", severity="warning", value=D("12.5")
    )
    outbox.alert_notify(alert=alert, event=AlertEvent.objects.create(alert=alert, kind="fired"))
    reads = []
    real = emails.alert_sparkline
    monkeypatch.setattr(emails, "alert_sparkline", lambda *, alert: reads.append(alert.pk) or real(alert=alert))
    # when the batch is sent
    assert delivery.notifications_email_send() == 3
    # then the values were read twice (French formats, English formats), not once per e-mail,
    # and each e-mail still shows November's 12.5 in its reader's format
    assert reads == [alert.pk, alert.pk]
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert "12,5" in bodies["fr1@example.test"] and "12,5" in bodies["fr2@example.test"]
    assert "12.5" in bodies["en1@example.test"]
