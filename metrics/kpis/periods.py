"""The calendar KPI values are stored by, as the upper layers may use it.

Objectives, alerts and dashboards name periods exactly as the engine stores them (a month
starts on the 1st, a week on Monday, days in the organisation's time zone), so they use the
engine's own calendar; this module is their door to it, so that nothing above metrics imports
the engine itself (an import-linter contract keeps it so).
"""

from metrics.engine.periods import (
    GRANULARITIES,
    Granularity,
    business_tz,
    local_date,
    local_midnight,
    period_end,
    period_floor,
    period_shift,
    period_starts,
    today_local,
)

__all__ = [
    "GRANULARITIES",
    "Granularity",
    "business_tz",
    "local_date",
    "local_midnight",
    "period_end",
    "period_floor",
    "period_shift",
    "period_starts",
    "today_local",
]
