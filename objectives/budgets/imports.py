"""CSV import of a team's budgets, all or nothing.

The file is decoded (UTF-8 with or without BOM, else Windows-1252), its separator (`;` or `,`) read from the
header line, its columns recognised by their French or English names, and each line parsed: amounts as
« 12 500,50 » or 12500.50, dates as dd/mm/yyyy or yyyy-mm-dd, categories by code or French/English label.
The pure functions below do that without the database; `budgets_import` then resolves campaigns and
existing budgets and, when no line is wrong, creates or updates every budget (same team, name and first
day: updated) in one transaction. A single wrong line writes nothing: the report lists each problem with
its line in the file and its column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from accounts.models import Team
from accounts.selectors import team_ids_with_descendants
from kpiplatform.dates import date_in_window, plausible_date_message
from metrics.models import Campaign
from metrics.models.activity import SpendCategory
from objectives.models import Budget

# A report shows at most this many problems (its count says how many there were in all).
MAX_REPORTED_PROBLEMS = 200

NAME_MAX, CHANNEL_MAX, CAMPAIGN_MAX = 120, 60, 120
AMOUNT_MAX_DIGITS, AMOUNT_PLACES = 14, 2

# The columns, in the order they are checked, with the names a header may give them (normalised: no accents,
# lower case, words joined by "_").
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "nom", "libelle", "budget_name", "nom_du_budget"),
    "category": ("category", "categorie", "spend_category", "categorie_de_depense"),
    "channel": ("channel", "canal"),
    "campaign": ("campaign", "campagne", "campaign_external_id", "campaign_id", "id_campagne", "campagne_id"),
    "start": ("start", "start_date", "first_day", "from", "debut", "date_de_debut", "premier_jour", "du"),
    "end": ("end", "end_date", "last_day", "to", "fin", "date_de_fin", "dernier_jour", "au"),
    "amount": ("amount", "montant", "budget_amount", "montant_du_budget"),
}
REQUIRED = ("name", "category", "start", "end", "amount")
COLUMN_LABELS = {
    "name": pgettext_lazy("budget import column", "name"),
    "category": pgettext_lazy("budget import column", "category"),
    "channel": pgettext_lazy("budget import column", "channel"),
    "campaign": pgettext_lazy("budget import column", "campaign"),
    "start": pgettext_lazy("budget import column", "start"),
    "end": pgettext_lazy("budget import column", "end"),
    "amount": pgettext_lazy("budget import column", "amount"),
}
# Words for a category besides its code and its labels in each language (normalised).
CATEGORY_WORDS = {
    "fidelisation": SpendCategory.RETENTION,
    "retention": SpendCategory.RETENTION,
    "autre": SpendCategory.OTHER,
    "autres": SpendCategory.OTHER,
}

SPACES = re.compile(r"[\s\u00a0\u202f]+")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


class CellError(ValueError):
    """A cell that cannot be read; the message says why, in the user's language."""


@dataclass(frozen=True)
class ImportProblem:
    """What is wrong, where: the line in the file (1 is the header; None for the whole file) and the column as
    the file names it."""

    line: int | None
    column: str
    message: str


@dataclass(frozen=True)
class BudgetLine:
    """One line of the file, read."""

    line: int
    name: str
    category: str
    channel: str
    campaign: str
    start_date: dt.date
    end_date: dt.date
    amount: Decimal


@dataclass
class ParsedFile:
    """A file read: its lines, the problems found in it, and each known column's header as the file writes it."""

    lines: list[BudgetLine] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class BudgetImportReport:
    """What an import did: budgets created, updated and unchanged, or the problems that stopped it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    problems: list[ImportProblem] = field(default_factory=list)
    problem_count: int = 0


# ---------------------------------------------------------------------------
# Pure functions: bytes to lines
# ---------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Lower case, no accents, words joined by "_": « Date de début » → date_de_debut."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return "_".join(re.findall(r"[a-z0-9]+", text))


def decode(content: bytes) -> str:
    """The file's text: UTF-8 (a BOM is dropped), else Windows-1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CellError(_("The file is neither UTF-8 nor Windows-1252 text."))


