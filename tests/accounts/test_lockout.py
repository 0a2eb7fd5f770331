"""The login lock-out counts failures per account, whatever spelling of it is typed (issue 16).

The backend accepts a username or the account's e-mail in any case; django-axes used to count
the raw text, so five failures on `lea.petit` then four on `LEA.PETIT@DEMO.EXAMPLE`… were nine
tries and the right password still got in. The limit is AXES_FAILURE_LIMIT (5 here).
"""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from accounts.lockout import lockout_username
from accounts.models import LoginEvent
from accounts.services import user_upsert
from tests.conftest import PASSWORD

VARIANTS = ["lea.petit", "lea.petit@demo.example", "LEA.PETIT@DEMO.EXAMPLE", "lEa.petit@Demo.Example", "LEA.PETIT"]


@pytest.fixture(autouse=True)
def _reset_axes(db):
    from axes.utils import reset

    reset()


@pytest.fixture
def lea(db):
    return user_upsert(username="lea.petit", email="lea.petit@demo.example", password=PASSWORD)


@pytest.fixture
def marc(db):
    return user_upsert(username="marc.durand", email="marc.durand@demo.example", password=PASSWORD)


def _login(client, username: str, password: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("typed", VARIANTS)
def test_every_spelling_of_an_account_names_the_same_lockout_key(lea, typed):
    assert lockout_username(None, {"username": typed}) == "lea.petit"


def test_an_unknown_login_is_keyed_by_its_case_folded_text(db):
    assert lockout_username(None, {"username": "Nobody@Nowhere.Example"}) == "nobody@nowhere.example"
    assert lockout_username(None, {"username": None}) is None


def test_failures_under_every_spelling_add_up_to_one_counter(client, lea):
    # given one failure under each of the five spellings (the limit is 5)
    for typed in VARIANTS:
        response = _login(client, typed, "wrong")
    # then the fifth already answers with the locked page, and one row counts them all
    assert response.status_code == 429
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.failures_since_start) == ("lea.petit", 5)


@pytest.mark.parametrize("typed", VARIANTS)
def test_after_the_limit_the_right_password_is_refused_in_any_spelling(client, lea, typed, settings):
    # given the attacker's run: the limit reached on the plain username
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "lea.petit", "wrong")
    # when the right password comes under another spelling
    response = _login(client, typed, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    # then the locked page, no session, no login recorded
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not LoginEvent.objects.exists()


def test_the_lock_out_of_one_account_leaves_another_open(client, lea, marc, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "LEA.PETIT@demo.example", "wrong")
    response = _login(client, "marc.durand@demo.example", PASSWORD)
    assert response.status_code == 302
    assert LoginEvent.objects.filter(user=marc).count() == 1


def test_an_unknown_login_does_not_count_against_an_account(client, lea, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "lea.petit@elsewhere.example", "wrong")
    assert _login(client, "lea.petit", PASSWORD).status_code == 302


def test_a_success_under_another_spelling_resets_the_counter(client, lea, settings):
    # given one try short of the limit, under the e-mail
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "Lea.Petit@Demo.Example", "wrong")
    # when the right password comes under the username
    assert _login(client, "lea.petit", PASSWORD).status_code == 302
    # then the counter is gone: a full set of tries again before the lock
    assert not AccessAttempt.objects.exists()
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "LEA.PETIT@DEMO.EXAMPLE", "wrong")
    assert _login(client, "lea.petit@demo.example", PASSWORD).status_code == 302


def test_the_admin_login_shares_the_counter(client, lea, settings):
    lea.is_staff = True
    lea.save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "lea.petit", "wrong")
    response = client.post(
        reverse("admin:login"), {"username": "LEA.PETIT@DEMO.EXAMPLE", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failures_on_the_admin_login_lock_the_site_login(client, lea, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": "Lea.Petit@demo.example", "password": "wrong"})
    assert _login(client, "lea.petit", PASSWORD).status_code == 429


def test_the_lock_is_per_address(client, lea, settings):
    # the lock keys the account together with the client's address (AXES_LOCKOUT_PARAMETERS)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "lea.petit", "wrong", REMOTE_ADDR="203.0.113.9")
    assert _login(client, "LEA.PETIT@demo.example", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    assert _login(client, "lea.petit@demo.example", PASSWORD, REMOTE_ADDR="198.51.100.4").status_code == 302


def test_a_password_reset_lifts_the_lock(client, lea, settings, mailoutbox):
    # given the account locked from this address
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "lea.petit@demo.example", "wrong")
    assert _login(client, "lea.petit", PASSWORD).status_code == 429
    # when its owner follows the reset link from the e-mail and chooses a new password
    client.post(reverse("password_reset"), {"email": "LEA.PETIT@demo.example"})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/reset/" in line)
    form_url = client.get(link.split("testserver", 1)[1]).url  # Django swaps the token for a session mark
    new_password = "a-brand-new-horse-battery"
    response = client.post(form_url, {"new_password1": new_password, "new_password2": new_password})
    assert response.status_code == 302
    # then the new password logs in at once, under any spelling
    assert not AccessAttempt.objects.exists()
    assert _login(client, "LEA.PETIT@DEMO.EXAMPLE", new_password).status_code == 302


def test_an_overlong_login_is_refused_by_the_form(client, db):
    response = _login(client, "x" * 400, "wrong")
    assert response.status_code == 200
    assert not AccessAttempt.objects.exists()


def test_the_locked_answer_does_not_name_the_account(client, lea, settings):
    # given the account locked through its e-mail address
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "lea.petit@demo.example", "wrong")
    # when a script and a browser try again with the address
    script = _login(client, "LEA.PETIT@DEMO.EXAMPLE", PASSWORD, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    page = _login(client, "LEA.PETIT@DEMO.EXAMPLE", PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    # then both are refused without saying whose account the address is
    assert script.status_code == page.status_code == 429
    assert script.json() == {"failure_limit": 5, "cooloff_time": "PT15M"}
    assert "Too many failed attempts" in page.content.decode()
    assert "lea.petit" not in page.content.decode().replace("LEA.PETIT@DEMO.EXAMPLE", "")
