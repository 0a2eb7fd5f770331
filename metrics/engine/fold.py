"""Longer periods added up in memory from the shorter periods a recompute of everything has just computed.

A recompute of every granularity computes days first. The days' cells of rollable measures (event counts,
sums, minimums and maximums: metrics.engine.rollup.spec_rollable) and the days' shares of longer periods
(distinct counts and `in_period` measures: metrics.engine.shares) already hold the weeks' and months'
values, and the months' shares of their quarters and years; the months then hold the quarters' and
years'. Folding them as they are computed spares the longer granularities those grouped queries — the
first-occurrence queries behind distinct counts are the engine's largest — without reading anything back
from the store, as the incremental rollup must (metrics.engine.rollup).

Means and medians are folded from what their day queries are made of, kept for the purpose (FOLD_KEPT): a
mean's exact partial sums and counts, a median's raw values. State measures keep their grouped query per
granularity.
The fold is exact only for measures whose records all lie in the days computed: those dated outside them
(subscriptions due next year, records before a recompute's start) are read from the records.

It pays where grouped queries cost more than adding the day cells up in Python: on SQLite, not on
PostgreSQL (metrics.recompute.services.FOLD_VENDORS gives the figures).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from metrics.engine.aggregates import combine_sum
from metrics.engine.measures import MeasureSpec, filters_build
from metrics.engine.periods import Granularity, period_floor
from metrics.engine.queries import Cells, Window, kept_finish
from metrics.engine.rollup import ROLLABLE_AGGREGATES, spec_rollable
from metrics.engine.shares import NESTED, Shares, share_kind

# The longer granularities each one is folded into; each of them from one source only.
FOLDS: dict[str, tuple[str, ...]] = {
    Granularity.DAY: (Granularity.WEEK, Granularity.MONTH),
    Granularity.MONTH: (Granularity.QUARTER, Granularity.YEAR),
}
SOURCE_OF: dict[str, str] = {longer: source for source, longers in FOLDS.items() for longer in longers}

Key = tuple[MeasureSpec, str | None]
KEPT_AGGREGATES = ("avg", "median")


def spec_kept(spec: MeasureSpec) -> bool:
    """Whether the measure's value over a period is made of what its day queries keep (FOLD_KEPT)."""
    if spec.binding != "event" or spec.min_count != 1 or spec.aggregate not in KEPT_AGGREGATES:
        return False
    return not filters_build(spec.model, spec.filters)[1]


def _kept_merge(current, more):
    """What a longer period keeps of a mean or a median, with one more shorter period's added (a new object:
    the shorter period's own is left as it is)."""
    if isinstance(more, list):  # a median's raw values
        return current + more
    return {"s": combine_sum(current["s"], more["s"]), "n": current["n"] + more["n"]}


