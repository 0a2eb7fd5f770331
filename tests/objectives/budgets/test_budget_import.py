"""CSV import of budgets: the pure parsing (separators, encodings, French numbers and dates, headers and categories
in French or English), then the all-or-nothing service and the page."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext, ngettext

from metrics.models import Campaign
from objectives.budgets import imports
from objectives.budgets.imports import CellError, ImportProblem, budgets_import, parse_lines
from objectives.models import Budget


def french(message: str) -> str:
    """The message as the French page shows it (English until the new strings are in the catalogue)."""
    with translation.override("fr"):
        return gettext(message)


FRENCH_CSV = (
    "nom;catégorie;canal;campagne;début;fin;montant\r\n"
    "Salon Lyon;acquisition;événements;;01/11/2026;30/11/2026;12 500,50\r\n"
    "Relance clients;fidélisation;e-mail;NOEL;01/12/2026;31/12/2026;1\u00a0250,00\r\n"
)
ENGLISH_CSV = (
    "Name,Category,Channel,Campaign,Start,End,Amount\n"
    'Search ads,Acquisition,search,,2026-11-01,2026-11-30,"12,500.50"\n'
    "Loyalty,retention,,,2026-12-01,2026-12-31,800\n"
    "Misc,Other,,,2026-12-01,2026-12-31,0.5\n"
)


def rows(team=None) -> list[tuple]:
    budgets = Budget.objects.order_by("start_date", "name")
    if team is not None:
        budgets = budgets.filter(team=team)
    return list(
        budgets.values_list("name", "category", "channel", "campaign__external_id", "start_date", "end_date", "amount")
    )


# --- pure functions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("12 500,50", D("12500.50")),  # French: spaces between thousands, decimal comma
        ("12\u00a0500,50", D("12500.50")),  # a no-break space, as a spreadsheet writes it
        ("12\u202f500,5 €", D("12500.50")),  # a narrow no-break space and the € sign
        ("12500.50", D("12500.50")),
        ("12,500.50", D("12500.50")),  # English thousands commas: the dot, last, is the decimal mark
        ("12.500,50", D("12500.50")),  # dotted thousands: the comma, last, is the decimal mark
        ("1,250,000", D("1250000")),  # several commas and no dot: thousands
        ("3000", D("3000")),
        ("0", D("0")),
        ("7,5", D("7.50")),
        ("2.500", D("2.50")),  # one dot: a decimal point (three places, the last one a 0)
    ],
)
def test_an_amount_is_read_the_french_or_the_english_way(text, amount):
    assert imports.parse_amount(text) == amount


@pytest.mark.parametrize("text", ["douze", "12 500,50,3x", "-5", "1,234", "12.345", "1e5", "", "€"])
def test_a_wrong_amount_says_why(text):
    # "1,234" is read as 1.234 (a decimal comma): three places are too many; "12.345" likewise
    with pytest.raises(CellError):
        imports.parse_amount(text)


def test_an_amount_over_14_digits_is_refused():
    imports.parse_amount("999999999999,99")  # 12 + 2 digits: the column's limit
    with pytest.raises(CellError):
        imports.parse_amount("1000000000000")  # 13 + 2 digits


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("01/11/2026", dt.date(2026, 11, 1)),
        ("1/2/2026", dt.date(2026, 2, 1)),  # dd/mm: the 1st of February
        ("2026-11-30", dt.date(2026, 11, 30)),
        (" 2026-02-28 ", dt.date(2026, 2, 28)),
    ],
)
def test_a_date_is_read_as_dd_mm_yyyy_or_iso(text, day):
    assert imports.parse_date(text) == day


@pytest.mark.parametrize("text", ["31/02/2026", "2026/11/01", "11-01-2026", "01/11/26", "demain"])
def test_a_wrong_date_is_refused(text):
    with pytest.raises(CellError):
        imports.parse_date(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("acquisition", "acquisition"),
        ("Acquisition", "acquisition"),
        ("fidélisation", "retention"),
        ("Fidelisation", "retention"),
        ("rétention", "retention"),
        ("retention", "retention"),
        ("Retention", "retention"),
        ("autre", "other"),
        ("Other", "other"),
        (" OTHER ", "other"),
    ],
)
def test_a_category_is_read_by_code_or_french_or_english_label(text, code):
    assert imports.parse_category(text) == code


def test_an_unknown_category_is_refused():
    with pytest.raises(CellError):
        imports.parse_category("publicité")


@pytest.mark.parametrize(
    ("text", "separator"),
    [
        ("nom;montant\nA;12 500,50\n", ";"),  # the comma of the amounts does not mislead it
        ("name,amount\nA,12\n", ","),
        ('name,amount\nA,"12,5"\n', ","),
    ],
)
def test_the_separator_is_sniffed_from_the_header(text, separator):
    assert imports.sniff_delimiter(text) == separator


def test_the_text_is_utf8_with_or_without_bom_else_windows_1252():
    assert imports.decode("début".encode("utf-8-sig")) == "début"
    assert imports.decode("début".encode()) == "début"
    assert imports.decode("début".encode("cp1252")) == "début"


def test_french_and_english_headers_name_the_same_columns():
    french_headers = ["Nom", "Catégorie", "Canal", "Campagne", "Début", "Fin", "Montant"]
    english_headers = ["name", "category", "channel", "campaign", "start", "end", "amount"]
    expected = {"name": 0, "category": 1, "channel": 2, "campaign": 3, "start": 4, "end": 5, "amount": 6}
    assert imports.column_positions(french_headers) == (expected, [])
    assert imports.column_positions(english_headers) == (expected, [])
    assert imports.column_positions(["Date de début", "date_de_fin", "Montant", "nom", "categorie", "commentaire"])[
        0
    ] == {
        "start": 0,
        "end": 1,
        "amount": 2,
        "name": 3,
        "category": 4,
    }


def test_a_missing_column_is_named():
    _, problems = imports.column_positions(["nom", "catégorie", "début", "fin"])
    # named in the user's language, as the header should write it (« montant » in French)
    assert [(p.line, p.column) for p in problems] == [(1, str(imports.COLUMN_LABELS["amount"]))]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_a_french_file_is_read_line_by_line(encoding):
    parsed = parse_lines(FRENCH_CSV.encode(encoding))
    assert parsed.problems == []
    assert [
        (line.line, line.name, line.category, line.channel, line.campaign, line.amount) for line in parsed.lines
    ] == [
        (2, "Salon Lyon", "acquisition", "événements", "", D("12500.50")),
        (3, "Relance clients", "retention", "e-mail", "NOEL", D("1250.00")),
    ]


def test_every_wrong_cell_is_reported_with_its_line_and_column():
    content = (
        "nom;catégorie;canal;campagne;début;fin;montant\n"
        "Bon;acquisition;;;01/11/2026;30/11/2026;100\n"
        "\n"  # a blank line: skipped, but counted
        ";publicité;;;31/02/2026;01/01/2026;-3\n"
        "Bon;autre;;;01/11/2026;31/12/2026;5\n"  # same name and first day as line 2
        "Période;autre;;;01/12/2026;30/11/2026;5\n"
    ).encode()
    parsed = parse_lines(content)
    assert [(p.line, p.column) for p in parsed.problems] == [
        (4, "nom"),
        (4, "catégorie"),
        (4, "début"),
        (4, "montant"),
        (5, "nom"),
        (6, "fin"),
    ]
    assert parsed.problems[-1].message == gettext("The last day must be on or after the first day.")
    assert [line.line for line in parsed.lines] == [2]


# --- the service -------------------------------------------------------------------------------


@pytest.fixture
def noel(make_team, team_a):
    """A campaign of team A's sub-team, named by its external id NOEL in the file."""
    digital = make_team("digital", kind="marketing", parent=team_a)
    return Campaign.objects.create(team=digital, external_id="NOEL", name="Noël")


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_a_french_file_creates_the_budgets_with_exact_amounts(team_a, noel, encoding):
    report = budgets_import(team=team_a, content=FRENCH_CSV.encode(encoding))

    assert (report.written, report.created, report.updated, report.unchanged, report.problems) == (True, 2, 0, 0, [])
    assert rows() == [
        # « 12 500,50 » is 12 500 euros and 50 cents
        ("Salon Lyon", "acquisition", "événements", None, dt.date(2026, 11, 1), dt.date(2026, 11, 30), D("12500.50")),
        # « 1 250,00 » with a no-break space; « fidélisation » is the retention category
        ("Relance clients", "retention", "e-mail", "NOEL", dt.date(2026, 12, 1), dt.date(2026, 12, 31), D("1250.00")),
    ]


