"""A measure as one grouped SQL query for every team and every period of a window.

`measure_compute` returns {(team, period_start): {segment_value: value}} for the teams
asked (each rolled up over its sub-teams through the TeamClosure join, see
metrics.engine.hierarchy) and the periods of the window; cells without records are
absent and the caller fills them in (0 for counts and sums, no value otherwise).

Query shapes, chosen from registries by binding and aggregate — one query each:

* event, decomposable aggregate or count_distinct: filter the window, annotate
  Trunc(date, granularity, tzinfo=TIME_ZONE), GROUP BY (team, [segment,] period);
* event, count_distinct with min_count > 1: the grouped query by (team, period, value)
  HAVING COUNT(*) ≥ n, wrapped in an outer GROUP BY (team, period);
* event, median: PERCENTILE_CONT(0.5) on PostgreSQL; on SQLite one query streams the values
  of every group and the mean of the one or two middle ones, exactly PERCENTILE_CONT's, is
  taken in Python;
* state, decomposable aggregate: the facts are grouped by (team, [segment,] period of
  `from`, period of `to`), both clamped to "before the window" / "after the window".
  Since a period boundary b compares to an instant t exactly as b compares to t's
  period, "active at start/end", "new" and "lost" of every period follow from that
  histogram by range sums (difference arrays) in Python — one pass over the facts,
  whatever the number of periods;
* state, count_distinct (and median on PostgreSQL): conditional aggregation, one
  FILTER (WHERE …) column per period (in chunks of STATE_COLUMNS_PER_QUERY periods);
* state, median on SQLite: one query streams (team, period of from, period of to,
  value) ordered by value, and the medians are taken in Python.

On PostgreSQL, `measures_compute_dimensions` reads the records of event measures wanted for
several segment dimensions once: GROUP BY GROUPING SETS ((team, period), (team, dᵢ, period)…);
and distinct counts of the same value over the same records (buyers, repeat buyers) share one
query counting each value's records, whatever their min_count.

Shares of longer periods (metrics.engine.shares): `reaching_compute` ranks each value's
records within each longer period (LAG over the value's records in date order) and counts, per short period, the values
reaching their n-th record there; `in_period_shares_compute` is the grouped query with the
`in_period` date compared with each longer period (a FILTER column per longer granularity).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connections, models
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import Cast, Coalesce, Trunc
from django.utils import timezone

from metrics.engine import sources as src
from metrics.engine.aggregates import combine_sum
from metrics.engine.measures import MeasureSpec, StateMode, as_date, filters_build, to_decimal
from metrics.engine.periods import business_tz, local_midnight, period_end, period_floor, utc_offset_changes

BEFORE = dt.date(1, 1, 1)
AFTER = dt.date(9999, 12, 31)
STATE_COLUMNS_PER_QUERY = 400
REACHING_LISTED_VALUES = 5000  # more distinct values in the window: their history is selected by a subquery
# Key of the `cache` under which a recompute that folds (metrics.engine.fold) asks for what means and medians
# are made of, per (measure, dimension) and cell: a mean's exact partials, a median's raw values.
FOLD_KEPT = "fold_kept"

Cells = dict[tuple[int, dt.date], dict[str, Decimal | None]]


SPANS = "spans"  # the granularity of a window of explicit date ranges (Window.of_spans)


@dataclass(frozen=True)
class Window:
    """Contiguous periods of one granularity: the cells a computation fills.

    With granularity SPANS the periods are explicit [start, end) ranges of any lengths (`ends`), still
    contiguous: records are put in their range by a CASE over the boundaries instead of a date truncation,
    and every query shape works unchanged on them.
    """

    granularity: str
    periods: tuple[dt.date, ...]
    ends: tuple[dt.date, ...] = ()

    @classmethod
    def of_spans(cls, spans: Sequence[tuple[dt.date, dt.date]]) -> Window:
        """A window of contiguous [start, end) spans, in date order."""
        for (_, end), (start, _) in itertools.pairwise(spans):
            if end != start:
                raise ValueError("Spans of a window must be contiguous")
        return cls(SPANS, tuple(start for start, _ in spans), tuple(end for _, end in spans))

    @property
    def start(self) -> dt.date:
        return self.periods[0]

    @property
    def end(self) -> dt.date:
        return self.ends[-1] if self.ends else period_end(self.periods[-1], self.granularity)

    def period_end(self, index: int) -> dt.date:
        return self.ends[index] if self.ends else period_end(self.periods[index], self.granularity)

    def boundaries(self) -> list[dt.date]:
        return [*self.periods, self.end]


@dataclass(frozen=True)
class TeamScope:
    """The teams a computation fills (`targets`) and, optionally, all teams whose facts count for them."""

    targets: tuple[int, ...]
    members: tuple[int, ...] | None = None

    @classmethod
    def of(cls, target_ids: Iterable[int], member_ids: Iterable[int] | None = None) -> TeamScope:
        return cls(tuple(sorted(target_ids)), None if member_ids is None else tuple(sorted(member_ids)))


class AnyOf(models.Lookup):
    """`lhs = ANY(%s)`, the values given as one array parameter (PostgreSQL): a list of thousands of values
    costs one placeholder, where IN (…) has one each for the driver to scan."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


class Median(models.Aggregate):
    """PERCENTILE_CONT(0.5): the median, mean of the two middle values for an even count (PostgreSQL)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = models.FloatField()


# Years whose instants SQLite converts to local time natively (LocalTrunc); others go through Django's function.
NATIVE_TZ_YEARS = (1970, 2100)
# From the local date D (SQL text): the start of its period, as SQLite date modifiers.
_SQLITE_FLOORS = {
    "day": "",
    "week": ", '-6 days', 'weekday 1'",
    "month": ", 'start of month'",
    "year": ", 'start of year'",
}
_SQLITE_FLOORS_KINDS = {*_SQLITE_FLOORS, "quarter"}


# The years around today (back, ahead) whose offset changes the CASE tests first: nearly every record lies
# there, and a row then takes a few comparisons instead of the whole tree's (bench/recompute.py on SQLite,
# 100,000 records: about 6 % of a month's recompute).
RECENT_TZ_YEARS = (5, 2)


def _offset_tree(column: str, offset: int, changes: Sequence[tuple[dt.datetime, int]]) -> str:
    """A balanced CASE over `changes` giving the date modifier of the offset in force at `column`."""
    if not changes:
        return f"'{offset:+d} seconds'"
    middle = len(changes) // 2
    at, after = changes[middle]
    return (
        f"CASE WHEN {column} < '{at:%Y-%m-%d %H:%M:%S}' THEN {_offset_tree(column, offset, changes[:middle])} "
        f"ELSE {_offset_tree(column, after, changes[middle + 1 :])} END"
    )


@functools.lru_cache(maxsize=64)
def _sqlite_offset_modifier(column: str, tz_name: str, this_year: int) -> str:
    """SQL giving the date modifier ('+3600 seconds') that turns the naive UTC text in `column` into local
    time: a balanced CASE over the zone's offset changes of the recent years, then over all of them."""
    first, changes = utc_offset_changes(tz_name, *NATIVE_TZ_YEARS)
    back, ahead = RECENT_TZ_YEARS
    low, high = dt.datetime(this_year - back, 1, 1), dt.datetime(this_year + ahead + 1, 1, 1)
    before = [offset for at, offset in changes if at <= low]
    recent = [(at, offset) for at, offset in changes if low < at < high]
    return (
        f"CASE WHEN {column} >= '{low:%Y-%m-%d %H:%M:%S}' AND {column} < '{high:%Y-%m-%d %H:%M:%S}' "
        f"THEN {_offset_tree(column, before[-1] if before else first, recent)} "
        f"ELSE {_offset_tree(column, first, changes)} END"
    )


