"""What an error report may show: Django's safe filter, plus passwords written inside URLs.

Django's `SafeExceptionReporterFilter` hides settings and request headers whose *names* look
secret (KEY, PASS, TOKEN…), but `DATABASE_URL`, `REDIS_URL` or `CELERY_BROKER_URL` carry a
password inside their *value*. This filter hides those too, wherever they appear in the
settings or the request environment, so even a debug page asked for by mistake shows none.
"""

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host → the password part.
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?P<tail>@)", re.IGNORECASE)


def url_passwords_hidden(text: str, substitute: str) -> str:
    """This text with every password inside a URL replaced."""
    return URL_PASSWORD.sub(lambda m: m["head"] + substitute + m["tail"], text)


class SecretsHidingFilter(SafeExceptionReporterFilter):
    """The safe filter, plus names ending in URL/DSN/DATABASES/BROKER and any URL password."""

    hidden_settings = re.compile(
        r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DSN|DATABASE|BROKER|REDIS|EMAIL_HOST_USER", flags=re.I
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return url_passwords_hidden(cleansed, self.cleansed_substitute)
        return cleansed
