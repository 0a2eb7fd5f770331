"""CSV/XLSX import of CRM activity, through the same validation and upsert as the API.

A file is read into rows (CSV separated by `;`, `,` or tabs, in UTF-8 with or without BOM,
UTF-16 or UTF-32 (told by their BOM, or by their zero bytes without one) or Windows-1252; or
XLSX), each column mapped to a field of the kind (guessed from the header:
field name, English or French label, or a synonym of `metrics.activity.synonyms`), each cell
read as a French or English spreadsheet writes it (« 1 234,56 € », « 01/12/2026 10:15 »,
« Finalisée »), the rows validated as a whole, then written in one transaction: nothing is
written when a row is invalid, unless the caller asks for the valid rows. The invalid rows can
be downloaded as a CSV file to correct. The import page runs it as a Celery task (ImportJob,
`metrics.activity.import_jobs`); `manage.py import_activity` in-process.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Team
from kpiplatform.text import UNSTORABLE_TEXT
from metrics.activity.ingest import (
    IngestError,
    IngestResult,
    ValidatedBatch,
    ValidRow,
    activity_batch_commit,
    activity_batch_lock,
    activity_batch_validate,
    storable_text,
)
from metrics.activity.kinds import FieldError, KindSpec, kind_spec, read_decimal_cell, word_key
from metrics.activity.selectors import FORMULA_TRIGGERS
from metrics.activity.synonyms import HEADER_SYNONYMS, KIND_HEADER_SYNONYMS

# Errors kept in a report (the count says how many there were in all; the error file has them all).
MAX_REPORTED_ERRORS = 1000
IMPORT_COLUMNS = ("external_id", "team", "attributes")
# Rows of a file validated and shown before an import runs.
PREVIEW_ROWS = 20
# Bytes of a file looked at to tell text from binary.
_SNIFF_BYTES = 8192
_DELIMITERS = (";", "\t", ",")  # in this order when a header line splits as well on several
# Byte order marks and their codecs, UTF-32 LE before UTF-16 LE (whose mark begins it). A spreadsheet saves
# "Unicode text" as UTF-16 LE with a mark; some exports leave the mark out.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f"}


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
    # The invalid rows as a CSV file to correct (see `import_error_file`); not part of `as_dict`.
    error_file: bytes = b""

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


@dataclass(frozen=True)
class RecordChange:
    """One record an import created or updated; for an update, the stored values it replaced (by attname,
    as JSON: dates in ISO 8601, decimals as strings) so that the import can be undone."""

    team_id: int
    external_id: str
    created: bool
    previous: dict[str, Any] | None


@dataclass(frozen=True)
class PreviewRow:
    """One row of a file before the import: its line, its cells, and what is wrong with it."""

    line: int
    cells: list[str]
    errors: list[str]


@dataclass(frozen=True)
class ImportPreview:
    """The first rows of a file checked with a mapping, before anything is written."""

    rows: list[PreviewRow]
    invalid: int
    problems: list[str]  # of the mapping itself: the rows are not checked while there are any

    @property
    def summary(self) -> str:
        if self.problems:
            return ""
        if not self.invalid:
            return ngettext("The first row is valid.", "The first %(rows)d rows are valid.", len(self.rows)) % {
                "rows": len(self.rows)
            }
        return ngettext(
            "%(count)d invalid row among the first %(rows)d.",
            "%(count)d invalid rows among the first %(rows)d.",
            self.invalid,
        ) % {"count": self.invalid, "rows": len(self.rows)}


@dataclass
class _CheckedRows:
    records: list[dict[str, Any]]
    batch: ValidatedBatch
    errors: list[dict[str, Any]]  # sorted by row index


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------
def _mostly_zero(data: bytes) -> bool:
    return bool(data) and data.count(0) * 10 >= len(data) * 9


def _unicode_without_bom(head: bytes) -> tuple[str, str] | None:
    """(codec, name) of UTF-32 or UTF-16 text without a byte order mark, told by where its zero bytes are (the
    high bytes of Latin characters); None when the zeros do not fall so."""
    if len(head) >= 8:
        quads = head[: len(head) // 4 * 4]
        if not any(quads[3::4]) and _mostly_zero(quads[2::4]):
            return "utf-32-le", "UTF-32"
        if not any(quads[0::4]) and _mostly_zero(quads[1::4]):
            return "utf-32-be", "UTF-32"
    pairs = head[: len(head) // 2 * 2]
    odd_zeros, even_zeros = pairs[1::2].count(0), pairs[0::2].count(0)
    if odd_zeros > len(pairs) // 4 and even_zeros * 10 < odd_zeros:
        return "utf-16-le", "UTF-16"
    if even_zeros > len(pairs) // 4 and odd_zeros * 10 < even_zeros:
        return "utf-16-be", "UTF-16"
    return None


def _decode(content: bytes) -> str:
    """The text of a CSV file: UTF-8, UTF-16 or UTF-32 by their byte order mark (or, without one, UTF-16/32 by
    their zero bytes), else UTF-8, else Windows-1252; binary files and text that cannot be decoded are refused."""
    if content.startswith(_OLE2_SIGNATURE):
        raise ImportFileError(_("This is an Excel 97-2003 file (.xls): save it as .xlsx or CSV and upload it again."))
    found = next(((codec, name, len(bom)) for bom, codec, name in _BOMS if content.startswith(bom)), None)
    if found is None and b"\x00" in content[:_SNIFF_BYTES]:
        unicode = _unicode_without_bom(content[:_SNIFF_BYTES])
        if unicode is None:
            raise ImportFileError(_("This is not a CSV or XLSX file: upload a table saved as CSV or XLSX."))
        found = (*unicode, 0)
    if found is not None:
        codec, name, skip = found
        try:
            text = content[skip:].decode(codec)
        except UnicodeDecodeError:
            raise ImportFileError(
                _(
                    "This file looks like %(encoding)s text but cannot be read as such: save it as “CSV UTF-8” and "
                    "upload it again."
                )
                % {"encoding": name}
            ) from None
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = content.decode("cp1252")
            except UnicodeDecodeError:
                raise ImportFileError(
                    _("The file is neither UTF-8 nor Windows-1252 text: save it as “CSV UTF-8” and upload it again.")
                ) from None
    text = text.removeprefix("\ufeff").removesuffix("\x1a")  # the end-of-file mark of old DOS exports
    if any(char < " " and char not in _TEXT_CONTROLS for char in text[:_SNIFF_BYTES]):
        raise ImportFileError(_("This is not a CSV or XLSX file: upload a table saved as CSV or XLSX."))
    return text


def _delimiter(text: str) -> str:
    """`;`, tab or `,`: whichever splits the header line into the most cells (a guess made on the rows would
    take the decimal commas of « 1 234,56 » for separators)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    widths = {delimiter: len(next(csv.reader([header], delimiter=delimiter), [])) for delimiter in _DELIMITERS}
    widest = max(widths.values())
    if widest <= 1:
        return ","
    return next(delimiter for delimiter in _DELIMITERS if widths[delimiter] == widest)