class LocalTrunc(Trunc):
    """Trunc to a local period start; on SQLite computed by SQLite itself instead of Django's Python function
    (called for every row, it was most of a recompute's time), with the same results.

    SQLite stores aware date-times as naive UTC text ('YYYY-MM-DD HH:MM:SS[.ffffff]'): the local date is
    date() of that text (whole seconds: a fraction never moves the date) shifted by the zone's UTC offset
    at that instant, which a CASE over the zone's offset changes gives (zoneinfo's own rules, see
    periods.utc_offset_changes); instants outside NATIVE_TZ_YEARS keep Django's function.
    """

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.lhs)
        kind = self.kind
        if params or self.output_field.get_internal_type() != "DateField" or kind not in _SQLITE_FLOORS_KINDS:
            return super().as_sql(compiler, connection)
        tz_name = None
        if not isinstance(self.lhs.output_field, models.DateTimeField):
            local, conversion = column, False
        else:
            tz_name = self.get_tzname()
            conversion = bool(settings.USE_TZ and tz_name and tz_name != connection.timezone_name)
            if conversion and connection.timezone_name != "UTC":
                return super().as_sql(compiler, connection)
            local = f"substr({column}, 1, 19)"
        if conversion:
            local = f"{local}, {_sqlite_offset_modifier(column, tz_name, timezone.now().year)}"
        if kind == "quarter":
            month = f"CAST(strftime('%%m', {local}) AS INTEGER)"
            native = f"date({local}, 'start of month', '-' || (({month} - 1) %% 3) || ' months')"
        else:
            native = f"date({local}{_SQLITE_FLOORS[kind]})"
        if not conversion:
            return native, []
        fallback, fallback_params = super().as_sql(compiler, connection)
        first, last = NATIVE_TZ_YEARS
        return (
            f"CASE WHEN {column} < '{first:04d}-01-01 00:00:00' OR {column} >= '{last + 1:04d}-01-01 00:00:00' "
            f"THEN {fallback} ELSE {native} END",
            list(fallback_params),
        )


# --------------------------------------------------------------------------- helpers


def _vendor(spec: MeasureSpec) -> str:
    return connections[spec.model._default_manager.db].vendor


def _field(spec: MeasureSpec, path: str) -> models.Field:
    return src.resolve_path(spec.model, path)[0]


def _bound(spec: MeasureSpec, path: str, day: dt.date):
    """A period boundary in the type of field `path`: a local midnight for date-times, the date itself otherwise."""
    return local_midnight(day) if src.is_datetime(_field(spec, path)) else day


def _trunc(spec: MeasureSpec, path: str, granularity: str) -> Trunc:
    tz = business_tz() if src.is_datetime(_field(spec, path)) else None
    return LocalTrunc(path, granularity, output_field=models.DateField(), tzinfo=tz)


def _bucket(spec: MeasureSpec, path: str, window: Window) -> models.Expression:
    """The start of the window's period holding field `path` (NULL outside the window's spans)."""
    if not window.ends:
        return _trunc(spec, path, window.granularity)
    whens = [
        When(**{f"{path}__gte": _bound(spec, path, start), f"{path}__lt": _bound(spec, path, end)}, then=Value(start))
        for start, end in zip(window.periods, window.ends, strict=True)
    ]
    return Case(*whens, default=Value(None), output_field=models.DateField())


def _base(spec: MeasureSpec, teams: TeamScope, dimension: str | None, *, filtered: bool = True):
    """Facts of the source passing the filters (unless `filtered` is off), joined to each team they count
    for (`_target`)."""
    source = spec.record_source
    qs = spec.model._default_manager.all()
    if filtered:
        qs = qs.filter(filters_build(spec.model, spec.filters)[0])
    if teams.members is not None and source.team_path == "team":
        # Redundant with the closure join, but lets the database use the (team, date) indexes.
        qs = qs.filter(team__in=teams.members)
    qs = qs.annotate(_target=F(f"{source.team_path}__ancestor_links__ancestor_id")).filter(_target__in=teams.targets)
    if dimension:
        qs = qs.annotate(_segment=F(source.dimensions[dimension])).exclude(_segment__isnull=True).exclude(_segment="")
    return qs


def _group(dimension: str | None, *names: str) -> list[str]:
    return ["_target", *(["_segment"] if dimension else []), *names]


def _segment(row: dict, dimension: str | None) -> str:
    return str(row["_segment"]) if dimension else ""


def _clean(spec: MeasureSpec, partials: dict) -> dict:
    """A group's partials as exact numbers: counts as they are, the rest Decimals at the value's scale."""
    scale = spec.value_scale()
    return {k: (v if k == "n" else to_decimal(v, scale)) for k, v in partials.items()}


def _finish(spec: MeasureSpec, partials: dict) -> Decimal | None:
    return spec.finish(spec.agg.finish(_clean(spec, partials)))


_UNSET = object()


def _finisher(spec: MeasureSpec, names: Sequence[str]) -> Callable[[tuple], Decimal | None]:
    """_finish of partials given as a tuple in `names`' order, computed once per distinct tuple: a query's cells
    repeat the same counts, and a state's running totals stay the same from day to day. Equal partials give
    the same value whatever their Python type (each is converted to the value's scale first)."""
    memo: dict[tuple, Decimal | None] = {}

    def finish(raw: tuple) -> Decimal | None:
        value = memo.get(raw, _UNSET)
        if value is _UNSET:
            value = memo[raw] = _finish(spec, dict(zip(names, raw, strict=True)))
        return value  # type: ignore[return-value]

    return finish


def kept_finish(spec: MeasureSpec, kept) -> Decimal | None:
    """The value of a cell from what FOLD_KEPT holds of it: a mean's exact partials, a median's raw values."""
    if spec.aggregate == "median":
        return _median_of_raw(spec, kept)
    return spec.finish(spec.agg.finish(kept))


def _median_of_raw(spec: MeasureSpec, raw: list) -> Decimal | None:
    """The median of a group's raw values (sorted here, in place). Raw values sort as the Decimals they become
    (to_decimal keeps the order), so only the middle ones are converted."""
    raw.sort()
    middle = len(raw) // 2
    picked = raw[middle - 1 : middle + 1] if len(raw) % 2 == 0 else raw[middle : middle + 1]
    scale = spec.value_scale()
    return spec.finish(_median([to_decimal(value, scale) for value in picked]))


