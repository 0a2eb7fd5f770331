"""Limits on repeated authentication attempts: the login lock-out's account key and the password-reset throttle.

django-axes counts failed logins per (username, client address) and refuses a login once the
count reaches AXES_FAILURE_LIMIT. The backend accepts a username or the account's e-mail in any
case, so axes is told, through AXES_USERNAME_CALLABLE, to count under the account a typed login
designates rather than under the typed text: every spelling of one account shares one counter.
axes calls it for everything it does (checking the lock before the password, recording a
failure, resetting the counter on success), on every path that goes through
`django.contrib.auth.authenticate` (the login page, the admin's login). API keys do not: they
are long random secrets checked against a hash, not passwords that can be guessed.

The password-reset throttle counts requests per e-mail address (case-folded) and per client
address in the "shared" cache (settings.CACHES: Redis when REDIS_URL is set, files under var/
otherwise), so every web process counts against the same limit; `cache.add` then `cache.incr` is
atomic in Redis. When that cache is unreachable the request is let through (logged): a Redis
outage must not stop people from resetting their password.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata

from axes.helpers import get_cool_off, get_cool_off_iso8601, get_failure_limit
from axes.utils import reset as axes_reset
from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.backends import login_user_lookup
from accounts.models import User

logger = logging.getLogger(__name__)

# AccessAttempt.username is 255 characters long: a longer typed login is cut (it designates no account anyway).
LOCKOUT_KEY_MAX_LENGTH = 255
# Where lockout_username keeps the keys it resolved during one request: axes asks several times per login.
_REQUEST_MEMO = "_lockout_keys"


def login_lockout_key(identifier: str | None) -> str | None:
    """The key the lock-out counts `identifier`'s failures under.

    The canonical username of the account the login designates (the backend's lookup, then the
    username in any case), else the text itself, NFKC-normalised and case-folded, so that
    `LEA.PETIT@DEMO.EXAMPLE`, `lea.petit@demo.example` and `lea.petit` count as one.
    """
    if identifier is None:
        return None
    user = login_user_lookup(identifier) if identifier else None
    text = unicodedata.normalize("NFKC", identifier).strip()
    if user is None and text:
        user = User._default_manager.filter(username__iexact=text).order_by("id").first()
    key = user.get_username() if user is not None else text.casefold()
    return key[:LOCKOUT_KEY_MAX_LENGTH]


def lockout_username(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the lock-out key of the login in `credentials` (or, without them, the posted form)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        identifier = credentials.get(field)
    elif request is not None:
        identifier = getattr(request, "data", request.POST).get(field)
    else:
        identifier = None
    if identifier is not None:
        identifier = str(identifier)
    if request is None:
        return login_lockout_key(identifier)
    memo = getattr(request, _REQUEST_MEMO, None)
    if memo is None:
        memo = {}
        setattr(request, _REQUEST_MEMO, memo)
    if identifier not in memo:
        memo[identifier] = login_lockout_key(identifier)
    return memo[identifier]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: axes' locked answer (the page, or JSON to a script) without the lock-out key.

    axes would put the key in it, and for a login typed as an e-mail that is the account's
    username: the lock-out must not tell who an address belongs to."""
    status = settings.AXES_HTTP_RESPONSE_CODE
    cool_off = get_cool_off(request)
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        data = {
            "failure_limit": get_failure_limit(request, credentials),
            "cooloff_time": get_cool_off_iso8601(cool_off) if cool_off else None,
        }
        return JsonResponse(data, status=status)
    context = {"failure_limit": get_failure_limit(request, credentials), "cooloff_timedelta": cool_off}
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=status)


def login_lockout_clear(*, user: User) -> int:
    """Forget the failed logins counted against `user` from every address (after a password reset by e-mail,
    the old password's guesses no longer matter); return how many counters were removed."""
    return axes_reset(username=login_lockout_key(user.get_username()))


def _normalised_email(email: str) -> str:
    # As Django's PasswordResetForm compares addresses: NFKC, then case-folded.
    return unicodedata.normalize("NFKC", email).strip().casefold()


def _window_hit(kind: str, value: str, *, limit: int, window_seconds: int) -> bool:
    """Count one request in the current window of (kind, value); return whether it is within `limit`."""
    digest = hashlib.sha256(value.encode()).hexdigest()
    key = f"password-reset:{kind}:{digest}"
    cache = caches["shared"]
    try:
        cache.add(key, 0, timeout=window_seconds)  # opens the window on the first request, no-op afterwards
        try:
            count = cache.incr(key)
        except ValueError:  # the window closed between add and incr: this request opens the next one
            cache.add(key, 1, timeout=window_seconds)
            count = 1
    except Exception:  # noqa: BLE001 - Redis down raises redis, socket or OS errors alike: fail open
        logger.warning("Password-reset throttle unavailable (shared cache unreachable); request let through.",
                       exc_info=True)  # fmt: skip
        return True
    return count <= limit


def password_reset_request_allow(*, email: str, ip_address: str | None) -> bool:
    """Count a password-reset request against its e-mail address and its client address; return whether a reset
    e-mail may be sent (at most PASSWORD_RESET_LIMIT per address and PASSWORD_RESET_IP_LIMIT per client in
    PASSWORD_RESET_WINDOW_MINUTES).

    Every request counts, whether or not an account uses the address, so being refused tells
    nothing about which addresses have accounts."""
    window_seconds = settings.PASSWORD_RESET_WINDOW_MINUTES * 60
    allowed = _window_hit(
        "email", _normalised_email(email), limit=settings.PASSWORD_RESET_LIMIT, window_seconds=window_seconds
    )
    if ip_address:
        allowed &= _window_hit("ip", ip_address, limit=settings.PASSWORD_RESET_IP_LIMIT, window_seconds=window_seconds)
    return allowed
