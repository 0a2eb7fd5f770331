"""A KPI's detail page for one team, as plain dicts: its formula in plain words, its history, its breakdown
by segment and a table of values — also what the CSV and XLSX exports write (DESIGN.md §8).

Everything comes from the KPI definition with its measures and from stored KpiValue rows
(one query for every period and segment of the range), never from raw activity.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Team
from metrics.activity_selectors import csv_safe
from metrics.engine import formula as formula_lang
from metrics.engine.periods import Granularity, period_floor, period_shift, period_starts, today_local
from metrics.engine.sources import SOURCES, FieldPathError, resolve_path
from metrics.models import KpiDefinition, KpiMeasure, KpiValue
from metrics.selectors import value_change
from objectives import kpi_data
from objectives.dashboard import change_percent as dashboard_change_percent
from objectives.dashboard import dashboard_as_json

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

# Segment dimensions the catalogue breaks KPIs down by (metrics.engine.sources); others show their raw name.
DIMENSION_LABELS = {
    "channel": gettext_lazy("Channel"),
    "segment": gettext_lazy("Customer segment"),
    "customer_segment": gettext_lazy("Customer segment"),
    "customer_channel": gettext_lazy("Customer's acquisition channel"),
    "owner": gettext_lazy("Owner"),
    "source": gettext_lazy("Source"),
    "campaign": gettext_lazy("Campaign"),
    "kind": gettext_lazy("Kind"),
    "stage": gettext_lazy("Stage"),
    "touchpoint": gettext_lazy("Touchpoint"),
}


# --------------------------------------------------------------------------- the formula in plain words


def _quoted(text: str) -> str:
    """A field name in the language's quotation marks."""
    return _("“%(text)s”") % {"text": text}


def _field_label(source: str, path: str) -> str:
    """The verbose name of a measure field (following relations: "customer › segment")."""
    model = SOURCES[source].model if source in SOURCES else None
    if model is None or not path:
        return path
    labels = []
    current = model
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except Exception:  # an admin typo must not break the page: show the path as written
            return path
        labels.append(str(field.verbose_name))
        if field.is_relation and field.related_model is not None:
            current = field.related_model
    return " › ".join(labels)


def _filter_value(source: str, path: str, value: object) -> str:
    if isinstance(value, dict) and "field" in value:
        return _quoted(_field_label(source, value["field"]))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_filter_value(source, path, v) for v in value)
    try:
        field, _crossed = resolve_path(SOURCES[source].model, path)
    except (FieldPathError, KeyError):
        return str(value)
    choices = dict(field.flatchoices) if field.choices else {}
    return str(choices.get(value, value))


def _filter_in_words(source: str, item: dict) -> str:
    if "any" in item:
        return "(" + _(" or ").join(_filter_in_words(source, sub) for sub in item["any"]) + ")"
    path, op, value = item.get("field", ""), item.get("op", ""), item.get("value")
    field = _quoted(_field_label(source, path))
    if op == "isnull":
        return _("%(field)s is empty") % {"field": field} if value else _("%(field)s is set") % {"field": field}
    if op == "in_period":
        return _("%(field)s falls in the period") % {"field": field}
    if op == "in":
        return _("%(field)s is one of %(values)s") % {"field": field, "values": _filter_value(source, path, value)}
    symbol = {"exact": "=", "gte": "≥", "lte": "≤", "gt": ">", "lt": "<"}.get(op, op)
    return f"{field} {symbol} {_filter_value(source, path, value)}"