def _median(values: list) -> Decimal | None:
    """PERCENTILE_CONT(0.5) of sorted values: the middle one, or the mean of the two middle ones."""
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def _median_value(spec: MeasureSpec, raw) -> Decimal | None:
    if raw is None:
        return None
    value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    return spec.finish(value)


# --------------------------------------------------------------------------- event measures


def _event_queryset(
    spec: MeasureSpec,
    window: Window,
    teams: TeamScope,
    dimension: str | None,
    *,
    filtered: bool = True,
    in_period: bool = True,
):
    """Facts of the window with their `_period`; `in_period` filters (unless `in_period` is off) keep the
    records whose related date falls in the record's period."""
    qs = _base(spec, teams, dimension, filtered=filtered)
    lo, hi = _bound(spec, spec.date_field, window.start), _bound(spec, spec.date_field, window.end)
    qs = qs.filter(**{f"{spec.date_field}__gte": lo, f"{spec.date_field}__lt": hi})
    qs = qs.annotate(_period=_bucket(spec, spec.date_field, window))
    for index, path in enumerate(filters_build(spec.model, spec.filters)[1] if in_period else ()):
        qs = qs.annotate(**{f"_in_period_{index}": _bucket(spec, path, window)})
        qs = qs.filter(**{f"_in_period_{index}": F("_period")})
    return qs


def _in_period_within(spec: MeasureSpec, qs, granularities: Iterable[str]):
    """For each longer granularity G: the condition that the `in_period` dates fall in the record's G-period
    (the queryset annotated with what it compares)."""
    paths = filters_build(spec.model, spec.filters)[1]
    conditions: dict[str, Q] = {}
    for granularity in granularities:
        qs = qs.annotate(**{f"_of_{granularity}": _trunc(spec, spec.date_field, granularity)})
        condition = Q()
        for index, path in enumerate(paths):
            qs = qs.annotate(**{f"_in_{granularity}_{index}": _trunc(spec, path, granularity)})
            condition &= Q(**{f"_in_{granularity}_{index}": F(f"_of_{granularity}")})
        conditions[granularity] = condition
    return qs, conditions


def _event_grouped(spec: MeasureSpec, window: Window, teams: TeamScope, dimension: str | None, cache: dict) -> Cells:
    qs = _event_queryset(spec, window, teams, dimension)
    partials = spec.agg.partials(spec.value_expression())
    cells: Cells = defaultdict(dict)
    names = list(partials)
    finish = _finisher(spec, names)
    for row in qs.values(*_group(dimension, "_period")).annotate(**partials).order_by():
        value = finish(tuple([row[name] for name in names]))
        cells[(row["_target"], as_date(row["_period"]))][_segment(row, dimension)] = value
    return cells


def _combination_key(spec: MeasureSpec) -> tuple | None:
    """Event measures with equal keys are computed together, in one query (None: on their own)."""
    if spec.binding != "event" or spec.aggregate == "median" or spec.min_count != 1:
        return None
    _, in_period = filters_build(spec.model, spec.filters)
    return (spec.source, spec.date_field, tuple(in_period))


Variant = tuple[object, MeasureSpec, Q | None]  # (result key, measure, condition added to its filters)


def _combined_columns(
    variants: list[Variant],
) -> tuple[dict[str, models.Aggregate], list[list[str]], Q | None]:
    """The aggregates of several event measures over the same records, each filtered by its own conditions
    (FILTER (WHERE …)), their partial names per measure, and the condition of the records any of them reads
    (None: some measure reads them all)."""
    columns: dict[str, models.Aggregate] = {}
    partial_names: list[list[str]] = []
    conditions: list[Q | None] = []
    for index, (_, spec, extra) in enumerate(variants):
        when = filters_build(spec.model, spec.filters)[0]
        when = (when & extra if extra is not None else when) or None
        conditions.append(when)
        partials = spec.agg.partials(spec.value_expression(), when)
        partial_names.append(list(partials))
        columns.update({f"m{index}_{name}": aggregate for name, aggregate in partials.items()})
        # Records matching the measure: a cell without any is absent, as with a query of its own.
        columns[f"m{index}_rows"] = Count("pk", filter=when)
    reads = None if any(when is None for when in conditions) else functools.reduce(operator.or_, conditions)
    return columns, partial_names, reads


def _combined_queryset(
    specs: list[MeasureSpec], window: Window, teams: TeamScope, dimension: str | None, within: tuple[str, ...]
):
    """The records of measures combined in one query, and their variants: each measure keyed by itself, or
    with `within` (longer granularities G) keyed (measure, G) with its `in_period` dates compared with G."""
    qs = _event_queryset(specs[0], window, teams, dimension, filtered=False, in_period=not within)
    if not within:
        return qs, [(spec, spec, None) for spec in specs]
    qs, conditions = _in_period_within(specs[0], qs, within)
    return qs, [((spec, granularity), spec, conditions[granularity]) for granularity in within for spec in specs]


def _event_combined(
    specs: list[MeasureSpec],
    window: Window,
    teams: TeamScope,
    dimension: str | None,
    within: tuple[str, ...] = (),
    kept: dict | None = None,
) -> dict:
    """Event measures over the same records and date in one grouped query: each measure's filters become
    FILTER (WHERE …) clauses of its aggregates, so the records are read once for all of them. Keyed by
    measure, or with `within` by (measure, longer granularity) (see _combined_queryset). With `kept`
    (FOLD_KEPT), the means' exact partials of each cell go there too."""
    qs, variants = _combined_queryset(specs, window, teams, dimension, within)
    columns, partial_names, reads = _combined_columns(variants)
    if reads is not None:
        qs = qs.filter(reads)
    results: dict = {key: defaultdict(dict) for key, _, _ in variants}
    keeps = kept is not None and not within
    means = {index for index, (_, spec, _) in enumerate(variants) if keeps and spec.aggregate == "avg"}
    for row in qs.values(*_group(dimension, "_period")).annotate(**columns).order_by():
        cell = (row["_target"], as_date(row["_period"]))
        segment = _segment(row, dimension)
        for index, (key, spec, _) in enumerate(variants):
            if not row[f"m{index}_rows"]:
                continue
            values = _clean(spec, {name: row[f"m{index}_{name}"] for name in partial_names[index]})
            results[key][cell][segment] = spec.finish(spec.agg.finish(values))
            if index in means:
                kept[(spec, dimension)][cell][segment] = values
    return results


