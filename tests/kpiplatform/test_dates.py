"""Dates in one style per language (kpiplatform.dates and its template filters): days, months, quarters, weeks,
periods, moments and spans, in French and in English."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from kpiplatform import dates

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("language", "day", "expected"),
    [
        ("fr", dt.date(2026, 10, 1), "1er oct. 2026"),  # the first of a month: « 1er »
        ("fr", dt.date(2026, 12, 4), "4 déc. 2026"),
        ("fr", dt.date(2026, 3, 9), "9 mars 2026"),  # a short month name is not cut
        ("fr", dt.date(2026, 2, 28), "28 fév. 2026"),
        ("en", dt.date(2026, 10, 1), "1 Oct 2026"),
        ("en", dt.date(2026, 12, 4), "4 Dec 2026"),
        ("en", dt.date(2026, 9, 30), "30 Sep 2026"),
    ],
)
def test_a_day(language, day, expected):
    with translation.override(language):
        assert dates.day(day) == expected


def test_a_day_without_its_year_and_in_full():
    with translation.override("fr"):
        assert dates.day(dt.date(2026, 12, 1), year=False) == "1er déc."
        assert dates.day_long(dt.date(2026, 12, 1)) == "1er décembre 2026"
        assert dates.day_long(dt.date(2026, 12, 4)) == "4 décembre 2026"
    with translation.override("en"):
        assert dates.day(dt.date(2026, 12, 1), year=False) == "1 Dec"
        assert dates.day_long(dt.date(2026, 12, 1)) == "1 December 2026"


def test_a_date_time_is_its_day_in_the_organisation_s_time_zone():
    # 23:30 UTC on 30 November is 00:30 on 1 December in Paris
    late = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)
    with translation.override("fr"):
        assert dates.day(late) == "1er déc. 2026"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", ["janvier 2026", "décembre 2026"]), ("en", ["January 2026", "December 2026"])],
)
def test_a_month(language, expected):
    with translation.override(language):
        assert [dates.month(dt.date(2026, 1, 1)), dates.month(dt.date(2026, 12, 17))] == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", ["T1 2026", "T1 2026", "T2 2026", "T4 2026"]), ("en", ["Q1 2026", "Q1 2026", "Q2 2026", "Q4 2026"])],
)
def test_a_quarter(language, expected):
    days = [dt.date(2026, 1, 1), dt.date(2026, 3, 31), dt.date(2026, 4, 1), dt.date(2026, 12, 31)]
    with translation.override(language):
        assert [dates.quarter(day) for day in days] == expected


def test_a_week_is_named_by_its_monday():
    with translation.override("fr"):
        assert dates.week(dt.date(2026, 11, 30)) == "semaine du 30 nov. 2026"
        assert dates.week(dt.date(2026, 6, 1)) == "semaine du 1er juin 2026"
    with translation.override("en"):
        assert dates.week(dt.date(2026, 11, 30)) == "week of 30 Nov 2026"


@pytest.mark.parametrize(
    ("granularity", "french", "english"),
    [
        ("day", "1er déc. 2026", "1 Dec 2026"),
        ("week", "semaine du 1er déc. 2026", "week of 1 Dec 2026"),
        ("month", "décembre 2026", "December 2026"),
        ("quarter", "T4 2026", "Q4 2026"),
        ("year", "2026", "2026"),
        ("fortnight", "1er déc. 2026", "1 Dec 2026"),  # an unknown granularity names the day
    ],
)
def test_a_period_by_its_granularity(granularity, french, english):
    start = dt.date(2026, 12, 1)
    with translation.override("fr"):
        assert dates.period(start, granularity) == french
    with translation.override("en"):
        assert dates.period(start, granularity) == english


def test_a_moment_is_24_hours_in_the_organisation_s_time_zone():
    # 12:30 UTC is 13:30 in Paris in winter; 20:05 UTC is 22:05 in summer
    winter = dt.datetime(2026, 12, 4, 12, 30, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 1, 20, 5, tzinfo=dt.UTC)
    with translation.override("fr"):
        assert dates.moment(winter) == "4 déc. 2026 à 13:30"
        assert dates.moment(summer) == "1er juil. 2026 à 22:05"
    with translation.override("en"):
        assert dates.moment(winter) == "4 Dec 2026, 13:30"
        assert dates.moment(summer) == "1 Jul 2026, 22:05"


@pytest.mark.parametrize(
    ("start", "end", "french", "english"),
    [
        # within a month: the month and the year once
        (dt.date(2026, 12, 1), dt.date(2026, 12, 4), "1er–4 déc. 2026", "1–4 Dec 2026"),
        (dt.date(2026, 12, 7), dt.date(2026, 12, 13), "7–13 déc. 2026", "7–13 Dec 2026"),
        # across months: the year once
        (dt.date(2026, 10, 1), dt.date(2026, 12, 31), "1er oct. – 31 déc. 2026", "1 Oct – 31 Dec 2026"),
        # across years: both years
        (dt.date(2025, 11, 1), dt.date(2026, 1, 31), "1er nov. 2025 – 31 jan. 2026", "1 Nov 2025 – 31 Jan 2026"),
        # a single day
        (dt.date(2026, 12, 4), dt.date(2026, 12, 4), "4 déc. 2026", "4 Dec 2026"),
    ],
)
def test_a_span(start, end, french, english):
    with translation.override("fr"):
        assert dates.span(start, end) == french
    with translation.override("en"):
        assert dates.span(start, end) == english


def test_nothing_is_written_for_no_date():
    assert [dates.day(None), dates.month(None), dates.quarter(None), dates.week(None), dates.moment(None)] == [""] * 5
    with translation.override("fr"):
        assert dates.span(None, dt.date(2026, 12, 4)) == "4 déc. 2026"


def test_a_language_without_its_own_style_writes_dates_the_english_way():
    assert dates.date_style("de") == dates.STYLES["en"]
    assert dates.date_style("fr-ca") == dates.STYLES["fr"]


def test_the_template_filters_write_the_same():
    template = Template(
        "{% load dates %}{{ d|day }} | {{ d|day_long }} | {{ d|month }} | {{ d|quarter }} | {{ d|week }} | "
        "{{ d|period:'quarter' }} | {{ when|moment }} | {{ d|span:end }}"
    )
    context = Context(
        {
            "d": dt.date(2026, 10, 1),
            "end": dt.date(2026, 12, 31),
            "when": dt.datetime(2026, 12, 4, 13, 30, tzinfo=PARIS),
        }
    )
    with translation.override("fr"):
        assert template.render(context) == (
            "1er oct. 2026 | 1er octobre 2026 | octobre 2026 | T4 2026 | semaine du 1er oct. 2026 | T4 2026 | "
            "4 déc. 2026 à 13:30 | 1er oct. – 31 déc. 2026"
        )
    with translation.override("en"):
        assert template.render(context) == (
            "1 Oct 2026 | 1 October 2026 | October 2026 | Q4 2026 | week of 1 Oct 2026 | Q4 2026 | "
            "4 Dec 2026, 13:30 | 1 Oct – 31 Dec 2026"
        )
