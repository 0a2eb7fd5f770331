"""CSV/XLSX import (page, job, command) and CSV export of activity records."""

import csv
import io
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import translation

from accounts.roles import Role
from metrics.activity.imports import activity_table_import, import_columns_guess, import_file_read
from metrics.activity.kinds import KIND_SPECS
from metrics.models import ImportJob, ImportStatus, Order

# Line 1 is the header; line 3 has a negative amount, line 4 a date that does not exist (31 February).
BAD_CSV = (
    "external_id;ordered_at;amount;channel\n"
    "O-1;2025-03-03T12:00:00Z;10,50;web\n"
    "O-2;2025-03-04T12:00:00Z;-4;web\n"
    "O-3;31/02/2025;7;shop\n"
    "O-4;2025-03-05T12:00:00Z;3;shop\n"
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str, name: str = "orders.csv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def test_command_reports_bad_rows_by_line_and_writes_nothing(team_a, csv_file):
    out = StringIO()
    with pytest.raises(CommandError, match="2 invalid rows: nothing written"):
        call_command("import_activity", "orders", csv_file(BAD_CSV), "--team", "team-a", stdout=out, stderr=StringIO())
    assert out.getvalue().splitlines() == [
        "line 3: amount: Must be at least 0 (got -4.00). (O-2)",
        "line 4: ordered_at: This date does not exist (got '31/02/2025'). (O-3)",
    ]
    assert Order.objects.count() == 0


def test_command_valid_only_writes_the_valid_rows(team_a, csv_file):
    out, err = StringIO(), StringIO()
    call_command(
        "import_activity", "orders", csv_file(BAD_CSV), "--team", "team-a", "--valid-only", stdout=out, stderr=err
    )
    assert out.getvalue().splitlines()[-1] == "4 rows: 2 created, 0 updated, 0 unchanged, 2 skipped."
    assert "100% 4/4 rows validated" in err.getvalue()
    # The French decimal comma of line 2 is read as 10.50
    assert dict(Order.objects.values_list("external_id", "amount")) == {"O-1": 10.5, "O-4": 3}


def test_importing_the_same_file_twice_changes_nothing(team_a, csv_file):
    path = csv_file("external_id,ordered_at,amount\nO-1,2025-03-03T12:00:00Z,10\n")
    call_command("import_activity", "orders", path, "--team", "team-a", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("import_activity", "orders", path, "--team", "team-a", stdout=out, stderr=StringIO())
    assert out.getvalue().strip().endswith("1 rows: 0 created, 0 updated, 1 unchanged, 0 skipped.")


def test_headers_are_matched_by_field_name_or_french_label():
    with translation.override("fr"):
        guessed = import_columns_guess(
            spec=KIND_SPECS["orders"], headers=["External ID", "Montant", "Commandée le", "Couleur", "client"]
        )
    assert guessed == ["external_id", "amount", "ordered_at", "", "customer"]


def test_an_xlsx_file_is_read_with_line_numbers(team_a):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["external_id", "ordered_at", "amount"])
    sheet.append(["O-1", "2025-03-03T12:00:00Z", 12.5])
    sheet.append([None, None, None])
    sheet.append(["O-2", "2025-03-03T12:00:00Z", -1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = import_file_read(content=buffer.getvalue(), filename="orders.xlsx")
    assert (table.headers, table.lines) == (["external_id", "ordered_at", "amount"], [2, 4])
    report = activity_table_import(
        kind="orders",
        table=table,
        mapping=["external_id", "ordered_at", "amount"],
        team=team_a,
        writable_team_ids={team_a.pk},
    )
    assert [(e["line"], e["field"]) for e in report.errors] == [(4, "amount")]
    assert not report.written and Order.objects.count() == 0


# --- The page -----------------------------------------------------------------------


def upload(client, team_slug: str, text: str, kind: str = "orders"):
    file = SimpleUploadedFile("orders.csv", text.encode("utf-8"), content_type="text/csv")
    return client.post(f"/import/{team_slug}/", {"kind": kind, "file": file}, HTTP_ACCEPT_LANGUAGE="en")


def test_page_previews_maps_runs_and_reports_errors_by_line(client, manager_a, team_a, eager_imports):
    client.force_login(manager_a)
    # Given an uploaded file with two bad rows
    response = upload(client, "team-a", BAD_CSV)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/import/team-a/jobs/{job.pk}/"
    assert (job.status, job.headers, job.mapping) == (
        ImportStatus.DRAFT,
        ["external_id", "ordered_at", "amount", "channel"],
        ["external_id", "ordered_at", "amount", "channel"],
    )
    # Then the mapping page previews the first rows with a field choice per column
    page = client.get(f"/import/team-a/jobs/{job.pk}/").content.decode()
    assert "O-3" in page and 'name="column_0"' in page and "31/02/2025" in page
    # When the import runs with the guessed mapping
    mapping = {f"column_{i}": name for i, name in enumerate(job.mapping)}
    client.post(f"/import/team-a/jobs/{job.pk}/", mapping, HTTP_ACCEPT_LANGUAGE="en")
    job.refresh_from_db()
    # Then it failed with an error per bad line and wrote nothing
    assert (job.status, job.progress, job.report["written"], job.report["error_count"]) == ("failed", 100, False, 2)
    assert [(e["line"], e["external_id"], e["field"]) for e in job.report["errors"]] == [
        (3, "O-2", "amount"),
        (4, "O-3", "ordered_at"),
    ]
    assert Order.objects.count() == 0
    report_page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The report's messages are in the language of the user who started the import (French here)
    assert "2 errors: nothing was written." in report_page and "Doit valoir au moins 0 (reçu -4.00)." in report_page


def test_page_valid_only_imports_the_valid_rows(client, manager_a, team_a, eager_imports):
    client.force_login(manager_a)
    upload(client, "team-a", BAD_CSV)
    job = ImportJob.objects.get()
    mapping = {f"column_{i}": name for i, name in enumerate(job.mapping)}
    client.post(f"/import/team-a/jobs/{job.pk}/", {**mapping, "valid_only": "on"})
    job.refresh_from_db()
    assert job.status == "succeeded" and job.content == b""
    assert {k: job.report[k] for k in ("created", "updated", "unchanged", "skipped", "written")} == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 2,
        "written": True,
    }
    assert set(Order.objects.filter(team=team_a).values_list("external_id", flat=True)) == {"O-1", "O-4"}
    status = client.get(f"/import/team-a/jobs/{job.pk}/status/").json()
    assert (status["status"], status["progress"], status["finished"]) == ("succeeded", 100, True)


def test_a_mapping_without_a_required_field_is_refused(client, manager_a, team_a, eager_imports):
    client.force_login(manager_a)
    upload(client, "team-a", BAD_CSV)
    job = ImportJob.objects.get()
    response = client.post(
        f"/import/team-a/jobs/{job.pk}/",
        {"column_0": "external_id", "column_1": "ordered_at"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Map a column to each required field: amount." in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT


def test_a_broker_that_is_down_runs_the_import_in_process(client, manager_a, team_a, monkeypatch):
    from metrics.activity import tasks as import_tasks

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(import_tasks.activity_import_task, "apply_async", down)
    client.force_login(manager_a)
    upload(client, "team-a", "external_id,ordered_at,amount\nO-1,2025-03-03T12:00:00Z,10\n")
    job = ImportJob.objects.get()
    client.post(
        f"/import/team-a/jobs/{job.pk}/", {"column_0": "external_id", "column_1": "ordered_at", "column_2": "amount"}
    )
    job.refresh_from_db()
    assert job.status == "succeeded" and Order.objects.count() == 1


def test_import_pages_are_for_the_teams_managers_only(client, viewer_a, manager_b, manager_a, team_a):
    client.force_login(manager_a)
    upload(client, "team-a", BAD_CSV)
    job = ImportJob.objects.get()
    client.force_login(viewer_a)
    assert client.get("/import/team-a/").status_code == 403
    client.force_login(manager_b)
    for url in ("/import/team-a/", f"/import/team-a/jobs/{job.pk}/", f"/import/team-a/jobs/{job.pk}/status/"):
        assert client.get(url).status_code == 404
    # Another team's job is not found under one's own team either
    assert client.get(f"/import/team-b/jobs/{job.pk}/status/").status_code == 404


def test_an_unreadable_upload_is_refused_on_the_form(client, manager_a, team_a):
    client.force_login(manager_a)
    response = upload(client, "team-a", "external_id,ordered_at,amount\n")
    assert response.status_code == 400
    assert "The file has a header but no rows." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_page_is_french_by_default(client, manager_a, team_a):
    client.force_login(manager_a)
    page = client.get("/import/team-a/").content.decode()
    assert "Importer l’activité dans Équipe A" in page


def test_export_escapes_formulas_and_stays_in_the_team(client, viewer_a, manager_b, team_a, team_b, csv_file):
    path = csv_file(
        "external_id,ordered_at,amount,channel\nO-1,2025-03-03T12:00:00Z,10,=1+1\nO-2,2025-03-03T12:00:00Z,1,-2\n"
    )
    call_command("import_activity", "orders", path, "--team", "team-a", stdout=StringIO(), stderr=StringIO())
    call_command("import_activity", "orders", path, "--team", "team-b", stdout=StringIO(), stderr=StringIO())
    client.force_login(viewer_a)
    response = client.get("/import/team-a/export/orders.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    channel = rows[0].index("channel")
    assert [(row[0], row[1], row[channel]) for row in rows[1:]] == [
        ("O-1", "team-a", "'=1+1"),
        ("O-2", "team-a", "'-2"),
    ]
    client.force_login(manager_b)
    assert client.get("/import/team-a/export/orders.csv").status_code == 404


def test_viewers_of_the_team_reach_the_export_but_not_another_kind(client, viewer_a, team_a):
    client.force_login(viewer_a)
    assert client.get("/import/team-a/export/invoices.csv").status_code == 404


def test_member_role_is_not_enough_for_the_import_page(client, make_user, team_a):
    member = make_user("member-a", team=team_a, role=Role.MEMBER)
    client.force_login(member)
    assert client.get("/import/team-a/").status_code == 403