@pytest.mark.django_db
def test_importing_again_updates_the_budgets_instead_of_duplicating_them(team_a, noel):
    budgets_import(team=team_a, content=FRENCH_CSV.encode("cp1252"))
    ids = set(Budget.objects.values_list("pk", flat=True))
    again = FRENCH_CSV.replace("12 500,50", "13 000").replace("30/11/2026", "15/12/2026")

    report = budgets_import(team=team_a, content=again.encode("cp1252"))

    # Salon Lyon (same name, same first day) changed amount and last day: updated; Relance clients: the same
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert set(Budget.objects.values_list("pk", flat=True)) == ids
    assert rows()[0] == (
        "Salon Lyon",
        "acquisition",
        "événements",
        None,
        dt.date(2026, 11, 1),
        dt.date(2026, 12, 15),
        D("13000.00"),
    )

    report = budgets_import(team=team_a, content=again.replace(";NOEL;", ";;").encode("cp1252"))

    # Relance clients no longer follows the NOEL campaign: updated; Salon Lyon as just imported
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert rows()[1][3] is None and set(Budget.objects.values_list("pk", flat=True)) == ids


@pytest.mark.django_db
def test_one_wrong_line_writes_nothing_and_names_its_line_and_column(team_a, noel):
    Budget.objects.create(
        team=team_a,
        name="Salon Lyon",
        category="other",
        amount=D(1),
        start_date=dt.date(2026, 11, 1),
        end_date=dt.date(2026, 11, 2),
    )
    before = rows()
    content = FRENCH_CSV + "Radio;acquisition;radio;;01/11/2026;30/11/2026;douze mille\r\n"

    report = budgets_import(team=team_a, content=content.encode("cp1252"))

    assert (report.written, report.created, report.updated, report.problem_count) == (False, 0, 0, 1)
    # line 1 is the header, lines 2 and 3 the good budgets, line 4 the wrong amount
    assert [(p.line, p.column) for p in report.problems] == [(4, "montant")]
    assert rows() == before  # Salon Lyon not updated, Relance clients not created