def measure_in_words(measure: KpiMeasure) -> str:
    """One measure as a phrase: what is aggregated, over which records, bound to the period how, filtered how."""
    source = measure.source
    records = str(SOURCES[source].label) if source in SOURCES else source
    field = _quoted(_field_label(source, measure.field))
    if measure.duration_from:
        unit = {"s": _("seconds"), "h": _("hours"), "d": _("days")}.get(measure.duration_unit, "")
        field = _("the time from %(start)s to %(end)s in %(unit)s") % {
            "start": _quoted(_field_label(source, measure.duration_from)),
            "end": field,
            "unit": unit,
        }
    elif measure.multiply_by:
        field = f"{field} × {_quoted(_field_label(source, measure.multiply_by))}"
    phrases = {
        "count": "%(records)s",
        "count_distinct": _("number of distinct %(field)s among the %(records)s"),
        "sum": _("sum of %(field)s over the %(records)s"),
        "avg": _("mean of %(field)s over the %(records)s"),
        "median": _("median of %(field)s over the %(records)s"),
        "min": _("smallest %(field)s among the %(records)s"),
        "max": _("largest %(field)s among the %(records)s"),
    }
    text = phrases.get(measure.aggregate, "%(records)s") % {"records": records, "field": field}
    if measure.binding == "state":
        text += " " + {
            "start": _("active at the start of the period"),
            "end": _("active at the end of the period"),
            "new": _("new in the period"),
            "lost": _("lost during the period"),
        }.get(measure.state, "")
    elif measure.date_field:
        text += " " + _("whose %(date)s falls in the period") % {
            "date": _quoted(_field_label(source, measure.date_field))
        }
    conditions = [_filter_in_words(source, item) for item in (measure.filters or []) if isinstance(item, dict)]
    if conditions:
        text += ", " + _("where %(conditions)s") % {"conditions": _(" and ").join(conditions)}
    return text


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_SYMBOLS = {"+": "+", "-": "−", "*": "×", "/": "÷"}


def _node_in_words(node, words: dict[str, str], parent: int = 0, right: bool = False) -> str:
    if isinstance(node, formula_lang.Number):
        return formats.number_format(node.value, use_l10n=True)
    if isinstance(node, formula_lang.Name):
        text = words.get(node.name, node.name)
        # A measure with conditions ("…, where status = won") is bracketed inside an expression: one term.
        return f"({text})" if parent and ", " in text else text
    if isinstance(node, formula_lang.Negate):
        return "−" + _node_in_words(node.operand, words, 3)
    if isinstance(node, formula_lang.Call):
        args = [_node_in_words(arg, words) for arg in node.args]
        calls = {
            "prev": lambda: _("%(x)s of the previous period") % {"x": args[0]},
            "if_null": lambda: _("%(x)s (or %(y)s when it has no value)") % {"x": args[0], "y": args[1]},
            "positive": lambda: _("%(x)s when it is positive") % {"x": args[0]},
            "abs": lambda: _("absolute value of %(x)s") % {"x": args[0]},
            "min": lambda: _("the smallest of %(values)s") % {"values": ", ".join(args)},
            "max": lambda: _("the largest of %(values)s") % {"values": ", ".join(args)},
        }
        text = calls[node.function]() if node.function in calls else f"{node.function}({', '.join(args)})"
        return f"({text})" if parent >= 2 else text
    # A percentage reads better with "× 100" last: 100 × a ÷ b is shown as a ÷ b × 100 (the same value).
    if (
        node.op == "/"
        and isinstance(node.left, formula_lang.BinaryOp)
        and node.left.op == "*"
        and isinstance(node.left.left, formula_lang.Number)
    ):
        factor, numerator = node.left.left, node.left.right
        swapped = formula_lang.BinaryOp("*", formula_lang.BinaryOp("/", numerator, node.right), factor)
        return _node_in_words(swapped, words, parent, right)
    mine = _PRECEDENCE[node.op]
    left = _node_in_words(node.left, words, mine)
    # The right operand of − and ÷ needs brackets at the same precedence: a − (b + c), a ÷ (b × c).
    right_text = _node_in_words(node.right, words, mine + (1 if node.op in "-/" else 0), right=True)
    text = f"{left} {_SYMBOLS[node.op]} {right_text}"
    return f"({text})" if mine < parent else text


