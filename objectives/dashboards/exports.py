"""Exports of a KPI detail: the table of its periods as CSV and XLSX, written for the reader's spreadsheet.

A French reader gets what a French spreadsheet splits into columns of numbers: `;` between cells, a decimal
comma and dd/mm/yyyy dates; an English reader `,`, a decimal point and ISO dates. Both CSV files start with a
byte-order mark (the view adds it) so the accents survive. CSV numbers are rounded to the places the cards
show (`kpi_format.PLACES`) and are never escaped; text cells that a spreadsheet would run as a formula are
(`csv_safe`). The XLSX keeps exact numbers and real dates, with number formats for the same places.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.models import Team
from metrics.activity.selectors import csv_safe
from metrics.kpis.labels import segment_label, value_names
from metrics.kpis.periods import Granularity
from metrics.kpis.selectors import CellQuery, kpi_cells, kpi_definitions
from objectives.templatetags.kpi_format import PLACES

DATE, TEXT, NUMBER = "date", "text", "number"
# Measures that count records: their components are whole numbers (PLACES["n"]).
COUNTING = {"count", "count_distinct"}
# A change in percent is shown to one decimal, like `signed_percent`.
PERCENT_PLACES = 1


@dataclass(frozen=True)
class ExportStyle:
    """How one language's spreadsheets read a CSV file, and how its dates look in an XLSX one."""

    delimiter: str
    decimal: str
    date_format: str  # strftime, for CSV
    xlsx_date_format: str  # Excel number format


STYLES = {
    "fr": ExportStyle(delimiter=";", decimal=",", date_format="%d/%m/%Y", xlsx_date_format="dd/mm/yyyy"),
    "en": ExportStyle(delimiter=",", decimal=".", date_format="%Y-%m-%d", xlsx_date_format="yyyy-mm-dd"),
}


def export_style(language: str | None = None) -> ExportStyle:
    """The style of the language (the active one by default); English for a language without its own."""
    code = (language or get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return STYLES.get(code, STYLES["en"])


@dataclass(frozen=True)
class ExportColumn:
    """One column of an export: its translated title, the kind of its cells and, for numbers, their places."""

    title: str
    kind: str
    places: int = 0


@dataclass(frozen=True)
class ExportTable:
    """A KPI's values table ready to write: its name, what it covers, its columns and one row per period."""

    title: str
    subject: str
    columns: tuple[ExportColumn, ...]
    rows: tuple[tuple, ...]


def display_places(unit: str) -> int:
    """Decimal places of a KPI unit as the cards show it (kpi_format.PLACES): 0 for counts, 2 for money, 1 for
    rates and durations. An export keeps them on whole numbers too, and keeps cents on large amounts."""
    return abs(PLACES.get(unit, -2))


def kpi_detail_table(*, team: Team, data: dict) -> ExportTable:
    """The values table of a KPI detail (`kpi_detail`) as an export, with the KPI's segments as more columns;
    three queries (the KPI, its measures, its segments' stored values), plus the names of the owners and campaigns
    among its segments."""
    kpi = kpi_definitions(active_only=False).filter(code=data["kpi"]["code"]).first()  # 2 queries
    measures = list(kpi.measures.all()) if kpi else []
    unit = data["kpi"]["unit"]
    value_places = display_places(unit)
    aggregates = {m.name: m.aggregate for m in measures}

    columns = [
        ExportColumn(_("Period start"), DATE),
        ExportColumn(_("Period"), TEXT),
        ExportColumn(_value_title(unit, data["kpi"].get("unit_label", unit)), NUMBER, value_places),
        # Rates change in points, shown like the values (`signed_value`).
        ExportColumn(_("Change"), NUMBER, display_places("pts" if unit == "%" else unit)),
        ExportColumn(_("Change (%)"), NUMBER, PERCENT_PLACES),
    ]
    columns += [
        ExportColumn(title, NUMBER, _component_places(name, aggregates))
        for name, title in zip(data["component_names"], data["component_titles"], strict=True)
    ]
    segments = _segment_values(team=team, kpi_id=kpi.pk if kpi else None, data=data)
    names = value_names(segments)  # owners' and campaigns' names: at most 2 queries
    titled = sorted((segment_label(segment, names=names), segment) for segment in segments)
    columns += [ExportColumn(title, NUMBER, value_places) for title, _segment in titled]

    rows = tuple(
        (
            row["period_start"],
            row["label"],
            row["value"],
            row["change"],
            row["change_percent"],
            *row["component_values"],
            *(segments[segment].get(row["period_start"]) for _title, segment in titled),
        )
        for row in data["rows"]
    )
    return ExportTable(
        title=data["kpi"]["name"],
        subject=" · ".join(
            [data["team"]["name"], str(Granularity(data["granularity"]).label), str(data["range"]["label"])]
        ),
        columns=tuple(columns),
        rows=rows,
    )


def kpi_detail_csv(table: ExportTable, *, language: str | None = None) -> str:
    """The table as CSV text in the language's style; text cells escaped against formula injection."""
    style = export_style(language)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=style.delimiter)
    writer.writerow([csv_safe(column.title) for column in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(cell, column, style) for cell, column in zip(row, table.columns, strict=True)])
    return buffer.getvalue()


