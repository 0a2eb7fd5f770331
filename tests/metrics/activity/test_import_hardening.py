"""CSV/XLSX import against hostile files (issue 16): any encoding decoded or refused with a message, a NUL in a
cell reported on its row, implausible dates refused per row, and a job that ends failed — never "running" — with
nothing half-written whatever goes wrong."""

import codecs
import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.utils import translation

from accounts.roles import Role
from metrics.activity import import_jobs
from metrics.activity import ingest as ingest_module
from metrics.activity import tasks as import_tasks
from metrics.activity.imports import ImportFileError, activity_table_import, import_file_read
from metrics.models import DirtyMark, ImportChange, ImportJob, ImportStatus, Order, Spend

UTC = dt.UTC
# Accents and « € » (in Windows-1252 too) show a file decoded with the right encoding, not garbage.
TEXT = (
    "Référence;Date;Montant;Statut;Canal\r\n"
    "É-1;05/01/2026 10:00;1 234,50 €;Validée;Boutique\r\n"
    "É-2;06/01/2026;12,00 €;Abandonnée;Web\r\n"
)
ROWS = [
    ["É-1", "05/01/2026 10:00", "1 234,50 €", "Validée", "Boutique"],
    ["É-2", "06/01/2026", "12,00 €", "Abandonnée", "Web"],
]
MAPPING = ["external_id", "ordered_at", "amount", "status", "channel"]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def manager_en(make_user, team_a):
    return make_user("manager-en", team=team_a, role=Role.MANAGER, language="en")


def upload(client, content: bytes, *, kind: str = "orders"):
    file = SimpleUploadedFile("export.csv", content, content_type="text/csv")
    return client.post("/import/team-a/", {"kind": kind, "file": file}, HTTP_ACCEPT_LANGUAGE="en")


def start(client, job: ImportJob, mapping: list[str], **extra):
    data = {f"column_{i}": name for i, name in enumerate(mapping)} | extra
    return client.post(f"/import/team-a/jobs/{job.pk}/", data, HTTP_ACCEPT_LANGUAGE="en")


def stored_orders() -> dict[str, tuple]:
    return {o.external_id: (o.ordered_at.astimezone(UTC), o.amount, o.status) for o in Order.objects.all()}


# --- Encodings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(TEXT.encode("utf-8"), id="utf-8"),
        pytest.param(TEXT.encode("utf-8-sig"), id="utf-8 with BOM"),
        pytest.param(TEXT.encode("cp1252"), id="windows-1252"),
        pytest.param(TEXT.encode("utf-16"), id="utf-16 with BOM (what Excel saves as Unicode text)"),
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), id="utf-16-be with BOM"),
        pytest.param(TEXT.encode("utf-16-le"), id="utf-16-le without BOM"),
        pytest.param(TEXT.encode("utf-16-be"), id="utf-16-be without BOM"),
        pytest.param(TEXT.encode("utf-32"), id="utf-32 with BOM"),
        pytest.param(TEXT.encode("utf-32-le"), id="utf-32-le without BOM"),
        pytest.param(TEXT.encode("utf-32-be"), id="utf-32-be without BOM"),
    ],
)
def test_a_file_in_any_usual_encoding_is_read_as_its_text(content):
    table = import_file_read(content=content, filename="export.csv")
    assert table.headers == ["Référence", "Date", "Montant", "Statut", "Canal"]
    assert table.rows == ROWS


def test_a_utf16_upload_is_imported_with_its_accents(client, manager_en, team_a, eager_imports):
    # Given a file saved by a spreadsheet as "Unicode text" (UTF-16 with a byte order mark)
    client.force_login(manager_en)
    response = upload(client, TEXT.encode("utf-16"))
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.headers[0] == "Référence"
    # When it is imported with the guessed mapping
    assert job.mapping == MAPPING
    start(client, job, job.mapping)
    job.refresh_from_db()
    # Then both orders are stored as written: 05/01/2026 10:00 Paris time (UTC+1) is 09:00 UTC, 06/01/2026 is
    # midnight Paris time, 23:00 UTC the day before; « 1 234,50 € » is 1234.50
    assert (job.status, job.report["created"]) == (ImportStatus.SUCCEEDED, 2)
    assert stored_orders() == {
        "É-1": (dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC), Decimal("1234.50"), "completed"),
        "É-2": (dt.datetime(2026, 1, 5, 23, 0, tzinfo=UTC), Decimal("12.00"), "abandoned"),
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (TEXT.encode("utf-16") + b"\x00", "This file looks like UTF-16 text but cannot be read as such"),
        # A lone surrogate (D800) in UTF-16: no valid text
        (codecs.BOM_UTF16_LE + "A;B\r\n".encode("utf-16-le") + b"\x00\xd8;\x00", "looks like UTF-16 text"),
        (codecs.BOM_UTF8 + b"A;B\r\n\xff\xfe;x\r\n", "This file looks like UTF-8 text but cannot be read as such"),
        (b"A;B\r\n" + b"\x00\x01\x02\x03" * 50, "This is not a CSV or XLSX file"),
    ],
)
def test_an_undecodable_upload_is_refused_on_the_form(client, manager_en, team_a, content, message):
    client.force_login(manager_en)
    response = upload(client, content)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_nul_in_the_header_line_after_the_first_bytes_is_refused_on_the_form(client, manager_en, team_a):
    # The first 8 KB look like text: the NUL is in a header name further on
    header = ";".join(f"colonne {n}" for n in range(1000)) + ";x\x00y"
    client.force_login(manager_en)
    response = upload(client, (header + "\r\n" + ";" * 1000 + "1\r\n").encode())
    assert response.status_code == 400
    assert "The header line contains a NUL character" in response.content.decode()
    assert not ImportJob.objects.exists()