def _read_csv(content: bytes) -> Table:
    text = _decode(content)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    headers: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for cells in reader:
            if headers is None:
                if any(cell.strip() for cell in cells):
                    headers = [cell.strip() for cell in cells]
            elif any(cell.strip() for cell in cells):
                rows.append(cells)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(
            _("Line %(line)d cannot be read as CSV: %(error)s") % {"line": reader.line_num, "error": exc}
        ) from exc
    if not headers:
        raise ImportFileError(_("The file is empty."))
    return Table(headers, rows, lines)


def _read_xlsx(content: bytes) -> Table:
    from openpyxl import load_workbook

    headers: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = ["" if value is None else _xlsx_text(value) for value in values]
            if headers is None:
                if any(cell.strip() for cell in cells):
                    headers = [cell.strip() for cell in cells]
            elif any(cell.strip() for cell in cells):
                rows.append(cells)
                lines.append(number)
        workbook.close()
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds of errors for a bad file
        raise ImportFileError(_("This is not a readable XLSX file.")) from exc
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
    """Read a CSV (`;`, `,` or tab separated; UTF-8, UTF-16, UTF-32 or Windows-1252) or XLSX file into a Table;
    ImportFileError says why a file cannot be read. A cell may still hold a NUL character: its row is
    reported invalid by the import's validation, like any other unreadable cell."""
    if len(content) > settings.KPI_MAX_IMPORT_BYTES:
        raise ImportFileError(
            _("The file is too large: %(size)d bytes (at most %(limit)d).")
            % {"size": len(content), "limit": settings.KPI_MAX_IMPORT_BYTES}
        )
    if filename.lower().endswith((".xlsx", ".xlsm")) or content[:4] == b"PK\x03\x04":
        table = _read_xlsx(content)
    else:
        table = _read_csv(content)
    if any(UNSTORABLE_TEXT.search(header) for header in table.headers):
        raise ImportFileError(
            _(
                "The header line contains a NUL character or an invalid character: this is not a table saved as CSV "
                "or XLSX."
            )
        )
    return table