def _event_repeat(spec: MeasureSpec, window: Window, teams: TeamScope, dimension: str | None, cache: dict) -> Cells:
    """Distinct values occurring in at least `min_count` records of the period (e.g. repeat customers)."""
    qs = _event_queryset(spec, window, teams, dimension).annotate(_value=spec.value_expression())
    group = _group(dimension, "_period")
    # Records without a value (an order with no customer) are nobody's repeat purchases.
    qs = qs.filter(_value__isnull=False)
    inner = qs.values(*group, "_value").annotate(_occurrences=Count("pk")).filter(_occurrences__gte=spec.min_count)
    inner = inner.order_by()
    connection = connections[qs.db]
    sql, params = inner.query.get_compiler(using=qs.db).as_sql()
    columns = ", ".join(connection.ops.quote_name(name) for name in group)
    outer = f"SELECT {columns}, COUNT(*) FROM ({sql}) AS repeated GROUP BY {columns}"  # nosec B608 - quoted column names of our query, params bound
    cells: Cells = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        for row in cursor.fetchall():
            record = dict(zip([*group, "n"], row, strict=True))
            cells[(record["_target"], as_date(record["_period"]))][_segment(record, dimension)] = Decimal(record["n"])
    return cells


def _event_median(spec: MeasureSpec, window: Window, teams: TeamScope, dimension: str | None, cache: dict) -> Cells:
    qs = _event_queryset(spec, window, teams, dimension)
    cells: Cells = defaultdict(dict)
    if _vendor(spec) == "postgresql":
        rows = qs.values(*_group(dimension, "_period")).annotate(m=Median(spec.value_expression())).order_by()
        for row in rows:
            cells[(row["_target"], as_date(row["_period"]))][_segment(row, dimension)] = _median_value(spec, row["m"])
        return cells
    # Elsewhere (SQLite): stream the values and take the middle ones in Python. A plain read costs less than
    # half a window query ranking them (25,000 durations: 0.12 s against 0.3 s, whatever the granularity). It is
    # read through the cursor: Django's per-row converters cost more than the read itself.
    qs = qs.annotate(_value=spec.value_expression()).filter(_value__isnull=False)
    rows = qs.values(*_group(dimension, "_period"), "_value").order_by()
    sql, params = rows.query.get_compiler(using=qs.db).as_sql()
    groups: dict[tuple, list] = defaultdict(list)
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        team, period, value = (names.index(name) for name in ("_target", "_period", "_value"))
        segment = names.index("_segment") if dimension else None
        for row in cursor:
            groups[(row[team], row[period], "" if segment is None else row[segment])].append(row[value])
    kept = cache.get(FOLD_KEPT)
    for (team_id, raw_period, raw_segment), raw in groups.items():
        cell, segment = (team_id, as_date(raw_period)), str(raw_segment)
        cells[cell][segment] = _median_of_raw(spec, raw)
        if kept is not None:
            kept[(spec, dimension)][cell][segment] = raw
    return cells


# --------------------------------------------------------------------------- several dimensions in one scan


def _dimension_column(spec: MeasureSpec, dimension: str):
    """A segment dimension as text, '' when empty: NULL then only marks a grouping set without it."""
    path = spec.record_source.dimensions[dimension]
    return Coalesce(Cast(F(path), models.TextField()), Value(""), output_field=models.TextField())


def _grouping_sets(sql: str, sets: list[list[int]]) -> str:
    """Turn the compiled `GROUP BY 1, 2, …` of a query into GROUP BY GROUPING SETS of these column positions."""
    match = _GROUP_BY.search(sql)
    if match is None:
        raise ValueError("Expected a query ending with GROUP BY of column positions.")
    listed = ", ".join("(" + ", ".join(map(str, positions)) + ")" for positions in sets)
    return f"{sql[: match.start()]} GROUP BY GROUPING SETS ({listed}){match.group(2) or ''}"


_GROUP_BY = re.compile(r" GROUP BY ([\d, ]+)( HAVING .*)?$", re.DOTALL)


def _positions(cursor) -> dict[str, int]:
    """Each column's position in the rows of the cursor's query."""
    return {column[0]: position for position, column in enumerate(cursor.description)}


def _set_rows(cursor, dimensions: list[str | None], at: dict[str, int]):
    """Rows of a grouping-sets query as (dimension, segment, row tuple), columns at `at` (_positions); groups of
    an empty segment are left out. Tuples, not dicts: a day chunk at 10M × 200 reads millions of rows."""
    named = [(d, at[f"_d{i}"]) for i, d in enumerate(dimensions) if d is not None]
    total = None in dimensions
    for row in cursor.fetchall():
        for dimension, position in named:
            segment = row[position]
            if segment is not None:
                if segment != "":
                    yield dimension, segment, row
                break
        else:
            if total:
                yield None, "", row


def _dimension_sets(dimensions: list[str | None], last: int) -> tuple[list[str], list[list[int]]]:
    """Column names of the dimensions and the grouping sets: (target, period[, …]) and (target, dᵢ, period[, …])."""
    named = [f"_d{i}" for i in range(len(dimensions))]
    tail = list(range(len(dimensions) + 2, last + 1))
    sets = [[1, 2 + i, *tail] if d is not None else [1, *tail] for i, d in enumerate(dimensions)]
    return named, sets


def _event_combined_sets(
    specs: list[MeasureSpec],
    window: Window,
    teams: TeamScope,
    dimensions: list[str | None],
    within: tuple[str, ...] = (),
) -> dict[tuple[object, str | None], Cells]:
    """_event_combined for several segment dimensions at once: one scan, GROUP BY GROUPING SETS (PostgreSQL)."""
    qs, variants = _combined_queryset(specs, window, teams, None, within)
    qs = qs.annotate(**{f"_d{i}": _dimension_column(specs[0], d) for i, d in enumerate(dimensions) if d})
    qs = qs.annotate(**{f"_d{i}": Value(None, output_field=models.TextField()) for i, d in enumerate(dimensions)
                        if d is None})  # fmt: skip
    columns, partial_names, reads = _combined_columns(variants)
    if reads is not None:
        qs = qs.filter(reads)
    named, sets = _dimension_sets(dimensions, len(dimensions) + 2)
    grouped = qs.values("_target", *named, "_period").annotate(**columns).order_by()
    sql, params = grouped.query.get_compiler(using=qs.db).as_sql()
    results: dict[tuple[object, str | None], Cells] = {
        (key, d): defaultdict(dict) for key, _, _ in variants for d in dimensions
    }
    with connections[qs.db].cursor() as cursor:
        cursor.execute(_grouping_sets(sql, sets), params)
        at = _positions(cursor)
        target, period = at["_target"], at["_period"]
        reads = [
            (key, at[f"m{index}_rows"], [at[f"m{index}_{name}"] for name in partial_names[index]],
             _finisher(spec, partial_names[index]))
            for index, (key, spec, _) in enumerate(variants)
        ]  # fmt: skip
        for dimension, segment, row in _set_rows(cursor, dimensions, at):
            cell = (row[target], as_date(row[period]))
            for key, rows_at, partials_at, finish in reads:
                if row[rows_at]:
                    results[(key, dimension)][cell][segment] = finish(tuple([row[i] for i in partials_at]))
    return results


