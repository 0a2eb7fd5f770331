"""Proposed targets: minimum / target / stretch for a KPI over a span, read from the team's own history.

No HTTP here: the API and the objective page call `target_proposal`. Spans are [start, end), end excluded.

Method (hand-checked in tests/objectives/test_proposals.py)
----------------------------------------------------------
1. Past spans: the span shifted back by k = 1 … HISTORY_MONTHS whole months, kept when complete before the
   objective starts and by `today`. The KPI over each comes from one values_over read (stored calendar
   periods, sums of stored days, the engine for the rest — all spans at once). A sum is zero before the
   team's first records: the oldest spans still at zero are no history and are left out.
2. Seasonality and trend: each past span is compared with the same span one year earlier, its change over a
   year — a ratio for sums (additive KPIs), a difference in the KPI's unit for rates and averages. Applied to
   the same span last year (the same months: seasonality), each change gives one possible outcome
   (last year × ratio, or last year + difference); the changes carry the trend and its spread.
   With fewer than MIN_OUTCOMES such changes (less than about two years of history), the past spans' own
   values are the outcomes, unadjusted, and the words say so; fewer than MIN_OUTCOMES of those: no proposal.
3. The proposals are outcomes: the minimum is the best value reached by at least 80 % of the outcomes, the
   target by at least 50 %, the stretch by at least 20 % ("reached" = at or above, at or below when lower is
   better). With n outcomes sorted from worst to best: the (⌊0.2·n⌋+1)-th, (⌊0.5·n⌋+1)-th, (⌊0.8·n⌋+1)-th.
   The stretch is capped by the best the team ever did over a past span (but never below the target); each
   value stays within the KPI's bounds and is rounded towards the easier side (whole numbers for counts,
   cents otherwise), so its probability holds.
4. Probability of reaching a value: the share of the outcomes that reach it.
5. The implied monthly path: for sums, each value spread over the months like the same months last year
   (evenly without them); for rates and averages, a straight line from the preceding span's value.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils.translation import gettext as _

from accounts.models import Team
from metrics.kpis.bounds import kpi_value_bounds
from metrics.kpis.ranges import monthly_values, values_over
from metrics.models import KpiDefinition, KpiUnit
from objectives import progress
from objectives.templatetags.kpi_format import kpi_value, signed_percent, signed_value

HISTORY_MONTHS = 36
MIN_OUTCOMES = 4
# The longest span proposed (two years): longer ones leave too few past spans in the history read.
MAX_SPAN_DAYS = 731
# Share of the outcomes each proposal is reached by, at least.
LEVELS = (("minimum", Decimal("0.8")), ("target", Decimal("0.5")), ("stretch", Decimal("0.2")))

SEASONAL = "seasonal"  # last year adjusted by the changes over a year
PAST_SPANS = "past_spans"  # the past spans as they were (too little history for year-over-year changes)
NONE = "none"  # not enough history


@dataclass(frozen=True)
class ProposedValue:
    """One proposal (minimum, target or stretch) and how many of the outcomes reach it."""

    level: str
    value: Decimal
    reached: int
    outcomes: int

    @property
    def probability_percent(self) -> Decimal:
        return (Decimal(100) * self.reached / self.outcomes).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class PathMonth:
    """What each proposal asks of one month (`month` is its first day), with last year's same month."""

    month: date
    last_year: Decimal | None
    minimum: Decimal
    target: Decimal
    stretch: Decimal


@dataclass(frozen=True)
class TargetProposal:
    """Minimum / target / stretch proposed for a KPI over [start, end), with their probabilities and path."""

    kpi: KpiDefinition
    team: Team
    segment: str
    start: date
    end: date  # excluded
    method: str
    values: tuple[ProposedValue, ...]
    outcomes: tuple[Decimal, ...]  # sorted from worst to best
    changes: tuple[Decimal, ...]  # year-over-year ratios (sums) or differences (levels), as read
    last_year: Decimal | None
    previous: Decimal | None  # the preceding span of the same length (the default baseline)
    best: Decimal | None
    path: tuple[PathMonth, ...]
    words: str

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def value_of(self, level: str) -> ProposedValue | None:
        return next((v for v in self.values if v.level == level), None)


