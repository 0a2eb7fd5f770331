"""The team dashboard as plain dicts: KPI cards, objective progress and chart data (DESIGN.md §8).

Everything is read from stored KPI values (one query for the cards, the trend and every panel
the team shows, from the registry in `panels.py`) and cached objective progress, plus, only when
no segment values are stored, one grouped query on activity per panel that falls back on it, so the
number of queries grows neither with the data nor with the number of panels. The dict is what the page
renders and what `dashboard/<slug>/data.json` returns (through `dashboard_as_json`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery, prefetch_related_objects
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from accounts.selectors import team_ancestor_chain
from metrics.kpis.comparisons import BASES, PREVIOUS, Comparison, comparison_values, kpi_values_to_date
from metrics.kpis.labels import channel_label
from metrics.kpis.periods import period_end, period_floor, period_shift, today_local
from metrics.kpis.selectors import CellQuery, StoredCell, kpi_cells, kpi_name
from metrics.kpis.words import measure_in_words, zero_divisors
from metrics.models import KpiDefinition
from objectives import progress
from objectives.budgets.selectors import budget_burns
from objectives.dashboards.cards import default_card_codes, kpi_change
from objectives.dashboards.panels import Cells, PanelFrame, number, team_panels
from objectives.models import DashboardCard, Objective, ObjectiveState, Target
from objectives.selectors import target_plan

SPARKLINE_PERIODS = 12
TREND_PERIODS = 12


# period key → (label, granularity of the cards, how many periods back from the current one)
PERIODS: dict[str, tuple[object, str, int]] = {
    "this_month": (_("This month"), "month", 0),
    "last_month": (_("Last month"), "month", -1),
    "this_quarter": (_("This quarter"), "quarter", 0),
    "this_year": (_("This year"), "year", 0),
}


DEFAULT_PERIOD = "this_month"
TREND_GRANULARITIES = ("week", "month", "quarter")
DEFAULT_GRANULARITY = "month"
OPEN_STATE = (ObjectiveState.ACTIVE,)


def dashboard_period(*, period: str | None, today: dt.date | None = None) -> dict:
    """The selected period: key, label, granularity, first day and last day (included); unknown keys → this month."""
    key = period if period in PERIODS else DEFAULT_PERIOD
    label, granularity, back = PERIODS[key]
    start = period_shift(period_floor(today or today_local(), granularity), granularity, back)
    return {
        "key": key,
        "label": str(label),
        "granularity": granularity,
        "start": start,
        "end": period_end(start, granularity) - dt.timedelta(days=1),
        "choices": [{"key": k, "label": str(v[0]), "selected": k == key} for k, v in PERIODS.items()],
    }


def _dashboard_kpis(team: Team, codes: set[str]) -> tuple[dict[str, KpiDefinition], tuple[str, ...]]:
    """The definitions of `codes` and of the team's chosen cards, and the card codes in order; one query.

    The chosen cards come in the same query (position as an annotation), so the dashboard
    costs the same number of queries whether the team chose its cards or not.
    """
    chosen = DashboardCard.objects.filter(team=team)
    position = Subquery(chosen.filter(kpi=OuterRef("pk")).values("position")[:1])
    rows = list(
        KpiDefinition.objects.filter(Q(code__in=codes) | Q(pk__in=chosen.values("kpi_id"))).annotate(
            card_position=position
        )
    )
    ordered = sorted((k for k in rows if k.card_position is not None), key=lambda k: k.card_position)
    card_codes = tuple(k.code for k in ordered) or default_card_codes(team=team)
    return {k.code: k for k in rows}, card_codes


def _starts_back(start: dt.date, granularity: str, count: int) -> list[dt.date]:
    """The `count` period starts ending with `start`, oldest first."""
    return [period_shift(start, granularity, -n) for n in range(count - 1, -1, -1)]


def team_dashboard(
    *,
    team: Team,
    period: str | None = None,
    granularity: str | None = None,
    trend_kpi: str | None = None,
    today: dt.date | None = None,
    replay: bool = False,
    compare: str | None = None,
) -> dict:
    """Everything the team dashboard shows, for the selected period; a constant number of queries: the team's
    charts, KPIs, values and objectives (+ their targets and the targets' KPIs when there are any), budgets where
    shown, and only without stored pipeline stages or lead channels the team tree and one grouped query on deals or
    leads.

    `compare`: "last_year" compares each card with the same period a year earlier instead of the one before.
    `replay`: `today` is a past day to see the page as it was then (values of a running period as they stood
    that day), not merely the day the periods are counted from.

    Keys: team, period, granularity, cards, objectives, panels (the team's charts in order: key, title,
    description, has_data, the sentence saying what is missing, a note), charts (trend and each panel's data by
    key), budgets, compare, has_data. A card without a stored row for the period is "no data"
    (has_data False); a stored row without a value (e.g. a ratio over zero) is "no value".
    """
    today = today or today_local()
    selected = dashboard_period(period=period, today=today)
    card_gran, start = selected["granularity"], selected["start"]
    trend_gran = granularity if granularity in TREND_GRANULARITIES else DEFAULT_GRANULARITY
    # 1 query: the team's charts (chosen or its kind's); 1 query: the definitions of the cards and the charts' KPIs.
    panels = team_panels(team=team)
    kpis, codes = _dashboard_kpis(team, {*default_card_codes(team=team), *(c for p in panels for c in p.kpi_codes)})
    trend_code = trend_kpi if trend_kpi in codes else codes[0]

    card_starts = _starts_back(start, card_gran, SPARKLINE_PERIODS)
    # The charts end with the selected period, or today if it is not over yet (no empty future bars).
    last_day = min(selected["end"], today)
    trend_end = period_floor(last_day, trend_gran)
    trend_starts = _starts_back(trend_end, trend_gran, TREND_PERIODS)
    frame = PanelFrame(
        team_id=team.pk,
        granularity=card_gran,
        start=start,
        end=selected["end"],
        month_starts=tuple(_starts_back(period_floor(last_day, "month"), "month", 12)),
    )
    queries = [
        CellQuery(
            kpi_ids=tuple(kpis[c].pk for c in codes if c in kpis), granularities=(card_gran,), starts=tuple(card_starts)
        )
    ]
    if trend_code in kpis:
        queries.append(
            CellQuery(kpi_ids=(kpis[trend_code].pk,), granularities=(trend_gran,), starts=tuple(trend_starts))
        )
    for panel in panels:
        found = [kpis[code] for code in panel.kpi_codes if code in kpis]
        if found:
            queries.append(panel.reads(found, frame))
    # 1 query: every stored cell the page needs, whatever the number of KPIs and panels.
    cells: Cells = {
        (cell.kpi_id, cell.granularity, cell.segment, cell.period_start): cell
        for cell in kpi_cells(team_ids=[team.pk], queries=queries)
    }

    # 2 queries: the team's open objectives and their targets with KPIs.
    objectives = list(
        Objective.objects.filter(team=team, state__in=OPEN_STATE)
        .prefetch_related("targets__kpi", "targets__phases")
        .order_by("due_date", "title")
    )
    target_by_kpi: dict[int, Target] = {}
    for objective in objectives:
        if objective.start_date <= selected["end"] and objective.due_date >= start:
            for target in objective.targets.all():
                target.objective = objective  # already loaded: no query for the trend's target line
                if not target.segment:
                    target_by_kpi.setdefault(target.kpi_id, target)

    # 1 query (2 on a running period): what each card is compared with — the same days of the previous period.
    card_kpis = [kpis[c] for c in codes if c in kpis]
    basis = compare if compare in BASES else PREVIOUS
    compared = comparison_values(
        kpis=card_kpis, team_ids=[team.pk], granularity=card_gran, period_start=start, today=today, basis=basis
    )
    if replay and start <= today <= selected["end"]:
        # A past day replayed (the scorecard's `date`): the period's value as it stood that day, rebuilt from
        # its days (2 queries); a KPI the days cannot rebuild has no value as of that day rather than a later one.
        as_of = kpi_values_to_date(kpis=card_kpis, team_ids=[team.pk], granularity=card_gran, first=start, last=today)
        for kpi in card_kpis:
            key = (kpi.pk, card_gran, "", start)
            if key in cells and (team.pk, kpi.pk) in as_of:
                cells[key] = dataclasses.replace(cells[key], value=as_of[(team.pk, kpi.pk)])
            else:
                cells.pop(key, None)
    frame_today = (selected["start"], selected["end"], today)
    cards = [
        _card(code, kpis.get(code), cells, card_gran, card_starts, target_by_kpi, compared, frame_today)
        for code in codes
    ]
    _explain_missing_values(team, cards, kpis, cells, card_gran, start)
    charts = {"trend": _trend_chart(kpis.get(trend_code), cells, trend_gran, trend_starts, target_by_kpi)}
    charts |= {
        panel.key: panel.draw(tuple(kpis.get(code) for code in panel.kpi_codes), cells, frame) for panel in panels
    }
    _mark_running(charts, today)
    return {
        "team": {"slug": team.slug, "name": team.name, "kind": team.kind},
        "period": selected,
        "granularity": trend_gran,
        "trend_kpi": trend_code,
        "cards": cards,
        "objectives": [_objective_row(o) for o in objectives],
        "panels": [panel.summary(charts[panel.key]) for panel in panels],
        "charts": charts,
        "budgets": _budgets(team, frame, today),
        "compare": basis,
        "has_data": any(card["has_data"] for card in cards),
    }


def _card(code, kpi, cells, granularity, starts, target_by_kpi, compared: Comparison, frame_today) -> dict:
    if kpi is None:
        return {
            "code": code,
            "name": code,
            "unit": "",
            "direction": "neutral",
            "has_data": False,
            "value": None,
            "previous_value": None,
            "change": None,
            "change_unit": "%",
            "change_percent": None,
            "change_delta": None,
            "colour": "neutral",
            "sparkline": [],
            "target": None,
            "computed_at": None,
            "period_start": starts[-1],
            **_compared_with(compared, comparable=False),
        }
    row = cells.get((kpi.pk, granularity, "", starts[-1]))
    value = row.value if row else None
    previous_value = compared.value(row.team_id if row else 0, kpi.pk) if row else None
    target = target_by_kpi.get(kpi.pk)
    return {
        "code": code,
        "name": kpi_name(kpi),
        "unit": kpi.unit,
        "direction": kpi.direction,
        "has_data": row is not None,
        "value": value,
        "previous_value": previous_value,
        **kpi_change(unit=kpi.unit, direction=kpi.direction, value=value, previous=previous_value),
        "sparkline": [
            number(cells[(kpi.pk, granularity, "", s)].value) if (kpi.pk, granularity, "", s) in cells else None
            for s in starts
        ],
        "target": None if target is None else _card_target(target, value, *frame_today),
        "computed_at": row.computed_at if row else None,
        "period_start": starts[-1],
        **_compared_with(compared, comparable=row is not None and compared.has(row.team_id, kpi.pk)),
    }


def _explain_missing_values(team: Team, cards: list[dict], kpis: dict, cells: Cells, granularity: str, start) -> None:
    """A card computed without a value says why (the measures it divides by are zero here) and, when a team above
    has one (CAC: marketing's spend over the whole organisation's new customers), where it can be read. At most
    four queries (team tree, cells above, their names, the measures), only when some card has no value."""
    missing = [card for card in cards if card["has_data"] and card["value"] is None]
    if not missing:
        return
    chain = team_ancestor_chain(team.pk)[1:]  # the teams above, nearest first
    found: dict[tuple[int, int], StoredCell] = {}
    if chain:
        query = CellQuery(
            kpi_ids=tuple(kpis[card["code"]].pk for card in missing), granularities=(granularity,), starts=(start,)
        )
        found = {(c.team_id, c.kpi_id): c for c in kpi_cells(team_ids=chain, queries=[query]) if c.value is not None}
    above_teams = Team.objects.filter(pk__in={team_id for team_id, _kpi in found}).values_list("pk", "slug", "name")
    labels = {pk: (slug, name) for pk, slug, name in above_teams}  # no query when nothing was found above
    # The formulas' measures, to name a zero divisor in words: 1 query for every card without value.
    prefetch_related_objects([kpis[card["code"]] for card in missing], "measures")
    for card in missing:
        kpi = kpis[card["code"]]
        cell = cells.get((kpi.pk, granularity, "", start))
        divisors = zero_divisors(formula=kpi.formula, components=cell.components if cell else {})
        words = {m.name: measure_in_words(m) for m in kpi.measures.all()} if divisors else {}
        card["no_value_because"] = [words.get(name, name) for name in divisors]
        above = next((team_id for team_id in chain if (team_id, kpi.pk) in found), None)
        card["value_above"] = (
            None
            if above is None
            else {
                "team_id": above,
                "slug": labels[above][0],
                "name": labels[above][1],
                "value": found[(above, kpi.pk)].value,
            }
        )


def _budgets(team: Team, frame: PanelFrame, today: dt.date) -> list[dict]:
    """Is the budget off? The marketing team's budgets meeting the period, with their spend so far, expected
    spend and forecast (1 query, 3 with budgets; the budgets are read once with the budget line's); other kinds
    of team plan no spend."""
    if team.kind not in ("marketing", "other"):
        return []
    meeting = [b for b in frame.budgets() if b.end_date >= frame.start and b.start_date <= frame.end]
    burns = budget_burns(budgets=meeting, today=today)
    return [
        {
            "id": burn.budget.pk,
            "name": burn.budget.name,
            "category": burn.budget.get_category_display(),
            "channel": burn.budget.channel,
            "channel_label": channel_label(burn.budget.channel) if burn.budget.channel else "",
            "start_date": burn.budget.start_date,
            "end_date": burn.budget.end_date,
            "amount": burn.budget.amount,
            "spent": burn.spent,
            "spent_percent": burn.spent_percent,
            "expected": _cents(burn.expected),
            "forecast": _cents(burn.forecast),
            "status": burn.status,
        }
        for burn in burns
    ]


def _card_target(target: Target, value: Decimal | None, first: dt.date, last: dt.date, today: dt.date) -> dict:
    """The target of the period the card shows (never a quarter's target against a month's value), how far the
    value is from it, what was expected by today in a running period, and the target's one status."""
    plan = target_plan(target=target)
    aimed = progress.target_for_span(plan, first, last)
    running = first <= today <= last
    expected = None
    if running and plan.cumulative:
        expected = progress.target_for_span(plan, first, today - dt.timedelta(days=1)) if today > first else Decimal(0)
    reached = None
    if value is not None and aimed is not None:
        reached = value <= aimed if plan.lower_is_better else value >= aimed
    return {
        "value": _cents(aimed),
        "objective_value": target.target_value,
        "for_the_period": aimed is not None and aimed != target.target_value,
        "expected": _cents(expected),
        # Sums: the share of the period's target reached; rates and averages: the gap, in the KPI's unit.
        "progress_percent": _cents(100 * value / aimed) if plan.cumulative and value is not None and aimed else None,
        "gap": value - aimed if not plan.cumulative and value is not None and aimed is not None else None,
        "reached": reached,
        # The status judges the objective's whole period: say so when the card shows another period.
        "status": target.status,
        "forecast": target.forecast_value,
        "recommendation": target.recommendation,
        "status_due": None
        if (first, last) == (target.objective.start_date, target.objective.due_date)
        else target.objective.due_date,
        "objective_id": target.objective_id,
    }


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def _compared_with(compared: Comparison, *, comparable: bool) -> dict:
    """The span a card is compared with, in words, and whether a like-for-like value exists for it."""
    span = compared.span
    return {
        "compared_with": span.label,
        "compared_span": {"start": span.start, "end": span.end, "like_for_like": span.to_date, "label": span.label},
        "like_for_like": span.to_date,
        "comparable": comparable,
    }


def _objective_row(objective: Objective) -> dict:
    targets = list(objective.targets.all())
    progress = [t.progress_percent for t in targets if t.progress_percent is not None]
    return {
        "id": objective.pk,
        "title": objective.title,
        "status": objective.progress_status,
        "due_date": objective.due_date,
        # The objective's progress is that of its least advanced target.
        "progress_percent": min(progress) if progress else None,
        "bar_percent": float(min(max(min(progress), Decimal(0)), Decimal(100))) if progress else 0.0,
        # Push harder or drop it: the most pressing of its targets' recommendations.
        "recommendation": next(
            (r for r in ("revise", "reinforce", "maintain") if any(t.recommendation == r for t in targets)), ""
        ),
    }


def _mark_running(charts: dict, today: dt.date) -> None:
    """Each chart's period still running on `today` (its value so far is partial): the index of its label, drawn
    as such (dashed, « en cours ») so a month's first days never read as a collapse."""
    for chart in charts.values():
        # Periods on the x axis: the trend (its own granularity) and the panels month by month.
        if "granularity" not in chart and chart.get("type") != "months":
            continue
        running = period_floor(today, chart.get("granularity", "month")).isoformat()
        labels = chart.get("labels") or []
        chart["running"] = labels.index(running) if running in labels else None


def _trend_chart(kpi, cells, granularity, starts, target_by_kpi) -> dict:
    if kpi is None:
        return {"kpi": None, "labels": [], "values": [], "target": [], "has_data": False}
    target = target_by_kpi.get(kpi.pk)
    values = [
        number(cells[(kpi.pk, granularity, "", s)].value) if (kpi.pk, granularity, "", s) in cells else None
        for s in starts
    ]
    return {
        "kpi": kpi.code,
        "name": kpi_name(kpi),
        "unit": kpi.unit,
        "granularity": granularity,
        "labels": [s.isoformat() for s in starts],
        "values": values,
        "target": _target_line(kpi, target, granularity, starts) if target is not None else [],
        "has_data": any(value is not None for value in values),
    }


def _target_line(kpi, target: Target, granularity: str, starts: list[dt.date]) -> list[float | None]:
    """The target per period, over the periods the objective covers (None elsewhere).

    The same share of the target as the cards show (objectives.progress.target_for_span): a rate or
    average as is, a sum shared among the periods by its phases or pro rata of their days.
    """
    plan = target_plan(target=target)
    line: list[float | None] = []
    for start in starts:
        part = progress.target_for_span(plan, start, period_end(start, granularity) - dt.timedelta(days=1))
        line.append(None if part is None else round(float(part), 2))
    return line