# --- A NUL in a cell -------------------------------------------------------------------------------------------------

# 400 valid rows first: a NUL within the first 8 KB makes the file look binary (refused on the form); further on
# it is a cell like any other, reported on its row (line 402).
PADDING = "".join(f"O-{n:03d};2026-01-05T10:00:00Z;1,00;web\r\n" for n in range(400))
NUL_FILE = "external_id;ordered_at;amount;channel\r\n" + PADDING + "O-NUL;2026-01-05T10:00:00Z;1,00;we\x00b\r\n"


def orders_marked_dirty() -> bool:
    # Logging in marks the CRM-adoption KPIs dirty: only the marks of orders count here.
    return DirtyMark.objects.filter(record_kind="orders").exists()


def test_a_nul_in_a_cell_fails_the_import_on_its_row_and_writes_nothing(client, manager_en, team_a, eager_imports):
    client.force_login(manager_en)
    upload(client, NUL_FILE.encode())
    job = ImportJob.objects.get()
    start(client, job, job.mapping)
    job.refresh_from_db()
    # Then the job ended (failed, not running) with the row's line and column, and nothing is stored
    assert (job.status, job.progress, job.report["written"], job.report["error_count"]) == ("failed", 100, False, 1)
    assert job.report["errors"] == [
        {
            "line": 402,
            "external_id": "O-NUL",
            "field": "channel",
            "message": "Contains a NUL character or an invalid Unicode character (a lone surrogate).",
        }
    ]
    assert not Order.objects.exists() and not orders_marked_dirty()
    # And the error file offers that row to correct
    assert b"O-NUL" in bytes(job.error_file)


def test_a_nul_in_a_cell_skips_its_row_when_the_valid_rows_are_asked_for(client, manager_en, team_a, eager_imports):
    client.force_login(manager_en)
    upload(client, NUL_FILE.encode())
    job = ImportJob.objects.get()
    start(client, job, job.mapping, valid_only="on")
    job.refresh_from_db()
    assert (job.status, job.report["created"], job.report["skipped"]) == ("succeeded", 400, 1)
    assert Order.objects.count() == 400 and not Order.objects.filter(external_id="O-NUL").exists()


def test_a_nul_in_the_external_id_is_reported_without_it(team_a):
    content = "external_id;ordered_at;amount;channel\r\n" + PADDING + "O-\x001;2026-01-05T10:00:00Z;1;web\r\n"
    table = import_file_read(content=content.encode(), filename="x.csv")
    mapping = ["external_id", "ordered_at", "amount", "channel"]
    report = activity_table_import(kind="orders", table=table, mapping=mapping, team=team_a, writable_team_ids=None)
    assert [(e["line"], e["external_id"], e["field"]) for e in report.errors] == [(402, "O-\ufffd1", "external_id")]
    assert not report.written and not Order.objects.exists()