class CellFold:
    """The cells of longer granularities, added up from a shorter one's chunks as the engine computes them.

    `add` takes each chunk's cells (kpis_compute calls it); `complete` says a granularity's chunks are all
    in, after which `cells` gives the granularities it folds into.
    """

    def __init__(self, *, outside: Iterable[tuple[type, str]] = ()) -> None:
        """`outside`: the (model, date field) of events with records outside the periods computed, not folded."""
        self._outside = frozenset(outside)
        # (key, longer granularity) → (team, period) → segment → value: the longer periods' own cells.
        self._cells: dict[tuple[Key, str], Cells] = defaultdict(lambda: defaultdict(dict))
        # (key, longer granularity, still longer granularity) → cells: the longer periods' shares.
        self._shares: dict[tuple[Key, str, str], Cells] = defaultdict(lambda: defaultdict(dict))
        # (key, longer granularity) → (team, period) → segment → what the mean or median of the period is made of.
        self._kept: dict[tuple[Key, str], dict] = defaultdict(lambda: defaultdict(dict))
        self._keys: dict[str, set[Key]] = defaultdict(set)  # longer granularity → the keys folded into it
        self._complete: set[str] = set()
        self._kinds: dict[Key, tuple[bool, bool, bool]] = {}

    def folds(self, granularity: str) -> bool:
        """Whether the cells of this granularity are added up into longer ones."""
        return granularity in FOLDS and granularity not in self._complete

    def ready(self, granularity: str) -> bool:
        """Whether this granularity's folded cells are whole (its source's chunks all added)."""
        return SOURCE_OF.get(granularity) in self._complete

    def _kind(self, key: Key) -> tuple[bool, bool, bool]:
        """(rollable, shared, kept), decided once per key (each parses the measure's filters); none when some of
        its records lie outside the periods computed."""
        kind = self._kinds.get(key)
        if kind is None:
            spec = key[0]
            if (spec.model, spec.date_field) in self._outside:
                kind = (False, False, False)
            else:
                kind = (spec_rollable(spec), share_kind(spec) is not None, spec_kept(spec))
            self._kinds[key] = kind
        return kind

    def add(
        self,
        *,
        granularity: str,
        periods: Sequence[dt.date],
        results: dict[Key, Cells],
        shares: Shares,
        kept: dict[Key, dict] | None = None,
    ) -> None:
        """Add the cells of these periods (a chunk's own, not the earlier ones `prev()` read) of the rollable
        measures, the shares of the shared ones and what the means and medians are made of (`kept`: FOLD_KEPT)
        to the longer granularities they fold into."""
        longers = FOLDS.get(granularity, ())
        if not longers:
            return
        own = set(periods)
        floors = {longer: {period: period_floor(period, longer) for period in own} for longer in longers}
        for key, cells in results.items():
            if self._kind(key)[0]:
                combine = ROLLABLE_AGGREGATES[key[0].aggregate]
                for longer in longers:
                    self._keys[longer].add(key)
                    _fold(self._cells[(key, longer)], cells, floors[longer], combine)
        for key, by_granularity in shares.items():
            if not self._kind(key)[1]:
                continue
            combine = ROLLABLE_AGGREGATES.get(key[0].aggregate, combine_sum)
            for longer in longers:
                if longer not in by_granularity:
                    continue
                self._keys[longer].add(key)
                _fold(self._cells[(key, longer)], by_granularity[longer], floors[longer], combine)
                for still_longer in NESTED.get(longer, ()):
                    cells = by_granularity.get(still_longer, {})
                    _fold(self._shares[(key, longer, still_longer)], cells, floors[longer], combine)
        for key, cells in (kept or {}).items():
            if not self._kind(key)[2]:
                continue
            for longer in longers:
                self._keys[longer].add(key)
                _fold(self._kept[(key, longer)], cells, floors[longer], _kept_merge)

    def complete(self, granularity: str) -> None:
        """Every chunk of this granularity has been computed: what it folds into is whole, and what was folded
        into it is no longer needed."""
        self._complete.add(granularity)
        for store in (self._cells, self._shares, self._kept):
            for name in [name for name in store if name[1] == granularity]:
                del store[name]
        self._keys.pop(granularity, None)

    def cells(self, *, wanted: Iterable[Key], window: Window) -> tuple[dict[Key, Cells], Shares, dict[Key, dict]]:
        """The folded (measure, dimension) pairs' cells over the window's periods, with their shares of the
        longer periods containing them and what their means and medians are made of (to fold further); pairs
        not folded are left out, for the caller to query."""
        granularity = window.granularity
        if not self.ready(granularity):
            return {}, {}, {}
        periods = set(window.periods)
        folded = self._keys.get(granularity, set())
        values: dict[Key, Cells] = {}
        shares: Shares = {}
        kept: dict[Key, dict] = {}
        for key in wanted:
            if key not in folded:
                continue
            if self._kind(key)[2]:
                spec = key[0]
                kept[key] = {
                    cell: by_segment
                    for cell, by_segment in self._kept[(key, granularity)].items()
                    if cell[1] in periods
                }
                values[key] = {
                    cell: {segment: kept_finish(spec, made_of) for segment, made_of in by_segment.items()}
                    for cell, by_segment in kept[key].items()
                }
                continue
            # A count of values with at least n > 1 records has a segment only where some value has (as a
            # grouped query gives it); a segment's shares are kept wherever it has records.
            drop_empty = key[0].min_count > 1
            values[key] = {
                cell: {s: v for s, v in by_segment.items() if not (drop_empty and s and not v)}
                for cell, by_segment in self._cells[(key, granularity)].items()
                if cell[1] in periods
            }
            nested = NESTED.get(granularity, ())
            if nested and self._kind(key)[1]:
                shares[key] = {
                    longer: {
                        cell: by_segment
                        for cell, by_segment in self._shares[(key, granularity, longer)].items()
                        if cell[1] in periods
                    }
                    for longer in nested
                }
        return values, shares, kept


def _fold(into: dict, cells: dict, floors: dict[dt.date, dt.date], combine) -> None:
    """Combine each cell of the given periods (those in `floors`) into the longer period containing it.
    A segment appears where some shorter cell has it, as it would in a grouped query over the longer period."""
    for (team, period), by_segment in cells.items():
        longer = floors.get(period)
        if longer is None:
            continue
        cell = into[(team, longer)]
        for segment, value in by_segment.items():
            current = cell.get(segment)
            if value is None:
                cell.setdefault(segment, None)
            else:
                cell[segment] = value if current is None else combine(current, value)
