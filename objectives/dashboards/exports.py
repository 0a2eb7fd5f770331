"""Exports of a KPI detail: the table of its periods as CSV and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from django.utils.translation import gettext as _

from metrics.activity.selectors import csv_safe


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
