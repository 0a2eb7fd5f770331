"""The team dashboard as plain dicts: KPI cards, objective progress and chart data (DESIGN.md §8).

Everything is read from stored KPI values and cached objective progress, plus two grouped
queries on activity (open deals by stage; leads by channel when no segment values are
stored), so the number of queries does not grow with the data. The dict is what the page
renders and what `dashboard/<slug>/data.json` returns (through `dashboard_as_json`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from accounts.selectors import team_ids_with_descendants
from metrics.engine.periods import local_midnight, period_end, period_floor, period_shift, today_local
from metrics.kpis.selectors import kpi_name
from metrics.models import KpiDefinition, KpiValue
from metrics.models.activity import Deal, DealStatus, Lead
from objectives.dashboards.cards import change_colour, change_percent, default_card_codes
from objectives.models import DashboardCard, Objective, ObjectiveState, Target

SPARKLINE_PERIODS = 12


TREND_PERIODS = 12


# KPIs the charts read besides the cards: revenue per month, the NPS split, pipeline by stage, leads by channel.
CHART_CODES = ("revenue", "nps", "pipeline_value", "leads")


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


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def team_dashboard(
    *,
    team: Team,
    period: str | None = None,
    granularity: str | None = None,
    trend_kpi: str | None = None,
    today: dt.date | None = None,
) -> dict:
    """Everything the team dashboard shows, for the selected period; a constant number of queries: KPIs, values and
    objectives (+ their targets and the targets' KPIs when there are any), and only without stored pipeline stages or
    lead channels the team tree and one grouped query on deals or leads.

    Keys: team, period, granularity, cards, objectives, charts (trend, revenue, nps, pipeline,
    leads_by_channel), has_data. A card without a stored row for the period is "no data"
    (has_data False); a stored row without a value (e.g. a ratio over zero) is "no value".
    """
    today = today or today_local()
    selected = dashboard_period(period=period, today=today)
    card_gran, start = selected["granularity"], selected["start"]
    trend_gran = granularity if granularity in TREND_GRANULARITIES else DEFAULT_GRANULARITY
    # 1 query: the definitions of the cards (chosen or default) and of the charts' KPIs.
    kpis, codes = _dashboard_kpis(team, {*default_card_codes(team=team), *CHART_CODES})
    trend_code = trend_kpi if trend_kpi in codes else codes[0]

    # 1 query: every stored cell the page needs, whatever the number of KPIs.
    card_starts = _starts_back(start, card_gran, SPARKLINE_PERIODS)
    # The charts end with the selected period, or today if it is not over yet (no empty future bars).
    last_day = min(selected["end"], today)
    trend_end = period_floor(last_day, trend_gran)
    trend_starts = _starts_back(trend_end, trend_gran, TREND_PERIODS)
    month_starts = _starts_back(period_floor(last_day, "month"), "month", 12)
    card_ids = [kpis[c].pk for c in codes if c in kpis]
    wanted = Q(kpi_id__in=card_ids, granularity=card_gran, segment="", period_start__in=card_starts)
    if trend_code in kpis:
        wanted |= Q(kpi_id=kpis[trend_code].pk, granularity=trend_gran, segment="", period_start__in=trend_starts)
    if "revenue" in kpis:
        wanted |= Q(kpi_id=kpis["revenue"].pk, granularity="month", segment="", period_start__in=month_starts)
    if "nps" in kpis:
        wanted |= Q(kpi_id=kpis["nps"].pk, granularity=card_gran, segment="", period_start=start)
    if "leads" in kpis:
        wanted |= Q(kpi_id=kpis["leads"].pk, granularity=card_gran, segment__startswith="channel=", period_start=start)
    if "pipeline_value" in kpis:
        wanted |= Q(
            kpi_id=kpis["pipeline_value"].pk, granularity=card_gran, segment__startswith="stage=", period_start=start
        )
    cells: dict[tuple[int, str, str, dt.date], dict] = {}
    if kpis:
        for row in KpiValue.objects.filter(wanted, team=team).values(
            "kpi_id", "granularity", "segment", "period_start", "value", "components", "computed_at"
        ):
            cells[(row["kpi_id"], row["granularity"], row["segment"], row["period_start"])] = row

    # 2 queries: the team's open objectives and their targets with KPIs.
    objectives = list(
        Objective.objects.filter(team=team, state__in=OPEN_STATE)
        .prefetch_related("targets__kpi")
        .order_by("due_date", "title")
    )
    target_by_kpi: dict[int, Target] = {}
    for objective in objectives:
        if objective.start_date <= selected["end"] and objective.due_date >= start:
            for target in objective.targets.all():
                target.objective = objective  # already loaded: no query for the trend's target line
                if not target.segment:
                    target_by_kpi.setdefault(target.kpi_id, target)

    cards = [_card(code, kpis.get(code), cells, card_gran, card_starts, target_by_kpi) for code in codes]
    # Pipeline and leads come from stored segment values; only when the engine stored none (no
    # segments configured, values not computed yet) is the activity read: the team tree, then one
    # grouped query each — the page's cost then grows with the activity, so it is the exception.
    pipeline = _segment_chart(kpis.get("pipeline_value"), cells, card_gran, start, "stage")
    leads = _segment_chart(kpis.get("leads"), cells, card_gran, start, "channel")
    team_ids = team_ids_with_descendants([team.pk]) if not (pipeline and leads) else set()
    charts = {
        "trend": _trend_chart(kpis.get(trend_code), cells, trend_gran, trend_starts, target_by_kpi),
        "revenue": _revenue_chart(kpis.get("revenue"), cells, month_starts),
        "nps": _nps_chart(kpis.get("nps"), cells, card_gran, start),
        "pipeline": _pipeline_from_kpi(pipeline) if pipeline else pipeline_by_stage(team_ids=team_ids),
        "leads_by_channel": _leads_from_kpi(leads) if leads else _leads_by_channel(team_ids, selected),
    }
    return {
        "team": {"slug": team.slug, "name": team.name, "kind": team.kind},
        "period": selected,
        "granularity": trend_gran,
        "trend_kpi": trend_code,
        "cards": cards,
        "objectives": [_objective_row(o) for o in objectives],
        "charts": charts,
        "has_data": any(card["has_data"] for card in cards),
    }


def _card(code, kpi, cells, granularity, starts, target_by_kpi) -> dict:
    if kpi is None:
        return {
            "code": code,
            "name": code,
            "unit": "",
            "direction": "neutral",
            "has_data": False,
            "value": None,
            "previous_value": None,
            "change_percent": None,
            "colour": "neutral",
            "sparkline": [],
            "target": None,
            "computed_at": None,
            "period_start": starts[-1],
        }
    row = cells.get((kpi.pk, granularity, "", starts[-1]))
    previous = cells.get((kpi.pk, granularity, "", starts[-2])) if len(starts) > 1 else None
    value = row["value"] if row else None
    previous_value = previous["value"] if previous else None
    change = change_percent(value, previous_value)
    target = target_by_kpi.get(kpi.pk)
    return {
        "code": code,
        "name": kpi_name(kpi),
        "unit": kpi.unit,
        "direction": kpi.direction,
        "has_data": row is not None,
        "value": value,
        "previous_value": previous_value,
        "change_percent": change,
        "colour": change_colour(direction=kpi.direction, change_percent=change),
        "sparkline": [
            _number(cells[(kpi.pk, granularity, "", s)]["value"]) if (kpi.pk, granularity, "", s) in cells else None
            for s in starts
        ],
        "target": None
        if target is None
        else {
            "value": target.target_value,
            "progress_percent": target.progress_percent,
            "status": target.status,
            "objective_id": target.objective_id,
        },
        "computed_at": row["computed_at"] if row else None,
        "period_start": starts[-1],
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
    }


def _trend_chart(kpi, cells, granularity, starts, target_by_kpi) -> dict:
    if kpi is None:
        return {"kpi": None, "labels": [], "values": [], "target": []}
    target = target_by_kpi.get(kpi.pk)
    values = [
        _number(cells[(kpi.pk, granularity, "", s)]["value"]) if (kpi.pk, granularity, "", s) in cells else None
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
    }


def _target_line(kpi, target: Target, granularity: str, starts: list[dt.date]) -> list[float | None]:
    """The target per period, over the periods the objective covers (None elsewhere).

    A rate or average is aimed at in every period; an additive KPI's target over the whole
    objective is shared among the periods pro rata of the days each has within the objective.
    """
    objective = target.objective
    first, last = objective.start_date, objective.due_date
    total_days = (last - first).days + 1
    line: list[float | None] = []
    for start in starts:
        end = period_end(start, granularity) - dt.timedelta(days=1)
        overlap = (min(end, last) - max(start, first)).days + 1
        if overlap <= 0:
            line.append(None)
        elif kpi.additive:
            line.append(round(float(target.target_value) * overlap / total_days, 2))
        else:
            line.append(float(target.target_value))
    return line


def _revenue_chart(kpi, cells, starts) -> dict:
    if kpi is None:
        return {"labels": [], "values": []}
    return {
        "name": kpi_name(kpi),
        "unit": kpi.unit,
        "labels": [s.isoformat() for s in starts],
        "values": [
            _number(cells[(kpi.pk, "month", "", s)]["value"]) if (kpi.pk, "month", "", s) in cells else None
            for s in starts
        ],
    }


def _nps_chart(kpi, cells, granularity, start) -> dict:
    row = cells.get((kpi.pk, granularity, "", start)) if kpi is not None else None
    components = (row or {}).get("components") or {}
    promoters = components.get("promoters")
    detractors = components.get("detractors")
    responses = components.get("responses")
    if not responses or promoters is None or detractors is None:
        return {"labels": [], "values": [], "responses": 0}
    passives = responses - promoters - detractors
    return {
        "labels": [str(_("Promoters")), str(_("Passives")), str(_("Detractors"))],
        "values": [promoters, passives, detractors],
        "responses": responses,
        "score": _number(row["value"]),
    }


def pipeline_by_stage(*, team_ids: set[int]) -> dict:
    """Open deals of these teams by stage: count and amount, largest amount first; one grouped query."""
    if not team_ids:
        return {"source": "deals", "labels": [], "counts": [], "amounts": []}
    rows = (
        Deal.objects.filter(team_id__in=team_ids, status=DealStatus.OPEN)
        .values("stage")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("-amount", "stage")
    )
    rows = list(rows)
    return {
        "source": "deals",
        "labels": [r["stage"] or str(_("(no stage)")) for r in rows],
        "counts": [r["count"] for r in rows],
        "amounts": [_number(r["amount"]) for r in rows],
    }


def _segment_chart(kpi, cells, granularity, start, dimension) -> list[tuple[str, Decimal | None]]:
    """Stored values of `kpi` by `dimension` for the period starting at `start`, largest first."""
    if kpi is None:
        return []
    prefix = f"{dimension}="
    segments = [
        (key[2][len(prefix) :], row["value"])
        for key, row in cells.items()
        if key[0] == kpi.pk and key[1] == granularity and key[2].startswith(prefix) and key[3] == start
    ]
    return sorted(segments, key=lambda item: (-(item[1] or 0), item[0]))


def _pipeline_from_kpi(segments) -> dict:
    # Deals open at the end of the period (the pipeline_value KPI by stage); the counts are not stored there.
    # Stages with no open amount (the closed ones, mostly) are left out of an open-pipeline chart.
    segments = [(name, value) for name, value in segments if value]
    return {
        "source": "kpi",
        "labels": [name or str(_("(no stage)")) for name, _v in segments],
        "counts": [],
        "amounts": [_number(v) for _n, v in segments],
    }


def _leads_from_kpi(segments) -> dict:
    ordered = sorted(segments)  # by channel name, as the engine stores them
    return {"source": "kpi", "labels": [name for name, _v in ordered], "values": [_number(v) for _n, v in ordered]}


def _leads_by_channel(team_ids, selected) -> dict:
    """Leads of the period by channel from the leads themselves: one grouped query."""
    rows = (
        Lead.objects.filter(
            team_id__in=team_ids,
            created_at__gte=local_midnight(selected["start"]),
            created_at__lt=local_midnight(selected["end"] + dt.timedelta(days=1)),
        )
        .values("channel")
        .annotate(count=Count("id"))
        .order_by("-count", "channel")
    )
    rows = list(rows)
    return {
        "source": "leads",
        "labels": [r["channel"] or str(_("(no channel)")) for r in rows],
        "values": [r["count"] for r in rows],
    }