def _event_repeat_sets(
    spec: MeasureSpec, window: Window, teams: TeamScope, dimensions: list[str | None]
) -> dict[tuple[MeasureSpec, str | None], Cells]:
    """_event_repeat for several segment dimensions at once: the inner GROUP BY has one grouping set each."""
    qs = _event_queryset(spec, window, teams, None).annotate(_value=spec.value_expression())
    qs = qs.annotate(**{f"_d{i}": _dimension_column(spec, d) for i, d in enumerate(dimensions) if d})
    qs = qs.annotate(**{f"_d{i}": Value(None, output_field=models.TextField()) for i, d in enumerate(dimensions)
                        if d is None})  # fmt: skip
    named, sets = _dimension_sets(dimensions, len(dimensions) + 3)
    qs = qs.filter(_value__isnull=False)  # as in _event_repeat
    inner = qs.values("_target", *named, "_period", "_value").annotate(_occurrences=Count("pk"))
    inner = inner.filter(_occurrences__gte=spec.min_count).order_by()
    sql, params = inner.query.get_compiler(using=qs.db).as_sql()
    connection = connections[qs.db]
    columns = ", ".join(connection.ops.quote_name(name) for name in ["_target", *named, "_period"])
    outer = f"SELECT {columns}, COUNT(*) AS n FROM ({_grouping_sets(sql, sets)}) AS repeated GROUP BY {columns}"  # nosec B608 - quoted column names of our query, params bound
    results: dict[tuple[MeasureSpec, str | None], Cells] = {(spec, d): defaultdict(dict) for d in dimensions}
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        at = _positions(cursor)
        target, period, n = at["_target"], at["_period"], at["n"]
        for dimension, segment, row in _set_rows(cursor, dimensions, at):
            results[(spec, dimension)][(row[target], as_date(row[period]))][segment] = Decimal(row[n])
    return results


def _event_distinct_sets(
    specs: list[MeasureSpec], window: Window, teams: TeamScope, dimensions: list[str | None]
) -> dict[tuple[MeasureSpec, str | None], Cells]:
    """Distinct counts of the same value over the same records, whatever their `min_count`, for several
    dimensions: one inner GROUP BY (target, dimension, period, value) by GROUPING SETS counting each value's
    records, and one outer count per measure of the values occurring at least `min_count` times (PostgreSQL).

    As with their own queries: a plain distinct count ignores records without a value and has a cell
    wherever records match; a count of values occurring at least n times (n > 1) has one only when some do.
    """
    spec = specs[0]
    qs = _event_queryset(spec, window, teams, None).annotate(_value=spec.value_expression())
    qs = qs.annotate(**{f"_d{i}": _dimension_column(spec, d) for i, d in enumerate(dimensions) if d})
    qs = qs.annotate(**{f"_d{i}": Value(None, output_field=models.TextField()) for i, d in enumerate(dimensions)
                        if d is None})  # fmt: skip
    named, sets = _dimension_sets(dimensions, len(dimensions) + 3)
    inner = qs.values("_target", *named, "_period", "_value").annotate(_occurrences=Count("pk")).order_by()
    sql, params = inner.query.get_compiler(using=qs.db).as_sql()
    connection = connections[qs.db]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in ["_target", *named, "_period"])
    counts = ", ".join(
        f"COUNT(*) FILTER (WHERE {quote('_value')} IS NOT NULL) AS c{index}"
        if measure.min_count == 1
        else f"COUNT(*) FILTER (WHERE {quote('_value')} IS NOT NULL "
        f"AND {quote('_occurrences')} >= {int(measure.min_count)}) AS c{index}"
        for index, measure in enumerate(specs)
    )
    outer = f"SELECT {columns}, {counts} FROM ({_grouping_sets(sql, sets)}) AS counted GROUP BY {columns}"  # nosec B608 - quoted names, int() counts, params bound
    results: dict[tuple[MeasureSpec, str | None], Cells] = {
        (measure, d): defaultdict(dict) for measure in specs for d in dimensions
    }
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        at = _positions(cursor)
        target, period = at["_target"], at["_period"]
        counted = [(measure, at[f"c{index}"]) for index, measure in enumerate(specs)]
        for dimension, segment, row in _set_rows(cursor, dimensions, at):
            key = (row[target], as_date(row[period]))
            for measure, position in counted:
                if measure.min_count > 1 and not row[position]:
                    continue
                results[(measure, dimension)][key][segment] = Decimal(row[position])
    return results


# --------------------------------------------------------------------------- state measures


def _state_queryset(spec: MeasureSpec, window: Window, teams: TeamScope, dimension: str | None):
    """Facts active at some point of the window, with the (clamped) periods of their interval ends."""
    qs = _base(spec, teams, dimension)
    start_f, end_f = spec.active_from, spec.active_to
    lo, hi = _bound(spec, start_f, window.start), _bound(spec, start_f, window.end)
    qs = qs.filter(**{f"{start_f}__lt": hi})
    period_from = Case(
        When(**{f"{start_f}__lt": lo}, then=Value(BEFORE)),
        default=_bucket(spec, start_f, window),
        output_field=models.DateField(),
    )
    if end_f:
        lo_to, hi_to = _bound(spec, end_f, window.start), _bound(spec, end_f, window.end)
        qs = qs.filter(Q(**{f"{end_f}__isnull": True}) | Q(**{f"{end_f}__gte": lo_to}))
        period_to = Case(
            When(Q(**{f"{end_f}__isnull": True}) | Q(**{f"{end_f}__gte": hi_to}), then=Value(AFTER)),
            default=_bucket(spec, end_f, window),
            output_field=models.DateField(),
        )
    else:
        period_to = Value(AFTER, output_field=models.DateField())
    return qs.annotate(_from_period=period_from, _to_period=period_to)


def _index(window: Window) -> Callable[[object], int]:
    positions = {p: i for i, p in enumerate(window.periods)}
    last = len(window.periods)

    def index(raw) -> int:
        day = as_date(raw)
        if day == BEFORE:
            return -1
        if day == AFTER:
            return last
        return positions[day]

    return index


def _state_range(mode: str, first: int, last: int, count: int) -> range:
    """Indexes of the periods in which a fact whose interval starts in period `first` and ends in `last` is counted."""
    if first >= last:  # started and ended in the same period (or malformed): in no state
        return range(0)
    if mode == StateMode.START:  # from < start_i ≤ to  ⇔  first < i ≤ last
        return range(max(first + 1, 0), min(last, count - 1) + 1)
    if mode == StateMode.END:  # from < end_i ≤ to  ⇔  first ≤ i < last
        return range(max(first, 0), min(last - 1, count - 1) + 1)
    if mode == StateMode.NEW:  # start_i ≤ from < end_i ≤ to  ⇔  i = first
        return range(first, first + 1) if 0 <= first < count else range(0)
    if mode == StateMode.LOST:  # from < start_i ≤ to < end_i  ⇔  i = last
        return range(last, last + 1) if 0 <= last < count else range(0)
    raise ValueError(f"Unknown state {mode!r}")


