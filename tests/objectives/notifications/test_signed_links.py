"""Signed links in e-mails expire (issue 16: the digest's unsubscribe tokens never did).

KPI_SIGNED_LINK_DAYS (60 by default) after it was signed, the unsubscribe link leads to a page
that says so and points to the notification settings; forged or damaged links get the same
kind of page, never a server error, and change nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import signing
from django.urls import reverse

from objectives.models import NotificationSettings
from objectives.notifications import digest

pytestmark = pytest.mark.django_db
SIGNED_AT = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def claire(make_user, team_a):
    user = make_user("claire", team=team_a)
    NotificationSettings.objects.create(user=user, digest="weekly")
    return user


def _link_signed_at(user, when: dt.datetime) -> str:
    with time_machine.travel(when, tick=False):
        return digest.unsubscribe_url(user=user).removeprefix("http://127.0.0.1:8000")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_link_past_its_days_says_it_expired_and_changes_nothing(client, claire, method):
    url = _link_signed_at(claire, SIGNED_AT)
    # 60 days and one minute later
    with time_machine.travel(SIGNED_AT + dt.timedelta(days=60, minutes=1), tick=False):
        response = getattr(client, method)(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410
    body = response.content.decode()
    assert "This unsubscribe link has expired: links in e-mails work for 60 days." in body
    assert f'href="{reverse("notification-settings")}"' in body
    assert NotificationSettings.objects.get(user=claire).digest == "weekly"


def test_a_link_within_its_days_still_unsubscribes(client, claire):
    # a digest read late: 59 days after it was sent
    url = _link_signed_at(claire, SIGNED_AT)
    with time_machine.travel(SIGNED_AT + dt.timedelta(days=59), tick=False):
        assert client.post(url).status_code == 200
    assert NotificationSettings.objects.get(user=claire).digest == "never"


def test_the_lifetime_follows_the_setting(client, claire, settings):
    settings.KPI_SIGNED_LINK_DAYS = 7
    url = _link_signed_at(claire, SIGNED_AT)
    with time_machine.travel(SIGNED_AT + dt.timedelta(days=6), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(SIGNED_AT + dt.timedelta(days=8), tick=False):
        response = client.post(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410 and "work for 7 days" in response.content.decode()
    assert NotificationSettings.objects.get(user=claire).digest == "weekly"


def test_the_service_tells_expired_from_invalid(claire):
    with time_machine.travel(SIGNED_AT, tick=False):
        token = digest.unsubscribe_token(user=claire)
    with time_machine.travel(SIGNED_AT + dt.timedelta(days=61), tick=False):
        with pytest.raises(digest.SignedLinkExpired):
            digest.unsubscribe_user(token=token)
        for damaged in (token[:-2] + "xx", "é:é", "a:b:c", ""):
            with pytest.raises(digest.SignedLinkInvalid):
                digest.unsubscribe_user(token=damaged)
    with time_machine.travel(SIGNED_AT + dt.timedelta(days=1), tick=False):
        assert digest.unsubscribe_user(token=token) == claire


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        ":",
        "a:b:c",
        "e30:1vXyZ:" + "A" * 43,
        "x" * 2000,
        "..%2F..",
    ],
)
def test_a_damaged_link_gets_the_clear_page_not_an_error(client, claire, token):
    response = client.post(f"/notifications/unsubscribe/{token}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert "This unsubscribe link is not valid" in response.content.decode()
        assert f'href="{reverse("notification-settings")}"' in response.content.decode()
    assert NotificationSettings.objects.get(user=claire).digest == "weekly"


def test_a_token_for_someone_else_or_another_purpose_is_refused(client, claire, make_user, team_a):
    bob = make_user("bob", team=team_a)
    NotificationSettings.objects.create(user=bob, digest="daily")
    good = digest.unsubscribe_token(user=claire)
    other_purpose = signing.dumps({"u": bob.pk}, salt="something-else")
    swapped = signing.dumps({"u": bob.pk}, salt=digest.UNSUBSCRIBE_SALT).split(":")[0] + good[good.index(":") :]
    for token in (other_purpose, swapped):
        assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 400
    assert NotificationSettings.objects.get(user=bob).digest == "daily"
    assert NotificationSettings.objects.get(user=claire).digest == "weekly"


def test_the_preferences_link_asks_for_login_then_opens_the_settings(client, claire):
    response = client.get(reverse("notification-settings"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert response.url.endswith("?next=" + reverse("notification-settings"))