@pytest.mark.django_db
def test_a_campaign_of_another_team_is_refused(team_a, team_b):
    Campaign.objects.create(team=team_b, external_id="NOEL")
    report = budgets_import(team=team_a, content=FRENCH_CSV.encode())
    assert report.problems == [
        ImportProblem(3, "campagne", gettext("No campaign “%(ref)s” in this team or its sub-teams.") % {"ref": "NOEL"})
    ]
    assert not Budget.objects.exists()


@pytest.mark.django_db
def test_an_english_comma_separated_file_works_too(team_a):
    report = budgets_import(team=team_a, content=ENGLISH_CSV.encode())

    assert (report.written, report.created) == (True, 3)
    assert rows() == [
        # "12,500.50": English thousands comma, decimal point
        ("Search ads", "acquisition", "search", None, dt.date(2026, 11, 1), dt.date(2026, 11, 30), D("12500.50")),
        ("Loyalty", "retention", "", None, dt.date(2026, 12, 1), dt.date(2026, 12, 31), D("800.00")),
        ("Misc", "other", "", None, dt.date(2026, 12, 1), dt.date(2026, 12, 31), D("0.50")),
    ]


@pytest.mark.django_db
def test_an_import_costs_the_same_queries_whatever_the_number_of_lines(team_a, noel, django_assert_num_queries):
    def csv_of(count: int) -> bytes:
        lines = [f"B{n};autre;;NOEL;01/01/2026;31/01/2026;{n}" for n in range(count)]
        return ("nom;catégorie;canal;campagne;début;fin;montant\n" + "\n".join(lines)).encode()

    budgets_import(team=team_a, content=csv_of(2))  # creates B0, B1
    # savepoint, lock the team, team tree, campaigns, existing budgets, create all, update all, release
    with django_assert_num_queries(8):
        report = budgets_import(team=team_a, content=csv_of(20).replace(b";0\n", b";7\n"))
    # B0's amount 0 → 7: updated; B1 unchanged; B2…B19: 18 created
    assert (report.created, report.updated, report.unchanged) == (18, 1, 1)


