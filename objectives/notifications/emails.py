"""E-mails of alerts and digests, and the wording they share with in-app notifications.

Every message is rendered in its recipient's language (``User.language``) with
``translation.override``, so numbers and dates take that language's formats
(French: ``12,5 %``, ``1 234 €``). Links are absolute, from ``settings.SITE_URL``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kpiplatform import dates
from metrics.kpis.labels import segment_label
from metrics.kpis.periods import period_shift
from metrics.kpis.selectors import kpi_value_series
from objectives.models import Alert, AlertCondition, AlertEventKind, AlertRule, Notification, Objective
from objectives.notifications.selectors import alert_bands, alert_fired_drivers
from objectives.templatetags.kpi_format import kpi_value, signed_change, signed_percent, signed_value

SUBJECT_PREFIX = "[KPI]"
SPARKLINE_PERIODS = 6

SEVERITY_LABELS = {
    "critical": gettext_lazy("Critical alert"),
    "warning": gettext_lazy("Warning alert"),
    "info": gettext_lazy("Information alert"),
}
CONDITION_PHRASES = {
    AlertCondition.ABOVE: gettext_lazy("above the threshold"),
    AlertCondition.BELOW: gettext_lazy("below the threshold"),
    AlertCondition.CHANGE_ABOVE: gettext_lazy("rising beyond the threshold"),
    AlertCondition.CHANGE_BELOW: gettext_lazy("falling beyond the threshold"),
    AlertCondition.OFF_TRACK: gettext_lazy("off track"),
    AlertCondition.AT_RISK: gettext_lazy("at risk"),
    AlertCondition.NO_DATA: gettext_lazy("without data"),
    AlertCondition.BUDGET_OVER: gettext_lazy("spend heading beyond the budget"),
    AlertCondition.ANOMALY: gettext_lazy("outside its expected band"),
}


def alert_url(alert: Alert) -> str:
    """Absolute link to the alert's page."""
    return f"{settings.SITE_URL}/alerts/{alert.pk}/"


def objective_url(objective: Objective) -> str:
    """The objective's page (site path)."""
    try:
        return reverse("objective-detail", kwargs={"slug": objective.team.slug, "pk": objective.pk})
    except NoReverseMatch:
        return ""


def absolute(path: str) -> str:
    """An absolute URL for a site path (already absolute URLs are kept)."""
    return path if path.startswith(("http://", "https://")) else f"{settings.SITE_URL}{path}"


def alert_kpi(alert: Alert):
    """The KPI an alert is about: the rule's, or its objective target's (None for a budget's)."""
    rule = alert.rule
    if rule.kpi_id:
        return rule.kpi
    return rule.target.kpi if rule.target_id else None


def alert_subject_name(alert: Alert) -> str:
    """What the alert watches, by name: the KPI, or the budget."""
    kpi = alert_kpi(alert)
    if kpi is not None:
        return kpi.name
    return _("Budget « %(name)s »") % {"name": alert.rule.budget.name}


def rule_unit(rule: AlertRule) -> str:
    """The unit of a rule's threshold (and its alerts' values): % for changes and budgets, days for no data, else
    the KPI's (its rule's or its target's)."""
    condition = rule.condition
    if condition in (AlertCondition.CHANGE_ABOVE, AlertCondition.CHANGE_BELOW, AlertCondition.BUDGET_OVER):
        return "%"
    if condition == AlertCondition.NO_DATA:
        return "d"
    if rule.kpi_id:
        return rule.kpi.unit
    return rule.target.kpi.unit if rule.target_id else ""


def alert_unit(alert: Alert) -> str:
    """The unit of the alert's value and threshold: % for changes, days for no data, else the KPI's."""
    return rule_unit(alert.rule)


def alert_period(alert: Alert) -> str:
    """The period an alert is about, as people name it: the rule's period (« décembre 2026 », « T4 2026 »), the
    budget's or the objective's span, or the day a KPI's data was last seen."""
    rule = alert.rule
    if rule.condition == AlertCondition.BUDGET_OVER and rule.budget_id:
        return dates.span(rule.budget.start_date, rule.budget.end_date)
    if rule.condition in (AlertCondition.OFF_TRACK, AlertCondition.AT_RISK) and rule.target_id:
        objective = rule.target.objective
        return dates.span(objective.start_date, objective.due_date)
    if rule.condition == AlertCondition.NO_DATA:
        return dates.day(alert.period_start)
    return dates.period(alert.period_start, rule.granularity)