def _state_histogram(spec: MeasureSpec, window: Window, teams: TeamScope, dimension: str | None, cache: dict) -> Cells:
    partials = spec.agg.partials(spec.value_expression())
    # S, E, N and lost of the same facts share one histogram: query it once.
    key = (dataclasses.replace(spec, state=""), window, teams, dimension)
    if key not in cache:
        qs = _state_queryset(spec, window, teams, dimension)
        cache[key] = list(qs.values(*_group(dimension, "_from_period", "_to_period")).annotate(**partials).order_by())
    combine = spec.agg.combine
    additive = all(fn is combine_sum for fn in combine.values())
    count = len(window.periods)
    index = _index(window)
    # (team, segment) → partial name → per-period accumulator
    acc: dict[tuple[int, str], dict[str, list]] = {}
    for row in cache[key]:
        periods = _state_range(spec.state, index(row["_from_period"]), index(row["_to_period"]), count)
        if not periods:
            continue
        key = (row["_target"], _segment(row, dimension))
        slots = acc.setdefault(key, {name: [None] * (count + 1) for name in partials})
        for name in partials:
            value = row[name]
            if value is None:
                continue
            if additive:  # difference array: +value at the first period, −value after the last
                slots[name][periods.start] = combine[name](slots[name][periods.start], value)
                slots[name][periods.stop] = combine[name](slots[name][periods.stop], -value)
            else:
                for i in periods:
                    slots[name][i] = combine[name](slots[name][i], value)
    cells: Cells = defaultdict(dict)
    names = list(partials)
    finish = _finisher(spec, names)
    for (team, segment), slots in acc.items():
        running = dict.fromkeys(names, 0)
        for i, period in enumerate(window.periods):
            if additive:
                for name in names:
                    running[name] += slots[name][i] or 0
                values = tuple([running[name] for name in names])
                if not any(values):
                    # Nothing in that state: no cell, as for an event measure without records (read as 0).
                    # Emitting zeros would make a segment's rows depend on the window recomputed (a zero
                    # before its first fact in a long window, none in a short one).
                    continue
            else:
                values = tuple([slots[name][i] for name in names])
            cells[(team, period)][segment] = finish(values)
    return cells


def _state_condition(spec: MeasureSpec, start: dt.date, end: dt.date) -> Q | None:
    """The SQL condition "in state `spec.state` for the period [start, end)"; None when never true."""
    from_f, to_f = spec.active_from, spec.active_to

    def before(day):
        return Q(**{f"{from_f}__lt": _bound(spec, from_f, day)})

    def still_active_at(day):
        if not to_f:
            return Q()
        return Q(**{f"{to_f}__isnull": True}) | Q(**{f"{to_f}__gte": _bound(spec, to_f, day)})

    if spec.state == StateMode.START:
        return before(start) & still_active_at(start)
    if spec.state == StateMode.END:
        return before(end) & still_active_at(end)
    if spec.state == StateMode.NEW:
        return ~before(start) & before(end) & still_active_at(end)
    if spec.state == StateMode.LOST:
        if not to_f:
            return None
        return before(start) & Q(**{f"{to_f}__gte": _bound(spec, to_f, start), f"{to_f}__lt": _bound(spec, to_f, end)})
    raise ValueError(f"Unknown state {spec.state!r}")


def _state_conditional(
    spec: MeasureSpec, window: Window, teams: TeamScope, dimension: str | None, cache: dict
) -> Cells:
    """count_distinct (and median on PostgreSQL) of state measures: one FILTER column per period."""
    qs = _state_queryset(spec, window, teams, dimension)
    value = spec.value_expression()
    cells: Cells = defaultdict(dict)
    periods = list(window.periods)
    for chunk_start in range(0, len(periods), STATE_COLUMNS_PER_QUERY):
        columns: dict[str, models.Aggregate] = {}
        for i in range(chunk_start, min(chunk_start + STATE_COLUMNS_PER_QUERY, len(periods))):
            condition = _state_condition(spec, periods[i], window.period_end(i))
            if condition is None:
                continue
            if spec.aggregate == "median":
                columns[f"c{i}"] = Median(value, filter=condition)
            else:
                columns[f"c{i}"] = Count(value, distinct=True, filter=condition)
        if not columns:
            continue
        for row in qs.values(*_group(dimension)).annotate(**columns).order_by():
            for name, raw in row.items():
                if not name.startswith("c") or not name[1:].isdigit():
                    continue
                period = periods[int(name[1:])]
                result = _median_value(spec, raw) if spec.aggregate == "median" else Decimal(raw or 0)
                cells[(row["_target"], period)][_segment(row, dimension)] = result
    return cells


def _state_median_streamed(
    spec: MeasureSpec, window: Window, teams: TeamScope, dimension: str | None, cache: dict
) -> Cells:
    """Medians of state measures where PERCENTILE_CONT is missing (SQLite): one ordered query, medians in Python."""
    qs = _state_queryset(spec, window, teams, dimension).annotate(_value=spec.value_expression())
    qs = qs.filter(_value__isnull=False).order_by("_value")
    count = len(window.periods)
    index = _index(window)
    groups: dict[tuple[int, str, int], list] = defaultdict(list)
    scale = spec.value_scale()
    for row in qs.values(*_group(dimension, "_from_period", "_to_period"), "_value").iterator():
        for i in _state_range(spec.state, index(row["_from_period"]), index(row["_to_period"]), count):
            groups[(row["_target"], _segment(row, dimension), i)].append(to_decimal(row["_value"], scale))
    cells: Cells = defaultdict(dict)
    for (team, segment, i), values in groups.items():
        cells[(team, window.periods[i])][segment] = spec.finish(_median(values))
    return cells


# --------------------------------------------------------------------------- dispatch


def _query_shape(spec: MeasureSpec, vendor: str) -> Callable[..., Cells]:
    if spec.binding == "event":
        if spec.aggregate == "median":
            return _event_median
        if spec.aggregate == "count_distinct" and spec.min_count > 1:
            return _event_repeat
        return _event_grouped
    if spec.agg.decomposable:
        return _state_histogram
    if spec.aggregate == "median" and vendor != "postgresql":
        return _state_median_streamed
    return _state_conditional


def measures_compute(
    *,
    specs: Iterable[MeasureSpec],
    window: Window,
    target_ids: Iterable[int],
    member_ids: Iterable[int] | None = None,
    dimension: str | None = None,
    cache: dict | None = None,
) -> dict[MeasureSpec, Cells]:
    """Values of several measures for every (team, period) of the window: event measures over the same
    records and date share one query, the others get one each (see measure_compute)."""
    cache = {} if cache is None else cache
    teams = TeamScope.of(target_ids, member_ids)
    groups: dict[tuple, list[MeasureSpec]] = defaultdict(list)
    results: dict[MeasureSpec, Cells] = {}
    for spec in dict.fromkeys(specs):
        key = _combination_key(spec)
        if key is None:
            results[spec] = measure_compute(
                spec=spec,
                window=window,
                target_ids=teams.targets,
                member_ids=teams.members,
                dimension=dimension,
                cache=cache,
            )
        else:
            groups[key].append(spec)
    for group in groups.values():
        if not teams.targets or not window.periods:
            results.update({spec: {} for spec in group})
        else:
            results.update(_event_combined(group, window, teams, dimension, kept=cache.get(FOLD_KEPT)))
    return results


