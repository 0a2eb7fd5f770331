"""Login, logout and lock-out through the real views; login events."""

import pytest
from django.urls import reverse

from accounts.models import LoginEvent
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _reset_axes(db):
    from axes.utils import reset

    reset()


def test_login_by_username_records_a_login_event(client, viewer_a):
    response = client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("home")
    assert LoginEvent.objects.filter(user=viewer_a).count() == 1


def test_login_by_email_case_insensitive(client, viewer_a):
    response = client.post(reverse("login"), {"username": "VIEWER-A@example.test", "password": PASSWORD})
    assert response.status_code == 302


def test_wrong_password_shows_the_form_again_with_an_error(client, viewer_a):
    response = client.post(reverse("login"), {"username": "viewer-a", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in response.content.decode()
    assert not LoginEvent.objects.exists()


def test_lock_out_after_repeated_failures(client, viewer_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "viewer-a", "password": "wrong"})
    # even the right password is refused while locked out
    response = client.post(reverse("login"), {"username": "viewer-a", "password": PASSWORD})
    assert response.status_code == 429
    assert not LoginEvent.objects.exists()


def test_logout_needs_post_and_ends_the_session(client, viewer_a):
    client.force_login(viewer_a)
    assert client.get(reverse("home"), follow=True).status_code == 200  # one team: its dashboard
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).url.startswith(reverse("login"))


def test_home_requires_login_and_lists_only_own_teams(client, viewer_a, team_b):
    assert client.get(reverse("home")).url.startswith(reverse("login"))
    client.force_login(viewer_a)
    body = client.get(reverse("home"), follow=True).content.decode()
    assert "Équipe A" in body and "Équipe B" not in body


def test_login_page_in_french_by_default_and_english_on_request(client):
    fr = client.get(reverse("login")).content.decode()
    assert 'lang="fr"' in fr and "Se connecter" in fr and "Mot de passe oublié" in fr
    en = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in en and "Log in" in en


def test_password_reset_sends_an_email(client, viewer_a, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": viewer_a.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and viewer_a.username in mailoutbox[0].body


def test_password_change_page_requires_login(client, viewer_a):
    assert client.get(reverse("password_change")).status_code == 302
    client.force_login(viewer_a)
    assert client.get(reverse("password_change")).status_code == 200
