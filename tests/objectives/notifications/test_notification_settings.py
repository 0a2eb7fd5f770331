"""Notification settings page: each user edits only their own preferences, and bad quiet hours are refused."""

import datetime as dt

import pytest

from objectives.models import DigestFrequency, NotificationSettings

pytestmark = pytest.mark.django_db


def test_a_user_without_settings_sees_the_defaults_and_nothing_is_written(client, viewer_a):
    client.force_login(viewer_a)
    response = client.get("/notifications/settings/")
    assert response.status_code == 200
    form = response.context["form"]
    assert form["email_alerts"].value() is True
    assert form["digest"].value() == DigestFrequency.WEEKLY
    assert not NotificationSettings.objects.exists()
    assert "Heures calmes" in response.content.decode()


def test_saving_quiet_hours_across_midnight_and_a_daily_digest(client, viewer_a, manager_a):
    client.force_login(viewer_a)
    response = client.post(
        "/notifications/settings/",
        {"email_alerts": "on", "quiet_start": "22:00", "quiet_end": "07:00", "digest": "daily"},
    )
    assert response.status_code == 302
    prefs = NotificationSettings.objects.get()
    assert (prefs.user, prefs.email_alerts) == (viewer_a, True)
    assert (prefs.quiet_start, prefs.quiet_end, prefs.digest) == (dt.time(22), dt.time(7), "daily")
    # Another user's preferences are untouched: they still have none.
    assert not NotificationSettings.objects.filter(user=manager_a).exists()


def test_turning_alert_emails_off_updates_the_same_row(client, viewer_a):
    NotificationSettings.objects.create(user=viewer_a, digest="never")
    client.force_login(viewer_a)
    client.post("/notifications/settings/", {"digest": "weekly"})  # unchecked box: e-mails off
    prefs = NotificationSettings.objects.get()
    assert (prefs.email_alerts, prefs.digest) == (False, "weekly")


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("22:00", "", "quiet_end", "Indiquez les deux bornes des heures calmes, ou aucune."),
        ("", "07:00", "quiet_start", "Indiquez les deux bornes des heures calmes, ou aucune."),
        ("08:00", "08:00", "quiet_end", "Les heures calmes doivent se terminer à une autre heure que leur début."),
        ("25:00", "07:00", "quiet_start", "Saisissez une heure valide."),
    ],
)
def test_bad_quiet_hours_are_refused_with_a_message_and_nothing_saved(client, viewer_a, start, end, field, message):
    client.force_login(viewer_a)
    response = client.post("/notifications/settings/", {"quiet_start": start, "quiet_end": end, "digest": "weekly"})
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert not NotificationSettings.objects.exists()


def test_the_settings_page_needs_a_login(client):
    response = client.get("/notifications/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_alert_and_digest_emails_link_to_the_settings_page(settings):
    # Given the public address of the site, the settings link is absolute (it is read in a mail client).
    from objectives.notifications.emails import settings_url

    settings.SITE_URL = "https://kpi.example.test"
    assert settings_url() == "https://kpi.example.test/notifications/settings/"


def test_the_notification_centre_links_to_the_settings(client, viewer_a):
    client.force_login(viewer_a)
    html = client.get("/notifications/").content.decode()
    assert 'href="/notifications/settings/"' in html


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, viewer_a, manager_b, team_a, team_b):
    from objectives.models import Notification

    mine = Notification.objects.create(user=viewer_a, team=team_a, event="alert.firing", title="t", url="/alerts/7/")
    theirs = Notification.objects.create(user=manager_b, team=team_b, event="alert.firing", title="t", url="/x/")
    client.force_login(viewer_a)
    response = client.get(f"/notifications/{mine.pk}/open/")
    assert (response.status_code, response["Location"]) == (302, "/alerts/7/")
    mine.refresh_from_db()
    assert mine.read_at is not None
    # Another user's notification: 404, and it stays unread.
    assert client.get(f"/notifications/{theirs.pk}/open/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_notification_link_to_another_site_is_not_followed(client, viewer_a, team_a):
    from objectives.models import Notification

    odd = Notification.objects.create(
        user=viewer_a, team=team_a, event="alert.firing", title="t", url="https://evil.example/"
    )
    client.force_login(viewer_a)
    response = client.get(f"/notifications/{odd.pk}/open/")
    assert response["Location"] == "/notifications/"


def test_opening_an_alert_marks_my_notifications_about_it_read(client, manager_a, viewer_a, team_a, make_kpi):
    import datetime as dt
    from decimal import Decimal

    from objectives.models import Alert, AlertRule, Notification

    kpi = make_kpi("revenue")
    rule = AlertRule.objects.create(team=team_a, name="r", kpi=kpi, condition="below", threshold=Decimal(1))
    alert = Alert.objects.create(
        rule=rule, team=team_a, period_start=dt.date(2026, 3, 1), state="firing", severity="warning"
    )
    mine = Notification.objects.create(user=manager_a, team=team_a, alert=alert, event="alert.firing", title="t")
    other = Notification.objects.create(user=viewer_a, team=team_a, alert=alert, event="alert.firing", title="t")
    client.force_login(manager_a)
    assert client.get(f"/alerts/{alert.pk}/").status_code == 200
    mine.refresh_from_db()
    other.refresh_from_db()
    # Mine is read; the viewer's, about the same alert, is still unread.
    assert mine.read_at is not None and other.read_at is None
