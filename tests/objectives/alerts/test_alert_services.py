"""Alert lifecycle by hand: acknowledge with a comment, resolve with a note, snooze a rule, recipients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils.translation import override

from accounts.roles import Role
from objectives.alerts import events as alert_events
from objectives.alerts.services import AlertTransitionError, alert_acknowledge, alert_resolve, alert_rule_snooze
from objectives.models import Alert, AlertEvent, AlertState
from objectives.notifications.recipients import alert_rule_recipients
from tests import factories

MAR = dt.date(2026, 3, 1)


@pytest.fixture
def notified(monkeypatch):
    """A fake outbox recording (alert, event kind, actor) and answering with the rule's recipients."""
    calls: list[tuple[int, str, int | None]] = []

    def alert_notify(*, alert, event):
        calls.append((alert.pk, event.kind, event.actor_id))
        return [
            {"user": u.pk, "username": u.username, "channels": ["in_app"]}
            for u in alert_rule_recipients(rule=alert.rule)
        ]

    monkeypatch.setattr(alert_events, "alert_notify", alert_notify)
    return calls


@pytest.fixture
def churn_rule(team_a, churn):
    return factories.alert_rule(team=team_a, name="Churn", kpi=churn, condition="above", threshold=Decimal(20))


@pytest.fixture
def make_alert(churn_rule, team_a):
    """make_alert(state): an alert of the churn rule, 25 % against 20 % in March, fired now unless pending."""

    def make(state: str, **fields) -> Alert:
        return factories.alert(
            rule=churn_rule,
            team=team_a,
            period_start=MAR,
            state=state,
            severity="warning",
            value=Decimal(25),
            threshold=Decimal(20),
            **fields,
        )

    return make


def test_acknowledge_a_firing_alert_with_a_comment(make_alert, manager_a, notified):
    # given a firing alert
    alert = make_alert(AlertState.FIRING)
    # when a manager acknowledges it with a comment
    result = alert_acknowledge(alert=alert, user=manager_a, comment="  Relance des clients perdus en cours.  ")
    # then it is acknowledged by them, a history row keeps the comment, and the state change is notified
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by, result.state) == ("acknowledged", manager_a, "acknowledged")
    assert alert.acknowledged_at is not None
    event = AlertEvent.objects.get(alert=alert)
    assert (event.kind, event.actor, event.comment) == (
        "acknowledged",
        manager_a,
        "Relance des clients perdus en cours.",
    )
    assert (event.value, event.threshold) == (Decimal(25), Decimal(20))
    assert event.notified == [{"user": manager_a.pk, "username": "manager-a", "channels": ["in_app"]}]
    assert notified == [(alert.pk, "acknowledged", manager_a.pk)]


def test_acknowledging_twice_changes_nothing(make_alert, manager_a, notified):
    alert = make_alert(AlertState.FIRING)
    alert_acknowledge(alert=alert, user=manager_a, comment="vu")
    alert_acknowledge(alert=alert, user=manager_a, comment="vu encore")
    assert list(AlertEvent.objects.values_list("kind", "comment")) == [("acknowledged", "vu")]
    assert len(notified) == 1


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (AlertState.RESOLVED, "Cette alerte est résolue : il n’y a rien à prendre en compte."),
        (AlertState.PENDING, "Cette alerte ne s’est pas encore déclenchée : elle ne peut pas être prise en compte."),
    ],
)
def test_acknowledge_refuses_resolved_and_pending_alerts(make_alert, manager_a, notified, state, message):
    # given a resolved or pending alert
    alert = make_alert(state)
    # when someone tries to acknowledge it: a translated refusal, and nothing changed
    with override("fr"), pytest.raises(AlertTransitionError) as refused:
        alert_acknowledge(alert=alert, user=manager_a, comment="ok")
    assert isinstance(refused.value, ValueError)
    assert refused.value.message == message
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == (state, None)
    assert AlertEvent.objects.count() == 0 and notified == []


def test_resolve_by_hand_with_a_note_notifies_an_alert_that_had_fired(make_alert, manager_a, notified):
    alert = make_alert(AlertState.ACKNOWLEDGED)
    alert_resolve(alert=alert, user=manager_a, note="Faux positif : import en double corrigé.")
    alert.refresh_from_db()
    assert (alert.state, alert.resolved_by) == ("resolved", manager_a)
    event = AlertEvent.objects.get()
    assert (event.kind, event.actor, event.comment) == (
        "resolved",
        manager_a,
        "Faux positif : import en double corrigé.",
    )
    assert notified == [(alert.pk, "resolved", manager_a.pk)]