def sniff_delimiter(text: str) -> str:
    """`;` or `,`: whichever separates more cells of the header line (amounts with a decimal comma in the lines
    below would mislead a guess made on them); csv.Sniffer decides a header without either."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    semicolons, commas = header.count(";"), header.count(",")
    if semicolons != commas:
        return ";" if semicolons > commas else ","
    try:
        return csv.Sniffer().sniff(text[:20_000], delimiters=";,").delimiter
    except csv.Error:
        return ","


def read_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's cells and each non-blank line's cells with its line number in the file (the header is 1;
    a quoted cell over several lines counts them all)."""
    reader = csv.reader(io.StringIO(text), delimiter=sniff_delimiter(text))
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    first_line = 1
    for cells in reader:
        if headers is None:
            if any(cell.strip() for cell in cells):
                headers = [cell.strip() for cell in cells]
        elif any(cell.strip() for cell in cells):
            rows.append((first_line, cells))
        first_line = reader.line_num + 1
    return headers or [], rows


def column_positions(headers: list[str]) -> tuple[dict[str, int], list[ImportProblem]]:
    """Which cell holds each known column; problems for a missing required column or one given twice. Columns of
    another name are ignored."""
    aliases = {alias: column for column, names in COLUMNS.items() for alias in names}
    positions: dict[str, int] = {}
    problems: list[ImportProblem] = []
    for position, header in enumerate(headers):
        column = aliases.get(normalise(header))
        if column is None:
            continue
        if column in positions:
            problems.append(
                ImportProblem(
                    1, header, _("This column appears twice: keep one “%(column)s” column.") % {"column": header}
                )
            )
            continue
        positions[column] = position
    for column in REQUIRED:
        if column not in positions:
            problems.append(
                ImportProblem(
                    1,
                    str(COLUMN_LABELS[column]),
                    _("The column “%(column)s” is missing from the header line.") % {"column": COLUMN_LABELS[column]},
                )
            )
    return positions, problems


def parse_amount(text: str) -> Decimal:
    """An amount of money: « 12 500,50 », « 12 500,50 € », 12500.50, 12,500.50 or 12.500,50 (the last of comma
    and dot is the decimal mark; spaces separate thousands)."""
    raw = text.strip()
    cleaned = SPACES.sub("", raw.removesuffix("€").removesuffix("EUR"))
    if "," in cleaned and "." in cleaned:
        thousands = "." if cleaned.rfind(",") > cleaned.rfind(".") else ","
        cleaned = cleaned.replace(thousands, "").replace(",", ".")
    elif cleaned.count(",") == 1:
        cleaned = cleaned.replace(",", ".")  # a French decimal comma
    elif cleaned.count(",") > 1 or cleaned.count(".") > 1:
        cleaned = cleaned.replace(",", "").replace(".", "")  # thousands marks only: 1,250,000 or 1.250.000
    if not PLAIN_NUMBER.fullmatch(cleaned):
        raise CellError(_("“%(value)s” is not an amount: write it like 12 500,50.") % {"value": raw})
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain numbers
        raise CellError(_("“%(value)s” is not an amount: write it like 12 500,50.") % {"value": raw}) from None
    if amount < 0:
        raise CellError(_("The amount cannot be negative."))
    if -amount.as_tuple().exponent > AMOUNT_PLACES and amount != amount.quantize(Decimal("0.01")):
        raise CellError(_("An amount has at most 2 decimal places."))
    amount = amount.quantize(Decimal("0.01"))
    if len(amount.as_tuple().digits) > AMOUNT_MAX_DIGITS:
        raise CellError(_("This amount is too large."))
    return amount


def parse_date(text: str) -> dt.date:
    """A day written dd/mm/yyyy or yyyy-mm-dd, within the plausible window (kpiplatform.dates)."""
    raw = text.strip()
    if match := FRENCH_DATE.fullmatch(raw):
        day, month, year = (int(part) for part in match.groups())
    elif match := ISO_DATE.fullmatch(raw):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise CellError(_("“%(value)s” is not a date: write it dd/mm/yyyy or yyyy-mm-dd.") % {"value": raw})
    try:
        parsed = dt.date(year, month, day)
    except ValueError:
        raise CellError(_("There is no such day as “%(value)s”.") % {"value": raw}) from None
    if not date_in_window(parsed):
        raise CellError(plausible_date_message(raw))
    return parsed