# --- Implausible dates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "header", "cell", "message"),
    [
        ("orders", "ordered_at", "01/01/1900", "1900-01-01T00:00:00 is out of range"),
        ("orders", "ordered_at", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00 is out of range"),
        ("orders", "ordered_at", "2026-01-05T10:00:00-19:18", "Enter a UTC offset between -14:00 and +14:00"),
        # A calendar date written as an instant is moved to Paris time: year 1 at +14:00 was an OverflowError
        ("spend", "date", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+14:00 is out of range"),
        ("spend", "date", "31/12/2101", "2101-12-31 is out of range"),
    ],
)
def test_an_implausible_date_in_a_cell_is_reported_on_its_row(team_a, kind, header, cell, message):
    others = {"orders": ("amount", "1"), "spend": ("amount", "1")}[kind]
    extra = ";category" if kind == "spend" else ""
    extra_cell = ";acquisition" if kind == "spend" else ""
    content = f"external_id;{header};{others[0]}{extra}\r\nX-1;{cell};{others[1]}{extra_cell}\r\n".encode()
    table = import_file_read(content=content, filename="x.csv")
    mapping = ["external_id", header, "amount", *(["category"] if kind == "spend" else [])]
    report = activity_table_import(kind=kind, table=table, mapping=mapping, team=team_a, writable_team_ids=None)
    assert [(e["line"], e["field"]) for e in report.errors] == [(2, header)]
    assert message in report.errors[0]["message"]
    assert not report.written and not Order.objects.exists() and not Spend.objects.exists()


# --- Unexpected failures ---------------------------------------------------------------------------------------------

GOOD_FILE = "external_id;ordered_at;amount\r\nO-1;2026-01-05T10:00:00Z;1\r\nO-2;2026-01-06T10:00:00Z;2\r\n"


def test_an_unexpected_error_after_the_rows_were_written_fails_the_job_and_rolls_everything_back(
    client, manager_en, team_a, eager_imports, monkeypatch, caplog
):
    # Given the dirty marks fail once the orders are already upserted (the last step of the write)
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest_module, "dirty_marks_widen", broken)
    client.force_login(manager_en)
    upload(client, GOOD_FILE.encode())
    job = ImportJob.objects.get()
    # When the import runs
    with caplog.at_level(logging.ERROR, logger="metrics.activity.import_jobs"):
        response = start(client, job, job.mapping)
    job.refresh_from_db()
    # Then the page answers, the job ended failed with the reason in words, logged with its traceback
    assert response.status_code == 302
    assert (job.status, job.progress, job.report["written"]) == (ImportStatus.FAILED, 100, False)
    assert job.report["detail"] == (
        "The import stopped on an unexpected error, and nothing was written: RuntimeError: disk on fire. Try again "
        "later; if it fails again, send the file to your administrator."
    )
    assert job.finished_at is not None and bytes(job.content) == GOOD_FILE.encode()  # kept for another try
    [logged] = [r for r in caplog.records if r.name == "metrics.activity.import_jobs"]
    assert logged.exc_info is not None and "Import job" in logged.getMessage()
    # And nothing is half-written: no order, no journal, no dirty mark
    assert not Order.objects.exists() and not ImportChange.objects.exists() and not orders_marked_dirty()
    page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "RuntimeError: disk on fire" in page
    assert client.get(f"/import/team-a/jobs/{job.pk}/status/").json()["failed"] is True


def test_an_unexpected_error_while_reading_fails_the_job(team_a, manager_en, monkeypatch):
    job = import_jobs.import_job_create(
        team=team_a, kind="orders", user=manager_en, filename="x.csv", content=GOOD_FILE.encode()
    )
    import_jobs.import_job_queue(job=job, mapping=job.mapping, valid_only=False)

    def broken(**kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(import_jobs, "activity_table_import", broken)
    job = import_jobs.import_job_run(job_id=job.pk)
    assert job.status == ImportStatus.FAILED and "KeyError: 'surprise'" in job.report["detail"]
    assert ImportJob.objects.get().status == ImportStatus.FAILED


def test_a_transient_database_error_is_left_to_the_task_s_retry_then_fails_the_job(team_a, manager_en, monkeypatch):
    job = import_jobs.import_job_create(
        team=team_a, kind="orders", user=manager_en, filename="x.csv", content=GOOD_FILE.encode()
    )
    import_jobs.import_job_queue(job=job, mapping=job.mapping, valid_only=False)

    def unavailable(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(import_jobs, "activity_table_import", unavailable)
    # While retries are left, the error goes up to Celery's retry and the job stays running, to be claimed again
    with pytest.raises(OperationalError):
        import_tasks.activity_import_task.run(job.pk)
    assert ImportJob.objects.get().status == ImportStatus.RUNNING
    # On the last try, it ends the job failed
    import_tasks.activity_import_task.apply(args=(job.pk,), retries=3)
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and "OperationalError" in job.report["detail"]


def test_running_a_failed_job_again_changes_nothing(team_a, manager_en, monkeypatch):
    job = import_jobs.import_job_create(
        team=team_a, kind="orders", user=manager_en, filename="x.csv", content=GOOD_FILE.encode()
    )
    import_jobs.import_job_queue(job=job, mapping=job.mapping, valid_only=False)
    monkeypatch.setattr(import_jobs, "activity_table_import", lambda **kwargs: 1 / 0)
    import_jobs.import_job_run(job_id=job.pk)
    monkeypatch.undo()
    import_jobs.import_job_run(job_id=job.pk)
    assert ImportJob.objects.get().status == ImportStatus.FAILED and not Order.objects.exists()


def test_a_file_name_with_a_nul_is_stored_without_it(team_a, manager_en):
    job = import_jobs.import_job_create(
        team=team_a, kind="orders", user=manager_en, filename="ex\x00port.csv", content=GOOD_FILE.encode()
    )
    assert ImportJob.objects.get(pk=job.pk).filename == "ex\ufffdport.csv"


def test_a_nul_in_the_first_bytes_makes_the_file_refused_as_binary(team_a):
    with pytest.raises(ImportFileError, match="This is not a CSV or XLSX file"):
        import_file_read(content=b"external_id;amount\r\nO-\x001;1\r\n", filename="x.csv")


def test_an_import_file_error_is_still_reported_as_such(team_a):
    with pytest.raises(ImportFileError, match="The file is empty"):
        import_file_read(content=b"\r\n\r\n", filename="x.csv")