def alert_title(*, alert: Alert, kind: str) -> str:
    """One line, in the active language: "Critical alert: Churn rate above the threshold — Sales"."""
    subject = _("%(kpi)s %(condition)s") % {
        "kpi": alert_subject_name(alert),
        "condition": CONDITION_PHRASES.get(alert.rule.condition, alert.rule.condition),
    }
    if alert.segment:
        subject = f"{subject} ({segment_label(alert.segment)})"
    if kind == AlertEventKind.RESOLVED:
        label = _("Alert resolved")
    elif kind == AlertEventKind.ACKNOWLEDGED:
        label = _("Alert acknowledged")
    else:
        label = str(SEVERITY_LABELS.get(alert.severity, alert.severity))
    return _("%(label)s: %(subject)s — %(team)s") % {"label": label, "subject": subject, "team": alert.team.name}


def alert_summary(*, alert: Alert, bands: dict[int, dict] | None = None) -> str:
    """The value against the threshold, in the active language's number format. An anomaly alert's band comes
    from `bands` (alert_bands, read once for a list of alerts) when given, else from one query."""
    unit = alert_unit(alert)
    if alert.rule.condition == AlertCondition.BUDGET_OVER and alert.value is not None:
        return _("Spend heading %(value)s beyond the budget (threshold %(threshold)s)") % {
            "value": kpi_value(alert.value, unit),
            "threshold": kpi_value(alert.threshold, unit),
        }
    if alert.rule.condition == AlertCondition.ANOMALY:
        band = bands.get(alert.pk) if bands is not None else alert_band(alert=alert)
        line = band_in_words(band=band, value=alert.value, unit=unit)
        if line:
            return line
    if alert.value is None:
        return _("No value (threshold %(threshold)s)") % {"threshold": kpi_value(alert.threshold, unit)}
    return _("Value %(value)s, threshold %(threshold)s") % {
        "value": kpi_value(alert.value, unit),
        "threshold": kpi_value(alert.threshold, unit),
    }


def alert_band(*, alert: Alert) -> dict | None:
    """The expected band an anomaly alert's value was last judged against (AlertEvent.band); None for other
    alerts. One query."""
    if alert.rule.condition != AlertCondition.ANOMALY:
        return None
    return alert_bands(alert_ids=[alert.pk]).get(alert.pk)


@dataclass(frozen=True)
class BandInWords:
    """An anomaly alert's band in the active language: the sentence, the bounds alone and how it was computed."""

    line: str
    bounds: str
    method: str


def fired_band_in_words(*, events, unit: str) -> BandInWords | None:
    """The band an anomaly alert fired on, in the active language, from its history rows (already read); None
    without one."""
    fired = next((event for event in events if event.kind == AlertEventKind.FIRED and event.band), None)
    if fired is None:
        return None
    band = fired.band
    return BandInWords(
        line=band_in_words(band=band, value=fired.value, unit=unit),
        bounds=f"{kpi_value(_decimal(band['lower']), unit)}–{kpi_value(_decimal(band['upper']), unit)}",
        method=band_method_label(band["method"]),
    )


def band_in_words(*, band: dict | None, value, unit: str) -> str:
    """An anomaly in the active language: « 12 430 € au lieu de 18 000–24 000 € attendus (−31 % sous la borne
    basse) »; an empty string without a band."""
    if not band or value is None:
        return ""
    words = {
        "value": kpi_value(value, unit),
        "lower": kpi_value(_decimal(band["lower"]), unit),
        "upper": kpi_value(_decimal(band["upper"]), unit),
        "distance": signed_percent(_decimal(band.get("distance"))),
    }
    side = band.get("side") or ("above" if Decimal(str(value)) > _decimal(band["upper"]) else "below")
    if side == "inside":
        return _("%(value)s, within the %(lower)s–%(upper)s expected") % words
    if band.get("distance") is None:
        if side == "above":
            return _("%(value)s instead of the %(lower)s–%(upper)s expected (above the upper bound)") % words
        return _("%(value)s instead of the %(lower)s–%(upper)s expected (below the lower bound)") % words
    if side == "above":
        return _("%(value)s instead of the %(lower)s–%(upper)s expected (%(distance)s above the upper bound)") % words
    return _("%(value)s instead of the %(lower)s–%(upper)s expected (%(distance)s below the lower bound)") % words


def band_method_label(method: str) -> str:
    """How the band was computed, in the active language."""
    labels = {
        "stl": _("seasonality (STL) of its history"),
        "seasonal_median": _("median of its recent comparable periods"),
        "zscore": _("mean of its recent periods"),
    }
    return labels.get(method, method)