# ---------------------------------------------------------------------------
# Mapping columns to fields
# ---------------------------------------------------------------------------
def import_field_names(spec: KindSpec) -> list[str]:
    """The fields a column can be mapped to."""
    return [*IMPORT_COLUMNS[:2], *(f.name for f in spec.fields), IMPORT_COLUMNS[2]]


def header_key(header: str) -> str:
    """A header as compared with names and synonyms, and as a remembered mapping stores it."""
    return word_key(header)


def _header_words(spec: KindSpec) -> dict[str, tuple[int, str]]:
    """Each word a header may be, with the field it names and its rank (lower wins when two columns name the
    same field): field name, then the kind's synonyms, labels, common synonyms, the referenced kind's name."""
    names = import_field_names(spec)
    words: dict[str, tuple[int, str]] = {}

    def add(word: str, rank: int, name: str) -> None:
        key = header_key(word)
        if key and name in names:
            words.setdefault(key, (rank, name))

    for name in names:
        add(name, 0, name)
    for name, synonyms in KIND_HEADER_SYNONYMS.get(spec.kind, {}).items():
        for position, synonym in enumerate(synonyms):
            add(synonym, 100 + position, name)
    for language in ("en", "fr"):
        with translation.override(language):
            for spec_field in spec.fields:
                add(str(spec_field.label), 200, spec_field.name)
            add(str(_("team")), 200, "team")
            add(str(_("external id")), 200, "external_id")
    for name, synonyms in HEADER_SYNONYMS.items():
        for position, synonym in enumerate(synonyms):
            add(synonym, 300 + position, name)
    for language in ("en", "fr"):
        with translation.override(language):
            for spec_field in spec.references:
                add(str(spec_field.reference._meta.verbose_name), 400, spec_field.name)
    return words


def import_columns_guess(
    *, spec: KindSpec, headers: Sequence[str], remembered: dict[str, str] | None = None
) -> list[str]:
    """Each column's field ('' for none): as `remembered` (header key → field, '' for a column left out), else
    guessed from its header. A field goes to one column at most: the best named one (see `_header_words`)."""
    names = set(import_field_names(spec))
    guessed = [""] * len(headers)
    decided: set[int] = set()
    for position, header in enumerate(headers):
        choice = (remembered or {}).get(header_key(header))
        if choice is not None and (choice == "" or (choice in names and choice not in guessed)):
            guessed[position] = choice
            decided.add(position)
    words = _header_words(spec)
    candidates = sorted(
        (words[key][0], position, words[key][1])
        for position, header in enumerate(headers)
        if position not in decided and (key := header_key(header)) in words
    )
    for _rank, position, name in candidates:
        if not guessed[position] and name not in guessed:
            guessed[position] = name
    return guessed


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
# Checking rows
# ---------------------------------------------------------------------------
def _cell_error(index: int, field_name: str, message: str) -> dict[str, Any]:
    return {"index": index, "external_id": None, "field": field_name, "message": str(message)}