def test_resolving_a_pending_alert_notifies_nobody(make_alert, manager_a, notified):
    # nobody heard of a pending alert, so nobody hears of its end
    alert = make_alert(AlertState.PENDING)
    alert_resolve(alert=alert, user=manager_a)
    assert AlertEvent.objects.get().notified == []
    assert notified == []


def test_resolving_a_resolved_alert_is_refused(make_alert, manager_a, notified):
    alert = make_alert(AlertState.RESOLVED)
    with override("en"), pytest.raises(AlertTransitionError, match="already resolved"):
        alert_resolve(alert=alert, user=manager_a, note="x")
    assert AlertEvent.objects.count() == 0


def test_snooze_and_wake_a_rule(churn_rule):
    until = dt.datetime(2026, 4, 30, 8, tzinfo=dt.UTC)
    assert alert_rule_snooze(rule=churn_rule, until=until).snoozed_until == until
    churn_rule.refresh_from_db()
    assert churn_rule.snoozed_until == until
    alert_rule_snooze(rule=churn_rule, until=None)
    churn_rule.refresh_from_db()
    assert churn_rule.snoozed_until is None


def test_snooze_reads_a_naive_date_time_in_the_organisation_time_zone(churn_rule):
    # 30 April 10:00 in Paris (summer time, UTC+2) is 08:00 UTC
    alert_rule_snooze(rule=churn_rule, until=dt.datetime(2026, 4, 30, 10))
    churn_rule.refresh_from_db()
    assert churn_rule.snoozed_until == dt.datetime(2026, 4, 30, 8, tzinfo=dt.UTC)


def test_recipients_are_the_chosen_users_who_can_see_the_team(churn_rule, make_user, team_a, team_b, make_team):
    # given chosen recipients: a member of the team, a manager of its parent, an admin, and an outsider
    parent = make_team("direction")
    team_a.parent = parent
    team_a.save()
    member = make_user("member-a", team=team_a, role=Role.MEMBER)
    director = make_user("director", team=parent, role=Role.MANAGER)
    admin = make_user("admin", staff=True)
    outsider = make_user("outsider", team=team_b, role=Role.MANAGER)
    churn_rule.recipients.set([member, director, admin, outsider])
    # then the outsider (another team) is left out
    assert alert_rule_recipients(rule=churn_rule) == [admin, director, member]


def test_recipients_default_to_the_team_managers_else_the_nearest_parent_managers(
    churn_rule, make_user, make_team, team_a
):
    # given a team without a manager, under a parent with one
    parent = make_team("direction")
    team_a.parent = parent
    team_a.save()
    make_user("member-a", team=team_a, role=Role.MEMBER)
    director = make_user("director", team=parent, role=Role.MANAGER)
    assert alert_rule_recipients(rule=churn_rule) == [director]
    # when the team gets its own manager, only they are notified
    manager = make_user("manager-a", team=team_a, role=Role.MANAGER)
    assert alert_rule_recipients(rule=churn_rule) == [manager]


def test_fire_and_acknowledge_with_the_real_notification_module(churn_rule, churn, team_a, manager_a, store):
    # given churn 25 % in March and the real notification module (no fake)
    from objectives.alerts.evaluation import alerts_evaluate_cells
    from objectives.models import Notification, WebhookEndpoint

    WebhookEndpoint.objects.create(team=team_a, name="CRM", url="https://hooks.example.test/kpi")
    store(churn, team_a, "month", MAR, 25)
    # when the evaluation fires it and a manager acknowledges it
    alerts_evaluate_cells(
        kpi_ids=None,
        team_ids=None,
        granularities=["month"],
        start=MAR,
        end=dt.date(2026, 4, 1),
        now=dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC),
    )
    alert = Alert.objects.get()
    alert_acknowledge(alert=alert, user=manager_a, comment="vu")
    # then the firing reached the team's manager (in-app and e-mail) and the webhook; the acknowledgement
    # the webhook only; each history row says so
    fired, acknowledged = alert.events.order_by("id")
    endpoint = WebhookEndpoint.objects.get()
    assert fired.notified == [
        {"user": manager_a.pk, "username": "manager-a", "channels": ["in_app", "email"]},
        {"webhook": endpoint.pk, "url": "https://hooks.example.test/kpi"},
    ]
    assert acknowledged.notified == [{"webhook": endpoint.pk, "url": "https://hooks.example.test/kpi"}]
    assert list(Notification.objects.values_list("user", "alert")) == [(manager_a.pk, alert.pk)]
