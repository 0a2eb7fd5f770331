"""The periodic digest: per user, their teams' KPIs, objectives and open alerts, and its sending.

A digest is computed with the recipient's permissions (the teams they may see, never
another's) in a constant number of queries per user, whatever the number of teams. The
weekly digest covers the last complete week (Monday to Sunday), the daily one yesterday,
each compared with the period before. The unsubscribe link carries a signed token that expires after
KPI_SIGNED_LINK_DAYS (an old e-mail's link then leads to the preferences page, not to an error).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Prefetch, Q
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Team, User
from accounts.selectors import teams_visible_to
from metrics.kpis.comparisons import Comparison, comparison_values
from metrics.kpis.periods import local_date, local_midnight, period_floor, period_shift
from metrics.kpis.selectors import CellQuery, kpi_cells
from metrics.models import KpiDefinition
from objectives.dashboards.cards import DEFAULT_CARD_CODES, kpi_change
from objectives.dashboards.drivers import drivers_summary
from objectives.models import (
    Alert,
    AlertCondition,
    AlertEventKind,
    AlertState,
    DigestFrequency,
    NotificationSettings,
    Objective,
    ObjectiveState,
    Target,
)
from objectives.notifications import emails
from objectives.notifications.preferences import notification_settings_update
from objectives.notifications.selectors import alert_bands

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "digest-unsubscribe"
GRANULARITY = {DigestFrequency.DAILY: "day", DigestFrequency.WEEKLY: "week"}
# The lines of one digest that get a drivers clause, largest moves first: each costs a few grouped queries over
# the records, so a digest's cost stays bounded whatever the number of teams.
DIGEST_DRIVERS_LINES = 6
# Alerts a digest lists: those people still have to deal with.
DIGEST_ALERT_STATES = (AlertState.FIRING, AlertState.ACKNOWLEDGED)


# ---------------------------------------------------------------------------
# Unsubscribe
# ---------------------------------------------------------------------------
class SignedLinkInvalid(Exception):
    """A signed link that cannot be used: forged, damaged, signed for something else, or naming nobody."""


class SignedLinkExpired(SignedLinkInvalid):
    """A genuine signed link older than KPI_SIGNED_LINK_DAYS."""


def signed_link_max_age() -> dt.timedelta:
    """How long a link signed into an e-mail works: long enough for a digest read weeks later, not forever."""
    return dt.timedelta(days=settings.KPI_SIGNED_LINK_DAYS)


def unsubscribe_token(*, user: User) -> str:
    """A signed, timestamped token naming the user, for the digest's unsubscribe link (valid signed_link_max_age())."""
    return signing.dumps({"u": user.pk}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(*, user: User) -> str:
    """The absolute unsubscribe link of a user's digest."""
    return settings.SITE_URL + reverse("digest-unsubscribe", kwargs={"token": unsubscribe_token(user=user)})


def unsubscribe_user(*, token: str) -> User:
    """The active user a token names; SignedLinkExpired when it is too old, SignedLinkInvalid when it is forged,
    damaged or the user is gone."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=signed_link_max_age())
    except signing.SignatureExpired as error:
        raise SignedLinkExpired(str(error)) from None
    except signing.BadSignature as error:
        raise SignedLinkInvalid(str(error)) from None
    user_id = data.get("u") if isinstance(data, dict) else None
    user = User.objects.filter(pk=user_id, is_active=True).first() if isinstance(user_id, int) else None
    if user is None:
        raise SignedLinkInvalid("The link names no active user.")
    return user


def digest_unsubscribe(*, user: User) -> NotificationSettings:
    """Stop the user's digest (digest = never)."""
    return notification_settings_update(user=user, data={"digest": DigestFrequency.NEVER})


# ---------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------
def digest_period(*, frequency: str, today: dt.date) -> dict:
    """The last complete period of the digest's granularity before today, and the one before it."""
    granularity = GRANULARITY.get(frequency, "week")
    start = period_shift(period_floor(today, granularity), granularity, -1)
    previous = period_shift(start, granularity, -1)
    return {
        "granularity": granularity,
        "start": start,
        "end": period_shift(start, granularity, 1) - dt.timedelta(days=1),
        "previous_start": previous,
    }


def _kpi_rows(*, team, kpis: dict, cells: dict, compared: Comparison, period: dict) -> list[dict]:
    rows = []
    for code in DEFAULT_CARD_CODES.get(team.kind, DEFAULT_CARD_CODES["other"]):
        kpi = kpis.get(code)
        if kpi is None:
            continue
        current = cells.get((team.pk, kpi.pk, period["start"]))
        previous = compared.value(team.pk, kpi.pk)
        if current is None and previous is None:
            continue  # never computed for this team: nothing to say
        rows.append(
            {
                "code": code,
                "name": kpi.name,
                "unit": kpi.unit,
                "value": current,
                "previous_value": previous,
                **kpi_change(unit=kpi.unit, direction=kpi.direction, value=current, previous=previous),
            }
        )
    return rows


def _objective_row(objective: Objective) -> dict:
    return {
        "id": objective.pk,
        "title": objective.title,
        "status": objective.progress_status,
        "status_label": objective.get_progress_status_display(),
        "due_date": objective.due_date,
        "url": emails.absolute(emails.objective_url(objective)),
        "targets": [
            {
                "kpi_name": target.kpi.name,
                "unit": target.kpi.unit,
                "segment": target.segment,
                "current_value": target.current_value,
                "target_value": target.target_value,
                "forecast_value": target.forecast_value,
                "progress_percent": target.progress_percent,
                "status": target.status,
                "status_label": target.get_status_display(),
                # Push harder or drop it, as on the objective page.
                "recommendation": target.recommendation,
                "recommendation_label": target.get_recommendation_display() if target.recommendation else "",
            }
            for target in objective.targets.all()
        ],
    }


def _alert_row(alert: Alert, bands: dict[int, dict]) -> dict:
    return {
        "id": alert.pk,
        "title": emails.alert_title(alert=alert, kind=AlertEventKind.FIRED),
        "summary": emails.alert_summary(alert=alert, bands=bands),
        "severity": alert.severity,
        "state": alert.state,
        "state_label": alert.get_state_display(),
        "period_start": alert.period_start,
        "url": emails.alert_url(alert),
    }


def digest_for_user(*, user: User, today: dt.date | None = None, frequency: str | None = None) -> dict:
    """What a user's digest says, in the active language, over the teams this user may see.

    Keys: frequency, period, teams (each: team, kpis, objectives, alerts), unsubscribe_url.
    Constant number of queries: teams (with the team tree), KPI definitions, values, the values compared
    with, objectives with targets, alerts.
    """
    today = today or timezone.localdate()
    if frequency is None:
        prefs = NotificationSettings.objects.filter(user=user).first()
        frequency = prefs.digest if prefs is not None else DigestFrequency.WEEKLY
    period = digest_period(frequency=frequency, today=today)
    teams = list(teams_visible_to(user).order_by("name"))
    team_ids = [t.pk for t in teams]
    codes = {code for team in teams for code in DEFAULT_CARD_CODES.get(team.kind, DEFAULT_CARD_CODES["other"])}
    kpis = {k.code: k for k in KpiDefinition.objects.filter(code__in=codes)} if teams else {}
    cells = {}
    if kpis:
        query = CellQuery(
            kpi_ids=tuple(k.pk for k in kpis.values()),
            granularities=(period["granularity"],),
            starts=(period["start"],),
        )
        for cell in kpi_cells(team_ids=team_ids, queries=[query]):
            cells[(cell.team_id, cell.kpi_id, cell.period_start)] = cell.value
    # What each value is compared with, as on the dashboard (the period is over: the whole previous one).
    compared = comparison_values(
        kpis=list(kpis.values()),
        team_ids=team_ids,
        granularity=period["granularity"],
        period_start=period["start"],
        today=today,
    )
    objectives_by_team: dict[int, list[Objective]] = {}
    alerts_by_team: dict[int, list[Alert]] = {}
    if teams:
        objectives = (
            Objective.objects.filter(team_id__in=team_ids, state=ObjectiveState.ACTIVE)
            .select_related("team")
            .prefetch_related(Prefetch("targets", queryset=Target.objects.select_related("kpi").order_by("id")))
            .order_by("due_date", "title")
        )
        for objective in objectives:
            objectives_by_team.setdefault(objective.team_id, []).append(objective)
        alerts = (
            Alert.objects.filter(team_id__in=team_ids, state__in=DIGEST_ALERT_STATES)
            .select_related("team", "rule__kpi", "rule__target__kpi", "rule__budget")
            .order_by("-opened_at", "-id")
        )
        for alert in alerts:
            alerts_by_team.setdefault(alert.team_id, []).append(alert)
    # The anomaly alerts' bands, all in one query (none without such an alert).
    anomalies = [
        a.pk for listed in alerts_by_team.values() for a in listed if a.rule.condition == AlertCondition.ANOMALY
    ]
    bands = alert_bands(alert_ids=anomalies) if anomalies else {}
    return {
        "frequency": frequency,
        "period": period,
        "teams": [
            {
                "team": {"id": team.pk, "slug": team.slug, "name": team.name},
                "kpis": _kpi_rows(team=team, kpis=kpis, cells=cells, compared=compared, period=period),
                "objectives": [_objective_row(o) for o in objectives_by_team.get(team.pk, [])],
                "alerts": [_alert_row(a, bands) for a in alerts_by_team.get(team.pk, [])],
            }
            for team in teams
        ],
        "unsubscribe_url": unsubscribe_url(user=user),
    }


def digest_drivers_add(*, digest: dict, limit: int = DIGEST_DRIVERS_LINES) -> int:
    """Give the `limit` KPI lines of a digest that moved most (in % of the value compared with) a `drivers` clause,
    in the active language: what drove the change (objectives.dashboards.drivers, as in alert e-mails). A line
    whose breakdown does not give the digest's value (values not yet recomputed) or cannot be computed keeps none:
    the digest goes out without it. Return how many lines got one. At most 2 queries plus a few per line."""
    moved = [
        (block, row)
        for block in digest["teams"]
        for row in block["kpis"]
        if row.get("change_delta") and row.get("change_percent") is not None
    ]
    moved.sort(key=lambda pair: -abs(pair[1]["change_percent"]))
    moved = moved[:limit]
    if not moved:
        return 0
    teams = Team.objects.in_bulk({block["team"]["id"] for block, _row in moved})
    kpis = {k.code: k for k in KpiDefinition.objects.filter(code__in={row["code"] for _block, row in moved})}
    period = digest["period"]
    span = (period["start"], period["end"] + dt.timedelta(days=1))
    given = 0
    for block, row in moved:
        team, kpi = teams.get(block["team"]["id"]), kpis.get(row["code"])
        if team is None or kpi is None:
            continue
        try:
            with transaction.atomic():  # a failing query must not abort the caller's transaction (PostgreSQL)
                summary = drivers_summary(team=team, kpi=kpi, span=span)
        except Exception:  # a courtesy: the digest goes out without it
            logger.warning("Drivers of %s for team %s could not be computed", kpi.code, team.pk, exc_info=True)
            continue
        if summary is None or summary.drivers.value is None:
            continue
        places = Decimal(1).scaleb(-summary.drivers.places)
        if abs(summary.drivers.value - row["value"]) >= places:
            continue  # the stored value is not the records' yet: no clause rather than two numbers
        row["drivers"] = summary.line
        given += 1
    return given


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------
def digest_frequencies_due(*, today: dt.date) -> list[str]:
    """Daily digests go every day; weekly ones on Mondays."""
    return [DigestFrequency.DAILY, DigestFrequency.WEEKLY] if today.weekday() == 0 else [DigestFrequency.DAILY]


def digests_send(*, now: dt.datetime | None = None) -> int:
    """Send today's digests to users due one (with an e-mail and at least one team); return how many.

    A user's settings row is claimed (digest_last_sent_at set) before sending, so a second run the
    same day, or a concurrent one, sends nothing; a failed send releases the claim.
    """
    now = now or timezone.now()
    today = local_date(now)
    midnight = local_midnight(today)
    frequencies = digest_frequencies_due(today=today)
    wanted = Q(notification_settings__digest__in=frequencies)
    if DigestFrequency.WEEKLY in frequencies:
        wanted |= Q(notification_settings__isnull=True)  # the default is weekly
    users = list(
        User.objects.filter(wanted, is_active=True)
        .exclude(email="")
        .exclude(notification_settings__digest_last_sent_at__gte=midnight)
        .order_by("id")
    )
    NotificationSettings.objects.bulk_create([NotificationSettings(user=user) for user in users], ignore_conflicts=True)
    previous = dict(NotificationSettings.objects.filter(user__in=users).values_list("user_id", "digest"))
    sent = 0
    for user in users:
        claimed = (
            NotificationSettings.objects.filter(user=user)
            .filter(Q(digest_last_sent_at__isnull=True) | Q(digest_last_sent_at__lt=midnight))
            .update(digest_last_sent_at=now)
        )
        if not claimed:
            continue
        with translation.override(user.language or settings.LANGUAGE_CODE):
            digest = digest_for_user(user=user, today=today, frequency=previous.get(user.pk))
            digest_drivers_add(digest=digest)
        if not digest["teams"]:
            continue
        try:
            emails.digest_email(user=user, digest=digest).send()
        except Exception as exc:  # SMTP errors come in many classes
            logger.warning("Digest of user %s failed: %s", user.pk, exc)
            NotificationSettings.objects.filter(user=user).update(digest_last_sent_at=None)
            continue
        sent += 1
    return sent
