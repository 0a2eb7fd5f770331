"""Dates and date-times as the pages, e-mails and exports write them: one style per language.

French: « 1er oct. 2026 », « 4 déc. 2026 », « décembre 2026 », « T4 2026 », « semaine du 30 nov. 2026 »,
« 4 déc. 2026 à 13:30 », « 1er oct. – 31 déc. 2026 ». English: « 1 Oct 2026 », « December 2026 », « Q4 2026 »,
« week of 30 Nov 2026 », « 4 Dec 2026, 13:30 » (24 h in both), « 1 Oct – 31 Dec 2026 ».

Month names and abbreviations are Django's own (its `N` and `M` and `F` format characters, translated by
Django's catalogue); what this module adds per language is the format strings Django's locale formats lack
(an abbreviated day, « 1er » for the first of a month, a date-time with « à »), kept as data like Django's
`conf/locale/<lang>/formats.py`. A language without its own style writes dates the English way. The template
filters (`{% load dates %}`) are in objectives/templatetags/dates.py.

The end of the module holds the other side of dates: the plausible window (settings KPI_DATE_MIN_YEAR and
KPI_DATE_MAX_YEAR) that every date coming in must fall in, with its validator and message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


@dataclass(frozen=True)
class DateStyle:
    """The format strings (Django's `date` syntax) of one language for what Django's locale formats lack."""

    day: str  # a day with its year: 4 déc. 2026
    day_no_year: str  # a day when the year follows anyway (the start of a span): 4 déc.
    first_day: str  # the first of a month, with its year: 1er déc. 2026
    first_day_no_year: str  # 1er déc.
    first_number: str  # the first of a month before a dash, in a span within one month: 1er
    day_long: str  # the month written in full: 4 décembre 2026
    first_day_long: str  # 1er décembre 2026
    time: str  # the time of a moment (24 h): 13:30
    moment: str  # a day and a time: "%(day)s à %(time)s"


STYLES: dict[str, DateStyle] = {
    "fr": DateStyle(
        day="j N Y",
        day_no_year="j N",
        first_day=r"\1\e\r N Y",
        first_day_no_year=r"\1\e\r N",
        first_number=r"\1\e\r",
        day_long="j F Y",
        first_day_long=r"\1\e\r F Y",
        time="H:i",
        moment="%(day)s à %(time)s",
    ),
    "en": DateStyle(
        day="j M Y",
        day_no_year="j M",
        first_day="j M Y",
        first_day_no_year="j M",
        first_number="j",
        day_long="j F Y",
        first_day_long="j F Y",
        time="H:i",
        moment="%(day)s, %(time)s",
    ),
}
EN_DASH = "–"


def date_style(language: str | None = None) -> DateStyle:
    """The style of `language` (the active one by default); English for a language without its own."""
    code = (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    return STYLES.get(code, STYLES["en"])


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    """A date as is; a date-time as its day in the current time zone."""
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    return value


def _format(value: dt.date, format_string: str) -> str:
    return formats.date_format(value, format_string)


def day(value: dt.date | dt.datetime | None, *, year: bool = True) -> str:
    """A day: « 4 déc. 2026 », « 1er oct. 2026 » / « 4 Dec 2026 »; without its year when `year` is false."""
    if value is None:
        return ""
    value = _as_date(value)
    style = date_style()
    if value.day == 1:
        return _format(value, style.first_day if year else style.first_day_no_year)
    return _format(value, style.day if year else style.day_no_year)


def day_long(value: dt.date | dt.datetime | None) -> str:
    """A day with its month in full, for a sentence: « 1er décembre 2026 » / « 1 December 2026 »."""
    if value is None:
        return ""
    value = _as_date(value)
    style = date_style()
    return _format(value, style.first_day_long if value.day == 1 else style.day_long)


def month(value: dt.date | dt.datetime | None) -> str:
    """A month: « décembre 2026 » / « December 2026 » (Django's YEAR_MONTH_FORMAT of the language)."""
    if value is None:
        return ""
    return _format(_as_date(value), "YEAR_MONTH_FORMAT")


def quarter(value: dt.date | dt.datetime | None) -> str:
    """The quarter a day falls in: « T4 2026 » / « Q4 2026 »."""
    if value is None:
        return ""
    value = _as_date(value)
    return _("Q%(quarter)d %(year)d") % {"quarter": (value.month - 1) // 3 + 1, "year": value.year}


def week(value: dt.date | dt.datetime | None) -> str:
    """The week starting on `value`: « semaine du 30 nov. 2026 » / « week of 30 Nov 2026 »."""
    if value is None:
        return ""
    return _("week of %(day)s") % {"day": day(value)}


def year(value: dt.date | dt.datetime | None) -> str:
    """A year: « 2026 »."""
    return "" if value is None else str(_as_date(value).year)


PERIOD_NAMES = {"day": day, "week": week, "month": month, "quarter": quarter, "year": year}


def period(start: dt.date | dt.datetime | None, granularity: str | None) -> str:
    """A period by its first day and granularity, as people name it: « 4 déc. 2026 », « semaine du 30 nov. 2026 »,
    « décembre 2026 », « T4 2026 », « 2026 »; an unknown granularity names the day."""
    return PERIOD_NAMES.get(granularity or "day", day)(start)


def moment(value: dt.datetime | dt.date | None) -> str:
    """A date-time in the current time zone, 24 h: « 4 déc. 2026 à 13:30 » / « 4 Dec 2026, 13:30 »."""
    if value is None:
        return ""
    if not isinstance(value, dt.datetime):
        return day(value)
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    style = date_style()
    # The words around the day and the time are the style's: « à » in French, a comma in English.
    return style.moment % {"day": day(local.date()), "time": _format(local, style.time)}


def span(start: dt.date | dt.datetime | None, end: dt.date | dt.datetime | None) -> str:
    """A span of days, both included, its year written once: « 1er–4 déc. 2026 », « 1er oct. – 31 déc. 2026 »,
    « 1er nov. 2025 – 31 janv. 2026 »; a single day is that day."""
    if start is None or end is None:
        return day(start or end)
    first, last = _as_date(start), _as_date(end)
    if first == last:
        return day(first)
    style = date_style()
    if (first.year, first.month) == (last.year, last.month):
        number = _format(first, style.first_number if first.day == 1 else "j")
        return f"{number}{EN_DASH}{day(last)}"
    return f"{day(first, year=first.year != last.year)} {EN_DASH} {day(last)}"


# ---------------------------------------------------------------------------------------------------------------------
# The plausible date window: what a date sent by a user, an integration or a file may be
# ---------------------------------------------------------------------------------------------------------------------
# Python dates reach year 9999 and PostgreSQL's further, but the periods, comparisons and forecasts shift dates by
# months and years: a date near either end overflows (OverflowError, a 500) or is a typo (2205 for 2025). Every date
# that comes in — query parameters, forms, JSON bodies, imported files — is checked against this window first.
PLAUSIBLE_DATE_MESSAGE = gettext_lazy("%(value)s is out of range: enter a date from %(first)s to %(last)s.")


def date_window() -> tuple[dt.date, dt.date]:
    """The first and last plausible days: 1 January of KPI_DATE_MIN_YEAR, 31 December of KPI_DATE_MAX_YEAR."""
    return dt.date(settings.KPI_DATE_MIN_YEAR, 1, 1), dt.date(settings.KPI_DATE_MAX_YEAR, 12, 31)


def date_in_window(value: dt.date | dt.datetime) -> bool:
    """Whether `value` (a date, or a date-time by its calendar day) lies in the plausible window."""
    first, last = date_window()
    day = value.date() if isinstance(value, dt.datetime) else value
    return first <= day <= last


def plausible_date_message(value: dt.date | dt.datetime | str) -> str:
    """The sentence refusing `value`, naming the window: « 9990-01-01 is out of range: enter a date from 1990-01-01
    to 2100-12-31. »"""
    first, last = date_window()
    shown = value.isoformat() if isinstance(value, dt.date) else str(value)
    return PLAUSIBLE_DATE_MESSAGE % {"value": shown, "first": first.isoformat(), "last": last.isoformat()}


def validate_plausible_date(value: dt.date | dt.datetime | None) -> None:
    """A validator for Django form fields and DRF serializer fields (both accept Django validators): raise
    ValidationError (code "date_out_of_window") when `value` lies outside the plausible window."""
    if value is not None and not date_in_window(value):
        raise ValidationError(plausible_date_message(value), code="date_out_of_window")
