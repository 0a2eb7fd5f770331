"""Progress of a target: value so far, expected pace, forecast and status. Pure functions.

Nothing here touches the database: services fetch the KPI's value and pass plain values in,
so every rule below is unit-tested on hand-computed numbers.

Conventions
-----------
* An objective covers the days ``start_date`` … ``due_date`` **inclusive**, i.e. the half-open
  range ``[start, end)`` with ``end = due_date + 1 day`` (the KPI catalogue's period convention).
  A Q1 objective is start 1 January, due 31 March.
* ``today`` is not finished yet: the elapsed part is ``[start, min(today, end))``.
* Two ways of judging a target:
  - ``period``: the KPI over the whole objective period (revenue = Σ over the period,
    churn over the period);
  - ``end``: the KPI's value at the end of the period — its value over the last complete
    calendar month elapsed (before a month is complete, over the elapsed part).
* A target is *cumulative* when its KPI is additive and it is judged over the period: its
  value starts at 0 and grows (revenue, orders). Every other target is a *level* (a rate, an
  average, or an end value) that moves from the baseline towards the target.
* Direction: a KPI better when higher, lower, or neutral; for a neutral KPI the target says it
  (a target below the baseline means "lower is better" for this objective).

Status, from worst to best (an objective takes its worst target's status):
``missed`` (the period is over and the target was not reached, or a cumulative "at most"
budget is already exceeded) and ``off_track`` (below the critical threshold of the expected
pace, or behind the pace of the target's minimum) are the worst, then ``at_risk`` (the
forecast falls short of the target), ``on_track`` (the forecast reaches the target: never when
it misses it), and ``achieved`` (reached: a cumulative "at least" target as soon as the value
so far reaches it, every other target when the period is over). The forecast is the pace so
far carried to the end (run rate for sums, on the phased plan when there is one; the path from
the baseline for levels), so the status and the forecast never disagree. The warning threshold
no longer splits statuses: a target short of its pace is at risk until it falls below the
critical threshold.

Target bands: a target may carry a ``minimum`` (the least acceptable outcome) and a ``stretch`` (the
ambitious one). The minimum's pace is the target's path scaled to the minimum (same start point, same
phases' shape); a value behind it is ``off_track``, between it and the target's pace ``at_risk``. The
stretch does not change the status (reaching the target is achieving it); charts draw both.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

HIGHER = "higher"
LOWER = "lower"
NEUTRAL = "neutral"

PERIOD = "period"
END = "end"

ON_TRACK = "on_track"
AT_RISK = "at_risk"
OFF_TRACK = "off_track"
ACHIEVED = "achieved"
MISSED = "missed"

# Worst first: the objective's status is the first of these found among its targets.
STATUS_ORDER = (MISSED, OFF_TRACK, AT_RISK, ON_TRACK, ACHIEVED)

DEFAULT_WARNING_PERCENT = Decimal("90")
DEFAULT_CRITICAL_PERCENT = Decimal("75")

ZERO = Decimal("0")
HUNDRED = Decimal("100")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Phase:
    """The share of a target planned for one month (``month`` is the month's first day)."""

    month: date
    value: Decimal


@dataclass(frozen=True)
class TargetPlan:
    """What a target asks for, as plain values."""

    start: date
    end: date  # exclusive: due_date + 1 day
    target: Decimal
    baseline: Decimal | None = None
    direction: str = HIGHER
    additive: bool = True
    judged: str = PERIOD
    warning_percent: Decimal = DEFAULT_WARNING_PERCENT
    critical_percent: Decimal = DEFAULT_CRITICAL_PERCENT
    phases: tuple[Phase, ...] = field(default_factory=tuple)
    minimum: Decimal | None = None
    stretch: Decimal | None = None

    @property
    def cumulative(self) -> bool:
        """Whether the value starts from 0 and accumulates over the period."""
        return self.additive and self.judged == PERIOD

    @property
    def total_days(self) -> int:
        return (self.end - self.start).days

    @property
    def lower_is_better(self) -> bool:
        """The effective direction: a neutral KPI follows the target (below the baseline = lower)."""
        if self.direction == LOWER:
            return True
        if self.direction == NEUTRAL and self.baseline is not None:
            return self.target < self.baseline
        return False


@dataclass(frozen=True)
class TargetProgress:
    """Where a target stands on a given day."""

    current_value: Decimal | None
    progress_percent: Decimal | None
    expected_value_today: Decimal | None
    forecast_value: Decimal | None
    required_daily_rate: Decimal | None
    status: str
    elapsed_days: int
    total_days: int


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------
def month_start(day: date) -> date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def months_between(start: date, end: date) -> list[date]:
    """First days of the months overlapping [start, end)."""
    months: list[date] = []
    current = month_start(start)
    while current < end:
        months.append(current)
        current = next_month(current)
    return months


def month_days_in(month: date, start: date, end: date) -> int:
    """Days of `month` that fall inside [start, end)."""
    first = max(month, start)
    last = min(next_month(month), end)
    return max((last - first).days, 0)


def elapsed_end(plan: TargetPlan, today: date) -> date:
    """End (exclusive) of the elapsed part of the period: today, clipped to the period."""
    return min(max(today, plan.start), plan.end)


def value_window(plan: TargetPlan, today: date) -> tuple[date, date] | None:
    """The date range [start, end) the KPI must be computed over to know the value so far (today included).

    None before the period starts. For end-judged targets: the last complete calendar month
    of the elapsed part, or the elapsed part itself while no month is complete.
    """
    until = elapsed_end(plan, today)
    if today < plan.start:
        return None
    if plan.judged == PERIOD:
        # Today's records so far count, as on the dashboard's card of the running period: one value everywhere.
        return plan.start, min(today + timedelta(days=1), plan.end)
    if until <= plan.start:
        return None
    last_month_end = month_start(until)
    last_month_start = month_start(last_month_end - timedelta(days=1))
    if last_month_start >= plan.start:
        return last_month_start, last_month_end
    return plan.start, until


def previous_window(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before [start, end): where a baseline comes from."""
    length = end - start
    return start - length, start


# ---------------------------------------------------------------------------
# Expected pace
# ---------------------------------------------------------------------------
def _origin(plan: TargetPlan) -> Decimal:
    """Where the path to the target starts: 0 for cumulative targets, else the baseline."""
    if plan.cumulative:
        return ZERO
    return plan.baseline if plan.baseline is not None else plan.target


def expected_value(plan: TargetPlan, today: date) -> Decimal:
    """The value the target should show by `today` at the planned pace.

    Cumulative: the target × elapsed days / total days, or with phases the finished months'
    values plus the current month's pro rata. Levels: the straight line from the baseline to
    the target (with phases: from the previous month's value to the current month's).
    """
    elapsed = (elapsed_end(plan, today) - plan.start).days
    total = plan.total_days
    if total <= 0:
        return plan.target
    if plan.phases:
        return _expected_phased(plan, elapsed_end(plan, today))
    origin = _origin(plan)
    return origin + (plan.target - origin) * Decimal(elapsed) / Decimal(total)


def _expected_phased(plan: TargetPlan, until: date) -> Decimal:
    phases = sorted(plan.phases, key=lambda p: p.month)
    if plan.cumulative:
        expected = ZERO
        for phase in phases:
            days_in_period = month_days_in(phase.month, plan.start, plan.end)
            if days_in_period == 0:
                continue
            done = month_days_in(phase.month, plan.start, until)
            expected += phase.value * Decimal(done) / Decimal(days_in_period)
        return expected
    previous = plan.baseline if plan.baseline is not None else phases[0].value
    for phase in phases:
        days_in_period = month_days_in(phase.month, plan.start, plan.end)
        done = month_days_in(phase.month, plan.start, until)
        if days_in_period and done < days_in_period:
            return previous + (phase.value - previous) * Decimal(done) / Decimal(days_in_period)
        previous = phase.value
    return previous


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------
def _reached(plan: TargetPlan, value: Decimal) -> bool:
    return value <= plan.target if plan.lower_is_better else value >= plan.target


def _pace_ratio(plan: TargetPlan, current: Decimal, expected: Decimal) -> Decimal | None:
    """How the value so far compares with the expected one, 1 = exactly on pace (None = cannot say).

    Cumulative: value / expected (reversed when lower is better: a budget spent faster than
    planned is worse). Levels: the share of the expected way from the baseline actually covered;
    when no way was expected yet (first day, or a target equal to the baseline), the value
    compared with the expected level.
    """
    if plan.cumulative:
        if plan.lower_is_better:
            if current <= expected:
                return Decimal(1)
            return expected / current
        if expected <= 0:
            return None
        return current / expected
    origin = _origin(plan)
    if expected != origin:
        return (current - origin) / (expected - origin)
    if _reached(plan, current) or current == expected:
        return Decimal(1)
    if plan.lower_is_better:
        return expected / current if current > 0 else None
    return current / expected if expected > 0 else None


def progress_percent(plan: TargetPlan, current: Decimal) -> Decimal | None:
    """Percentage of the way from the start point (0 or the baseline) to the target; None for a level without a
    baseline (a rate of 37.9 % against 45 % is a gap of 7.1 points, not "0 % of the way")."""
    if not plan.cumulative and plan.baseline is None:
        return None
    origin = _origin(plan)
    if plan.target == origin:
        return HUNDRED if _reached(plan, current) else ZERO
    return (current - origin) / (plan.target - origin) * HUNDRED


def forecast(plan: TargetPlan, current: Decimal | None, today: date) -> Decimal | None:
    """The expected end value at the pace so far (see the module docstring); it reaches the target exactly when
    the pace ratio of `status_of` is 1 or more."""
    if current is None:
        return None
    elapsed = (elapsed_end(plan, today) - plan.start).days
    if elapsed <= 0:
        return None if plan.cumulative else current
    expected = expected_value(plan, today)
    if plan.cumulative:
        if plan.phases and not plan.lower_is_better:
            # On the plan's own curve: the target scaled by the pace so far against the phased plan.
            return plan.target * current / expected if expected > 0 else None
        return current * Decimal(plan.total_days) / Decimal(elapsed)
    origin = _origin(plan)
    if _reached(plan, current):
        return current  # already there: the level itself, not an overshoot extrapolated
    if origin != plan.target and expected != origin:
        # A level moving from its baseline: where the same pace along the path leads by the end.
        return origin + (current - origin) * (plan.target - origin) / (expected - origin)
    return current


def required_daily_rate(plan: TargetPlan, current: Decimal | None, today: date) -> Decimal | None:
    """For cumulative targets: per remaining day, what is still needed (or, lower is better, still allowed)."""
    if not plan.cumulative or current is None:
        return None
    remaining = (plan.end - elapsed_end(plan, today)).days
    if remaining <= 0:
        return None
    return max(plan.target - current, ZERO) / Decimal(remaining)


def band_plan(plan: TargetPlan, value: Decimal) -> TargetPlan:
    """The plan aiming at `value` (a band's minimum or stretch) instead of the target: the same start point and
    direction, its phases scaled from the start point in proportion."""
    origin = _origin(plan)
    phases: tuple[Phase, ...] = ()
    if plan.phases and plan.target != origin:
        factor = (value - origin) / (plan.target - origin)
        phases = tuple(Phase(p.month, origin + (p.value - origin) * factor) for p in plan.phases)
    return replace(
        plan,
        target=value,
        direction=LOWER if plan.lower_is_better else HIGHER,
        phases=phases,
        minimum=None,
        stretch=None,
    )


def _behind_minimum(plan: TargetPlan, current: Decimal, today: date) -> bool:
    """Whether the value so far is behind the pace of the target's minimum (False without a minimum)."""
    if plan.minimum is None:
        return False
    minimum = band_plan(plan, plan.minimum)
    ratio = _pace_ratio(minimum, current, expected_value(minimum, today))
    return ratio is not None and ratio < 1


def status_of(plan: TargetPlan, current: Decimal | None, today: date) -> str:
    """The target's status on `today`: the one status of a target everywhere (rules in the module docstring).

    Missed once the period is over short of the target (or a sum's "at most" budget is exceeded); achieved
    when reached; while running, off track below the critical threshold of the target's pace or behind the
    minimum's pace, at risk behind the target's pace, on track at or ahead of it."""
    over = today >= plan.end
    if current is None:
        # No value yet: fine before anything could be measured, missed once the period is over.
        if over:
            return MISSED
        return ON_TRACK if elapsed_end(plan, today) <= plan.start else AT_RISK
    if plan.cumulative and not plan.lower_is_better and _reached(plan, current):
        return ACHIEVED
    if plan.cumulative and plan.lower_is_better and current > plan.target:
        # Sums only grow: an "at most" budget already exceeded cannot be met any more.
        return MISSED
    if over:
        return ACHIEVED if _reached(plan, current) else MISSED
    if elapsed_end(plan, today) <= plan.start:
        return ON_TRACK
    ratio = _pace_ratio(plan, current, expected_value(plan, today))
    if ratio is None:
        return ON_TRACK
    if ratio * HUNDRED < plan.critical_percent or _behind_minimum(plan, current, today):
        return OFF_TRACK
    # On track only when the forecast reaches the target (pace ratio 1): a forecast short of it is at risk.
    if ratio < 1:
        return AT_RISK
    return ON_TRACK


def target_for_span(plan: TargetPlan, first: date, last: date) -> Decimal | None:
    """What the target asks of the days [first, last] (both included), e.g. a month shown on a dashboard; None
    when none of them is in the objective.

    A cumulative target is shared among its days: by its monthly phases when it has some (each month's
    phase pro rata of that month's days in the span), else pro rata of the days. A level (a rate, an
    average, an end value) is aimed at as is — or, phased, at the phase of the span's last month.
    """
    low, high = max(first, plan.start), min(last + timedelta(days=1), plan.end)
    if high <= low or plan.total_days <= 0:
        return None
    phases = sorted(plan.phases, key=lambda p: p.month)
    if not plan.cumulative:
        current = [p.value for p in phases if p.month <= high - timedelta(days=1)]
        return current[-1] if current else plan.target
    if phases:
        share = ZERO
        for phase in phases:
            in_objective = month_days_in(phase.month, plan.start, plan.end)
            if in_objective:
                share += phase.value * Decimal(month_days_in(phase.month, low, high)) / Decimal(in_objective)
        return share
    return plan.target * Decimal((high - low).days) / Decimal(plan.total_days)


MAINTAIN = "maintain"
REINFORCE = "reinforce"
REVISE = "revise"
# Less than this share of the period left and behind: too late to catch up by effort alone.
NEARLY_OVER = Decimal("0.1")


@dataclass(frozen=True)
class Outlook:
    """Push harder or drop it: the pace so far, the pace still required, the best the team ever did over a span
    as long as what is left, and the recommendation with its reason."""

    pace_so_far: Decimal | None
    required_pace: Decimal | None
    best_pace: Decimal | None
    recommendation: str  # maintain / reinforce / revise, or "" once the period is over
    reason: str  # on_track / within_best / beyond_best / no_history / nearly_over / missed / over


def target_outlook(
    *, plan: TargetPlan, current: Decimal | None, status: str, today: date, best_pace: Decimal | None
) -> Outlook:
    """What to do about a running target, from its status and paces.

    Sums (cumulative targets): the pace so far is the value per elapsed day, the required pace what is still
    missing per remaining day, the best pace the team's highest daily average over any span of the remaining
    length (`best_pace`, from its history). *maintain* when on track or achieved; *reinforce* when the required
    pace is within what the team has done before; *revise or drop* when it is beyond anything in its history,
    or when less than a tenth of the period is left. Levels (rates, averages): `best_pace` is the team's best
    value over a comparable period, and the same rule applies to the target itself.
    """
    elapsed = (elapsed_end(plan, today) - plan.start).days
    remaining = (plan.end - elapsed_end(plan, today)).days
    if remaining <= 0:
        return Outlook(None, None, best_pace, "", "over")
    pace = required = None
    if plan.cumulative and current is not None:
        pace = current / Decimal(elapsed) if elapsed > 0 else None
        required = max(plan.target - current, ZERO) / Decimal(remaining)
    if status in (ON_TRACK, ACHIEVED):
        return Outlook(pace, required, best_pace, MAINTAIN, "on_track")
    if status == MISSED:
        return Outlook(pace, required, best_pace, REVISE, "missed")
    if Decimal(remaining) / Decimal(plan.total_days) < NEARLY_OVER:
        return Outlook(pace, required, best_pace, REVISE, "nearly_over")
    needed = required if plan.cumulative else plan.target
    if needed is None or best_pace is None:
        return Outlook(pace, required, best_pace, REINFORCE, "no_history")
    within = needed >= best_pace if plan.lower_is_better else needed <= best_pace
    return Outlook(
        pace, required, best_pace, REINFORCE if within else REVISE, "within_best" if within else "beyond_best"
    )


def target_progress(*, plan: TargetPlan, current_value: Decimal | None, today: date) -> TargetProgress:
    """Everything the pages and the API show about a target on `today`."""
    elapsed = (elapsed_end(plan, today) - plan.start).days
    started = elapsed > 0
    return TargetProgress(
        current_value=current_value,
        progress_percent=progress_percent(plan, current_value) if current_value is not None else None,
        expected_value_today=expected_value(plan, today) if started else _origin(plan),
        forecast_value=forecast(plan, current_value, today),
        required_daily_rate=required_daily_rate(plan, current_value, today),
        status=status_of(plan, current_value, today),
        elapsed_days=elapsed,
        total_days=plan.total_days,
    )


def worst_status(statuses: Iterable[str]) -> str:
    """The worst of these statuses (STATUS_ORDER); on_track when there is none."""
    found = set(statuses)
    for status in STATUS_ORDER:
        if status in found:
            return status
    return ON_TRACK


# ---------------------------------------------------------------------------
# Phasing
# ---------------------------------------------------------------------------
def _spread(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` by `weights`, rounded to cents, the rounding remainder on the last share."""
    weight_sum = sum(weights, ZERO)
    if weight_sum <= 0:
        weights = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    shares = [(total * w / weight_sum).quantize(CENT, rounding=ROUND_HALF_UP) for w in weights]
    if shares:
        shares[-1] += total - sum(shares, ZERO)
    return shares


def phases_even(*, plan: TargetPlan) -> list[Phase]:
    """Evenly phased months.

    Cumulative targets: the target split equally between whole months (a partly covered month
    gets its share pro rata of its days). Levels: a straight line from the baseline to the target,
    reached in the last month.
    """
    months = months_between(plan.start, plan.end)
    if plan.cumulative:
        weights = [
            Decimal(month_days_in(m, plan.start, plan.end)) / Decimal(calendar.monthrange(m.year, m.month)[1])
            for m in months
        ]
        return [Phase(m, v) for m, v in zip(months, _spread(plan.target, weights), strict=True)]
    origin = plan.baseline if plan.baseline is not None else plan.target
    count = len(months)
    return [
        Phase(m, (origin + (plan.target - origin) * Decimal(i + 1) / Decimal(count)).quantize(CENT))
        for i, m in enumerate(months)
    ]


def phases_seasonal(*, plan: TargetPlan, last_year: dict[int, Decimal]) -> list[Phase] | None:
    """Months weighted like the same months of last year (`last_year`: month number → value).

    Only for cumulative targets; None when last year has no usable values (nothing to copy).
    A partly covered month's weight is pro rata of its days.
    """
    if not plan.cumulative:
        return None
    months = months_between(plan.start, plan.end)
    weights = []
    for m in months:
        value = last_year.get(m.month)
        if value is None:
            return None
        share = Decimal(month_days_in(m, plan.start, plan.end)) / Decimal(calendar.monthrange(m.year, m.month)[1])
        weights.append(max(value, ZERO) * share)
    if sum(weights, ZERO) <= 0:
        return None
    return [Phase(m, v) for m, v in zip(months, _spread(plan.target, weights), strict=True)]


@dataclass(frozen=True)
class SumCheck:
    """Whether parts add up to a whole; `difference` = parts − whole."""

    ok: bool
    total: Decimal
    expected: Decimal
    difference: Decimal


def sum_check(*, parts: Iterable[Decimal], whole: Decimal, tolerance: Decimal = CENT) -> SumCheck:
    """Compare a sum of parts (monthly phases, children's targets) with the whole."""
    total = sum(parts, ZERO)
    difference = total - whole
    return SumCheck(ok=abs(difference) <= tolerance, total=total, expected=whole, difference=difference)
