"""API-key authentication: `Authorization: Api-Key <key>` identifies an integration of one team."""

import logging
from contextlib import contextmanager
from datetime import timedelta

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import TeamApiKey

# last_used_at is written at most this often, so a busy integration does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
logger = logging.getLogger(__name__)


class ApiKeyIdentity:
    """The caller of a request authenticated by an API key: not a person, never staff.

    It is authenticated (so `IsAuthenticated` and per-caller throttling apply) but holds
    no membership: which teams it may read or write is decided by accounts.api.access
    from `request.api_key` alone.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: TeamApiKey):
        self.api_key = api_key
        # Throttling keys on `pk`: one bucket per API key.
        self.pk = self.id = f"api-key:{api_key.prefix}"
        self.username = f"api-key:{api_key.name}"

    def __str__(self) -> str:
        return self.username

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj=None) -> bool:
        return False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate `Authorization: Api-Key <key>`; set `request.api_key` and a service identity as user."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _sep, key = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed(_("No API key given after 'Api-Key'."))
        prefix, _dot, _secret = key.partition(".")
        api_key = TeamApiKey.objects.select_related("team").filter(prefix=prefix, revoked=False).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("This API key has expired."))
        api_key_touch(api_key)
        # DRF's Request proxies attribute reads to the Django request; set it on both.
        request.api_key = api_key
        request._request.api_key = api_key
        return ApiKeyIdentity(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


def api_key_touch(api_key: TeamApiKey) -> None:
    """Record that the key was used now, at most once per LAST_USED_RESOLUTION — never at the cost of the request:
    when the database is busy (SQLite while a recompute writes), the use is recorded by a later request."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    try:
        with _brief_lock_wait(), transaction.atomic():
            TeamApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    except OperationalError:
        logger.info("API key %s: last use not recorded, the database is busy.", api_key.prefix)
        return
    api_key.last_used_at = now


@contextmanager
def _brief_lock_wait():
    """On SQLite, wait a quarter of a second for the write lock instead of the connection's 20 seconds."""
    if connection.vendor != "sqlite":
        yield
        return
    configured = int(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 250")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {configured}")


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Api-Key <key>` in the OpenAPI schema."""

    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`, from `manage.py create_api_key` or the admin.",
        }
