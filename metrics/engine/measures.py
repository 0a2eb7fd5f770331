"""Measures: one aggregate over one record source, with filters and a period binding.

`MeasureSpec` is the engine's view of a `KpiMeasure` row: a frozen, hashable value, so
identical measures of different KPIs (the catalogue's many `revenue` measures) are
computed once. `measure_spec_errors` validates a spec against the source's model and
gives one message per field; the admin, the catalogue loader and the engine use it.

Filters are a small JSON spec, validated against the model::

    [{"field": "status", "op": "exact", "value": "completed"},
     {"field": "score", "op": "gte", "value": 9},
     {"any": [{"field": "cancelled_at", "op": "isnull", "value": true},
              {"field": "cancelled_at", "op": "gte", "value": {"field": "renewal_due_at"}}]},
     {"field": "customer__acquired_at", "op": "in_period"}]

`in_period` keeps records whose (possibly related) date falls in the same period as the
measure's own date — e.g. orders of customers acquired in the period.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import models
from django.db.models import F, Func, Q
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from metrics.engine import sources as src
from metrics.engine.aggregates import AGGREGATES
from metrics.engine.periods import business_tz

# --------------------------------------------------------------------------- bindings and units


class Binding(models.TextChoices):
    EVENT = "event", _("event: the record's date falls in the period")
    STATE = "state", _("state: the record's active interval [from, to) at the period")


class StateMode(models.TextChoices):
    START = "start", _("active at start (S)")
    END = "end", _("active at end (E)")
    NEW = "new", _("new in period (N, counted in E)")
    LOST = "lost", _("lost in period (in S, ended in the period)")


class DurationUnit(models.TextChoices):
    SECONDS = "s", _("seconds")
    HOURS = "h", _("hours")
    DAYS = "d", _("days")


MICROSECONDS_PER_UNIT = {"s": 1_000_000, "h": 3_600_000_000, "d": 86_400_000_000}


class DurationMicroseconds(Func):
    """`end − start` in whole microseconds, an exact integer on PostgreSQL and SQLite."""

    arity = 2
    output_field = models.BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(EXTRACT(EPOCH FROM (%(expressions)s)) * 1000000 AS BIGINT)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite keeps date-times as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds by strftime('%s'),
        # microseconds from the fraction — Django's django_timestamp_diff, without a Python call per row.
        (end, end_params), (start, start_params) = (compiler.compile(e) for e in self.get_source_expressions())
        if end_params or start_params:
            return super().as_sql(
                compiler,
                connection,
                template="django_timestamp_diff(%(expressions)s)",
                arg_joiner=", ",
                **extra_context,
            )

        def seconds(sql: str) -> str:
            return f"CAST(strftime('%%s', substr({sql}, 1, 19)) AS INTEGER)"

        def micros(sql: str) -> str:
            return f"CAST(substr(substr({sql}, 21) || '000000', 1, 6) AS INTEGER)"

        return f"(({seconds(end)} - {seconds(start)}) * 1000000 + {micros(end)} - {micros(start)})", []


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class FilterOp:
    """A filter operator: its ORM lookup and what value it takes."""

    lookup: str
    value: str  # "scalar" | "list" | "bool" | "none"
    field_ref: bool = False  # may compare with another field: {"field": "other"}


FILTER_OPS: dict[str, FilterOp] = {
    "exact": FilterOp("exact", "scalar", field_ref=True),
    "in": FilterOp("in", "list"),
    "gte": FilterOp("gte", "scalar", field_ref=True),
    "lte": FilterOp("lte", "scalar", field_ref=True),
    "gt": FilterOp("gt", "scalar", field_ref=True),
    "lt": FilterOp("lt", "scalar", field_ref=True),
    "isnull": FilterOp("isnull", "bool"),
    "in_period": FilterOp("", "none"),
}


class SpecError(ValueError):
    """A measure spec is invalid; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def _scalar(f: models.Field, value: object, where: str) -> object:
    """Check and convert a filter value for field `f`; raise ValueError with a message."""
    if isinstance(f, models.BooleanField):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {f.name} takes true or false, not {value!r}.")
        return value
    if isinstance(f, models.IntegerField) and not f.is_relation:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: {f.name} takes a whole number, not {value!r}.")
        return value
    if isinstance(f, models.DecimalField | models.FloatField):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{where}: {f.name} takes a number, not {value!r}.")
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"{where}: {f.name} takes a number, not {value!r}.") from exc
    if isinstance(f, models.DateTimeField):
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValueError(f"{where}: {f.name} takes a date-time like 2026-01-31T12:00:00+01:00, not {value!r}.")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=business_tz())
    if isinstance(f, models.DateField):
        parsed_date = parse_date(value) if isinstance(value, str) else None
        if parsed_date is None:
            raise ValueError(f"{where}: {f.name} takes a date like 2026-01-31, not {value!r}.")
        return parsed_date
    if isinstance(f, models.CharField | models.TextField):
        if not isinstance(value, str):
            raise ValueError(f"{where}: {f.name} takes text, not {value!r}.")
        if f.choices and value not in {str(c[0]) for c in f.choices}:
            allowed = ", ".join(str(c[0]) for c in f.choices)
            raise ValueError(f"{where}: {value!r} is not a value of {f.name} (values: {allowed}).")
        return value
    raise ValueError(f"{where}: {f.name} cannot be compared with a value; use isnull.")