@dataclass(frozen=True)
class DriversInWords:
    """What drove an alert's change, worded in the active language: one line (« Chiffre d’affaires −12 % (dont
    PME −6 pts) : commandes −8 pts, panier moyen −4 pts »), the span compared with, each measure's part and
    each dimension's largest segments. Parts are in points of the compared value (for a rate, in its points)."""

    line: str
    compared: str
    formula: list[tuple[str, str]]
    formula_note: str
    dimensions: list[tuple[str, list[tuple[str, str]]]]


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def drivers_in_words(*, drivers: dict | None, kpi_name: str) -> DriversInWords | None:
    """A stored breakdown (AlertEvent.drivers) in the active language; None without one. Numbers are formatted
    by the project's filters (objectives.templatetags.kpi_format), labels taken in the active language."""
    if not drivers or drivers.get("change") is None:
        return None
    unit = drivers.get("unit", "")
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    labels = drivers.get("labels", {}).get(language, {})
    # Amounts and counts move in % of the compared value, their parts in points of it; a rate moves in points.
    in_points = unit not in ("%", "pts") and drivers.get("change_percent") is not None

    def part(item: dict) -> str:
        if in_points and item.get("percent") is not None:
            return signed_change(_decimal(item["percent"]), "pts")
        return signed_value(_decimal(item["contribution"]), unit)

    change = signed_percent(_decimal(drivers["change_percent"])) if in_points else signed_value(drivers["change"], unit)
    shown = [item for item in drivers.get("formula", []) if item["contribution"]]
    formula = [(labels.get("formula", {}).get(item["measure"], item["label"]), part(item)) for item in shown]
    short = [(labels.get("formula_short", {}).get(item["measure"], item["label"]), part(item)) for item in shown]
    dimensions = []
    largest = None
    for dimension, items in drivers.get("segments", {}).items():
        names = labels.get("segments", {}).get(dimension, {})
        shown = [(names.get(item["segment"], item["label"]), part(item)) for item in items if item["contribution"]]
        if shown:
            dimensions.append((labels.get("dimensions", {}).get(dimension, dimension), shown))
        for item in items:
            if not item["contribution"] or not item["segment"]:
                continue  # records without a value of the dimension explain nothing
            if largest is None or abs(item["contribution"]) > abs(largest[1]["contribution"]):
                largest = (names.get(item["segment"], item["label"]), item)
    head = _("%(kpi)s %(change)s") % {"kpi": kpi_name, "change": change}
    if largest is not None:
        head = _("%(head)s (of which %(segment)s %(part)s)") % {
            "head": head,
            "segment": largest[0],
            "part": part(largest[1]),
        }
    parts = ", ".join(f"{label} {value}" for label, value in short)
    line = _("%(head)s: %(parts)s") % {"head": head, "parts": parts} if parts else head
    compared = dates.span(
        dt.date.fromisoformat(drivers["compare_start"]), dt.date.fromisoformat(drivers["compare_end"])
    )
    return DriversInWords(
        line=line,
        compared=compared,
        formula=formula,
        formula_note=drivers.get("formula_note", ""),
        dimensions=dimensions,
    )


def alert_sparkline(*, alert: Alert) -> list[dict]:
    """The KPI's last SPARKLINE_PERIODS stored values up to the alert's period, for the team and segment."""
    rule = alert.rule
    kpi = alert_kpi(alert)
    if kpi is None:  # a budget: its figures are in the summary
        return []
    start = period_shift(alert.period_start, rule.granularity, -(SPARKLINE_PERIODS - 1))
    rows = kpi_value_series(
        kpi=kpi,
        team=alert.team,
        granularity=rule.granularity,
        start=start,
        end=alert.period_start,
        segment=alert.segment,
    )
    by_start = {row["period_start"]: row["value"] for row in rows}
    starts = [period_shift(alert.period_start, rule.granularity, -n) for n in range(SPARKLINE_PERIODS - 1, -1, -1)]
    peak = max((abs(v) for v in by_start.values() if v is not None), default=Decimal(0))
    return [
        {
            "period_start": s,
            "value": by_start.get(s),
            "display": kpi_value(by_start.get(s), kpi.unit),
            "label": dates.period(s, rule.granularity),
            # A bar width for the HTML table (no image: mail clients block them).
            "bar_percent": int(abs(by_start[s]) * 100 / peak) if peak and by_start.get(s) is not None else 0,
            "current": s == alert.period_start,
        }
        for s in starts
    ]


def settings_url() -> str:
    """Where a recipient changes what they receive (alert e-mails, quiet hours, digest)."""
    return settings.SITE_URL + reverse("notification-settings")


def _sparkline_cached(alert: Alert, sparklines: dict | None) -> list[dict]:
    if sparklines is None:
        return alert_sparkline(alert=alert)
    key = (alert.pk, translation.get_language())  # the values are formatted in the active language
    if key not in sparklines:
        sparklines[key] = alert_sparkline(alert=alert)
    return sparklines[key]