@pytest.mark.django_db
def test_a_file_too_large_or_empty_is_refused(team_a, settings):
    settings.KPI_MAX_IMPORT_BYTES = 10
    assert budgets_import(team=team_a, content=ENGLISH_CSV.encode()).problems[0].line is None
    settings.KPI_MAX_IMPORT_BYTES = 10_000
    assert budgets_import(team=team_a, content=b"").problems == [ImportProblem(None, "", gettext("The file is empty."))]
    assert not Budget.objects.exists()


# --- the page ----------------------------------------------------------------------------------


def upload(text: str, encoding: str = "utf-8") -> dict:
    return {"file": SimpleUploadedFile("budgets.csv", text.encode(encoding), content_type="text/csv")}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.django_db
def test_the_page_imports_a_french_file_and_says_how_many_were_created_then_updated(client, manager_a, team_a, noel):
    client.force_login(manager_a)

    response = client.post("/teams/team-a/budgets/import/", upload(FRENCH_CSV, "cp1252"), follow=True)

    assert response.redirect_chain == [("/teams/team-a/budgets/", 302)]
    assert len(rows(team_a)) == 2
    with translation.override("fr"):
        # 2 lines, no budget of the team before: 2 created (plural), 0 updated (French: 0 takes the singular)
        created = ngettext("%(count)d budget created", "%(count)d budgets created", 2) % {"count": 2}
        updated = ngettext("%(count)d budget updated", "%(count)d budgets updated", 0) % {"count": 0}
        expected = gettext("Import done: %(created)s, %(updated)s.") % {"created": created, "updated": updated}
    assert messages_of(response) == [expected]

    again = FRENCH_CSV.replace("12 500,50", "13 000")
    response = client.post("/teams/team-a/budgets/import/", upload(again, "utf-8-sig"), follow=True)

    assert len(rows(team_a)) == 2
    with translation.override("fr"):
        # the same two budgets: Salon Lyon's amount changed (1 updated), Relance clients already up to date
        created = ngettext("%(count)d budget created", "%(count)d budgets created", 0) % {"count": 0}
        updated = ngettext("%(count)d budget updated", "%(count)d budgets updated", 1) % {"count": 1}
        unchanged = ngettext(
            "%(count)d budget was already up to date.", "%(count)d budgets were already up to date.", 1
        ) % {"count": 1}
        expected = gettext("Import done: %(created)s, %(updated)s.") % {"created": created, "updated": updated}
    assert messages_of(response) == [f"{expected} {unchanged}"]
    assert rows(team_a)[0][-1] == D("13000.00")


@pytest.mark.django_db
def test_the_page_lists_each_problem_and_writes_nothing(client, manager_a, team_a, noel):
    client.force_login(manager_a)
    content = FRENCH_CSV + "Radio;acquisition;radio;;01/11/2026;30/11/2026;douze mille\r\n"

    response = client.post("/teams/team-a/budgets/import/", upload(content, "cp1252"))

    assert response.status_code == 400
    assert not Budget.objects.exists()
    [problem] = response.context["report"].problems
    assert (problem.line, problem.column) == (4, "montant")
    html = response.content.decode()
    assert 'data-problem-line="4"' in html
    row = html[html.index('data-problem-line="4"') :]
    assert "<td>montant</td>" in row[: row.index("</tr>")]


@pytest.mark.django_db
def test_the_page_asks_for_a_file(client, manager_a, team_a):
    client.force_login(manager_a)
    response = client.post("/teams/team-a/budgets/import/", {})
    assert response.status_code == 400 and response.context["import_form"].errors["file"]
