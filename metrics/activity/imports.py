"""CSV/XLSX import of CRM activity, through the same validation and upsert as the API.

A file is read into rows, each column mapped to a field of the kind (guessed from the
header, in English or French), validated as a whole, then written in one transaction:
nothing is written when a row is invalid, unless the caller asks for the valid rows.
The import page runs it as a Celery task (ImportJob); `manage.py import_activity` in-process.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Team
from metrics.activity.ingest import (
    IngestError,
    IngestResult,
    ValidatedBatch,
    activity_batch_commit,
    activity_batch_validate,
)
from metrics.activity.kinds import KindSpec, kind_spec

# Errors kept in a report (the count says how many there were in all).
MAX_REPORTED_ERRORS = 1000
IMPORT_COLUMNS = ("external_id", "team", "attributes")


class ImportFileError(ValueError):
    """The file cannot be read as a table; the message says why."""


@dataclass
class ImportReport:
    """What an import did, and every invalid row by its line in the file."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    written: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "written": self.written,
            "errors": self.errors,
            "error_count": self.error_count,
        }


@dataclass
class Table:
    """A file read as a header and rows of text cells, with each row's line number in the file."""

    headers: list[str]
    rows: list[list[str]]
    lines: list[int]


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------
def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("The file is neither UTF-8 nor Windows-1252 text."))


def _read_csv(content: bytes) -> Table:
    text = _decode(content)
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    headers: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    for cells in reader:
        if headers is None:
            headers = [cell.strip() for cell in cells]
        elif any(cell.strip() for cell in cells):
            rows.append(cells)
            lines.append(start)
        start = reader.line_num + 1
    if not headers:
        raise ImportFileError(_("The file is empty."))
    return Table(headers, rows, lines)


