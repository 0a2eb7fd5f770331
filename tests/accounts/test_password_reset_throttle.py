"""Password-reset requests are throttled per address and per client, without telling which addresses have an
account (issue 16: five reset e-mails went out back to back).

Defaults: 3 requests per address and 10 per client address per 60 minutes (PASSWORD_RESET_*).
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from accounts.lockout import password_reset_request_allow
from accounts.services import user_upsert
from tests.conftest import PASSWORD

THROTTLED = "no new e-mail was sent"


@pytest.fixture(autouse=True)
def _fresh_counters():
    # The counters live in the shared cache, which outlives a test: start and leave it empty.
    caches["shared"].clear()
    yield
    caches["shared"].clear()


def test_a_shared_cache_outage_lets_the_request_through(settings, lea, client, mailoutbox):
    # given the shared cache pointing at a Redis that does not answer
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    # when someone asks for a reset link: the throttle cannot count, so it lets the request through
    assert password_reset_request_allow(email="lea.petit@demo.example", ip_address="203.0.113.9") is True
    response = _reset(client, "lea.petit@demo.example")
    assert response.status_code == 302 and len(mailoutbox) == 1


@pytest.fixture
def lea(db):
    return user_upsert(username="lea.petit", email="lea.petit@demo.example", password=PASSWORD)


def _reset(client, email: str, ip: str = "203.0.113.9"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en")


def _page(response) -> str:
    # The page without its per-request CSRF tokens, to compare two answers.
    return re.sub(r'value="[^"]{32,}"', 'value=""', response.content.decode())


def test_only_three_emails_per_hour_for_one_address(client, lea, mailoutbox):
    # when the attacker's five requests come back to back
    responses = [_reset(client, "lea.petit@demo.example") for _ in range(5)]
    # then three links are sent, and the last two requests are told nothing more was sent
    assert len(mailoutbox) == 3
    assert [r.status_code for r in responses] == [302, 302, 302, 429, 429]
    assert responses[0].url == reverse("password_reset_done")
    assert THROTTLED in responses[3].content.decode()


def test_every_case_of_the_address_counts_as_one(client, lea, mailoutbox):
    spellings = ["LEA.PETIT@DEMO.EXAMPLE", "lea.petit@demo.example", "Lea.Petit@Demo.Example", "lEA.pETIT@demo.EXAMPLE"]
    for n, email in enumerate(spellings):
        _reset(client, email, ip=f"198.51.100.{n + 1}")  # a new client each time: only the address counts
    assert len(mailoutbox) == 3


def test_an_unknown_address_gets_the_same_answers(client, lea, mailoutbox):
    # given the same four requests for an address with an account and for one without, from two clients
    known = [_reset(client, "lea.petit@demo.example", ip="198.51.100.1") for _ in range(4)]
    unknown = [_reset(client, "nobody@demo.example", ip="198.51.100.2") for _ in range(4)]
    # then the answers cannot be told apart: same statuses, same redirect, same throttled page
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [302, 302, 302, 429]
    assert {r.url for r in known[:3]} == {r.url for r in unknown[:3]} == {reverse("password_reset_done")}
    assert _page(known[3]) == _page(unknown[3])
    # and only the real account got e-mails
    assert [m.to for m in mailoutbox] == [["lea.petit@demo.example"]] * 3


def test_one_client_is_limited_across_addresses(client, lea, mailoutbox):
    # given ten requests from one client for ten other addresses (the client limit is 10)
    for n in range(10):
        assert _reset(client, f"someone{n}@demo.example").status_code == 302
    # then an eleventh, even for an address never asked for, sends nothing
    assert _reset(client, "lea.petit@demo.example").status_code == 429
    assert mailoutbox == []
    # while another client still can
    assert _reset(client, "lea.petit@demo.example", ip="198.51.100.7").status_code == 302
    assert len(mailoutbox) == 1


def test_another_address_is_not_throttled(client, lea, mailoutbox):
    marc = user_upsert(username="marc.durand", email="marc.durand@demo.example", password=PASSWORD)
    for _ in range(4):
        _reset(client, "lea.petit@demo.example")
    assert _reset(client, "marc.durand@demo.example").status_code == 302
    assert mailoutbox[-1].to == [marc.email]


def test_the_window_reopens_after_the_configured_minutes(client, lea, mailoutbox, settings):
    settings.PASSWORD_RESET_LIMIT = 1
    settings.PASSWORD_RESET_WINDOW_MINUTES = 10
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert _reset(client, "lea.petit@demo.example").status_code == 302
        assert _reset(client, "lea.petit@demo.example").status_code == 429
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert _reset(client, "lea.petit@demo.example").status_code == 429
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert _reset(client, "lea.petit@demo.example").status_code == 302
    assert len(mailoutbox) == 2


def test_the_service_counts_without_a_client_address(db):
    assert [password_reset_request_allow(email="x@demo.example", ip_address=None) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


def test_the_throttled_page_in_french_keeps_its_frame(client, lea):
    for _ in range(3):
        _reset(client, "lea.petit@demo.example")
    response = client.post(reverse("password_reset"), {"email": "lea.petit@demo.example"}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert 'lang="fr"' in response.content.decode() and 'role="status"' in response.content.decode()