def _filter_q(model, item: object, where: str, *, top: bool, in_period: list[str]) -> Q:
    """Validate one filter item and build its Q; collect `in_period` paths (top level only)."""
    if not isinstance(item, dict):
        raise ValueError(f"{where}: each filter is an object like {{'field': …, 'op': …, 'value': …}}.")
    if "any" in item:
        if set(item) != {"any"} or not isinstance(item["any"], list) or not item["any"]:
            raise ValueError(f"{where}: 'any' takes a non-empty list of filters and nothing else.")
        q = Q()
        for index, sub in enumerate(item["any"]):
            q |= _filter_q(model, sub, f"{where}.any[{index}]", top=False, in_period=in_period)
        return q
    unknown_keys = set(item) - {"field", "op", "value"}
    if unknown_keys:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown_keys))}.")
    op_name = item.get("op")
    op = FILTER_OPS.get(op_name) if isinstance(op_name, str) else None
    if op is None:
        raise ValueError(f"{where}: op must be one of {', '.join(FILTER_OPS)}, not {op_name!r}.")
    try:
        f, _ = src.resolve_path(model, item.get("field", ""))
    except src.FieldPathError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    path = item["field"]
    value = item.get("value")
    if op.value == "none":
        if "value" in item:
            raise ValueError(f"{where}: {op_name} takes no value.")
        if not top:
            raise ValueError(f"{where}: in_period cannot be inside 'any'.")
        if not src.is_temporal(f):
            raise ValueError(f"{where}: in_period needs a date field; {path} is not one.")
        in_period.append(path)
        return Q()
    if "value" not in item:
        raise ValueError(f"{where}: a value is required for {op_name}.")
    if op.value == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: isnull takes true or false.")
        if value and not f.null:
            raise ValueError(f"{where}: {path} is never empty.")
        return Q(**{f"{path}__isnull": value})
    if op.value == "list":
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: 'in' takes a non-empty list of values.")
        return Q(**{f"{path}__in": [_scalar(f, v, where) for v in value]})
    if isinstance(value, dict):
        if not op.field_ref or set(value) != {"field"}:
            raise ValueError(f"{where}: a field reference is written {{'field': name}}.")
        try:
            other, _ = src.resolve_path(model, value["field"])
        except src.FieldPathError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        if type(other) is not type(f) and not (src.is_numeric(other) and src.is_numeric(f)):
            raise ValueError(f"{where}: {path} and {value['field']} are not comparable.")
        return Q(**{f"{path}__{op.lookup}": F(value["field"])})
    if f.is_relation:
        raise ValueError(f"{where}: compare a field of the related record (e.g. {path}__external_id), not {path}.")
    return Q(**{f"{path}__{op.lookup}": _scalar(f, value, where)})