def formula_in_words(*, formula: str, measures: Sequence[KpiMeasure]) -> str:
    """The KPI's formula with each measure named in plain words, e.g. "Customers lost during the period ÷
    customers active at the start of the period × 100"; the raw formula when it does not parse."""
    try:
        tree = formula_lang.formula_parse(formula).tree
    except formula_lang.FormulaError:
        return formula
    text = _node_in_words(tree, {m.name: measure_in_words(m) for m in measures})
    return "(" + _capitalised(text[1:]) if text.startswith("(") else _capitalised(text)


# --------------------------------------------------------------------------- periods


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


def period_label(start: dt.date, granularity: str) -> str:
    """A period as people name it, in the active language: 3 March 2026, week of 2 March 2026, March 2026, Q1 2026."""
    if granularity == "day":
        return formats.date_format(start, "j F Y")
    if granularity == "week":
        return _("week of %(day)s") % {"day": formats.date_format(start, "j F Y")}
    if granularity == "month":
        return formats.date_format(start, "F Y")
    if granularity == "quarter":
        return _("Q%(quarter)d %(year)d") % {"quarter": (start.month - 1) // 3 + 1, "year": start.year}
    return str(start.year)


# --------------------------------------------------------------------------- the page


def kpi_detail(
    *,
    team: Team,
    kpi: KpiDefinition,
    granularity: str | None = None,
    range_key: str | None = None,
    breakdown_at: str | None = None,
    today: dt.date | None = None,
) -> dict:
    """Everything the KPI detail page shows for one team; two queries (the KPI's measures, the stored values).

    Keys: kpi (code, name, description, unit, direction, formula, formula_words, measures),
    team, granularity (+ choices), range, rows (one per period of the range, oldest first:
    period_start, label, has_data, value, previous_value, change, change_percent, components),
    history (labels, values for the chart), component_names, breakdown (period and, per
    dimension, its segment values) and has_data.
    """
    today = today or today_local()
    gran = granularity if granularity in GRANULARITIES else (kpi.default_granularity or "month")
    selected = detail_range(range_key=range_key, today=today)
    starts = period_starts(start=selected["start"], end=selected["end"] + dt.timedelta(days=1), granularity=gran)
    # The period before the first one gives the first row its change.
    before = period_shift(starts[0], gran, -1)

    measures = list(kpi.measures.order_by("position", "id"))  # 1 query
    stored: dict[str, dict[dt.date, dict]] = {}
    for row in KpiValue.objects.filter(  # 1 query: every segment of every period of the range
        kpi=kpi, team=team, granularity=gran, period_start__gte=before, period_start__lte=starts[-1]
    ).values("segment", "period_start", "value", "components"):
        stored.setdefault(row["segment"], {})[row["period_start"]] = row

    overall = stored.get("", {})
    rows = []
    component_names: set[str] = set()
    for start in starts:
        row = overall.get(start)
        previous = overall.get(period_shift(start, gran, -1))
        value = row["value"] if row else None
        previous_value = previous["value"] if previous else None
        change = value_change(value, previous_value)[0]
        change_percent = dashboard_change_percent(value, previous_value)
        components = (row or {}).get("components") or {}
        component_names.update(components)
        rows.append(
            {
                "period_start": start,
                "label": period_label(start, gran),
                "has_data": row is not None,
                "value": value,
                "previous_value": previous_value,
                "change": change,
                "change_percent": change_percent,
                "components": components,
            }
        )
    names = sorted(component_names)
    for row in rows:
        row["component_values"] = [row["components"].get(name) for name in names]

    return {
        "kpi": {
            "code": kpi.code,
            "name": kpi_data.kpi_name(kpi),
            "description": kpi.description,
            "unit": kpi.unit,
            "direction": kpi.direction,
            "direction_label": kpi.get_direction_display(),
            "additive": kpi.additive,
            "formula": kpi.formula,
            "formula_words": formula_in_words(formula=kpi.formula, measures=measures),
            "measures": [{"name": m.name, "words": _capitalised(measure_in_words(m))} for m in measures],
        },
        "team": {"slug": team.slug, "name": team.name},
        "granularity": gran,
        "granularity_choices": [
            {"key": value, "label": str(label), "selected": value == gran} for value, label in Granularity.choices
        ],
        "range": selected,
        "rows": rows,
        "component_names": names,
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


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _breakdown(stored: dict, starts: list[dt.date], granularity: str, at: str | None, additive: bool) -> dict:
    """Segment values of one period, per dimension, largest first; the period is `at` if it has any, else the
    latest one that has."""
    in_range = set(starts)
    with_segments = sorted({start for segment, cells in stored.items() if segment for start in cells} & in_range)
    if not with_segments:
        return {"period_start": None, "label": "", "choices": [], "dimensions": []}
    wanted = dt.date.fromisoformat(at) if at and _is_iso_date(at) else None
    period = wanted if wanted in with_segments else with_segments[-1]
    dimensions: dict[str, list[dict]] = {}
    for segment, cells in stored.items():
        if not segment or period not in cells:
            continue
        dimension, _sep, name = segment.partition("=")
        dimensions.setdefault(dimension, []).append({"name": name, "value": cells[period]["value"]})
    result = []
    for dimension in sorted(dimensions, key=lambda d: str(DIMENSION_LABELS.get(d, d))):
        items = sorted(dimensions[dimension], key=lambda i: (i["value"] is None, -(i["value"] or 0), i["name"]))
        largest = max((abs(i["value"]) for i in items if i["value"] is not None), default=Decimal(0))
        total = sum((i["value"] for i in items if i["value"] is not None), Decimal(0))
        for item in items:
            value = item["value"]
            item["bar_percent"] = float(100 * abs(value) / largest) if value is not None and largest else 0.0
            # Shares only make sense for counts and sums: a rate of a channel is not a part of the whole.
            item["share_percent"] = (
                (100 * value / total).quantize(Decimal("0.1")) if additive and value is not None and total else None
            )
        result.append({"key": dimension, "label": str(DIMENSION_LABELS.get(dimension, dimension)), "items": items})
    return {
        "period_start": period,
        "label": period_label(period, granularity),
        "choices": [
            {"key": s.isoformat(), "label": period_label(s, granularity), "selected": s == period}
            for s in reversed(with_segments)
        ],
        "dimensions": result,
    }


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- exports


def export_header(data: dict) -> list[str]:
    """The export's column titles in the active language (French for French users)."""
    return [
        _("Period start"),
        _("Period"),
        _("Value (%(unit)s)") % {"unit": data["kpi"]["unit"]},
        _("Change"),
        _("Change (%)"),
        *data["component_names"],
    ]


def export_rows(data: dict) -> Iterable[list]:
    """The values table's rows as cells: a date, text, then numbers (Decimal or None)."""
    for row in data["rows"]:
        yield [
            row["period_start"],
            row["label"],
            row["value"],
            row["change"],
            row["change_percent"],
            *row["component_values"],
        ]


def kpi_detail_csv(data: dict) -> str:
    """The values table as CSV text; every cell escaped against formula injection (as the activity export)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(cell) for cell in export_header(data)])
    for row in export_rows(data):
        writer.writerow([csv_safe(cell) for cell in row])
    return buffer.getvalue()


def kpi_detail_xlsx(data: dict) -> bytes:
    """The values table as an XLSX workbook: dates as dates and values as numbers, header in bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    # Sheet titles are at most 31 characters and refuse []:*?/\
    sheet.title = "".join(c for c in data["kpi"]["code"] if c not in "[]:*?/\\")[:31] or "KPI"
    sheet.append(export_header(data))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in export_rows(data):
        # Text cells never start a formula: openpyxl would store "=…" as one.
        sheet.append([csv_safe(cell) if isinstance(cell, str) else _xlsx_number(cell) for cell in row])
    for cell in sheet["A"][1:]:
        cell.number_format = "yyyy-mm-dd"
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 22
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_number(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def kpi_detail_as_json(data: dict) -> dict:
    """The detail dict with numbers as JSON numbers and dates as ISO strings."""
    return dashboard_as_json(data)
