"""Shares of longer periods, stored in shorter periods' cells so that incremental recomputes need no long rescan.

Two kinds of measures are not decomposable by period, yet add up exactly once each short
period stores its *share* of every longer period containing it:

* distinct counts (buyers; repeat buyers, the values with at least n records): a day's share
  of its year is the number of values whose n-th record of that year falls on that day, and
  the year's count is the sum of its days' shares. A day's shares depend on the records
  before it in the longer period, so a change on a day makes the shares of the later days of
  its year stale: the dirty-mark jobs recompute those too (metrics.recompute.services.dirty_marks_jobs);
* counts, sums, minimums and maximums with an `in_period` filter (revenue from customers
  acquired in the same period): a day's share of its month is the measure over that day's
  records whose related date falls in that month.

Days hold their shares of their week, month, quarter and year; months of their quarter and
year (NESTED). `KpiValue.shares` keeps them as {"measure@granularity": number}: a segment row
holds a share only where the measure has records (so a longer period's segments are the
union of its shorter periods'), the total row always (0, or null for extremes).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable

from metrics.engine.measures import MeasureSpec, filters_build
from metrics.engine.periods import Granularity
from metrics.engine.queries import Cells, Window, in_period_shares_compute, reaching_compute

NESTED: dict[str, tuple[str, ...]] = {
    Granularity.DAY: (Granularity.WEEK, Granularity.MONTH, Granularity.QUARTER, Granularity.YEAR),
    Granularity.MONTH: (Granularity.QUARTER, Granularity.YEAR),
}
REACHING = "reaching"  # distinct counts: the period in which a value reaches its n-th record
IN_PERIOD = "in_period"  # in_period filters compared with the longer period
SHARED_AGGREGATES = {"count", "sum", "min", "max"}

Key = tuple[MeasureSpec, str | None]
Shares = dict[Key, dict[str, Cells]]


def share_kind(spec: MeasureSpec) -> str | None:
    """How the measure's value over a longer period is built from shorter periods' shares (None: it is not)."""
    if spec.binding != "event" or spec.is_duration:
        return None
    in_period = filters_build(spec.model, spec.filters)[1]
    if spec.aggregate == "count_distinct":
        return None if in_period else REACHING
    if in_period and spec.aggregate in SHARED_AGGREGATES and spec.min_count == 1:
        return IN_PERIOD
    return None


def share_name(name: str, granularity: str) -> str:
    return f"{name}@{granularity}"


def shares_compute(
    *,
    pairs: Iterable[Key],
    window: Window,
    target_ids: Iterable[int],
    member_ids: Iterable[int] | None = None,
) -> Shares:
    """From the records: each (measure, dimension)'s shares, per longer granularity, of the window's periods.

    The query of `in_period` measures' shares also gives the measures themselves (their share of their own
    period): those come keyed by the window's granularity, for the caller to take as the measures' cells.
    """
    granularities = NESTED.get(window.granularity, ())
    wanted = [pair for pair in dict.fromkeys(pairs) if share_kind(pair[0])]
    if not granularities or not wanted:
        return {}
    targets, members = list(target_ids), None if member_ids is None else list(member_ids)
    shares: Shares = defaultdict(dict)
    # Distinct counts of one value over the same records (buyers, repeat buyers) share a query.
    reaching: dict[MeasureSpec, tuple[dict, dict]] = defaultdict(lambda: ({}, {}))
    for spec, dimension in wanted:
        if share_kind(spec) == REACHING:
            specs, dimensions = reaching[dataclasses.replace(spec, min_count=1)]
            specs[spec] = None
            dimensions[dimension] = None
    for specs, dimensions in reaching.values():
        computed = reaching_compute(
            specs=list(specs),
            window=window,
            target_ids=targets,
            member_ids=members,
            dimensions=list(dimensions),
            granularities=granularities,
        )
        shares.update({pair: by_granularity for pair, by_granularity in computed.items() if pair in wanted})
    in_period = [pair for pair in wanted if share_kind(pair[0]) == IN_PERIOD]
    if in_period:
        computed = in_period_shares_compute(
            pairs=in_period,
            window=window,
            target_ids=targets,
            member_ids=members,
            granularities=(window.granularity, *granularities),
        )
        for pair, by_granularity in computed.items():
            shares[pair].update(by_granularity)
    return dict(shares)