def filters_build(model: type[models.Model], filters: object) -> tuple[Q, list[str]]:
    """The Q of a filter spec and the paths of its `in_period` filters; ValueError when invalid."""
    if filters in (None, ""):
        return Q(), []
    if not isinstance(filters, list):
        raise ValueError("Filters are a list of filter objects.")
    q = Q()
    in_period: list[str] = []
    for index, item in enumerate(filters):
        q &= _filter_q(model, item, f"filter {index + 1}", top=True, in_period=in_period)
    return q, in_period


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class MeasureSpec:
    """What a measure computes; equal specs are computed once."""

    source: str
    aggregate: str
    field: str = ""
    duration_from: str = ""
    duration_unit: str = ""
    multiply_by: str = ""
    min_count: int = 1
    filters_json: str = "[]"
    binding: str = Binding.EVENT
    date_field: str = ""
    active_from: str = ""
    active_to: str = ""
    state: str = ""

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        # Specs key every cell dictionary of a computation: hash the thirteen fields once, not at each lookup.
        return hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)))

    @classmethod
    def of(cls, measure) -> MeasureSpec:
        """The spec of a KpiMeasure (or any object with the same attributes)."""
        return cls(
            source=measure.source,
            aggregate=measure.aggregate,
            field=measure.field or "",
            duration_from=measure.duration_from or "",
            duration_unit=measure.duration_unit or "",
            multiply_by=measure.multiply_by or "",
            min_count=measure.min_count or 1,
            filters_json=json.dumps(measure.filters or [], sort_keys=True),
            binding=measure.binding,
            date_field=measure.date_field or "",
            active_from=measure.active_from or "",
            active_to=measure.active_to or "",
            state=measure.state or "",
        )

    @property
    def filters(self) -> list:
        return json.loads(self.filters_json)

    @property
    def record_source(self) -> src.RecordSource:
        return src.SOURCES[self.source]

    @property
    def model(self) -> type[models.Model]:
        return self.record_source.model

    @property
    def agg(self):
        return AGGREGATES[self.aggregate]

    @property
    def is_duration(self) -> bool:
        return bool(self.duration_from)

    def value_expression(self) -> models.Expression | None:
        """The per-record value the aggregate reads (None for a plain count)."""
        if not self.agg.needs_value:
            return None
        if self.is_duration:
            return DurationMicroseconds(F(self.field), F(self.duration_from))
        if self.multiply_by:
            return models.ExpressionWrapper(F(self.field) * F(self.multiply_by), output_field=models.DecimalField())
        return F(self.field)

    def value_scale(self) -> int:
        """Decimal places of the per-record value (sums and extremes are exact at this scale)."""
        return _value_scale(self)

    def _scale(self) -> int:
        if not self.agg.needs_value or self.is_duration or not self.field:
            return 0
        f, _ = src.resolve_path(self.model, self.field)
        scale = src.numeric_scale(f)
        if self.multiply_by:
            scale += src.numeric_scale(src.resolve_path(self.model, self.multiply_by)[0])
        return scale

    def finish(self, raw: Decimal | None) -> Decimal | None:
        """Convert a finished aggregate into the measure's unit (durations into s/h/d)."""
        if raw is None or not self.is_duration or self.aggregate == "count_distinct":
            return raw
        return raw / Decimal(MICROSECONDS_PER_UNIT[self.duration_unit])

    def paths(self) -> list[str]:
        """The field paths the measure reads: its value, dates and filters (and the filters' compared fields)."""
        paths = [self.field, self.duration_from, self.multiply_by, self.date_field, self.active_from, self.active_to]
        return [path for path in (*paths, *_filter_paths(self.filters)) if path]

    def record_kinds(self) -> frozenset[str]:
        """Record kinds whose changes can change this measure (its source and related records)."""
        kinds = set(self.record_source.record_kinds)
        for path in self.paths():
            try:
                _, crossed = src.resolve_path(self.model, path)
            except src.FieldPathError:
                continue
            kinds.update(src.KIND_OF_MODEL[m] for m in crossed if m in src.KIND_OF_MODEL)
        return frozenset(kinds)


def _filter_paths(filters: object) -> list[str]:
    paths: list[str] = []
    for item in filters if isinstance(filters, list) else []:
        if isinstance(item, dict) and isinstance(item.get("any"), list):
            paths += _filter_paths(item["any"])
        elif isinstance(item, dict) and isinstance(item.get("field"), str):
            paths.append(item["field"])
            if isinstance(item.get("value"), dict) and isinstance(item["value"].get("field"), str):
                paths.append(item["value"]["field"])
    return paths


# --------------------------------------------------------------------------- validation


def _check_path(
    model, path: str, errors: dict[str, list[str]], key: str, test: Callable[[models.Field], bool], what: str
):
    try:
        f, _ = src.resolve_path(model, path)
    except src.FieldPathError as exc:
        errors.setdefault(key, []).append(str(exc))
        return None
    if not test(f):
        errors.setdefault(key, []).append(f"{path} is not {what}.")
        return None
    return f


