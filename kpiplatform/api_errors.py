"""How the API answers when a request fails: always JSON, never a page, never a trace.

DRF's own answers stay as they are (4xx with `{"detail": ...}` or `{field: [messages]}`). On top:
- the database unreachable (`OperationalError`, `InterfaceError`) is a 503 `{"detail"}` with Retry-After,
  so integrations wait and retry instead of giving up on a 500;
- any other unexpected exception in an API view is a 500 `{"detail": "Server error."}`, its traceback logged;
- SuspiciousOperation raised while reading the body (too many fields, too large) is a 400/413, as Django
  answers pages, but in JSON.

`exception_handler` is DRF's EXCEPTION_HANDLER; kpiplatform.views.server_error uses `api_error_for` for the
failures that happen outside DRF views (middleware, the session's or the user's query).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core import signals
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from kpiplatform.edge import is_api_request

# How long a client should wait before retrying when the database is unreachable (restarts, fail-overs).
RETRY_AFTER_SECONDS = 30
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiError:
    """The status, message and headers of a JSON error answer."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, str]:
        return {"detail": self.detail}


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether the exception says the database cannot be reached or used right now."""
    return isinstance(exc, DATABASE_UNAVAILABLE_ERRORS)


def api_error_for(exc: BaseException | None) -> ApiError:
    """The answer to an exception nothing else handled: 503 when the database is unavailable, else 500."""
    if is_database_unavailable(exc):
        return ApiError(
            status=503,
            detail=_("The service is temporarily unavailable: the database cannot be reached. Try again shortly."),
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return ApiError(status=500, detail=_("Server error."))


def _refused_request(exc: SuspiciousOperation) -> ApiError:
    """A body Django refuses to read: too large (413) or too many fields or files (400)."""
    if isinstance(exc, RequestDataTooBig):
        return ApiError(status=413, detail=_("The request body is too large."))
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return ApiError(status=400, detail=_("The request has too many fields or files."))
    return ApiError(status=400, detail=_("The request was refused."))


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, then JSON answers for what it leaves to Django's HTML pages (see the module docstring)."""
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    request = context.get("request")
    if request is None or not is_api_request(request):
        return None  # DRF re-raises: Django's handlers answer
    if isinstance(exc, SuspiciousOperation):
        error = _refused_request(exc)
        logger.warning("%s %s refused: %s", request.method, request.path, exc.__class__.__name__)
    elif is_database_unavailable(exc):
        error = api_error_for(exc)
        logger.error("%s %s: the database is unavailable (%s)", request.method, request.path, exc)
    else:
        error = api_error_for(exc)
        logger.error("%s %s: unexpected error", request.method, request.path, exc_info=exc)
        # As Django does for the exceptions it handles itself: error reporters and the test client hear of it.
        signals.got_request_exception.send(sender=None, request=request._request)
    set_rollback()
    return Response(error.body, status=error.status, headers=error.headers)
