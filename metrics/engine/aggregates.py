"""Aggregates a measure can apply, as a registry: how each is computed per group and finished.

Each aggregate is computed in SQL as a few *partials* per group (count, sum, …). Partials
of disjoint groups combine (`combine`) — that is how state measures add up the cells of
their (start period, end period) histogram — except for `count_distinct` and `median`,
which are not decomposable and get their own query shapes (see metrics.engine.queries).
`finish` turns the partials of a group into the measure's value; an empty group gives
0 for counts and sums and "no value" for averages, medians, minimums and maximums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.db.models import Count, Max, Min, Sum
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

Partials = dict[str, object]


def combine_sum(a, b):
    """Add two partials (None is nothing); partials combined this way can be prefix-summed."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


@dataclass(frozen=True)
class Aggregate:
    """One aggregate: its SQL partials, how partials combine, and the value they give."""

    name: str
    label: str | Promise  # in the active language (the admin's choices)
    needs_value: bool  # reads a value (field, duration or product) rather than only counting rows
    numeric: bool  # the value must be numeric (sum, avg, …) — count_distinct takes any field
    decomposable: bool
    # partials(value, when): the SQL aggregates of one group, over the records matching `when` (a Q) if given
    partials: Callable[..., dict[str, models.Aggregate]] | None
    combine: dict[str, Callable[[object, object], object]]
    finish: Callable[[Partials], Decimal | None]
    empty_is_zero: bool


def _finish_count(p: Partials) -> Decimal:
    return Decimal(p.get("n") or 0)


def _finish_sum(p: Partials) -> Decimal:
    return Decimal(p["s"]) if p.get("s") is not None else Decimal(0)


def _finish_avg(p: Partials) -> Decimal | None:
    n = p.get("n") or 0
    return Decimal(p["s"]) / Decimal(n) if n else None


def _finish_single(p: Partials) -> Decimal | None:
    return Decimal(p["m"]) if p.get("m") is not None else None


AGGREGATES: dict[str, Aggregate] = {
    agg.name: agg
    for agg in (
        Aggregate(
            "count",
            pgettext_lazy("measure aggregate", "count of records"),
            needs_value=False,
            numeric=False,
            decomposable=True,
            partials=lambda value, when=None: {"n": Count("pk", filter=when)},
            combine={"n": combine_sum},
            finish=_finish_count,
            empty_is_zero=True,
        ),
        Aggregate(
            "count_distinct",
            pgettext_lazy("measure aggregate", "count of distinct values"),
            needs_value=True,
            numeric=False,
            decomposable=False,
            partials=lambda value, when=None: {"n": Count(value, distinct=True, filter=when)},
            combine={},
            finish=_finish_count,
            empty_is_zero=True,
        ),
        Aggregate(
            "sum",
            pgettext_lazy("measure aggregate", "sum"),
            needs_value=True,
            numeric=True,
            decomposable=True,
            partials=lambda value, when=None: {"s": Sum(value, filter=when)},
            combine={"s": combine_sum},
            finish=_finish_sum,
            empty_is_zero=True,
        ),
        Aggregate(
            "avg",
            pgettext_lazy("measure aggregate", "mean"),
            needs_value=True,
            numeric=True,
            decomposable=True,
            # The mean is Σ/n in exact Decimal arithmetic on every database (SQLite's AVG is a float).
            partials=lambda value, when=None: {"s": Sum(value, filter=when), "n": Count(value, filter=when)},
            combine={"s": combine_sum, "n": combine_sum},
            finish=_finish_avg,
            empty_is_zero=False,
        ),
        Aggregate(
            "median",
            pgettext_lazy("measure aggregate", "median"),
            needs_value=True,
            numeric=True,
            decomposable=False,
            partials=None,
            combine={},
            finish=_finish_single,
            empty_is_zero=False,
        ),
        Aggregate(
            "min",
            pgettext_lazy("measure aggregate", "minimum"),
            needs_value=True,
            numeric=True,
            decomposable=True,
            partials=lambda value, when=None: {"m": Min(value, filter=when)},
            combine={"m": _min},
            finish=_finish_single,
            empty_is_zero=False,
        ),
        Aggregate(
            "max",
            pgettext_lazy("measure aggregate", "maximum"),
            needs_value=True,
            numeric=True,
            decomposable=True,
            partials=lambda value, when=None: {"m": Max(value, filter=when)},
            combine={"m": _max},
            finish=_finish_single,
            empty_is_zero=False,
        ),
    )
}


def aggregate_choices() -> list[tuple[str, str | Promise]]:
    """Choices for a measure's aggregate, labelled in the active language."""
    return [(name, agg.label) for name, agg in AGGREGATES.items()]
