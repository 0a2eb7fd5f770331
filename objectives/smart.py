"""The SMART check: is an objective Specific, Measurable, Achievable, Relevant, Time-bound?

Pure functions over plain values (services gather the KPI history). Each letter gets
``{"ok": bool, "message": str}`` written for a marketing director, in the active language.
A failing letter is a warning shown next to the form: it never blocks saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from kpiplatform import dates
from metrics.models import KpiUnit
from objectives.progress import END, HIGHER, LOWER, NEUTRAL, PERIOD

LETTERS = ("specific", "measurable", "achievable", "relevant", "time_bound")

MIN_TITLE_WORDS = 3
MIN_DESCRIPTION_CHARS = 20
# Shortest period that can be measured: a week, or a month when a target is judged on its last month
# or its KPI is reported monthly.
MIN_DAYS = {"day": 1, "week": 7, "month": 28, "quarter": 89, "year": 365}
# Beyond this multiple of the best change ever seen, a target is "unrealistic" rather than "ambitious".
UNREALISTIC_FACTOR = Decimal(2)


@dataclass(frozen=True)
class SmartTarget:
    """One target as the SMART check sees it."""

    kpi_code: str | None
    kpi_name: str = ""
    unit: str = ""
    direction: str = HIGHER
    judged: str = PERIOD
    granularity: str = "day"
    target_value: Decimal | None = None
    baseline_value: Decimal | None = None
    # The KPI over past periods of the objective's length, oldest first (None = no value).
    history: Sequence[Decimal | None] = field(default_factory=tuple)


@dataclass(frozen=True)
class SmartInput:
    """An objective as the SMART check sees it (saved or still in a form)."""

    title: str = ""
    description: str = ""
    has_team: bool = False
    has_owner: bool = False
    start_date: date | None = None
    due_date: date | None = None
    has_parent: bool = False
    relevance_note: str = ""
    targets: Sequence[SmartTarget] = field(default_factory=tuple)


def _letter(ok: bool, message: str) -> dict:
    return {"ok": ok, "message": message}


def fmt(value: Decimal, unit: str = "") -> str:
    """A figure as people read it in the active language (1 234,5 € in French); a count has no unit written."""
    text = formats.number_format(value.quantize(Decimal("0.01")).normalize(), use_l10n=True, force_grouping=True)
    shown = unit_written(unit)
    return f"{text} {shown}" if shown else text


def unit_written(unit: str) -> str:
    """A unit as written after a number: none for a count, « j » for days in French, the symbol otherwise."""
    if unit == KpiUnit.COUNT:
        return ""
    return pgettext("unit: days", "d") if unit == KpiUnit.DAYS else unit


def _lower_is_better(target: SmartTarget) -> bool:
    if target.direction == LOWER:
        return True
    if target.direction == NEUTRAL and target.baseline_value is not None and target.target_value is not None:
        return target.target_value < target.baseline_value
    return False


def best_change(history: Sequence[Decimal | None], *, lower_is_better: bool) -> Decimal | None:
    """The largest improvement between two consecutive past periods (negative: it only got worse)."""
    changes = [
        (before - after) if lower_is_better else (after - before)
        for before, after in zip(history, history[1:], strict=False)
        if before is not None and after is not None
    ]
    return max(changes) if changes else None


def assess_specific(data: SmartInput) -> dict:
    """A clear title and description, a team, an owner and at least one KPI."""
    missing = []
    if len(data.title.split()) < MIN_TITLE_WORDS:
        missing.append(_("a title of at least %(count)d words") % {"count": MIN_TITLE_WORDS})
    if len(data.description.strip()) < MIN_DESCRIPTION_CHARS:
        missing.append(_("a description saying what is to be achieved"))
    if not data.has_team:
        missing.append(_("a team"))
    if not data.has_owner:
        missing.append(_("an owner"))
    if not any(t.kpi_code for t in data.targets):
        missing.append(_("a KPI to measure it"))
    if missing:
        return _letter(False, _("Not specific enough: add %(missing)s.") % {"missing": ", ".join(missing)})
    return _letter(True, _("Clear: a title, a description, a team, an owner and a KPI."))


def assess_measurable(data: SmartInput) -> dict:
    """Every target has a KPI and a numeric target value in the KPI's unit."""
    if not data.targets:
        return _letter(False, _("No measurable target: add a KPI with a target value."))
    for target in data.targets:
        if not target.kpi_code:
            return _letter(False, _("A target has no KPI: choose the indicator that measures it."))
        if target.target_value is None:
            return _letter(False, _("No target value for %(kpi)s: enter a number in %(unit)s.") % _kpi_unit(target))
    parts = [f"{t.kpi_name or t.kpi_code} → {fmt(t.target_value, t.unit)}" for t in data.targets]
    return _letter(True, _("Measurable: %(targets)s.") % {"targets": "; ".join(parts)})


