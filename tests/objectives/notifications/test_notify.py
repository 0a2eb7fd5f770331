"""Alert and objective notifications: recipients and channels, the outbox after commit, broker outages,
quiet hours, the notification centre's unread count and mark-read, and team isolation."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from accounts.models import Membership
from accounts.roles import Role
from objectives import services
from objectives.models import (
    Alert,
    Notification,
    NotificationSettings,
    WebhookDelivery,
    WebhookEndpoint,
)
from objectives.notifications import delivery, outbox, recipients
from objectives.notifications import selectors as notification_selectors
from objectives.notifications import services as notification_services
from objectives.notifications import tasks as notification_tasks
from objectives.notifications.tasks import notifications_email_send_task, webhook_delivery_send_task
from tests import factories

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def rule_a(team_a, churn):
    return factories.alert_rule(
        team=team_a, name="Attrition haute", condition="above", kpi=churn, threshold=D("10"), severity="critical"
    )


def alert_of(rule, *, state="firing") -> Alert:
    """An alert of `rule` in November 2026: 12.5 against 10, fired now."""
    return factories.alert(
        rule=rule,
        period_start=date(2026, 11, 1),
        state=state,
        value=D("12.5"),
        threshold=D("10"),
        fired_at=timezone.now(),
    )


# --------------------------------------------------------------------------- recipients and channels


def test_a_fired_alert_notifies_the_team_managers_in_app_and_by_email(
    rule_a, manager_a, viewer_a, manager_b, django_capture_on_commit_callbacks
):
    # given an endpoint of team A and one of team B
    hook_a = WebhookEndpoint.objects.create(team=rule_a.team, name="A", url="https://93.184.216.34/a")
    WebhookEndpoint.objects.create(team=manager_b.memberships.get().team, name="B", url="https://93.184.216.34/b")
    alert = alert_of(rule_a)
    # when the alert fires
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notified = outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
    # then only team A's manager (no chosen recipients) and team A's webhook
    assert notified == [
        {"user": manager_a.pk, "username": "manager-a", "channels": ["in_app", "email"]},
        {"webhook": hook_a.pk, "url": "https://93.184.216.34/a"},
    ]
    notification = Notification.objects.get()
    assert (notification.user, notification.team, notification.alert) == (manager_a, rule_a.team, alert)
    assert notification.event == "alert.firing"
    assert notification.email_state == "pending"
    assert notification.url == f"/alerts/{alert.pk}/"
    # manager-a reads French: the title and body use French wording and number formats
    assert notification.title == "Alerte critique\u00a0: Taux d'attrition au-dessus du seuil — Équipe A"
    assert notification.body == "Valeur 12,5\u00a0%, seuil 10\u00a0%"
    assert list(WebhookDelivery.objects.values_list("endpoint_id", "event", "state")) == [
        (hook_a.pk, "alert.firing", "pending")
    ]
    # and the sending waits for the commit: one callback
    assert len(callbacks) == 1


def test_chosen_recipients_replace_the_managers_and_must_still_see_the_team(
    rule_a, manager_a, viewer_a, make_user, team_a
):
    # given two chosen recipients, one of whom has since left the team
    leaver = make_user("leaver", team=team_a)
    rule_a.recipients.set([viewer_a, leaver])
    Membership.objects.filter(user=leaver).delete()
    alert = alert_of(rule_a)
    notified = outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
    # then only the viewer, not the manager nor the leaver
    assert notified == [{"user": viewer_a.pk, "username": "viewer-a", "channels": ["in_app", "email"]}]
    assert list(Notification.objects.values_list("user_id", flat=True)) == [viewer_a.pk]


def test_an_acknowledgement_goes_to_webhooks_only(rule_a, manager_a):
    hook = WebhookEndpoint.objects.create(team=rule_a.team, name="A", url="https://93.184.216.34/a")
    alert = alert_of(rule_a, state="acknowledged")
    notified = outbox.alert_notify(
        alert=alert, event=factories.alert_event(alert=alert, kind="acknowledged", actor=manager_a, comment="Vu")
    )
    assert notified == [{"webhook": hook.pk, "url": "https://93.184.216.34/a"}]
    assert Notification.objects.count() == 0
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "alert.acknowledged"
    assert delivery.payload["data"]["acknowledged_by"] == "manager-a"
    assert delivery.payload["data"]["comment"] == "Vu"


def test_a_resolved_alert_is_notified_and_other_events_are_not(rule_a, manager_a):
    alert = alert_of(rule_a, state="resolved")
    assert outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="updated")) == []
    assert Notification.objects.count() == 0
    outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="resolved"))
    notification = Notification.objects.get()
    assert notification.event == "alert.resolved"
    assert notification.title.startswith("Alerte résolue\u00a0: ")


def test_webhooks_get_only_the_events_they_want(rule_a, manager_a):
    WebhookEndpoint.objects.create(
        team=rule_a.team, name="Resolved only", url="https://93.184.216.34/r", events=["alert.resolved"]
    )
    WebhookEndpoint.objects.create(team=rule_a.team, name="Off", url="https://93.184.216.34/o", active=False)
    alert = alert_of(rule_a)
    outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
    assert WebhookDelivery.objects.count() == 0


def test_email_settings_and_rule_channels_are_respected(rule_a, manager_a, make_user, team_a):
    # given a manager who turned e-mails off, and another without an e-mail address
    NotificationSettings.objects.create(user=manager_a, email_alerts=False)
    no_address = make_user("no-address", team=team_a, role=Role.MANAGER)
    no_address.email = ""
    no_address.save()
    alert = alert_of(rule_a)
    notified = outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
    assert [n["channels"] for n in notified] == [["in_app"], ["in_app"]]
    assert set(Notification.objects.values_list("email_state", flat=True)) == {"none"}


def test_an_email_only_rule_leaves_nothing_unread(rule_a, manager_a):
    rule_a.notify_in_app = False
    rule_a.notify_webhook = False
    rule_a.save()
    WebhookEndpoint.objects.create(team=rule_a.team, name="A", url="https://93.184.216.34/a")
    alert = alert_of(rule_a)
    notified = outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
    assert notified == [{"user": manager_a.pk, "username": "manager-a", "channels": ["email"]}]
    assert Notification.objects.get().email_state == "pending"
    assert notification_selectors.notifications_unread_count(user=manager_a) == 0
    assert WebhookDelivery.objects.count() == 0


def test_a_broker_outage_never_fails_the_caller_and_rows_stay_pending(
    rule_a, manager_a, monkeypatch, django_capture_on_commit_callbacks
):
    # given a broker that refuses every message
    def refuse(*args, **kwargs):
        raise BrokerError("connection refused")

    monkeypatch.setattr(notifications_email_send_task, "apply_async", refuse)
    monkeypatch.setattr(webhook_delivery_send_task, "apply_async", refuse)
    WebhookEndpoint.objects.create(team=rule_a.team, name="A", url="https://93.184.216.34/a")
    alert = alert_of(rule_a)
    # when the alert fires and the transaction commits (callbacks executed)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
    # then no exception, and everything waits for the sweep
    assert len(callbacks) == 1
    assert Notification.objects.get().email_state == "pending"
    assert WebhookDelivery.objects.get().state == "pending"
    assert mail.outbox == []


def test_after_commit_the_email_is_sent(rule_a, manager_a, monkeypatch, django_capture_on_commit_callbacks):
    # given the task run in-process when enqueued
    monkeypatch.setattr(
        notifications_email_send_task,
        "apply_async",
        lambda args, kwargs, **_: notifications_email_send_task(*args, **kwargs),
    )
    alert = alert_of(rule_a)
    with (
        time_machine.travel(dt.datetime(2026, 11, 23, 10, 0, tzinfo=PARIS), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["manager-a@example.test"]
    notification = Notification.objects.get()
    assert (notification.email_state, notification.email_attempts) == ("sent", 1)
    # and running the task again sends nothing more
    notifications_email_send_task([notification.pk])
    assert len(mail.outbox) == 1


# --------------------------------------------------------------------------- quiet hours


@pytest.mark.parametrize(
    ("start", "end", "local_time", "quiet"),
    [
        (dt.time(22), dt.time(7), dt.time(23, 30), True),  # crosses midnight: evening side
        (dt.time(22), dt.time(7), dt.time(3, 0), True),  # crosses midnight: morning side
        (dt.time(22), dt.time(7), dt.time(7, 0), False),  # the end is not quiet
        (dt.time(22), dt.time(7), dt.time(12, 0), False),
        (dt.time(12), dt.time(14), dt.time(13, 0), True),  # same-day window
        (dt.time(12), dt.time(14), dt.time(14, 0), False),
        (dt.time(12), dt.time(12), dt.time(12, 0), False),  # empty window
        (None, None, dt.time(3, 0), False),
    ],
)
def test_quiet_hours_are_read_in_the_organisation_time_zone(start, end, local_time, quiet):
    prefs = NotificationSettings(quiet_start=start, quiet_end=end)
    # 23:30 in Paris on 21 November is 22:30 UTC (UTC+1 in winter)
    now = dt.datetime.combine(date(2026, 11, 21), local_time, tzinfo=PARIS).astimezone(dt.UTC)
    assert recipients.in_quiet_hours(prefs=prefs, now=now) is quiet


def test_an_email_is_held_during_quiet_hours_across_midnight_and_sent_by_the_sweep_after(rule_a, manager_a):
    # given quiet hours 22:00–07:00 (Paris) and an alert firing at 23:30
    NotificationSettings.objects.create(user=manager_a, quiet_start=dt.time(22), quiet_end=dt.time(7))
    alert = alert_of(rule_a)
    with time_machine.travel(dt.datetime(2026, 11, 21, 23, 30, tzinfo=PARIS), tick=False):
        outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
        notification = Notification.objects.get()
        # when the task runs at once: held
        assert delivery.notifications_email_send(notification_ids=[notification.pk]) == 0
    assert mail.outbox == []
    # and the sweep at 06:55 the next morning still holds it
    with time_machine.travel(dt.datetime(2026, 11, 22, 6, 55, tzinfo=PARIS), tick=False):
        assert notification_tasks.deliveries_sweep() == {"emails": 0, "webhooks": 0}
    assert mail.outbox == []
    notification.refresh_from_db()
    assert (notification.email_state, notification.email_attempts) == ("pending", 0)
    # then the sweep at 07:05 sends it, once
    with time_machine.travel(dt.datetime(2026, 11, 22, 7, 5, tzinfo=PARIS), tick=False):
        assert notification_tasks.deliveries_sweep() == {"emails": 1, "webhooks": 0}
        assert notification_tasks.deliveries_sweep() == {"emails": 0, "webhooks": 0}
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.email_state == "sent"
    assert notification.email_sent_at == dt.datetime(2026, 11, 22, 7, 5, tzinfo=PARIS)
    # the in-app notification was there all along
    assert notification.created_at < notification.email_sent_at


def test_a_failing_mail_server_keeps_the_email_pending_then_gives_up(rule_a, manager_a, monkeypatch):
    alert = alert_of(rule_a)
    outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))

    def broken_send(self, *args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", broken_send)
    for _attempt in range(delivery.EMAIL_MAX_ATTEMPTS - 1):
        delivery.notifications_email_send()
    notification = Notification.objects.get()
    assert (notification.email_state, notification.email_attempts) == ("pending", 4)
    delivery.notifications_email_send()
    notification.refresh_from_db()
    assert (notification.email_state, notification.email_attempts) == ("failed", 5)


# --------------------------------------------------------------------------- notification centre


def test_unread_count_is_one_query_and_mark_read_touches_only_ones_own(
    rule_a, manager_a, manager_b, django_assert_num_queries
):
    # given two notifications for manager A and one for manager B
    alert = alert_of(rule_a)
    mine = [
        Notification.objects.create(user=manager_a, team=rule_a.team, event="alert.firing", title=f"n{i}")
        for i in range(2)
    ]
    theirs = Notification.objects.create(user=manager_b, team=rule_a.team, alert=alert, event="x", title="b")
    with django_assert_num_queries(1):
        assert notification_selectors.notifications_unread_count(user=manager_a) == 2
    # when manager B tries to mark manager A's notifications read
    assert notification_services.notifications_mark_read(user=manager_b, ids=[n.pk for n in mine]) == 0
    # then nothing changed for A
    assert notification_selectors.notifications_unread_count(user=manager_a) == 2
    # when A marks one, then all
    assert notification_services.notifications_mark_read(user=manager_a, ids=[mine[0].pk, theirs.pk]) == 1
    assert notification_selectors.notifications_unread_count(user=manager_a) == 1
    assert notification_services.notifications_mark_read(user=manager_a) == 1
    assert notification_selectors.notifications_unread_count(user=manager_a) == 0
    # and B's own notification is still unread
    assert notification_selectors.notifications_unread_count(user=manager_b) == 1


# --------------------------------------------------------------------------- objectives


def test_an_objective_turning_at_risk_then_achieved_is_announced_once_each(
    team_a, manager_a, make_user, manager_b, revenue, store_daily
):
    # given an owner (member) and the team's manager; 1 000 €/day in January (31 000 € by 1 February)
    owner = make_user("owner", team=team_a, language="en")
    hook = WebhookEndpoint.objects.create(team=team_a, name="A", url="https://93.184.216.34/a")
    store_daily(revenue, team_a, date(2025, 1, 1), date(2025, 2, 1), 1000)
    objective = factories.objective(
        team=team_a, owner=owner, kpi=revenue, target_value=D("90000"), baseline_value=D("0")
    )
    # then on track on 1 February (31 000 of 31 000 expected: the forecast reaches 90 000): nothing sent
    assert objective.progress_status == "on_track"
    assert Notification.objects.count() == 0
    # when on 5 February nothing more came in: 31 000 of 35 000 expected (90 000 × 35/90) = 88.6 %,
    # the forecast misses the target but stays over the 75 % critical line → at risk
    services.objective_progress_refresh(objective=objective, today=date(2025, 2, 5))
    assert objective.progress_status == "at_risk"
    rows = list(Notification.objects.order_by("user__username").values_list("user__username", "event", "title"))
    assert rows == [
        ("manager-a", "objective.at_risk", "Objectif à risque\u00a0: Grow Q1 revenue online — Équipe A"),
        ("owner", "objective.at_risk", "Objective at risk: Grow Q1 revenue online — Équipe A"),
    ]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint, delivery.event) == (hook, "objective.at_risk")
    assert delivery.payload["data"]["status"] == "at_risk"
    assert delivery.payload["data"]["targets"][0]["current_value"] == 31000.0
    # when refreshed again while still at risk: nothing new
    services.objective_progress_refresh(objective=objective, today=date(2025, 2, 5))
    assert Notification.objects.count() == 2
    # when the whole target is reached (March stored at 70 000 € on one day)
    store_daily(revenue, team_a, date(2025, 3, 1), date(2025, 3, 2), 70000)
    services.objective_progress_refresh(objective=objective, today=date(2025, 4, 1))
    assert objective.progress_status == "achieved"
    assert list(
        Notification.objects.filter(event="objective.achieved")
        .order_by("user__username")
        .values_list("user__username", flat=True)
    ) == ["manager-a", "owner"]
    # and team B's manager heard nothing
    assert not Notification.objects.filter(user=manager_b).exists()


def test_held_emails_do_not_block_the_batch(rule_a, manager_a, make_user, team_a, monkeypatch):
    # given a batch of one, an older e-mail held by quiet hours and a newer one that may go
    monkeypatch.setattr(delivery, "EMAIL_BATCH_SIZE", 1)
    NotificationSettings.objects.create(user=manager_a, quiet_start=dt.time(22), quiet_end=dt.time(7))
    awake = make_user("awake", team=team_a, role=Role.MANAGER)
    alert = alert_of(rule_a)
    with time_machine.travel(dt.datetime(2026, 11, 21, 23, 30, tzinfo=PARIS), tick=False):
        outbox.alert_notify(alert=alert, event=factories.alert_event(alert=alert, kind="fired"))
        held, ready = Notification.objects.order_by("id")
        assert (held.user, ready.user) == (manager_a, awake)
        # when the sweep runs during manager A's quiet hours
        assert notification_tasks.deliveries_sweep()["emails"] == 1
    # then the awake manager's e-mail went, manager A's waits
    assert [m.to for m in mail.outbox] == [["awake@example.test"]]
    assert list(Notification.objects.order_by("id").values_list("email_state", flat=True)) == ["pending", "sent"]