def _records(
    spec: KindSpec, table: Table, mapping: Sequence[str], limit: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows as records (empty cells left out, each cell read by its field's reader), and the errors of
    the cells that could not be read (those cells are left out of their record)."""
    fields = spec.by_name
    columns = [(position, name) for position, name in enumerate(mapping) if name]
    records: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, cells in enumerate(table.rows if limit is None else table.rows[:limit]):
        record: dict[str, Any] = {}
        row_errors: list[dict[str, Any]] = []
        for position, name in columns:
            cell = cells[position].strip() if position < len(cells) else ""
            if cell == "":
                continue
            if name == "attributes":
                try:
                    record[name] = json.loads(cell)
                except ValueError:
                    row_errors.append(_cell_error(index, name, _("Enter a JSON object.")))
            elif name in fields:
                try:
                    record[name] = fields[name].read(cell)
                except FieldError as exc:
                    row_errors.append(_cell_error(index, name, str(exc)))
            else:
                record[name] = cell
        external_id = record.get("external_id")
        for error in row_errors:
            error["external_id"] = external_id if isinstance(external_id, str) else None
        records.append(record)
        errors.extend(row_errors)
    return records, errors


def _check_rows(
    *,
    spec: KindSpec,
    table: Table,
    mapping: Sequence[str],
    team: Team,
    writable_team_ids: set[int] | None,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> _CheckedRows:
    records, cell_errors = _records(spec, table, mapping, limit)
    batch = activity_batch_validate(
        kind=spec.kind,
        records=records,
        default_team_id=team.pk,
        writable_team_ids=writable_team_ids,
        on_progress=on_progress,
    )
    # A cell that could not be read is reported once, not again as missing or by a rule on its field.
    unreadable = {(error["index"], error["field"]) for error in cell_errors}
    errors = cell_errors + [error for error in batch.errors if (error["index"], error["field"]) not in unreadable]
    errors.sort(key=lambda error: -1 if error["index"] is None else error["index"])
    return _CheckedRows(records, batch, errors)


def _error_text(error: dict[str, Any], headers_by_field: dict[str, str]) -> str:
    column = headers_by_field.get(error["field"] or "") or error["field"]
    if not column:
        return error["message"]
    return _("%(column)s: %(message)s") % {"column": column, "message": error["message"]}


def _headers_by_field(table: Table, mapping: Sequence[str]) -> dict[str, str]:
    return {name: table.headers[position] for position, name in enumerate(mapping) if name}


def import_preview(
    *,
    kind: str,
    table: Table,
    mapping: Sequence[str],
    team: Team,
    writable_team_ids: set[int] | None,
    rows: int = PREVIEW_ROWS,
) -> ImportPreview:
    """The first `rows` rows of a file checked with this mapping as the import would check them; writes nothing."""
    spec = kind_spec(kind)
    shown = table.rows[:rows]
    problems = import_mapping_check(spec=spec, mapping=mapping)
    if problems:
        return ImportPreview(
            rows=[PreviewRow(line, cells, []) for line, cells in zip(table.lines, shown, strict=False)],
            invalid=0,
            problems=problems,
        )
    checked = _check_rows(
        spec=spec, table=table, mapping=mapping, team=team, writable_team_ids=writable_team_ids, limit=rows
    )
    headers_by_field = _headers_by_field(table, mapping)
    messages: dict[int, list[str]] = defaultdict(list)
    for error in checked.errors:
        messages[error["index"]].append(_error_text(error, headers_by_field))
    preview_rows = [
        PreviewRow(line, cells, messages.get(index, []))
        for index, (line, cells) in enumerate(zip(table.lines, shown, strict=False))
    ]
    return ImportPreview(rows=preview_rows, invalid=len(messages), problems=[])


# ---------------------------------------------------------------------------
# The error file
# ---------------------------------------------------------------------------
def _spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula: a leading = + - @ gets a quote, unless it is a number
    (a quoted « -4 » would come back as text)."""
    if cell.startswith(FORMULA_TRIGGERS):
        try:
            read_decimal_cell(cell)
        except FieldError:
            return "'" + cell
    return cell


def import_error_file(*, table: Table, mapping: Sequence[str], errors: Sequence[dict[str, Any]]) -> bytes:
    """The invalid rows as a CSV file to correct and import again: the row's line in the original file, its cells
    as they were, then what is wrong. In the active language: `;`-separated in French (as a French spreadsheet
    saves CSV), `,` otherwise; UTF-8 with a byte order mark so that spreadsheets read its accents."""
    headers_by_field = _headers_by_field(table, mapping)
    messages: dict[int, list[str]] = defaultdict(list)
    for error in errors:
        if error["index"] is not None:
            messages[error["index"]].append(_error_text(error, headers_by_field))
    if not messages:
        return b""
    delimiter = ";" if (translation.get_language() or "").startswith("fr") else ","
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    width = len(table.headers)
    writer.writerow([_("Line"), *(_spreadsheet_safe(header) for header in table.headers), _("Errors")])
    for index in sorted(messages):
        cells = (table.rows[index] + [""] * width)[:width]
        writer.writerow([table.lines[index], *(_spreadsheet_safe(cell) for cell in cells), " | ".join(messages[index])])
    return buffer.getvalue().encode("utf-8-sig", errors="replace")


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
    on_written: Callable[[list[RecordChange]], None] | None = None,
) -> ImportReport:
    """Validate every row, then write all of them (or only the valid ones) in one transaction.

    Errors name the row's line in the file (the header is line 1). With `valid_only`
    off, one invalid row means nothing is written. `on_written`, when given, receives
    the records created and updated, in the transaction that wrote them (to keep an undo
    journal that cannot disagree with the data).
    """
    spec = kind_spec(kind)
    problems = import_mapping_check(spec=spec, mapping=mapping)
    if problems:
        raise ImportFileError(" ".join(problems))
    checked = _check_rows(
        spec=spec,
        table=table,
        mapping=mapping,
        team=team,
        writable_team_ids=writable_team_ids,
        on_progress=on_progress,
    )
    records, errors = checked.records, checked.errors
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
    report.error_file = import_error_file(table=table, mapping=mapping, errors=errors)
    invalid = {error["index"] for error in errors}
    if invalid and not valid_only:
        return report
    rows = [row for row in checked.batch.rows if row.index not in invalid]
    report.skipped = len(invalid)
    batch = ValidatedBatch(spec=spec, rows=rows, errors=[])
    try:
        if on_written is None:
            result = activity_batch_commit(batch=batch)
        else:
            with transaction.atomic():
                # Before reading what is stored: the journal then agrees with what this import replaced.
                activity_batch_lock(kind=spec.kind, team_ids={row.team_id for row in rows})
                stored = _stored_values(spec, rows)
                result = activity_batch_commit(batch=batch)
                on_written(_record_changes(spec, rows, stored))
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
    return storable_text(value) if isinstance(value, str) else None


def _add(report: ImportReport, result: IngestResult) -> None:
    report.created += result.created
    report.updated += result.updated
    report.unchanged += result.unchanged


# ---------------------------------------------------------------------------
# What an import changed (for its undo)
# ---------------------------------------------------------------------------
_IN_CHUNK = 5000


def record_attnames(spec: KindSpec) -> list[str]:
    """The stored columns of a kind that an import writes and its undo restores."""
    return ["attributes", *(f.attname for f in spec.fields)]


def _stored_values(spec: KindSpec, rows: Sequence[ValidRow]) -> dict[tuple[int, str], tuple]:
    """The stored values of these rows' records that exist, locked until the transaction ends (PostgreSQL)."""
    attnames = record_attnames(spec)
    stored: dict[tuple[int, str], tuple] = {}
    team_ids = sorted({row.team_id for row in rows})
    external_ids = sorted({row.external_id for row in rows})
    for start in range(0, len(external_ids), _IN_CHUNK):
        query = spec.model.objects.select_for_update().filter(
            team_id__in=team_ids, external_id__in=external_ids[start : start + _IN_CHUNK]
        )
        for values in query.order_by("pk").values_list("team_id", "external_id", *attnames):
            stored[(values[0], values[1])] = tuple(values[2:])
    return stored


def journal_value(value: Any) -> Any:
    """A stored value as JSON: dates and times in ISO 8601 (microseconds kept), decimals as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _record_changes(
    spec: KindSpec, rows: Sequence[ValidRow], stored: dict[tuple[int, str], tuple]
) -> list[RecordChange]:
    attnames = record_attnames(spec)
    changes = []
    for row in rows:
        old = stored.get((row.team_id, row.external_id))
        if old is None:
            changes.append(RecordChange(row.team_id, row.external_id, True, None))
            continue
        new = (row.attributes, *(row.values[attname] for attname in attnames[1:]))
        if old != new:
            previous = {attname: journal_value(value) for attname, value in zip(attnames, old, strict=True)}
            changes.append(RecordChange(row.team_id, row.external_id, False, previous))
    return changes
