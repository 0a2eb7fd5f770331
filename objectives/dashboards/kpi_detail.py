"""A KPI's detail page for one team, as plain dicts: its formula in plain words, its history, its breakdown
by segment and a table of values — also what the CSV and XLSX exports write (DESIGN.md §8).

Everything comes from the KPI definition with its measures and from stored KPI values
(one query for every period and segment of the range), never from raw activity.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Team
from kpiplatform import dates
from metrics.kpis.comparisons import comparison_values
from metrics.kpis.labels import code_label, dimension_label, value_names
from metrics.kpis.periods import Granularity, period_end, period_floor, period_shift, period_starts, today_local
from metrics.kpis.selectors import CellQuery, kpi_cells, kpi_name
from metrics.kpis.words import capitalised, formula_in_words, measure_in_words
from metrics.models import KpiDefinition
from objectives.dashboards.cards import dashboard_as_json, kpi_change
from objectives.dashboards.drivers import DriversSummary, drivers_summary

# range key → (label, months back from the current month; None for a calendar year)
RANGES: dict[str, tuple[object, int | None]] = {
    "3m": (gettext_lazy("Last 3 months"), 3),
    "12m": (gettext_lazy("Last 12 months"), 12),
    "24m": (gettext_lazy("Last 24 months"), 24),
    "this_year": (gettext_lazy("This year"), None),
    "last_year": (gettext_lazy("Last year"), None),
}


DEFAULT_RANGE = "12m"
GRANULARITIES = tuple(Granularity.values)


def detail_range(*, range_key: str | None, today: dt.date | None = None) -> dict:
    """The selected date range: key, label, first and last day (included), and the choices."""
    today = today or today_local()
    key = range_key if range_key in RANGES else DEFAULT_RANGE
    label, months = RANGES[key]
    if key == "this_year":
        start, end = dt.date(today.year, 1, 1), today
    elif key == "last_year":
        start, end = dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    else:
        start, end = period_shift(period_floor(today, "month"), "month", -((months or 1) - 1)), today
    return {
        "key": key,
        "label": str(label),
        "start": start,
        "end": end,
        "choices": [{"key": k, "label": str(v[0]), "selected": k == key} for k, v in RANGES.items()],
    }


def kpi_detail(
    *,
    team: Team,
    kpi: KpiDefinition,
    granularity: str | None = None,
    range_key: str | None = None,
    breakdown_at: dt.date | str | None = None,
    today: dt.date | None = None,
) -> dict:
    """Everything the KPI detail page shows for one team; two queries (the KPI's measures, the stored values),
    plus the comparison's and, when the breakdown names owners or campaigns, their names'.

    Keys: kpi (code, name, description, unit, direction, formula, formula_words, measures),
    team, granularity (+ choices), range, rows (one per period of the range, oldest first:
    period_start, label, has_data, value, previous_value, change, change_percent, components),
    history (labels, values for the chart), component_names with their component_titles in words,
    breakdown (period and, per dimension, its segment values by code and label) and has_data. `breakdown_at`: the
    period of the breakdown (a date, or its ISO text), when it has segment values.
    """
    today = today or today_local()
    gran = granularity if granularity in GRANULARITIES else (kpi.default_granularity or "month")
    selected = detail_range(range_key=range_key, today=today)
    starts = period_starts(start=selected["start"], end=selected["end"] + dt.timedelta(days=1), granularity=gran)
    # The period before the first one gives the first row its change.
    before = period_shift(starts[0], gran, -1)

    measures = list(kpi.measures.order_by("position", "id"))  # 1 query
    stored: dict[str, dict[dt.date, dict]] = {}
    # 1 query: every segment of every period of the range
    every_segment = CellQuery(kpi_ids=(kpi.pk,), granularities=(gran,), segments=None, first=before, last=starts[-1])
    for cell in kpi_cells(team_ids=[team.pk], queries=[every_segment]):
        stored.setdefault(cell.segment, {})[cell.period_start] = {"value": cell.value, "components": cell.components}

    overall = stored.get("", {})
    # The period still running is compared like for like (1 query: the previous period's first days), the
    # others with the whole period before them, as on the cards (metrics.kpis.comparisons).
    running = comparison_values(kpis=[kpi], team_ids=[team.pk], granularity=gran, period_start=starts[-1], today=today)
    rows = []
    component_names: set[str] = set()
    for start in starts:
        row = overall.get(start)
        previous = overall.get(period_shift(start, gran, -1))
        value = row["value"] if row else None
        previous_value = previous["value"] if previous else None
        if start == starts[-1] and running.span.to_date:
            previous_value = running.value(team.pk, kpi.pk)
        moved = kpi_change(unit=kpi.unit, direction=kpi.direction, value=value, previous=previous_value)
        components = (row or {}).get("components") or {}
        component_names.update(components)
        rows.append(
            {
                "period_start": start,
                "label": dates.period(start, gran),
                "has_data": row is not None,
                "value": value,
                "previous_value": previous_value,
                # The change in the KPI's unit (the export's column), and as the cards show it.
                "change": moved["change_delta"],
                "change_percent": moved["change_percent"],
                "change_shown": moved["change"],
                "change_unit": moved["change_unit"],
                "compared_with": running.span.label if start == starts[-1] else "",
                "components": components,
            }
        )
    names = sorted(component_names)
    for row in rows:
        row["component_values"] = [row["components"].get(name) for name in names]
    words = {m.name: capitalised(measure_in_words(m)) for m in measures}

    return {
        "kpi": {
            "code": kpi.code,
            "name": kpi_name(kpi),
            "description": kpi.description,
            "unit": kpi.unit,
            "unit_label": kpi.get_unit_display(),
            "direction": kpi.direction,
            "direction_label": kpi.get_direction_display(),
            "additive": kpi.additive,
            "formula": kpi.formula,
            "formula_words": formula_in_words(formula=kpi.formula, measures=measures),
            "measures": [{"name": m.name, "words": words[m.name]} for m in measures],
        },
        "team": {"slug": team.slug, "name": team.name},
        "granularity": gran,
        "granularity_choices": [
            {"key": value, "label": str(label), "selected": value == gran} for value, label in Granularity.choices
        ],
        "range": selected,
        "rows": rows,
        "component_names": names,
        # The components' column titles: their measures in words, not the names the formula gives them.
        "component_titles": [component_title(name, words) for name in names],
        "history": {
            "labels": [r["period_start"].isoformat() for r in rows],
            "names": [r["label"] for r in rows],
            "values": [None if r["value"] is None else float(r["value"]) for r in rows],
            "unit": kpi.unit,
            "granularity": gran,
        },
        "breakdown": _breakdown(stored, starts, gran, breakdown_at, kpi.additive),
        "has_data": any(r["has_data"] for r in rows),
    }


def component_title(name: str, words: dict[str, str]) -> str:
    """A component's title: its measure in words (`words` by measure name); "prev(x)" is x of the previous
    period; a name no measure has is shown readable."""
    if name.startswith("prev(") and name.endswith(")"):
        return _("%(x)s of the previous period") % {"x": component_title(name[5:-1], words)}
    return words.get(name) or capitalised(name.replace("_", " "))


def _breakdown(stored: dict, starts: list[dt.date], granularity: str, at: dt.date | str | None, additive: bool) -> dict:
    """Segment values of one period, per dimension, largest first; the period is `at` if it has any, else the
    latest one that has."""
    in_range = set(starts)
    with_segments = sorted({start for segment, cells in stored.items() if segment for start in cells} & in_range)
    if not with_segments:
        return {"period_start": None, "label": "", "choices": [], "dimensions": []}
    wanted = at if isinstance(at, dt.date) else _iso_date_or_none(at)
    period = wanted if wanted in with_segments else with_segments[-1]
    dimensions: dict[str, list[dict]] = {}
    for segment, cells in stored.items():
        if not segment or period not in cells:
            continue
        dimension, _sep, name = segment.partition("=")
        dimensions.setdefault(dimension, []).append({"name": name, "value": cells[period]["value"]})
    # The owners' and campaigns' names (at most 2 queries, none without such segments).
    names = value_names(segment for segment, cells in stored.items() if segment and period in cells)
    result = []
    for dimension in sorted(dimensions, key=dimension_label):
        items = sorted(dimensions[dimension], key=lambda i: (i["value"] is None, -(i["value"] or 0), i["name"]))
        largest = max((abs(i["value"]) for i in items if i["value"] is not None), default=Decimal(0))
        total = sum((i["value"] for i in items if i["value"] is not None), Decimal(0))
        for item in items:
            item["label"] = code_label(dimension, item["name"], names=names)
            value = item["value"]
            item["bar_percent"] = float(100 * abs(value) / largest) if value is not None and largest else 0.0
            # Shares only make sense for counts and sums: a rate of a channel is not a part of the whole.
            item["share_percent"] = (
                (100 * value / total).quantize(Decimal("0.1")) if additive and value is not None and total else None
            )
        result.append({"key": dimension, "label": dimension_label(dimension), "items": items})
    return {
        "period_start": period,
        "label": dates.period(period, granularity),
        "choices": [
            {"key": s.isoformat(), "label": dates.period(s, granularity), "selected": s == period}
            for s in reversed(with_segments)
        ],
        "dimensions": result,
    }


def _iso_date_or_none(text: str | None) -> dt.date | None:
    """The day written YYYY-MM-DD in `text`; None for anything else (the latest period is shown instead)."""
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def kpi_detail_as_json(data: dict) -> dict:
    """The detail dict with numbers as JSON numbers and dates as ISO strings."""
    return dashboard_as_json(data)


def kpi_detail_drivers(*, team: Team, kpi: KpiDefinition, data: dict) -> DriversSummary | None:
    """What drove the change of the last period the detail shows (the running one so far) against its like-for-like
    comparison, split by measure and segment (metrics.kpis.drivers, from the records: a few grouped queries, kept
    out of kpi_detail, which the exports also call)."""
    if not data["rows"]:
        return None
    start = data["rows"][-1]["period_start"]
    end = min(period_end(start, data["granularity"]), data["range"]["end"] + dt.timedelta(days=1))
    return drivers_summary(team=team, kpi=kpi, span=(start, end), components=True)
