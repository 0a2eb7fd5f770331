"""Outgoing webhooks: the JSON payloads, their signature, the address guard and one HTTP attempt.

Every delivery is a ``POST`` of a JSON body::

    {"id": <delivery id>, "event": "alert.firing", "created_at": "2026-11-21T20:41:00+00:00",
     "team": "ventes", "data": {"alert": 12, "rule": 3, "rule_name": "…", "kpi": "churn_rate", …},
     "drivers": {"value": …, "compared_value": …, "change": …, "formula": […], "segments": {…}, …} | null,
     "band": {"expected": …, "lower": …, "upper": …, "method": "stl", "distance": -31.2, "side": "below"} | null}

``drivers`` (alert events only) is what drove the change of a firing KPI alert's period, computed once when it
fired (objectives.alerts.drivers): each list of parts adds up to ``change`` exactly (``segments`` keeps the three
largest of each dimension, ``segments_other`` what the rest add up to); null for other events, for a rule on one
segment, and when the KPI has no value to compare with.

``band`` (anomaly rules) is the expected band the value was judged against when the event was recorded
(metrics.kpis.anomalies): its bounds in the KPI's unit, the method, and ``distance``, how far outside it the
value fell in % of the bound passed (negative below the lower bound); null for other rules and for events
recorded by a person (acknowledged, resolved by hand).

with these headers:

* ``X-KPI-Timestamp: <unix seconds>`` — when this attempt was signed;
* ``X-KPI-Signature: sha256=<hex>`` — HMAC-SHA256 with the endpoint's secret as key over
  ``f"{timestamp}.{body}"`` (the raw body bytes, exactly as received);
* ``X-KPI-Event`` and ``X-KPI-Delivery`` (the event name and the delivery id).

A receiver recomputes the HMAC over the timestamp header, a dot and the raw body, compares it
in constant time with the signature header, and refuses timestamps older than a few minutes
(replays). A retry re-signs the same body with a new timestamp; ``id`` stays the same, so a
receiver can ignore a delivery it has already processed.

Addresses: the URL's host is resolved and the request refused when any of its addresses is
private, loopback, link-local, multicast, reserved or otherwise not global, unless
``settings.WEBHOOKS_ALLOW_PRIVATE`` is on. The connection goes to the address that was checked
(no second lookup that could answer differently). Redirects are not followed; the timeout is
10 seconds. The secret and the signature are never logged nor stored in the delivery log.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from objectives.models import Alert, AlertEvent, AlertEventKind, Objective
from objectives.notifications import emails

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-KPI-Signature"
TIMESTAMP_HEADER = "X-KPI-Timestamp"
# How much of a refusing receiver's answer the delivery log keeps.
RESPONSE_EXCERPT_CHARS = 300


class WebhookAddressError(Exception):
    """The webhook's URL is not allowed (scheme, host or a refused address)."""


@dataclass(frozen=True)
class AttemptResult:
    """How one HTTP attempt went: `ok` on a 2xx answer; otherwise the status (if any) and why."""

    ok: bool
    status: int | None
    error: str


# ---------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------
def _number(value) -> float | None:
    return None if value is None else float(value)


def alert_payload(*, alert: Alert, event: str, alert_event: AlertEvent | None = None) -> dict:
    """The stored payload of an alert event (the delivery id is added when it is sent)."""
    rule = alert.rule
    data = {
        "alert": alert.pk,
        "rule": rule.pk,
        "rule_name": rule.name,
        "kpi": kpi.code if (kpi := emails.alert_kpi(alert)) is not None else None,
        "budget": rule.budget_id,
        "segment": alert.segment,
        "granularity": rule.granularity,
        "period_start": alert.period_start.isoformat(),
        "value": _number(alert.value),
        "threshold": _number(alert.threshold),
        "condition": rule.condition,
        "state": alert.state,
        "severity": alert.severity,
        "url": emails.alert_url(alert),
    }
    if alert_event is not None and alert_event.kind == AlertEventKind.ACKNOWLEDGED:
        data["acknowledged_by"] = alert_event.actor.get_username() if alert_event.actor_id else None
        data["comment"] = alert_event.comment
    return {
        "event": event,
        "created_at": timezone.now().isoformat(),
        "team": alert.team.slug,
        "data": data,
        "drivers": alert_drivers_payload(alert_event),
        "band": alert_event.band if alert_event is not None else None,
    }


def alert_drivers_payload(alert_event: AlertEvent | None) -> dict | None:
    """What drove the change of a firing KPI alert, as the event recorded it (objectives.alerts.drivers), without
    the labels kept for other languages; null for other events and when there is no breakdown."""
    drivers = alert_event.drivers if alert_event is not None else None
    if not drivers:
        return None
    return {key: value for key, value in drivers.items() if key != "labels"}


def objective_payload(*, objective: Objective, event: str) -> dict:
    """The stored payload of an objective event, with its targets' progress and forecast."""
    targets = [
        {
            "kpi": target.kpi.code,
            "segment": target.segment,
            "target_value": _number(target.target_value),
            "current_value": _number(target.current_value),
            "forecast_value": _number(target.forecast_value),
            "progress_percent": _number(target.progress_percent),
            "status": target.status,
        }
        for target in objective.targets.select_related("kpi").order_by("id")
    ]
    data = {
        "objective": objective.pk,
        "title": objective.title,
        "status": objective.progress_status,
        "start_date": objective.start_date.isoformat(),
        "due_date": objective.due_date.isoformat(),
        "targets": targets,
        "url": emails.absolute(emails.objective_url(objective)),
    }
    return {"event": event, "created_at": timezone.now().isoformat(), "team": objective.team.slug, "data": data}