def _kpi_unit(target: SmartTarget) -> dict:
    unit = str(KpiUnit(target.unit).label) if target.unit in KpiUnit.values else target.unit
    return {"kpi": target.kpi_name or target.kpi_code, "unit": unit or _("the KPI's unit")}


def assess_target_achievable(target: SmartTarget) -> dict:
    """Compare the change a target asks for with the best change its KPI has shown in history."""
    if target.target_value is None or not target.kpi_code:
        return _letter(False, _("Cannot judge without a target value."))
    names = {"kpi": target.kpi_name or target.kpi_code}
    if target.baseline_value is None:
        return _letter(True, _("%(kpi)s: no baseline yet, so the target cannot be compared with history.") % names)
    lower = _lower_is_better(target)
    required = (target.baseline_value - target.target_value) if lower else (target.target_value - target.baseline_value)
    figures = {
        **names,
        "baseline": fmt(target.baseline_value, target.unit),
        "target": fmt(target.target_value, target.unit),
        "required": fmt(abs(required), target.unit),
    }
    if required < 0:
        return _letter(
            False,
            _("%(kpi)s: the target (%(target)s) is less ambitious than the baseline (%(baseline)s).") % figures,
        )
    best = best_change(target.history, lower_is_better=lower)
    if best is None:
        return _letter(
            True,
            _("%(kpi)s: asks for %(required)s of improvement; not enough history to compare it with.") % figures,
        )
    figures["best"] = fmt(abs(best), target.unit)
    if required <= best:
        return _letter(
            True,
            _("%(kpi)s: achievable — asks for %(required)s, the best change seen so far was %(best)s.") % figures,
        )
    if best <= 0:
        return _letter(
            False,
            _(
                "%(kpi)s: unrealistic? Asks for %(required)s of improvement, but the KPI never improved "
                "over comparable past periods."
            )
            % figures,
        )
    if required <= best * UNREALISTIC_FACTOR:
        return _letter(
            True,
            _("%(kpi)s: ambitious — asks for %(required)s, more than the best change seen so far (%(best)s).")
            % figures,
        )
    return _letter(
        False,
        _("%(kpi)s: unrealistic? Asks for %(required)s, more than twice the best change seen so far (%(best)s).")
        % figures,
    )


def assess_achievable(data: SmartInput) -> dict:
    """The first target that looks out of reach (or less ambitious than the baseline), else all messages."""
    if not data.targets:
        return _letter(False, _("No target to assess."))
    results = [assess_target_achievable(t) for t in data.targets]
    failing = [r for r in results if not r["ok"]]
    if failing:
        return _letter(False, " ".join(r["message"] for r in failing))
    return _letter(True, " ".join(r["message"] for r in results))


def assess_relevant(data: SmartInput) -> dict:
    """Aligned with a parent objective, or with a stated reason."""
    if data.has_parent:
        return _letter(True, _("Relevant: it contributes to a parent objective."))
    if data.relevance_note.strip():
        return _letter(True, _("Relevant: %(note)s") % {"note": data.relevance_note.strip()})
    return _letter(False, _("Why does it matter? Link it to a parent objective or explain its relevance."))


def assess_time_bound(data: SmartInput) -> dict:
    """A start and a due date, in that order, over a period long enough to measure the KPIs."""
    if data.start_date is None or data.due_date is None:
        return _letter(False, _("No deadline: set a start date and a due date."))
    if data.due_date < data.start_date:
        return _letter(False, _("The due date is before the start date."))
    days = (data.due_date - data.start_date).days + 1
    needed = max(
        [MIN_DAYS.get(t.granularity, 1) for t in data.targets]
        + [MIN_DAYS["month"] for t in data.targets if t.judged == END]
        + [MIN_DAYS["week"]]
    )
    if days < needed:
        return _letter(
            False,
            _("The period (%(days)d days) is too short to measure these KPIs: allow at least %(needed)d days.")
            % {"days": days, "needed": needed},
        )
    return _letter(
        True,
        _("Time-bound: from %(start)s to %(due)s (%(days)d days).")
        % {"start": dates.day(data.start_date), "due": dates.day(data.due_date), "days": days},
    )


def assess(data: SmartInput) -> dict[str, dict]:
    """Every letter's assessment, keyed specific, measurable, achievable, relevant, time_bound."""
    return {
        "specific": assess_specific(data),
        "measurable": assess_measurable(data),
        "achievable": assess_achievable(data),
        "relevant": assess_relevant(data),
        "time_bound": assess_time_bound(data),
    }
