"""Notification centre and bell: the user's own notifications, unread first, mark read; one COUNT for the bell."""

import pytest
from django.utils import timezone

from objectives.models import Notification

pytestmark = pytest.mark.django_db


def notify(user, team, title: str, *, read: bool = False) -> Notification:
    return Notification.objects.create(
        user=user,
        team=team,
        event="alert.firing",
        title=title,
        url="/alerts/",
        read_at=timezone.now() if read else None,
    )


def test_the_list_shows_my_notifications_unread_first(client, manager_a, manager_b, team_a, team_b):
    old_read = notify(manager_a, team_a, "lue", read=True)
    unread = notify(manager_a, team_a, "non lue")
    notify(manager_b, team_b, "de B")
    client.force_login(manager_a)
    response = client.get("/notifications/")
    assert [n.pk for n in response.context["notifications"]] == [unread.pk, old_read.pk]
    html = response.content.decode()
    assert "de B" not in html
    assert f'class="card notification unread" data-notification="{unread.pk}"' in html
    assert f'class="card notification" data-notification="{old_read.pk}"' in html


def test_the_bell_shows_the_unread_count_in_french(client, manager_a, team_a):
    for i in range(3):
        notify(manager_a, team_a, f"n{i}")
    notify(manager_a, team_a, "lue", read=True)
    client.force_login(manager_a)
    html = client.get("/alerts/").content.decode()
    assert 'aria-label="Notifications (3 non lues)"' in html
    assert '<span class="bell-count" aria-hidden="true">3</span>' in html


def test_the_bell_costs_one_count_query(client, manager_a, team_a, django_assert_num_queries):
    from objectives.notifications.context_processors import NotificationBell

    notify(manager_a, team_a, "n")
    bell = NotificationBell(manager_a)
    with django_assert_num_queries(1):
        assert bell.unread == 1
        assert bell.unread == 1


def test_anonymous_pages_have_no_bell(client):
    html = client.get("/accounts/login/").content.decode()
    assert "data-bell" not in html


def test_mark_one_read_then_all(client, manager_a, manager_b, team_a, team_b):
    first, second = notify(manager_a, team_a, "a"), notify(manager_a, team_a, "b")
    theirs = notify(manager_b, team_b, "c")
    client.force_login(manager_a)
    client.post("/notifications/read/", {"id": first.pk})
    assert Notification.objects.filter(read_at__isnull=True).count() == 2  # second and theirs
    response = client.post("/notifications/read/", follow=True)
    assert "Toutes les notifications sont marquées comme lues." in response.content.decode()
    second.refresh_from_db()
    theirs.refresh_from_db()
    assert second.read_at is not None and theirs.read_at is None


def test_marking_another_users_notification_changes_nothing(client, manager_b, manager_a, team_a):
    mine = notify(manager_a, team_a, "à moi")
    client.force_login(manager_b)
    client.post("/notifications/read/", {"id": mine.pk})
    client.post("/notifications/read/")
    mine.refresh_from_db()
    assert mine.read_at is None


def test_the_list_costs_a_constant_number_of_queries(client, manager_a, team_a, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    notify(manager_a, team_a, "n")
    client.force_login(manager_a)
    with CaptureQueriesContext(connection) as queries:
        client.get("/notifications/")
    for i in range(10):
        notify(manager_a, team_a, f"m{i}")
    with django_assert_num_queries(len(queries)):
        response = client.get("/notifications/")
    assert len(response.context["notifications"]) == 11


def test_notifications_need_a_login(client):
    assert client.get("/notifications/").status_code == 302
    assert client.post("/notifications/read/").status_code == 302


def test_the_bell_speaks_english_to_english_readers(client, manager_a, team_a):
    notify(manager_a, team_a, "n")
    client.force_login(manager_a)
    html = client.get("/alerts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'aria-label="Notifications (1 unread)"' in html and ">Alerts</a>" in html