def _read_xlsx(content: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds of errors for a bad file
        raise ImportFileError(_("This is not a readable XLSX file.")) from exc
    sheet = workbook.worksheets[0]
    headers: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = ["" if value is None else _xlsx_text(value) for value in values]
        if headers is None:
            headers = [cell.strip() for cell in cells]
        elif any(cell.strip() for cell in cells):
            rows.append(cells)
            lines.append(number)
    workbook.close()
    if not headers:
        raise ImportFileError(_("The file is empty."))
    return Table(headers, rows, lines)


def _xlsx_text(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def import_file_read(*, content: bytes, filename: str) -> Table:
    """Read a CSV (comma, semicolon or tab separated) or XLSX file into a Table."""
    if len(content) > settings.KPI_MAX_IMPORT_BYTES:
        raise ImportFileError(
            _("The file is too large: %(size)d bytes (at most %(limit)d).")
            % {"size": len(content), "limit": settings.KPI_MAX_IMPORT_BYTES}
        )
    if filename.lower().endswith((".xlsx", ".xlsm")) or content[:4] == b"PK\x03\x04":
        return _read_xlsx(content)
    return _read_csv(content)


# ---------------------------------------------------------------------------
# Mapping columns to fields
# ---------------------------------------------------------------------------
def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower().strip()
    for char in " -./()%":
        text = text.replace(char, "_")
    return "_".join(part for part in text.split("_") if part)


def import_field_names(spec: KindSpec) -> list[str]:
    """The fields a column can be mapped to."""
    return [*IMPORT_COLUMNS[:2], *(f.name for f in spec.fields), IMPORT_COLUMNS[2]]


def import_columns_guess(*, spec: KindSpec, headers: Sequence[str]) -> list[str]:
    """Guess each column's field from its header: the field's name or its label in English or French."""
    aliases: dict[str, str] = {}
    for name in import_field_names(spec):
        aliases[_normalise(name)] = name
    for language in ("en", "fr"):
        with translation.override(language):
            for spec_field in spec.fields:
                aliases.setdefault(_normalise(str(spec_field.label)), spec_field.name)
                if spec_field.reference is not None:
                    referenced = spec_field.reference._meta.verbose_name
                    aliases.setdefault(_normalise(str(referenced)), spec_field.name)
            aliases.setdefault(_normalise(str(_("team"))), "team")
    guessed: list[str] = []
    for header in headers:
        name = aliases.get(_normalise(header), "")
        guessed.append("" if name in guessed else name)
    return guessed


def _records(table: Table, mapping: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows as records (empty cells left out), and the errors of unreadable `attributes` cells."""
    columns = [(position, name) for position, name in enumerate(mapping) if name]
    records: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, cells in enumerate(table.rows):
        record: dict[str, Any] = {}
        for position, name in columns:
            cell = cells[position].strip() if position < len(cells) else ""
            if cell == "":
                continue
            if name == "attributes":
                try:
                    record[name] = json.loads(cell)
                except ValueError:
                    errors.append(
                        {"index": index, "external_id": None, "field": name, "message": _("Enter a JSON object.")}
                    )
                    continue
            else:
                record[name] = cell
        records.append(record)
    return records, errors


def import_mapping_check(*, spec: KindSpec, mapping: Sequence[str]) -> list[str]:
    """Problems with a mapping: unknown fields, a field mapped twice, required fields missing."""
    problems: list[str] = []
    known = set(import_field_names(spec))
    used = [name for name in mapping if name]
    for name in sorted(set(used) - known):
        problems.append(_("Unknown field '%(field)s'.") % {"field": name})
    for name in sorted({name for name in used if used.count(name) > 1}):
        problems.append(_("Field '%(field)s' is mapped to more than one column.") % {"field": name})
    required = ["external_id", *(f.name for f in spec.fields if f.required)]
    missing = [name for name in required if name not in used]
    if missing:
        problems.append(_("Map a column to each required field: %(fields)s.") % {"fields": ", ".join(missing)})
    return problems


# ---------------------------------------------------------------------------
# Importing
# ---------------------------------------------------------------------------
def activity_table_import(
    *,
    kind: str,
    table: Table,
    mapping: Sequence[str],
    team: Team,
    writable_team_ids: set[int] | None,
    valid_only: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate every row, then write all of them (or only the valid ones) in one transaction.

    Errors name the row's line in the file (the header is line 1). With `valid_only`
    off, one invalid row means nothing is written.
    """
    spec = kind_spec(kind)
    problems = import_mapping_check(spec=spec, mapping=mapping)
    if problems:
        raise ImportFileError(" ".join(problems))
    records, cell_errors = _records(table, mapping)
    bad_cells = {error["index"] for error in cell_errors}
    batch = activity_batch_validate(
        kind=kind,
        records=[{} if index in bad_cells else record for index, record in enumerate(records)],
        default_team_id=team.pk,
        writable_team_ids=writable_team_ids,
        on_progress=on_progress,
    )
    # A row with an unreadable cell is reported for that cell only.
    errors = cell_errors + [error for error in batch.errors if error["index"] not in bad_cells]
    errors.sort(key=lambda error: error["index"])
    report = ImportReport(rows=len(records))
    report.error_count = len(errors)
    report.errors = [
        {
            "line": table.lines[error["index"]] if error["index"] is not None else None,
            "external_id": error["external_id"] or _record_external_id(records, error["index"]),
            "field": error["field"],
            "message": error["message"],
        }
        for error in errors[:MAX_REPORTED_ERRORS]
    ]
    invalid = {error["index"] for error in errors}
    if invalid and not valid_only:
        return report
    rows = [row for row in batch.rows if row.index not in invalid]
    report.skipped = len(invalid)
    try:
        result = activity_batch_commit(batch=ValidatedBatch(spec=spec, rows=rows, errors=[]))
    except IngestError as exc:
        report.errors = [{"line": None, **error} for error in exc.errors]
        report.error_count = len(exc.errors)
        return report
    _add(report, result)
    report.written = True
    return report


def _record_external_id(records: list[dict[str, Any]], index: int | None) -> str | None:
    if index is None:
        return None
    value = records[index].get("external_id")
    return value if isinstance(value, str) else None


def _add(report: ImportReport, result: IngestResult) -> None:
    report.created += result.created
    report.updated += result.updated
    report.unchanged += result.unchanged