def measure_compute(
    *,
    spec: MeasureSpec,
    window: Window,
    target_ids: Iterable[int],
    member_ids: Iterable[int] | None = None,
    dimension: str | None = None,
    cache: dict | None = None,
) -> Cells:
    """Values of one measure for every (team, period) of the window — one grouped query (see module doc).

    `member_ids` (optional) are the teams whose facts can count — the targets and their
    sub-teams; it only helps the database pick its indexes. Pass the same `cache` to the
    measures of one computation: state measures over the same facts (S, E, N, lost) then
    share their histogram query.
    """
    teams = TeamScope.of(target_ids, member_ids)
    if not teams.targets or not window.periods:
        return {}
    return _query_shape(spec, _vendor(spec))(spec, window, teams, dimension, {} if cache is None else cache)


def measures_compute_dimensions(
    *,
    wanted: Iterable[tuple[MeasureSpec, str | None]],
    window: Window,
    target_ids: Iterable[int],
    member_ids: Iterable[int] | None = None,
    cache: dict | None = None,
) -> dict[tuple[MeasureSpec, str | None], Cells]:
    """Values of (measure, segment dimension) pairs: as measures_compute per dimension, except that on
    PostgreSQL event measures wanted for several dimensions read their records once, grouped by
    GROUPING SETS — one scan instead of one per dimension."""
    cache = {} if cache is None else cache
    pairs = list(dict.fromkeys(wanted))
    teams = TeamScope.of(target_ids, member_ids)
    results: dict[tuple[MeasureSpec, str | None], Cells] = {}
    if pairs and teams.targets and window.periods and _vendor(pairs[0][0]) == "postgresql":
        # Distinct counts of the same value and records (buyers, repeat buyers): one query for all.
        distinct: dict[MeasureSpec, tuple[dict, dict]] = defaultdict(lambda: ({}, {}))
        for spec, dimension in pairs:
            if spec.binding == "event" and spec.aggregate == "count_distinct":
                specs, dimensions = distinct[dataclasses.replace(spec, min_count=1)]
                specs[spec] = None
                dimensions[dimension] = None
        for specs, dimensions in distinct.values():
            if len(specs) > 1 or len(dimensions) > 1:
                computed = _event_distinct_sets(list(specs), window, teams, list(dimensions))
                results.update({pair: cells for pair, cells in computed.items() if pair in set(pairs)})
        groups: dict[tuple, tuple[dict, dict]] = defaultdict(lambda: ({}, {}))
        for spec, dimension in pairs:
            if (spec, dimension) in results:
                continue
            key = _combination_key(spec)
            if key is None and spec.binding == "event" and spec.aggregate == "count_distinct":
                key = ("repeat", spec)
            if key is not None:
                groups[key][0][spec] = None
                groups[key][1][dimension] = None
        for key, (specs, dimensions) in groups.items():
            if len(dimensions) < 2:
                continue
            if key[0] == "repeat":
                computed = _event_repeat_sets(key[1], window, teams, list(dimensions))
            else:
                computed = _event_combined_sets(list(specs), window, teams, list(dimensions))
            results.update({pair: cells for pair, cells in computed.items() if pair in set(pairs)})
    rest = [pair for pair in pairs if pair not in results]
    for dimension in dict.fromkeys(d for _, d in rest):
        computed = measures_compute(
            specs=[spec for spec, d in rest if d == dimension],
            window=window,
            target_ids=teams.targets,
            member_ids=teams.members,
            dimension=dimension,
            cache=cache,
        )
        results.update({(spec, dimension): cells for spec, cells in computed.items()})
    return results


# --------------------------------------------------------------------------- shares of longer periods


def in_period_shares_compute(
    *,
    pairs: Iterable[tuple[MeasureSpec, str | None]],
    window: Window,
    target_ids: Iterable[int],
    member_ids: Iterable[int] | None = None,
    granularities: tuple[str, ...],
) -> dict[tuple[MeasureSpec, str | None], dict[str, Cells]]:
    """Event measures with `in_period` filters over each period of the window, the related date compared
    with the record's period of each longer granularity instead of the window's: each period's share of
    the longer ones (e.g. a day's revenue from customers acquired in that day's month). One query for the
    measures over the same records and every longer granularity (FILTER columns), on PostgreSQL for their
    segment dimensions too (GROUPING SETS)."""
    teams = TeamScope.of(target_ids, member_ids)
    wanted = list(dict.fromkeys(pairs))
    if not wanted or not teams.targets or not window.periods:
        return {}
    groups: dict[tuple, tuple[dict, dict]] = defaultdict(lambda: ({}, {}))
    for spec, dimension in wanted:
        specs, dimensions = groups[_combination_key(spec)]
        specs[spec] = None
        dimensions[dimension] = None
    results: dict[tuple[MeasureSpec, str | None], dict[str, Cells]] = defaultdict(dict)
    for specs, dimensions in groups.values():
        if _vendor(next(iter(specs))) == "postgresql" and len(dimensions) > 1:
            computed = _event_combined_sets(list(specs), window, teams, list(dimensions), granularities)
            for ((spec, granularity), dimension), cells in computed.items():
                results[(spec, dimension)][granularity] = cells
            continue
        for dimension in dimensions:
            for (spec, granularity), cells in _event_combined(
                list(specs), window, teams, dimension, granularities
            ).items():
                results[(spec, dimension)][granularity] = cells
    return {pair: results[pair] for pair in wanted}


def reaching_compute(
    *,
    specs: list[MeasureSpec],
    window: Window,
    target_ids: Iterable[int],
    member_ids: Iterable[int] | None = None,
    dimensions: Iterable[str | None] = (None,),
    granularities: tuple[str, ...],
) -> dict[tuple[MeasureSpec, str | None], dict[str, Cells]]:
    """Shares of distinct counts: for each period f of the window and each longer granularity G, the number
    of values whose `min_count`-th record within f's G-period falls in f — summed over the periods of a
    G-period, exactly that period's distinct count. Measures over the same records and value (differing by
    min_count) share the query: each value's records in date order per (team, segment), LAG() telling the
    G-period of the records before each, and on PostgreSQL the segment dimensions too (a partition per
    dimension, GROUP BY GROUPING SETS).

    Before the window, only the records of values present in it are read, through their own index
    (the window's distinct values, listed in the query while they are few), from the start of the
    longest period: an incremental recompute of a few days reads those values' history, not the year's
    records. A cell exists where the measure has records in the period (with a value or not), as a
    distinct count's does.
    """
    spec = specs[0]
    teams = TeamScope.of(target_ids, member_ids)
    dimensions = list(dict.fromkeys(dimensions))
    results: dict[tuple[MeasureSpec, str | None], dict[str, Cells]] = {
        (measure, d): {granularity: defaultdict(dict) for granularity in granularities}
        for measure in specs
        for d in dimensions
    }
    if not teams.targets or not window.periods:
        return results
    date = spec.date_field
    first_day = min(period_floor(window.start, granularity) for granularity in granularities)
    lo, start, hi = (_bound(spec, date, day) for day in (first_day, window.start, window.end))
    in_window = _base(spec, teams, None).filter(**{f"{date}__gte": start, f"{date}__lt": hi})
    touched = in_window.annotate(_touched=spec.value_expression()).values("_touched")
    listed = list(touched.distinct().order_by().values_list("_touched", flat=True)[: REACHING_LISTED_VALUES + 1])
    if not listed:  # no records in the window (future periods): nothing to rank
        return results
    history = None
    known = [value for value in listed if value is not None]
    if lo < start and known:
        before = _base(spec, teams, None).filter(**{f"{date}__gte": lo, f"{date}__lt": start})
        if len(listed) > REACHING_LISTED_VALUES:  # too many to list: select them again
            among = Q(_known__in=touched)
        elif _vendor(spec) == "postgresql":
            among = AnyOf(F("_known"), known)
        else:
            among = Q(_known__in=known)
        history = before.annotate(_known=spec.value_expression()).filter(among)
    batches = [dimensions] if _vendor(spec) == "postgresql" else [[d] for d in dimensions]
    for batch in batches:
        for (measure, dimension, granularity), cells in _reaching_cells(
            specs, window, in_window, history, batch, granularities
        ).items():
            results[(measure, dimension)][granularity] = cells
    return results