# The alert event a notification's event stands for.
ALERT_EVENT_KINDS = {
    "alert.firing": AlertEventKind.FIRED,
    "alert.acknowledged": AlertEventKind.ACKNOWLEDGED,
    "alert.resolved": AlertEventKind.RESOLVED,
}


def objective_title(*, objective: Objective, event: str) -> str:
    """ "Objective at risk: <title> — <team>", in the active language."""
    if event == "objective.achieved":
        title = _("Objective achieved: %(title)s — %(team)s")
    else:
        title = _("Objective at risk: %(title)s — %(team)s")
    return title % {"title": objective.title, "team": objective.team.name}


def notification_title(notification: Notification) -> str:
    """A notification's title in the active language: written again from its alert or objective (the stored
    title is in the language of the day it was written, kept for e-mails already sent)."""
    if notification.alert_id and notification.event in ALERT_EVENT_KINDS:
        return alert_title(alert=notification.alert, kind=ALERT_EVENT_KINDS[notification.event])
    if notification.objective_id:
        return objective_title(objective=notification.objective, event=notification.event)
    return notification.title


def _drivers_cached(alert: Alert, drivers: dict | None) -> dict | None:
    if drivers is None:
        return alert_fired_drivers(alert_ids=[alert.pk]).get(alert.pk)
    if alert.pk not in drivers:
        drivers.update(alert_fired_drivers(alert_ids=[alert.pk]))
        drivers.setdefault(alert.pk, None)
    return drivers[alert.pk]


def alert_email(
    *, notification: Notification, sparklines: dict | None = None, drivers: dict | None = None
) -> EmailMultiAlternatives:
    """The e-mail of an alert notification (HTML with a plain-text alternative) in its user's language.

    `sparklines`, shared by the e-mails of one batch, keeps each alert's recent values per language, so
    an alert notified to several people is read once; `drivers` likewise keeps each alert's stored breakdown.
    """
    user = notification.user
    alert = notification.alert
    with translation.override(user.language or settings.LANGUAGE_CODE):
        kind = AlertEventKind.RESOLVED if notification.event == "alert.resolved" else AlertEventKind.FIRED
        # What drove the change, as the webhook carries it: computed once when the alert fired.
        breakdown = None
        if kind == AlertEventKind.FIRED:
            breakdown = drivers_in_words(drivers=_drivers_cached(alert, drivers), kpi_name=alert_subject_name(alert))
        band = alert_band(alert=alert)
        context = {
            "user": user,
            "alert": alert,
            "title": alert_title(alert=alert, kind=kind),
            "resolved": kind == AlertEventKind.RESOLVED,
            "kpi_name": alert_subject_name(alert),
            "team_name": alert.team.name,
            "segment": segment_label(alert.segment),
            # A monthly alert's period is a month (« novembre 2026 »), a budget's its span: see alert_period.
            "period": alert_period(alert),
            "value": kpi_value(alert.value, alert_unit(alert)),
            "threshold": kpi_value(alert.threshold, alert_unit(alert)),
            "condition": alert.rule.get_condition_display(),
            "severity": alert.get_severity_display(),
            "rule_name": alert.rule.name,
            "sparkline": _sparkline_cached(alert, sparklines),
            "drivers": breakdown,
            # An anomaly rule's expected band and how far outside it the value fell (empty for other rules).
            "band": band_in_words(band=band, value=alert.value, unit=alert_unit(alert)),
            "band_method": band_method_label(band["method"]) if band else "",
            "url": alert_url(alert),
            "settings_url": settings_url(),
        }
        subject = f"{SUBJECT_PREFIX} {context['title']}"
        text = render_to_string("objectives/emails/alert.txt", context)
        html = render_to_string("objectives/emails/alert.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[user.email])
    message.attach_alternative(html, "text/html")
    return message


def digest_email(*, user, digest: dict) -> EmailMultiAlternatives:
    """The digest e-mail of one user from objectives.notifications.digest.digest_for_user, in the user's language."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        title = _("Your daily KPI digest") if digest["frequency"] == "daily" else _("Your weekly KPI digest")
        context = {
            **digest,
            "user": user,
            "title": title,
            "site_url": settings.SITE_URL,
            "settings_url": settings_url(),
        }
        subject = f"{SUBJECT_PREFIX} {title}"
        text = render_to_string("objectives/emails/digest.txt", context)
        html = render_to_string("objectives/emails/digest.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[user.email],
        # One-click unsubscribe for mail clients (RFC 2369); the page still asks for confirmation.
        headers={"List-Unsubscribe": f"<{digest['unsubscribe_url']}>"},
    )
    message.attach_alternative(html, "text/html")
    return message