def shift_months(day: date, months: int) -> date:
    """`day` moved by `months` (negative: back), its day of month clipped to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _lower_is_better(kpi: KpiDefinition) -> bool:
    # A neutral KPI is proposed as "higher is better": the page lets the manager choose otherwise.
    return kpi.direction == progress.LOWER


def _reaches(value: Decimal, aim: Decimal, lower: bool) -> bool:
    return value <= aim if lower else value >= aim


def _round_easy(value: Decimal, unit: str, lower: bool) -> Decimal:
    """Rounded towards the easier side, so the share of outcomes reaching it never drops."""
    step = Decimal(1) if unit == KpiUnit.COUNT else Decimal("0.01")
    return value.quantize(step, rounding=ROUND_CEILING if lower else ROUND_FLOOR)


def _clamp(value: Decimal, kpi: KpiDefinition) -> Decimal:
    low, high = kpi_value_bounds(kpi)
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


def _pick(outcomes: list[Decimal], share: Decimal) -> Decimal:
    """The best outcome reached by at least `share` of them (`outcomes` sorted worst to best)."""
    n = len(outcomes)
    index = int((1 - share) * n)  # ⌊(1 − share)·n⌋: 0-based index of the (⌊(1−share)·n⌋+1)-th
    return outcomes[min(index, n - 1)]


def target_proposal(
    *, kpi: KpiDefinition, team: Team, segment: str = "", start: date, end: date, today: date
) -> TargetProposal:
    """Minimum / target / stretch for `kpi` over [start, end) from `team`'s history, with the probability of
    reaching each, the implied monthly path and a sentence in words (see the module docstring)."""
    lower = _lower_is_better(kpi)
    cutoff = min(start, today)
    shifts = [k for k in range(1, HISTORY_MONTHS + 1) if shift_months(end, -k) <= cutoff]
    windows = {k: (shift_months(start, -k), shift_months(end, -k)) for k in shifts}
    previous_span = progress.previous_window(start, end)
    # One read for every past span and the preceding one.
    read = values_over(kpi=kpi, team=team, segment=segment, windows=[*windows.values(), previous_span])
    past = {k: v for k, v in zip(shifts, read[:-1], strict=True) if v is not None}
    if kpi.additive:
        # A sum of nothing before the team's first records is no history: drop the oldest spans still at zero.
        for k in sorted(past, reverse=True):
            if past[k] != 0:
                break
            del past[k]
    previous = read[-1]
    last_year = past.get(12)
    changes: list[Decimal] = []
    if last_year is not None:
        for k, value in past.items():
            before = past.get(k + 12)
            if before is None:
                continue
            if kpi.additive:
                if before > 0:
                    changes.append(value / before)
            else:
                changes.append(value - before)
    if last_year is not None and len(changes) >= MIN_OUTCOMES and (not kpi.additive or last_year > 0):
        method = SEASONAL
        raw = [last_year * c if kpi.additive else last_year + c for c in changes]
    elif len(past) >= MIN_OUTCOMES:
        method = PAST_SPANS
        raw = list(past.values())
    else:
        return TargetProposal(
            kpi=kpi,
            team=team,
            segment=segment,
            start=start,
            end=end,
            method=NONE,
            values=(),
            outcomes=(),
            changes=tuple(changes),
            last_year=last_year,
            previous=previous,
            best=None,
            path=(),
            words=_(
                "Not enough history: %(count)d past spans of this length have a value, at least %(needed)d are "
                "needed. No value is proposed."
            )
            % {"count": len(past), "needed": MIN_OUTCOMES},
        )
    outcomes = sorted((_clamp(o, kpi) for o in raw), reverse=lower)
    best = (min if lower else max)(past.values())
    picked: dict[str, Decimal] = {}
    for level, share in LEVELS:
        picked[level] = _round_easy(_clamp(_pick(outcomes, share), kpi), kpi.unit, lower)
    # Never beyond the best the team ever did over such a span, unless the target already is (then the target).
    cap = picked["target"] if _reaches(picked["target"], best, lower) else best
    capped = ""  # what capped the stretch: "best", "target" (already beyond the best), or nothing
    if _reaches(picked["stretch"], cap, lower) and picked["stretch"] != cap:
        capped = "best" if cap == best else "target"
        picked["stretch"] = _round_easy(cap, kpi.unit, lower)
    values = tuple(
        ProposedValue(
            level=level,
            value=picked[level],
            reached=sum(1 for o in outcomes if _reaches(o, picked[level], lower)),
            outcomes=len(outcomes),
        )
        for level, _share in LEVELS
    )
    path = _path(kpi=kpi, team=team, segment=segment, start=start, end=end, picked=picked, previous=previous)
    return TargetProposal(
        kpi=kpi,
        team=team,
        segment=segment,
        start=start,
        end=end,
        method=method,
        values=values,
        outcomes=tuple(outcomes),
        changes=tuple(changes),
        last_year=last_year,
        previous=previous,
        best=best,
        path=path,
        words=_words(
            kpi=kpi, method=method, values=values, changes=changes, last_year=last_year, best=best, capped=capped
        ),
    )


def _path(
    *,
    kpi: KpiDefinition,
    team: Team,
    segment: str,
    start: date,
    end: date,
    picked: dict[str, Decimal],
    previous: Decimal | None,
) -> tuple[PathMonth, ...]:
    """Each proposal month by month, phased the way objectives.progress phases a target."""
    months = progress.months_between(start, end)
    last_year_values = monthly_values(
        kpi=kpi, team=team, segment=segment, start=shift_months(months[0], -12), end=shift_months(months[-1], -11)
    )
    last_year = {m: last_year_values.get(shift_months(m, -12)) for m in months}
    by_level: dict[str, list[progress.Phase]] = {}
    for level, value in picked.items():
        plan = progress.TargetPlan(start=start, end=end, target=value, baseline=previous, additive=bool(kpi.additive))
        phases = None
        if plan.cumulative and all(v is not None for v in last_year.values()):
            phases = progress.phases_seasonal(
                plan=plan, last_year={m.month: v for m, v in last_year.items() if v is not None}
            )
        by_level[level] = phases or progress.phases_even(plan=plan)
    return tuple(
        PathMonth(
            month=m,
            last_year=last_year[m],
            minimum=by_level["minimum"][i].value,
            target=by_level["target"][i].value,
            stretch=by_level["stretch"][i].value,
        )
        for i, m in enumerate(months)
    )


def _change_words(kpi: KpiDefinition, change: Decimal) -> str:
    if kpi.additive:
        return signed_percent((change - 1) * 100)
    return signed_value(change, kpi.unit)


def _words(
    *,
    kpi: KpiDefinition,
    method: str,
    values: tuple[ProposedValue, ...],
    changes: list[Decimal],
    last_year: Decimal | None,
    best: Decimal | None,
    capped: str,
) -> str:
    unit = kpi.unit
    if method == SEASONAL:
        ordered = sorted(changes)
        sentences = [
            _(
                "Same period last year: %(last_year)s. Over %(count)d past spans of this length, the change over a "
                "year went from %(low)s to %(high)s; each change applied to last year gives one possible outcome."
            )
            % {
                "last_year": kpi_value(last_year, unit),
                "count": len(changes),
                "low": _change_words(kpi, ordered[0]),
                "high": _change_words(kpi, ordered[-1]),
            }
        ]
    else:
        sentences = [
            _(
                "Less than two years of history: the outcomes are the %(count)d past spans of this length as they "
                "were, without seasonality or trend."
            )
            % {"count": values[0].outcomes}
        ]
    names = {"minimum": _("Minimum"), "target": _("Target"), "stretch": _("Stretch")}
    for proposed in values:
        sentences.append(
            _("%(level)s %(value)s: reached in %(reached)d of %(count)d outcomes (%(percent)s).")
            % {
                "level": names[proposed.level],
                "value": kpi_value(proposed.value, unit),
                "reached": proposed.reached,
                "count": proposed.outcomes,
                "percent": kpi_value(proposed.probability_percent, "%"),
            }
        )
    if capped == "best":
        sentences.append(
            _("The stretch is capped at the best ever over such a span: %(best)s.") % {"best": kpi_value(best, unit)}
        )
    elif capped == "target":
        sentences.append(
            _("The target is already beyond the best ever over such a span (%(best)s): the stretch is the target.")
            % {"best": kpi_value(best, unit)}
        )
    else:
        sentences.append(_("Best ever over such a span: %(best)s.") % {"best": kpi_value(best, unit)})
    return " ".join(sentences)