def _follows_value(spec: MeasureSpec, dimension: str) -> bool:
    """Whether the segment dimension is a field of the record the distinct value points to (customer__segment
    when counting distinct customers): then each value has one segment."""
    path = spec.record_source.dimensions[dimension]
    plain = spec.field and not spec.multiply_by and not spec.is_duration
    return bool(plain) and path.startswith(f"{spec.field}__")


def _reaching_cells(
    specs: list[MeasureSpec],
    window: Window,
    in_window,
    history,
    dimensions: list[str | None],
    granularities: tuple[str, ...],
) -> dict[tuple[MeasureSpec, str | None, str], Cells]:
    """The ranking query of reaching_compute over the window's records and the history of their values
    (UNION ALL, so that each part uses its index), for one dimension or, by GROUPING SETS, several."""
    spec = specs[0]
    named = [f"_d{k}" for k in range(len(dimensions))]
    columns = ["_target", *named, "_fine", "_value", "_in_window", "_ts", "_id"]
    columns += [f"_p{i}" for i in range(len(granularities))]
    # A segment of the counted value's own record (a customer's segment, counting customers) splits no value's
    # records: its ranks are the value's, and the records before the window need not carry it.
    follows = [d is None or _follows_value(spec, d) for d in dimensions]
    nothing = Value(None, output_field=models.TextField())

    def rows(qs, in_window_flag: int):
        qs = qs.annotate(
            _value=spec.value_expression(),
            _fine=_trunc(spec, spec.date_field, window.granularity),
            _in_window=Value(in_window_flag),
            _ts=F(spec.date_field),
            _id=F("pk"),
            **{
                f"_d{k}": nothing if d is None or (follows[k] and not in_window_flag) else _dimension_column(spec, d)
                for k, d in enumerate(dimensions)
            },
            **{f"_p{i}": _trunc(spec, spec.date_field, granularity) for i, granularity in enumerate(granularities)},
        )
        return qs.values(*columns).order_by()

    inner = rows(in_window, 1)
    if history is not None:
        inner = inner.union(rows(history, 0), all=True)
    sql, params = inner.query.get_compiler(using=in_window.db).as_sql()
    connection = connections[in_window.db]
    quote = connection.ops.quote_name
    # A value's records in date order, one sort per dimension: its record is the n-th of its G-period when
    # the (n-1)-th record before it is in the same G-period and the n-th before it is not.
    lags = sorted({m for measure in specs for m in (measure.min_count - 1, measure.min_count) if m > 0})
    partitions = [("_target", "_value") if follows[k] else ("_target", named[k], "_value") for k in range(len(named))]
    distinct_partitions = list(dict.fromkeys(partitions))
    ranks, counts = [], []
    for p, partition in enumerate(distinct_partitions):
        over = f"OVER (PARTITION BY {', '.join(map(quote, partition))} ORDER BY {quote('_ts')}, {quote('_id')})"
        ranks += [
            f"LAG({quote(f'_p{i}')}, {m}) {over} AS {quote(f'_l{p}_{i}_{m}')}"
            for i in range(len(granularities))
            for m in lags
        ]
    for k in range(len(dimensions)):
        p = distinct_partitions.index(partitions[k])
        for i in range(len(granularities)):
            period = quote(f"_p{i}")
            for j, measure in enumerate(specs):
                n = int(measure.min_count)
                before, earlier = quote(f"_l{p}_{i}_{n - 1}"), quote(f"_l{p}_{i}_{n}")
                reached = f"{before} = {period} AND " if n > 1 else ""
                counts.append(
                    f"SUM(CASE WHEN {quote('_value')} IS NOT NULL AND {reached}({earlier} IS NULL OR {earlier} <> "
                    f"{period}) THEN 1 ELSE 0 END) AS {quote(f's{j}_{k}_{i}')}"
                )
    keys = ["_target", *named, "_fine"]
    if len(dimensions) > 1:  # PostgreSQL
        sets = [["_target", *([named[k]] if d else []), "_fine"] for k, d in enumerate(dimensions)]
        group = "GROUPING SETS (" + ", ".join("(" + ", ".join(map(quote, s)) + ")" for s in sets) + ")"
    else:
        group = ", ".join(quote(name) for name in ["_target", *([named[0]] if dimensions[0] else []), "_fine"])
    selected = [f"NULL AS {quote(name)}" if name in named and not dimensions[named.index(name)] else quote(name)
                for name in keys]  # fmt: skip
    outer = (
        f"SELECT {', '.join(selected)}, {', '.join(counts)} "  # nosec B608 - quoted names of our query, params bound
        f"FROM (SELECT i.*, {', '.join(ranks)} FROM ({sql}) i) r WHERE {quote('_in_window')} = 1 GROUP BY {group}"
    )
    cells: dict[tuple[MeasureSpec, str | None, str], Cells] = {
        (measure, d, granularity): defaultdict(dict)
        for measure in specs
        for d in dimensions
        for granularity in granularities
    }
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        at = _positions(cursor)
        target, fine = at["_target"], at["_fine"]
        # Per dimension: where each (measure, granularity)'s share is in the row, and its cells.
        reads = {
            dimension: [
                (at[f"s{j}_{k}_{i}"], cells[(measure, dimension, granularity)])
                for j, measure in enumerate(specs)
                for i, granularity in enumerate(granularities)
            ]
            for k, dimension in enumerate(dimensions)
        }
        for dimension, segment, row in _set_rows(cursor, dimensions, at):
            key = (row[target], as_date(row[fine]))
            for position, by_cell in reads[dimension]:
                by_cell[key][segment] = Decimal(row[position] or 0)
    return cells