# ---------------------------------------------------------------------------
# Signature
# ---------------------------------------------------------------------------
def payload_body(*, delivery_id: int, payload: dict) -> bytes:
    """The exact bytes POSTed for a delivery: its stored payload with the delivery id first."""
    return json.dumps({"id": delivery_id, **payload}, ensure_ascii=False, separators=(",", ":")).encode()


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`, the value of X-KPI-Signature."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_verify(*, secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    try:
        expected = signature_compute(secret=secret, timestamp=int(timestamp), body=body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature)


def signed_headers(*, secret: str, body: bytes, event: str, delivery_id: int, timestamp: int | None = None) -> dict:
    """Headers of one attempt, signed now (or at `timestamp`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "kpiplatform-webhooks/1",
        "X-KPI-Event": event,
        "X-KPI-Delivery": str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_compute(secret=secret, timestamp=timestamp, body=body),
    }


# ---------------------------------------------------------------------------
# Address guard
# ---------------------------------------------------------------------------
def address_refused(address: str) -> bool:
    """Whether an IP address is one webhooks must not reach (private, loopback, link-local, multicast,
    reserved, unspecified or otherwise not global; IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; raises WebhookAddressError otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookAddressError(_("This URL is not valid.")) from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookAddressError(_("The URL must start with https:// or http://."))
    if not parts.hostname:
        raise WebhookAddressError(_("The URL has no host."))
    if parts.username or parts.password:
        raise WebhookAddressError(_("Credentials in the URL are not allowed; use the signing secret."))
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_check(url: str) -> str:
    """Resolve the URL's host and return the address to connect to; raise WebhookAddressError when the URL
    is malformed, the host does not resolve, or (unless WEBHOOKS_ALLOW_PRIVATE) any address is refused."""
    _scheme, host, port = _split(url)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise WebhookAddressError(_("The host %(host)s could not be resolved.") % {"host": host}) from exc
    if not addresses:
        raise WebhookAddressError(_("The host %(host)s could not be resolved.") % {"host": host})
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        # One refused address is enough: a host answering both could be steered to the internal one.
        refused = [a for a in addresses if address_refused(a)]
        if refused:
            raise WebhookAddressError(
                _("The address %(address)s is private, local or reserved: webhooks cannot be sent there.")
                % {"address": refused[0]}
            )
    return addresses[0]


def webhook_url_errors(url: str) -> list[str]:
    """Why a webhook URL cannot be saved (empty list: it can).

    Malformed URLs and hosts resolving to refused addresses are errors; a host that does not resolve
    yet is accepted (deliveries to it fail and are logged), as DNS may not be set up when it is saved.
    """
    try:
        _scheme, host, port = _split(url)
    except WebhookAddressError as exc:
        return [str(exc)]
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        return []
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return []
    refused = [a for a in addresses if address_refused(a)]
    if refused:
        return [
            _("The address %(address)s is private, local or reserved: webhooks cannot be sent there.")
            % {"address": refused[0]}
        ]
    return []


# ---------------------------------------------------------------------------
# HTTP: one attempt, to the checked address, no redirects
# ---------------------------------------------------------------------------
class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address already checked, while the Host header keeps the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The TLS variant: certificate checked against the URL's host name (SNI), socket to the checked address."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_post(*, url: str, body: bytes, headers: dict) -> AttemptResult:
    """POST once; a 2xx answer is a success, anything else (3xx included: redirects are not followed) is not."""
    try:
        address = address_check(url)
    except WebhookAddressError as exc:
        return AttemptResult(ok=False, status=None, error=str(exc))
    parts = urlsplit(url)
    scheme, host, port = _split(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address=address, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        excerpt = response.read(RESPONSE_EXCERPT_CHARS * 4).decode("utf-8", "replace")[:RESPONSE_EXCERPT_CHARS]
    except (OSError, http.client.HTTPException) as exc:
        return AttemptResult(ok=False, status=None, error=f"{type(exc).__name__}: {exc}"[:RESPONSE_EXCERPT_CHARS])
    finally:
        connection.close()
    if 200 <= status < 300:
        return AttemptResult(ok=True, status=status, error="")
    return AttemptResult(ok=False, status=status, error=f"HTTP {status}: {excerpt}".strip())


def deliver(*, url: str, secret: str, event: str, delivery_id: int, payload: dict) -> AttemptResult:
    """Sign and POST one delivery; logs the outcome without the secret or the signature."""
    body = payload_body(delivery_id=delivery_id, payload=payload)
    headers = signed_headers(secret=secret, body=body, event=event, delivery_id=delivery_id)
    result = http_post(url=url, body=body, headers=headers)
    if result.ok:
        logger.info("Webhook delivery %s (%s) delivered: HTTP %s", delivery_id, event, result.status)
    else:
        logger.warning("Webhook delivery %s (%s) failed: %s", delivery_id, event, result.error)
    return result