def category_words() -> dict[str, str]:
    """Each spend category by its code, its label in every language of the site, and the usual synonyms."""
    words = dict(CATEGORY_WORDS)
    for code, label in SpendCategory.choices:
        words[normalise(code)] = code
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                words[normalise(str(label))] = code
    return words


def parse_category(text: str, words: dict[str, str] | None = None) -> str:
    """A spend category from its code or label, French or English: « fidélisation » → retention."""
    code = (words if words is not None else category_words()).get(normalise(text))
    if code is None:
        raise CellError(
            _("“%(value)s” is not a category: write acquisition, retention or other.") % {"value": text.strip()}
        )
    return code


def parse_lines(content: bytes) -> ParsedFile:
    """Every line of the file read into a BudgetLine, and the problems found (each line is checked on its own,
    and against the earlier lines for a repeated budget). No database access."""
    try:
        text = decode(content)
    except CellError as error:
        return ParsedFile(problems=[ImportProblem(None, "", str(error))])
    headers, rows = read_rows(text)
    if not headers:
        return ParsedFile(problems=[ImportProblem(None, "", _("The file is empty."))])
    positions, problems = column_positions(headers)
    columns = {column: str(COLUMN_LABELS[column]) for column in COLUMNS}
    columns.update({column: headers[position] for column, position in positions.items()})
    if problems:
        return ParsedFile(problems=problems, columns=columns)
    if not rows:
        return ParsedFile(problems=[ImportProblem(None, "", _("The file has a header line but no budget."))])
    words = category_words()
    lines: list[BudgetLine] = []
    first_seen: dict[tuple[str, dt.date], int] = {}
    for number, cells in rows:
        line, line_problems = _parse_row(number, cells, headers, positions, words)
        if line is not None:
            key = (line.name, line.start_date)
            if key in first_seen:
                line_problems.append(
                    ImportProblem(
                        number,
                        headers[positions["name"]],
                        _("Same budget as line %(line)d (same name and first day).") % {"line": first_seen[key]},
                    )
                )
            else:
                first_seen[key] = number
                lines.append(line)
        problems.extend(line_problems)
    return ParsedFile(lines=lines, problems=problems, columns=columns)


def _parse_row(number, cells, headers, positions, words) -> tuple[BudgetLine | None, list[ImportProblem]]:
    problems: list[ImportProblem] = []
    values: dict = {}

    def cell(column: str) -> str:
        position = positions.get(column)
        return cells[position].strip() if position is not None and position < len(cells) else ""

    def problem(column: str, message: str) -> None:
        problems.append(ImportProblem(number, headers[positions[column]], message))

    def text(column: str, limit: int, *, required: bool) -> None:
        value = cell(column)
        if required and not value:
            problem(column, _("This cell is empty."))
        elif len(value) > limit:
            problem(column, _("At most %(limit)d characters.") % {"limit": limit})
        else:
            values[column] = value

    def parsed(column: str, parse) -> None:
        value = cell(column)
        if not value:
            problem(column, _("This cell is empty."))
            return
        try:
            values[column] = parse(value)
        except CellError as error:
            problem(column, str(error))

    text("name", NAME_MAX, required=True)
    parsed("category", lambda value: parse_category(value, words))
    text("channel", CHANNEL_MAX, required=False)
    text("campaign", CAMPAIGN_MAX, required=False)
    parsed("start", parse_date)
    parsed("end", parse_date)
    parsed("amount", parse_amount)
    if "start" in values and "end" in values and values["end"] < values["start"]:
        problem("end", _("The last day must be on or after the first day."))
    if problems:
        return None, problems
    line = BudgetLine(
        line=number,
        name=values["name"],
        category=values["category"],
        channel=values.get("channel", ""),
        campaign=values.get("campaign", ""),
        start_date=values["start"],
        end_date=values["end"],
        amount=values["amount"],
    )
    return line, problems


