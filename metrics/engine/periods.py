"""Period maths: the calendar periods KPIs are bucketed into, in the organisation's time zone.

Periods are half-open `[start, end)` local calendar periods (day, ISO week starting on
Monday, month, quarter, year) identified by their first local date. The instants that
bound them are local midnights, so a day around a DST change lasts 23 or 25 hours.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Granularity(models.TextChoices):
    DAY = "day", _("Day")
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


GRANULARITIES: tuple[str, ...] = tuple(Granularity.values)


def _floor_day(day: dt.date) -> dt.date:
    return day


def _floor_week(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _floor_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _floor_quarter(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _floor_year(day: dt.date) -> dt.date:
    return dt.date(day.year, 1, 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class PeriodKind:
    """How one granularity floors a date and steps to the next period."""

    name: str
    floor: object  # Callable[[date], date]
    months: int = 0
    days: int = 0

    def add(self, start: dt.date, count: int) -> dt.date:
        if self.months:
            return _add_months(start, self.months * count)
        return start + dt.timedelta(days=self.days * count)


PERIOD_KINDS: dict[str, PeriodKind] = {
    Granularity.DAY: PeriodKind("day", _floor_day, days=1),
    Granularity.WEEK: PeriodKind("week", _floor_week, days=7),
    Granularity.MONTH: PeriodKind("month", _floor_month, months=1),
    Granularity.QUARTER: PeriodKind("quarter", _floor_quarter, months=3),
    Granularity.YEAR: PeriodKind("year", _floor_year, months=12),
}


def business_tz() -> ZoneInfo:
    """The organisation's time zone (settings.TIME_ZONE)."""
    return ZoneInfo(settings.TIME_ZONE)


def period_floor(day: dt.date, granularity: str) -> dt.date:
    """First day of the period of `granularity` containing `day`."""
    return PERIOD_KINDS[granularity].floor(day)


def period_shift(start: dt.date, granularity: str, count: int) -> dt.date:
    """Start of the period `count` periods after the one starting at `start` (negative: before)."""
    return PERIOD_KINDS[granularity].add(period_floor(start, granularity), count)


def period_end(start: dt.date, granularity: str) -> dt.date:
    """First day after the period starting at `start` (exclusive end)."""
    return period_shift(start, granularity, 1)


def period_starts(*, start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    """Starts of every period of `granularity` that intersects the dates [start, end)."""
    if end <= start:
        return []
    kind = PERIOD_KINDS[granularity]
    current = kind.floor(start)
    starts = []
    while current < end:
        starts.append(current)
        current = kind.add(current, 1)
    return starts


def local_midnight(day: dt.date) -> dt.datetime:
    """The aware instant at which local date `day` begins in the organisation's time zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=business_tz())


@functools.lru_cache(maxsize=8)
def utc_offset_changes(
    tz_name: str, first_year: int, last_year: int
) -> tuple[int, tuple[tuple[dt.datetime, int], ...]]:
    """The UTC offset (in seconds) of time zone `tz_name` at the start of `first_year` (UTC), and each change of
    it up to the end of `last_year`: (the naive UTC instant it takes effect, the offset from then on).

    Found from the zone's own rules (zoneinfo), day by day then to the second: offsets change at most once a
    day in every zone of the tz database.
    """
    tz = ZoneInfo(tz_name)
    utc = dt.UTC

    def offset(moment: dt.datetime) -> int:
        return int(moment.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    moment = dt.datetime(first_year, 1, 1, tzinfo=utc)
    end = dt.datetime(last_year + 1, 1, 1, tzinfo=utc)
    first = current = offset(moment)
    changes: list[tuple[dt.datetime, int]] = []
    day = dt.timedelta(days=1)
    while moment < end:
        following = moment + day
        changed = offset(following)
        if changed != current:
            low, high = moment, following  # offset(low) == current, offset(high) == changed
            while high - low > dt.timedelta(seconds=1):
                middle = low + dt.timedelta(seconds=(high - low) // dt.timedelta(seconds=1) // 2)
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            changes.append((high.replace(tzinfo=None), changed))
            current = changed
        moment = following
    return first, tuple(changes)


def local_date(moment: dt.datetime) -> dt.date:
    """The local calendar date of an aware instant."""
    return moment.astimezone(business_tz()).date()


def today_local() -> dt.date:
    """Today in the organisation's time zone."""
    from django.utils import timezone

    return local_date(timezone.now())
