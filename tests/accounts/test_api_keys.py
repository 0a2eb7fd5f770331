"""Team API keys: created by a command (key on the last line), hashed at rest, scoped, revocable, last use."""

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import TeamApiKey
from accounts.services import TeamError, api_key_create, api_key_revoke

TEAMS_URL = "/api/v1/teams/"


def test_create_api_key_prints_the_key_alone_on_its_last_line(team_a):
    out = StringIO()
    call_command("create_api_key", "--team", "team-a", "--name", "crm sync", "--scopes", "read,write", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    api_key = TeamApiKey.objects.get()
    assert (api_key.team, api_key.name, api_key.scope_list) == (team_a, "crm sync", ["read", "write"])
    assert key.startswith(api_key.prefix + ".")
    # Stored hashed: the plain key is nowhere in the row
    assert key not in (api_key.id, api_key.hashed_key) and api_key.hashed_key.startswith("sha512$$")
    assert TeamApiKey.objects.get_from_key(key) == api_key


def test_create_api_key_refuses_an_unknown_team_or_scope(team_a):
    with pytest.raises(CommandError, match="No team with slug 'nope'"):
        call_command("create_api_key", "--team", "nope", "--name", "x", stdout=StringIO())
    with pytest.raises(CommandError, match="Unknown API key scopes"):
        call_command("create_api_key", "--team", "team-a", "--name", "x", "--scopes", "admin", stdout=StringIO())
    assert TeamApiKey.objects.count() == 0


def test_default_scope_is_read(team_a):
    api_key, _key = api_key_create(team=team_a, name="bi")
    assert api_key.scope_list == ["read"]
    with pytest.raises(TeamError):
        api_key_create(team=team_a, name="bad", scopes=["read", "delete"])


def test_a_key_reads_its_teams_and_sub_teams_only(api_client, make_team, team_a, team_b):
    make_team("team-a-north", parent=team_a)
    _api_key, key = api_key_create(team=team_a, name="bi")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = api_client.get(TEAMS_URL).json()
    assert [team["slug"] for team in body["results"]] == ["team-a", "team-a-north"]


def test_a_revoked_key_is_refused(api_client, team_a):
    api_key, key = api_key_create(team=team_a, name="bi")
    api_key_revoke(api_key=api_key)
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_ACCEPT_LANGUAGE="en")
    response = api_client.get(TEAMS_URL)
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid or revoked API key."})
    assert response["WWW-Authenticate"] == "Api-Key"


def test_an_expired_key_is_refused(api_client, team_a):
    api_key, key = api_key_create(team=team_a, name="bi")
    TeamApiKey.objects.filter(pk=api_key.pk).update(expiry_date=timezone.now() - timedelta(days=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_ACCEPT_LANGUAGE="en")
    response = api_client.get(TEAMS_URL)
    assert (response.status_code, response.json()) == (401, {"detail": "This API key has expired."})


def test_a_wrong_secret_with_a_real_prefix_is_refused(api_client, team_a):
    api_key, _key = api_key_create(team=team_a, name="bi")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.prefix}.not-the-secret")
    assert api_client.get(TEAMS_URL).status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(api_client, team_a):
    api_key, key = api_key_create(team=team_a, name="bi")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        api_client.get(TEAMS_URL)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start
    # 30 seconds later: not written again
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api_client.get(TEAMS_URL)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start
    # 61 seconds after the first use: written
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api_client.get(TEAMS_URL)
    api_key.refresh_from_db()
    assert api_key.last_used_at == start + timedelta(seconds=61)


def test_a_busy_database_does_not_fail_the_request_for_the_key_s_last_use(api_client, team_a):
    # given the write of the key's last use refused, as SQLite does while a recompute holds its write lock
    api_key, key = api_key_create(team=team_a, name="bi")
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    with mock.patch.object(QuerySet, "update", side_effect=OperationalError("database is locked")):
        response = api_client.get(TEAMS_URL)
    # then the request is answered, and the use is left for a later request to record
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is None
    api_client.get(TEAMS_URL)
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_session_posts_still_need_a_csrf_token(client, manager_a):
    # The browser's session authentication keeps its CSRF check (enforce_csrf_checks client)
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager_a)
    response = browser.post("/api/v1/activity/orders/", data="[]", content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