def measure_spec_errors(spec: MeasureSpec) -> dict[str, list[str]]:
    """Every problem of a measure spec, keyed by the KpiMeasure field it concerns (empty when valid)."""
    errors: dict[str, list[str]] = {}
    source = src.SOURCES.get(spec.source)
    if source is None:
        return {"source": [f"Unknown source {spec.source!r}; sources: {', '.join(src.SOURCES)}."]}
    agg = AGGREGATES.get(spec.aggregate)
    if agg is None:
        return {"aggregate": [f"Unknown aggregate {spec.aggregate!r}; aggregates: {', '.join(AGGREGATES)}."]}
    model = source.model

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    # the value
    if not agg.needs_value:
        for key in ("field", "duration_from", "multiply_by"):
            if getattr(spec, key):
                add(key, f"A {spec.aggregate} counts records: leave {key} empty.")
    elif not spec.field:
        add("field", f"{spec.aggregate} needs a field.")
    elif spec.duration_from:
        _check_path(model, spec.field, errors, "field", src.is_datetime, "a date-time field (end of the duration)")
        _check_path(model, spec.duration_from, errors, "duration_from", src.is_datetime, "a date-time field")
        if spec.duration_unit not in MICROSECONDS_PER_UNIT:
            add("duration_unit", "A duration needs a unit: s, h or d.")
        if spec.multiply_by:
            add("multiply_by", "A duration cannot be multiplied by a field.")
    elif agg.numeric or spec.multiply_by:
        _check_path(model, spec.field, errors, "field", src.is_numeric, "a numeric field")
        if spec.multiply_by:
            _check_path(model, spec.multiply_by, errors, "multiply_by", src.is_numeric, "a numeric field")
    else:
        _check_path(model, spec.field, errors, "field", lambda f: True, "a field")
    if spec.duration_unit and not spec.duration_from:
        add("duration_unit", "A unit is only used for a duration (set duration_from).")
    if spec.min_count != 1:
        if spec.aggregate != "count_distinct":
            add("min_count", "Only count_distinct counts values occurring at least N times.")
        elif spec.binding != Binding.EVENT:
            add("min_count", "Counting values occurring at least N times needs an event-bound measure.")
        elif spec.min_count < 1:
            add("min_count", "At least 1.")

    # the binding
    in_period: list[str] = []
    try:
        _, in_period = filters_build(model, json.loads(spec.filters_json))
    except ValueError as exc:
        add("filters", str(exc))
    if spec.binding == Binding.EVENT:
        if not spec.date_field:
            add("date_field", "An event-bound measure needs the date field that places a record in a period.")
        else:
            _check_path(model, spec.date_field, errors, "date_field", src.is_temporal, "a date or date-time field")
        for key in ("active_from", "active_to", "state"):
            if getattr(spec, key):
                add(key, "Only state-bound measures have an active interval.")
    elif spec.binding == Binding.STATE:
        if not spec.active_from:
            add("active_from", "A state-bound measure needs the field where the active interval starts.")
        else:
            _check_path(model, spec.active_from, errors, "active_from", src.is_temporal, "a date or date-time field")
        if spec.active_to:
            f_to = _check_path(model, spec.active_to, errors, "active_to", src.is_temporal, "a date or date-time field")
            if f_to is not None and not f_to.null:
                add("active_to", f"{spec.active_to} is never empty: the end of an interval must be nullable.")
        if spec.state not in StateMode.values:
            add("state", f"Choose the state: {', '.join(StateMode.values)}.")
        if spec.date_field:
            add("date_field", "A state-bound measure uses active_from/active_to, not a date field.")
        if in_period:
            add("filters", "in_period needs an event-bound measure.")
    else:
        add("binding", f"Binding must be one of {', '.join(Binding.values)}.")
    return errors


def measure_spec_validate(spec: MeasureSpec) -> MeasureSpec:
    """Return the spec, or raise SpecError with a message per field."""
    errors = measure_spec_errors(spec)
    if errors:
        raise SpecError(errors)
    return spec


def to_decimal(raw: object, scale: int | None = None) -> Decimal | None:
    """A database number as an exact Decimal, rounded to `scale` places (SQLite sums are floats underneath)."""
    if raw is None:
        return None
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    else:
        value = Decimal(raw)
    if scale is not None:
        value = value.quantize(Decimal(1).scaleb(-scale))
    return value


def as_date(raw: object) -> dt.date:
    """A period start from a query row (a date, a datetime or an ISO string on SQLite raw queries)."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    return dt.date.fromisoformat(str(raw)[:10])


@functools.lru_cache(maxsize=1024)
def _value_scale(spec: MeasureSpec) -> int:
    """MeasureSpec.value_scale, asked for every cell a rollup reads: the field's scale, resolved once per spec."""
    return spec._scale()