def kpi_detail_xlsx(table: ExportTable, *, language: str | None = None) -> bytes:
    """The table as an XLSX workbook: real dates and exact numbers shown to the table's places, header in bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    style = export_style(language)
    workbook = Workbook()
    workbook.properties.title = table.title
    workbook.properties.subject = table.subject
    sheet = workbook.active
    sheet.title = _sheet_title(table.title)
    sheet.append([csv_safe(column.title) for column in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in table.rows:
        # Text cells never start a formula: openpyxl would store "=…" as one.
        sheet.append([_xlsx_cell(cell, column) for cell, column in zip(row, table.columns, strict=True)])
    for index, column in enumerate(table.columns, start=1):
        letter = get_column_letter(index)
        number_format = style.xlsx_date_format if column.kind == DATE else _xlsx_number_format(column.places)
        if column.kind != TEXT:
            for cell in sheet[letter][1:]:
                cell.number_format = number_format
        sheet.column_dimensions[letter].width = {DATE: 12, TEXT: 22}.get(column.kind, 14)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- titles


def _value_title(unit: str, unit_label: str) -> str:
    """The value column's title with its unit, written: « Valeur (€) »; a count has no unit to write."""
    if unit == "n" or not unit:
        return _("Value")
    return _("Value (%(unit)s)") % {"unit": unit_label}


def _component_places(name: str, aggregates: dict[str, str]) -> int:
    while name.startswith("prev(") and name.endswith(")"):
        name = name[5:-1]
    return display_places("n" if aggregates.get(name) in COUNTING else "")


def _sheet_title(name: str) -> str:
    # Sheet titles are at most 31 characters, refuse []:*?/\ and may not start or end with an apostrophe.
    return "".join(c for c in name if c not in "[]:*?/\\")[:31].strip("' ") or "KPI"


# --------------------------------------------------------------------------- cells


def _segment_values(*, team: Team, kpi_id: int | None, data: dict) -> dict[str, dict[dt.date, Decimal | None]]:
    """Stored values of the KPI's segments over the table's periods: segment → period start → value; one query."""
    starts = [row["period_start"] for row in data["rows"]]
    if kpi_id is None or not starts:
        return {}
    query = CellQuery(
        kpi_ids=(kpi_id,), granularities=(data["granularity"],), segments=None, first=starts[0], last=starts[-1]
    )
    values: dict[str, dict[dt.date, Decimal | None]] = {}
    for cell in kpi_cells(team_ids=[team.pk], queries=[query]):
        if cell.segment:
            values.setdefault(cell.segment, {})[cell.period_start] = cell.value
    return values


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _rounded(number: Decimal, places: int) -> Decimal:
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded  # never "-0,0"


def _csv_cell(cell, column: ExportColumn, style: ExportStyle) -> str:
    if cell is None:
        return ""
    if column.kind == DATE and isinstance(cell, dt.date):
        return cell.strftime(style.date_format)
    number = _number(cell) if column.kind == NUMBER else None
    if number is not None:
        # A number is written bare, in the reader's decimal style: never quoted like a formula.
        return f"{_rounded(number, column.places):f}".replace(".", style.decimal)
    return csv_safe(cell)


def _xlsx_cell(cell, column: ExportColumn):
    if cell is None or (column.kind == DATE and isinstance(cell, dt.date)):
        return cell
    number = _number(cell) if column.kind == NUMBER else None
    if number is not None:
        return int(number) if isinstance(cell, int) else float(number)
    return csv_safe(cell)


def _xlsx_number_format(places: int) -> str:
    """A number format with a thousands separator and `places` decimals; Excel shows the reader's separators."""
    return "#,##0" + ("." + "0" * places if places else "")
