"""Imports of French files: separators and encodings, French numbers, dates and statuses, header synonyms, the
remembered mapping, the checked preview, the failed state and its error file."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from accounts.roles import Role
from metrics.activity.imports import import_columns_guess
from metrics.activity.kinds import KIND_SPECS, FieldError
from metrics.models import ImportJob, ImportMapping, ImportStatus, Order
from tests.metrics.kpi_support import at

UTC = dt.UTC
NNBSP = "\u202f"  # narrow no-break space: French thousands in recent spreadsheets
NBSP = "\u00a0"  # no-break space: French thousands in Windows-1252 exports

# A HubSpot-like export: UTF-8 with a byte order mark, `;`, CRLF, French headers and statuses.
HUBSPOT = (
    "Record ID;Nom de la commande;Date de création;Montant TTC;Statut de la commande;Canal;Propriétaire\r\n"
    f"H-1001;Commande Dupont;01/12/2026 10:15;1{NNBSP}234,56;Finalisée;Web;Julie\r\n"
    "H-1002;Commande Martin;01/07/2026 00:30;89,90;Panier abandonné;Web;Julie\r\n"
    "H-1003;Commande Durand;15/03/2026;12 000;REMBOURSÉE;Boutique;Marc\r\n"
    "H-1004;Commande Petit;2026-02-10T14:00:00Z;0,5;payée;Web;Marc\r\n"
)
# A Sellsy-like export: Windows-1252, `;`, amounts with no-break spaces and « € », a Client column of names.
SELLSY = (
    "Référence;Date;Client;Montant HT;Montant TTC;Statut;Commercial\r\n"
    f"FAC-0001;05/01/2026;Société Générale d'Électricité;1{NBSP}000,00 €;1{NBSP}200,00 €;Validée;Éloïse\r\n"
    "FAC-0002;31/01/2026 23:45;Café Brûlé;250,00 €;300,00 €;Livrée;Éloïse\r\n"
    f"FAC-0003;02/02/2026;Hôtel Les Pins;1{NBSP}028,80 €;1{NBSP}234,56 €;Retournée;Noël\r\n"
    "FAC-0004;03/02/2026 08:05:30;Crème & Cie;0,00 €;0,00 €;Abandonnée;Noël\r\n"
)


@pytest.fixture
def manager_en(make_user, team_a):
    """A manager of team A who reads English (the job's messages are in its creator's language)."""
    return make_user("manager-en", team=team_a, role=Role.MANAGER, language="en")


def upload(client, team_slug: str, content: bytes, *, kind: str = "orders", name: str = "export.csv"):
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(f"/import/{team_slug}/", {"kind": kind, "file": file}, HTTP_ACCEPT_LANGUAGE="en")


def start(client, job: ImportJob, mapping: list[str], **extra):
    data = {f"column_{i}": name for i, name in enumerate(mapping)} | extra
    return client.post(f"/import/{job.team.slug}/jobs/{job.pk}/", data, HTTP_ACCEPT_LANGUAGE="en")


def orders() -> dict[str, tuple]:
    return {
        o.external_id: (o.ordered_at.astimezone(UTC), o.amount, o.status, o.channel)
        for o in Order.objects.order_by("external_id")
    }


# --- Whole exports through the page ----------------------------------------------------------


def test_a_hubspot_like_export_is_imported_as_is(client, manager_a, team_a, eager_imports):
    client.force_login(manager_a)
    # Given a HubSpot-like export in UTF-8 with a BOM
    response = upload(client, "team-a", HUBSPOT.encode("utf-8-sig"))
    job = ImportJob.objects.get()
    assert response.status_code == 302
    # Then its columns are recognised: the name and the owner have no field in an order
    assert job.headers[0] == "Record ID"
    assert job.mapping == ["external_id", "", "ordered_at", "amount", "status", "channel", ""]
    # When the import runs with that mapping
    start(client, job, job.mapping)
    job.refresh_from_db()
    assert (job.status, job.report["created"], job.report["error_count"]) == (ImportStatus.SUCCEEDED, 4, 0)
    # Then each order is stored with its instant read in Paris time and its French amount and status:
    # 01/12/2026 10:15 is winter time (UTC+1) → 09:15 UTC; 01/07/2026 00:30 is summer time (UTC+2) → 22:30 UTC
    # the day before; 15/03/2026 (before the switch of 29 March) is midnight UTC+1 → 23:00 UTC on the 14th;
    # an ISO instant with Z stays as it is. « 1 234,56 » (narrow no-break space) → 1234.56, « 12 000 » → 12000,
    # « 0,5 » → 0.50.
    assert orders() == {
        "H-1001": (dt.datetime(2026, 12, 1, 9, 15, tzinfo=UTC), Decimal("1234.56"), "completed", "Web"),
        "H-1002": (dt.datetime(2026, 6, 30, 22, 30, tzinfo=UTC), Decimal("89.90"), "abandoned", "Web"),
        "H-1003": (dt.datetime(2026, 3, 14, 23, 0, tzinfo=UTC), Decimal("12000.00"), "returned", "Boutique"),
        "H-1004": (dt.datetime(2026, 2, 10, 14, 0, tzinfo=UTC), Decimal("0.50"), "completed", "Web"),
    }


def test_a_sellsy_like_export_in_windows_1252_is_imported_once_its_client_names_are_left_out(
    client, manager_en, team_a, eager_imports
):
    client.force_login(manager_en)
    # Given a Sellsy-like export in Windows-1252 (« € » is byte 0x80, the no-break space 0xA0)
    content = SELLSY.encode("cp1252")
    assert b"\x80" in content and b"\xa0" in content
    upload(client, "team-a", content)
    job = ImportJob.objects.get()
    # Then « Montant TTC » wins the amount over « Montant HT » (it comes first among the synonyms), « Client »
    # is taken for the customer reference and « Commercial » has no field in an order
    assert job.headers == ["Référence", "Date", "Client", "Montant HT", "Montant TTC", "Statut", "Commercial"]
    assert job.mapping == ["external_id", "ordered_at", "customer", "", "amount", "status", ""]
    # And the preview shows, before anything runs, that the clients are names, not customer references
    page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "4 invalid rows among the first 4." in page
    assert "Client: No customer with external_id &#x27;Café Brûlé&#x27; in this team." in page
    # When the manager leaves the Client column out and starts the import
    mapping = ["external_id", "ordered_at", "", "", "amount", "status", ""]
    start(client, job, mapping)
    job.refresh_from_db()
    assert (job.status, job.report["created"]) == (ImportStatus.SUCCEEDED, 4)
    # Then: 05/01/2026 is midnight in Paris (UTC+1) → 23:00 UTC on the 4th; 31/01/2026 23:45 → 22:45 UTC;
    # 03/02/2026 08:05:30 → 07:05:30 UTC; amounts are the TTC ones, « 1 234,56 € » → 1234.56; « Validée » and
    # « Livrée » are completed, « Retournée » returned, « Abandonnée » abandoned
    assert orders() == {
        "FAC-0001": (dt.datetime(2026, 1, 4, 23, 0, tzinfo=UTC), Decimal("1200.00"), "completed", ""),
        "FAC-0002": (dt.datetime(2026, 1, 31, 22, 45, tzinfo=UTC), Decimal("300.00"), "completed", ""),
        "FAC-0003": (dt.datetime(2026, 2, 1, 23, 0, tzinfo=UTC), Decimal("1234.56"), "returned", ""),
        "FAC-0004": (dt.datetime(2026, 2, 3, 7, 5, 30, tzinfo=UTC), Decimal("0.00"), "abandoned", ""),
    }
    # And the next Sellsy export gets the same mapping, Client left out, from the team's memory
    upload(client, "team-a", SELLSY.replace("FAC-000", "FAC-100").encode("cp1252"))
    again = ImportJob.objects.exclude(pk=job.pk).get()
    assert again.mapping == mapping
    assert ImportMapping.objects.get(team=team_a, kind="orders").columns["client"] == ""


def test_the_remembered_mapping_is_the_team_s_own(client, manager_a, manager_b, team_a, team_b, eager_imports):
    # Given team A chose to read « Montant HT » as the amount
    client.force_login(manager_a)
    upload(client, "team-a", SELLSY.encode("cp1252"))
    job = ImportJob.objects.get()
    start(client, job, ["external_id", "ordered_at", "", "amount", "", "status", ""])
    # When team B uploads the same export
    client.force_login(manager_b)
    upload(client, "team-b", SELLSY.encode("cp1252"))
    # Then team B gets the guess, not team A's choice
    assert ImportJob.objects.get(team=team_b).mapping == [
        "external_id",
        "ordered_at",
        "customer",
        "",
        "amount",
        "status",
        "",
    ]
    # And team A's next upload gets its own choice back
    client.force_login(manager_a)
    upload(client, "team-a", SELLSY.encode("cp1252"))
    latest = ImportJob.objects.filter(team=team_a).order_by("-pk").first()
    assert latest.mapping == ["external_id", "ordered_at", "", "amount", "", "status", ""]


def test_a_tab_separated_file_is_read(client, manager_a, team_a, eager_imports):
    client.force_login(manager_a)
    upload(client, "team-a", b"ID\tDate\tTotal\nT-1\t02/03/2026\t1 234,5\n")
    job = ImportJob.objects.get()
    assert job.mapping == ["external_id", "ordered_at", "amount"]
    start(client, job, job.mapping)
    # 02/03/2026 is midnight UTC+1 → 23:00 UTC on 1 March; « 1 234,5 » → 1234.50
    assert orders() == {"T-1": (dt.datetime(2026, 3, 1, 23, 0, tzinfo=UTC), Decimal("1234.50"), "completed", "")}


# --- Cells and headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1 234,56", "1234.56"),
        (f"1{NBSP}234,56 €", "1234.56"),
        (f"1{NNBSP}234,56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1234.56", "1234.56"),
        ("12,5", "12.50"),
        ("EUR 12", "12.00"),
        ("0,005", "0.01"),  # rounded half up to the cent
    ],
)
def test_amounts_are_read_as_french_or_english_numbers(cell, expected):
    amount = KIND_SPECS["orders"].by_name["amount"]
    assert amount.parse(amount.read(cell)) == Decimal(expected)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("01/12/2026 10:15", at(2026, 12, 1, 10, 15)),
        ("01/12/2026 10:15:30", at(2026, 12, 1, 10, 15, 30)),
        ("1/7/2026", at(2026, 7, 1)),
        ("01-07-2026 14h30", at(2026, 7, 1, 14, 30)),
        ("2026-07-01", at(2026, 7, 1)),
        ("2026-07-01 08:00", at(2026, 7, 1, 8)),
        ("2026-07-01T08:00:00Z", dt.datetime(2026, 7, 1, 8, tzinfo=UTC)),
        ("2026-07-01T08:00:00+05:00", dt.datetime(2026, 7, 1, 3, tzinfo=UTC)),
    ],
)
def test_dates_are_read_day_first_or_iso_in_paris_time(cell, expected):
    ordered_at = KIND_SPECS["orders"].by_name["ordered_at"]
    assert ordered_at.parse(ordered_at.read(cell)) == expected


@pytest.mark.parametrize("cell", ["31/02/2026", "12/31/2026", "demain", "2026/13/01"])
def test_a_date_that_does_not_exist_or_is_not_a_date_is_refused(cell):
    with pytest.raises(FieldError):
        KIND_SPECS["orders"].by_name["ordered_at"].read(cell)


def test_a_plain_date_field_reads_day_first_dates():
    date_field = KIND_SPECS["spend"].by_name["date"]
    assert [date_field.read(cell) for cell in ("05/01/2026", "2026-01-05", "2026-01-05T23:30:00Z")] == [
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 6),  # 23:30 UTC is 00:30 on the 6th in Paris
    ]


@pytest.mark.parametrize(
    ("kind", "field", "cell", "code"),
    [
        ("orders", "status", "finalisée", "completed"),
        ("orders", "status", "TERMINEE", "completed"),
        ("orders", "status", "Payée", "completed"),
        ("orders", "status", "livrée", "completed"),
        ("orders", "status", "Validée", "completed"),
        ("orders", "status", "completed", "completed"),
        ("orders", "status", "Completed", "completed"),
        ("orders", "status", "abandonnée", "abandoned"),
        ("orders", "status", "Panier abandonné", "abandoned"),
        ("orders", "status", "panier-abandonne", "abandoned"),
        ("orders", "status", "Retournée", "returned"),
        ("orders", "status", "remboursée", "returned"),
        ("deals", "status", "Gagnée", "won"),
        ("deals", "status", "closedwon", "won"),
        ("deals", "status", "Closed Lost", "lost"),
        ("deals", "status", "en cours", "open"),
        ("tickets", "kind", "Réclamation", "complaint"),
        ("tickets", "kind", "Panne", "incident"),
        ("tickets", "kind", "Demande", "request"),
        ("survey-responses", "survey", "Satisfaction", "csat"),
        ("survey-responses", "survey", "NPS", "nps"),
        ("survey-responses", "survey", "effort client", "ces"),
        ("spend", "category", "Fidélisation", "retention"),
        ("spend", "category", "Prospection", "acquisition"),
        ("spend", "category", "divers", "other"),
    ],
)
def test_choices_are_read_by_code_label_or_synonym(kind, field, cell, code):
    assert KIND_SPECS[kind].by_name[field].read(cell) == code


def test_an_unknown_choice_names_the_accepted_ones():
    with translation.override("en"), pytest.raises(FieldError) as refused:
        KIND_SPECS["orders"].by_name["status"].read("en attente")
    assert str(refused.value) == (
        "Unknown value 'en attente': use one of completed (Completed), abandoned (Abandoned), returned (Returned)."
    )


@pytest.mark.parametrize(
    ("kind", "headers", "expected"),
    [
        (
            "orders",
            ["N° de commande", "Date de commande", "Montant HT", "Montant TTC", "ÉTAT"],
            ["external_id", "ordered_at", "", "amount", "status"],
        ),
        ("orders", ["ID", "Date", "Total"], ["external_id", "ordered_at", "amount"]),
        # An order's « Référence » names it better than a bare « ID »: the ID column is left out
        ("orders", ["ID", "Référence", "Date", "Total"], ["", "external_id", "ordered_at", "amount"]),
        ("orders", ["Identifiant", "Date", "Montant"], ["external_id", "ordered_at", "amount"]),
        ("orders", ["Réf.", "date de la commande", "MONTANT-TTC"], ["external_id", "ordered_at", "amount"]),
        (
            "deals",
            [
                "ID de l'affaire",
                "Montant de la transaction",
                "Étape de la transaction",
                "Date de création",
                "Date de clôture",
                "Statut",
            ],
            ["external_id", "amount", "stage", "created_at", "closed_at", "status"],
        ),
        (
            "tickets",
            ["N° de ticket", "Ouvert le", "Type", "Résolu le"],
            ["external_id", "created_at", "kind", "resolved_at"],
        ),
        (
            "spend",
            ["Référence", "Date", "Catégorie", "Coût", "Équipe"],
            ["external_id", "date", "category", "amount", "team"],
        ),
    ],
)
def test_headers_are_matched_by_synonyms_whatever_their_case_accents_and_punctuation(kind, headers, expected):
    assert import_columns_guess(spec=KIND_SPECS[kind], headers=headers) == expected


# --- The preview -----------------------------------------------------------------------------


def test_the_preview_checks_the_first_twenty_rows_before_anything_runs(client, manager_a, team_a):
    client.force_login(manager_a)
    # Given 25 rows, with a negative amount on line 3 and a non-existent date on line 5, and an unknown status on
    # line 24 (row 23, beyond the 20 rows checked)
    lines = ["Référence;Date;Montant;Statut"]
    for number in range(1, 26):
        amount, day, status = "10,00", "02/03/2026", "Payée"
        if number == 2:
            amount = "-4"
        if number == 4:
            day = "30/02/2026"
        if number == 23:
            status = "en attente"
        lines.append(f"P-{number};{day};{amount};{status}")
    upload(client, "team-a", "\n".join(lines).encode())
    job = ImportJob.objects.get()
    # When the mapping page is shown
    response = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    preview = response.context["preview"]
    # Then the first 20 rows are shown with their errors: 2 of them are invalid (the plural), nothing is written
    assert [row.line for row in preview.rows] == list(range(2, 22))
    assert {row.line: row.errors for row in preview.rows if row.errors} == {
        3: ["Montant: Must be at least 0 (got -4.00)."],
        5: ["Date: This date does not exist (got '30/02/2026')."],
    }
    assert "2 invalid rows among the first 20." in page
    assert Order.objects.count() == 0 and job.status == ImportStatus.DRAFT
    # And checking another mapping (the amount left out) shows what is missing instead of checking the rows
    response = client.post(
        f"/import/team-a/jobs/{job.pk}/",
        {"column_0": "external_id", "column_1": "ordered_at", "column_3": "status", "check": "1"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.context["preview"].problems == ["Map a column to each required field: amount."]
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT


def test_the_preview_says_one_invalid_row_in_the_singular(client, manager_a, team_a):
    client.force_login(manager_a)
    upload(client, "team-a", b"ID;Date;Montant\nA;02/03/2026;-1\nB;02/03/2026;3\nC;02/03/2026;4\n")
    job = ImportJob.objects.get()
    page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 invalid row among the first 3." in page


# --- A failed import and its error file ------------------------------------------------------


FAILING = (
    "Référence;Date de commande;Montant TTC;Statut\n"
    "F-1;02/03/2026;10,00;Payée\n"
    "F-2;02/03/2026;-4;Payée\n"
    "F-3;31/02/2026;=1+1;en attente\n"
    "F-4;03/03/2026;5;Livrée\n"
)


def test_a_failed_import_is_shown_failed_with_its_errors_and_a_way_back(client, manager_en, team_a, eager_imports):
    client.force_login(manager_en)
    upload(client, "team-a", FAILING.encode())
    job = ImportJob.objects.get()
    start(client, job, job.mapping)
    job.refresh_from_db()
    # Then the job failed, wrote nothing and says why: line 3 a negative amount; line 4 a date that does not
    # exist, an amount that is not a number and an unknown status (3 errors) → 4 errors on 2 lines
    assert (job.status, job.report["written"], job.report["error_count"]) == (ImportStatus.FAILED, False, 4)
    assert [(e["line"], e["field"]) for e in job.report["errors"]] == [
        (3, "amount"),
        (4, "ordered_at"),
        (4, "amount"),
        (4, "status"),
    ]
    assert Order.objects.count() == 0
    page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # In red, without the progress bar of a running job, with the error file and the way back to the upload
    assert 'class="message error" role="alert" data-import-failed' in page and "<progress" not in page
    assert "4 errors: nothing was written." in page
    assert f'href="/import/team-a/jobs/{job.pk}/errors.csv"' in page
    assert 'href="/import/team-a/?kind=orders" data-retry' in page
    status = client.get(f"/import/team-a/jobs/{job.pk}/status/").json()
    assert (status["status"], status["failed"], status["finished"]) == ("failed", True, True)
    # And « correct and try again » opens the upload with the same kind chosen
    retry = client.get("/import/team-a/?kind=orders", HTTP_ACCEPT_LANGUAGE="en")
    assert retry.context["form"]["kind"].value() == "orders"


def test_the_error_file_has_each_invalid_line_its_cells_and_its_errors(client, manager_en, team_a, eager_imports):
    client.force_login(manager_en)
    upload(client, "team-a", FAILING.encode())
    job = ImportJob.objects.get()
    start(client, job, job.mapping)
    response = client.get(f"/import/team-a/jobs/{job.pk}/errors.csv", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="export-errors.csv"'
    content = response.content
    # UTF-8 with a byte order mark; the creator reads English: comma-separated
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    # The original line numbers and cells (« =1+1 » quoted against formulas, « -4 » left a number), then every
    # error of the line named by its column as the file names it
    assert rows == [
        ["Line", "Référence", "Date de commande", "Montant TTC", "Statut", "Errors"],
        ["3", "F-2", "02/03/2026", "-4", "Payée", "Montant TTC: Must be at least 0 (got -4.00)."],
        [
            "4",
            "F-3",
            "31/02/2026",
            "'=1+1",
            "en attente",
            "Date de commande: This date does not exist (got '31/02/2026'). | "
            "Montant TTC: Enter a number such as 1 234,56 or 1234.56 (got '=1+1'). | "
            "Statut: Unknown value 'en attente': use one of completed (Completed), abandoned (Abandoned), "
            "returned (Returned).",
        ],
    ]


def test_the_error_file_of_a_french_user_is_semicolon_separated(client, manager_a, team_a, eager_imports):
    client.force_login(manager_a)
    upload(client, "team-a", FAILING.encode())
    job = ImportJob.objects.get()
    start(client, job, job.mapping)
    content = client.get(f"/import/team-a/jobs/{job.pk}/errors.csv").content
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    # Line, 4 cells, errors: 6 columns; lines 3 and 4 of the file
    assert [row[:5] for row in rows] == [
        ["Ligne", "Référence", "Date de commande", "Montant TTC", "Statut"],
        ["3", "F-2", "02/03/2026", "-4", "Payée"],
        ["4", "F-3", "31/02/2026", "'=1+1", "en attente"],
    ]
    assert "Doit valoir au moins 0 (reçu -4.00)." in rows[1][5]


def test_valid_only_imports_the_rest_and_offers_the_skipped_rows(client, manager_en, team_a, eager_imports):
    client.force_login(manager_en)
    upload(client, "team-a", FAILING.encode())
    job = ImportJob.objects.get()
    start(client, job, job.mapping, valid_only="on")
    job.refresh_from_db()
    # F-1 and F-4 written, lines 3 and 4 skipped (the plural), and their file to correct offered
    assert (job.status, job.report["created"], job.report["skipped"]) == (ImportStatus.SUCCEEDED, 2, 2)
    page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 invalid rows were skipped." in page and "data-error-file" in page
    assert client.get(f"/import/team-a/jobs/{job.pk}/errors.csv").content.count(b"\r\n") == 3


# --- Files refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # UTF-16 and UTF-32 are read (tests/metrics/activity/test_import_hardening.py); unless they cannot be.
        (HUBSPOT.encode("utf-16") + b"\x00", "This file looks like UTF-16 text but cannot be read as such"),
        (HUBSPOT.encode("utf-32")[:-2], "This file looks like UTF-32 text but cannot be read as such"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "This is not a CSV or XLSX file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "This is an Excel 97-2003 file (.xls)"),
        (b"ID;Date\x81;Montant\nA;\x8d;\x8f\n", "The file is neither UTF-8 nor Windows-1252 text"),
        (b"PK\x03\x04 not really a workbook", "This is not a readable XLSX file."),
    ],
)
def test_an_unreadable_upload_is_refused_with_a_message(client, manager_a, team_a, content, message):
    client.force_login(manager_a)
    response = upload(client, "team-a", content)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ImportJob.objects.count() == 0


# --- Team isolation -------------------------------------------------------------------------------


def test_another_team_gets_nothing_of_the_error_file(client, manager_a, manager_b, viewer_a, team_a, eager_imports):
    client.force_login(manager_a)
    upload(client, "team-a", FAILING.encode())
    job = ImportJob.objects.get()
    start(client, job, job.mapping)
    client.force_login(manager_b)
    assert client.get(f"/import/team-a/jobs/{job.pk}/errors.csv").status_code == 404
    assert client.get(f"/import/team-b/jobs/{job.pk}/errors.csv").status_code == 404
    client.force_login(viewer_a)
    assert client.get(f"/import/team-a/jobs/{job.pk}/errors.csv").status_code == 403