# ---------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------
def budgets_import(*, team: Team, content: bytes) -> BudgetImportReport:
    """Create or update `team`'s budgets from a CSV file (same name and first day: updated), all in one
    transaction; nothing is written when any line is wrong, and the report says where."""
    report = BudgetImportReport()
    if len(content) > settings.KPI_MAX_IMPORT_BYTES:
        return _stopped(
            report,
            [
                ImportProblem(
                    None,
                    "",
                    _("The file is too large: %(size)d bytes (at most %(limit)d).")
                    % {"size": len(content), "limit": settings.KPI_MAX_IMPORT_BYTES},
                )
            ],
        )
    parsed = parse_lines(content)
    if parsed.problems:
        return _stopped(report, parsed.problems)
    lines = parsed.lines
    with transaction.atomic(durable=True):
        # Lock the team row: two imports (or an import and the form) of the same budgets run one after the other.
        Team.objects.select_for_update().filter(pk=team.pk).first()
        campaigns, problems = _campaigns(team, lines, column=parsed.columns["campaign"])
        existing, more = _existing(team, lines, column=parsed.columns["name"])
        problems.extend(more)
        if problems:
            return _stopped(report, problems)
        to_create: list[Budget] = []
        to_update: list[Budget] = []
        for line in lines:
            fields = {
                "category": line.category,
                "channel": line.channel,
                "campaign_id": campaigns[line.campaign].pk if line.campaign else None,  # an id: no query per row
                "end_date": line.end_date,
                "amount": line.amount,
            }
            budget = existing.get((line.name, line.start_date))
            if budget is None:
                to_create.append(Budget(team=team, name=line.name, start_date=line.start_date, **fields))
            elif any(getattr(budget, name) != value for name, value in fields.items()):
                for name, value in fields.items():
                    setattr(budget, name, value)
                to_update.append(budget)
            else:
                report.unchanged += 1
        Budget.objects.bulk_create(to_create)
        Budget.objects.bulk_update(to_update, ["category", "channel", "campaign_id", "end_date", "amount"])
    report.created, report.updated, report.written = len(to_create), len(to_update), True
    return report


def _stopped(report: BudgetImportReport, problems: list[ImportProblem]) -> BudgetImportReport:
    ordered = sorted(problems, key=lambda p: p.line or 0)  # stable: within a line, in the columns' order
    report.problems = ordered[:MAX_REPORTED_PROBLEMS]
    report.problem_count = len(problems)
    return report


def _campaigns(team: Team, lines: list[BudgetLine], *, column: str) -> tuple[dict[str, Campaign], list[ImportProblem]]:
    """The campaign each external id names among the team's and its sub-teams' (the team's own first): 2 queries."""
    refs = {line.campaign for line in lines if line.campaign}
    if not refs:
        return {}, []
    found: dict[str, list[Campaign]] = defaultdict(list)
    subtree = team_ids_with_descendants([team.pk])
    for campaign in Campaign.objects.filter(team_id__in=subtree, external_id__in=refs):
        found[campaign.external_id].append(campaign)
    campaigns: dict[str, Campaign] = {}
    for ref, candidates in found.items():
        own = [c for c in candidates if c.team_id == team.pk]
        if own or len(candidates) == 1:
            campaigns[ref] = (own or candidates)[0]
    problems = []
    for line in lines:
        if not line.campaign or line.campaign in campaigns:
            continue
        if line.campaign in found:
            message = _("Several sub-teams have a campaign “%(ref)s”: it cannot be told which one.")
        else:
            message = _("No campaign “%(ref)s” in this team or its sub-teams.")
        problems.append(ImportProblem(line.line, column, message % {"ref": line.campaign}))
    return campaigns, problems


def _existing(
    team: Team, lines: list[BudgetLine], *, column: str
) -> tuple[dict[tuple[str, dt.date], Budget], list[ImportProblem]]:
    """The team's budgets the lines update, by (name, first day): 1 query. Two of them with the same key (made
    before the pages refused it) cannot be told apart: the line is refused."""
    matches: dict[tuple[str, dt.date], list[Budget]] = defaultdict(list)
    budgets = Budget.objects.filter(team=team, name__in={line.name for line in lines}).order_by("pk")
    for budget in budgets:
        matches[(budget.name, budget.start_date)].append(budget)
    problems = [
        ImportProblem(
            line.line,
            column,
            _("The team has several budgets named “%(name)s” from this first day: rename one before importing.")
            % {"name": line.name},
        )
        for line in lines
        if len(matches.get((line.name, line.start_date), ())) > 1
    ]
    return {key: found[0] for key, found in matches.items()}, problems
