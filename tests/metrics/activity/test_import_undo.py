"""Undoing an import: what it created is deleted, what it updated gets its previous values back, in one
transaction, with the dirty marks that bring the KPIs back; refused after the delay, twice, or when it would lose
a later change."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from metrics.activity.import_jobs import import_changes_purge
from metrics.activity.ingest import activity_ingest
from metrics.models import Customer, DirtyMark, ImportChange, ImportJob, ImportStatus, KpiValue, Order
from metrics.recompute.services import dirty_marks_recompute
from tests.metrics.kpi_support import q

pytestmark = pytest.mark.usefixtures("catalogue")

D = dt.date
UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

# Updates O-2 (50 → 80) and O-1 (10 January → 3 February), creates O-3 (completed, 20) and O-4 (abandoned, 35).
CHANGES = (
    "Référence;Date de commande;Montant TTC;Statut\n"
    "O-2;20/01/2026 12:00;80,00;Finalisée\n"
    "O-1;03/02/2026 09:00;100,00;Finalisée\n"
    "O-3;05/02/2026 18:30;20,00;Payée\n"
    "O-4;06/02/2026;35,00;Panier abandonné\n"
)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def ingest_orders(team, records: list[dict]) -> None:
    activity_ingest(kind="orders", records=records, default_team_id=team.pk, writable_team_ids=None)


def run_import(client, team, text: str, kind: str = "orders") -> ImportJob:
    """Upload `text` and start its import with the proposed mapping; the finished job."""
    file = SimpleUploadedFile("changes.csv", text.encode("utf-8"), content_type="text/csv")
    client.post(f"/import/{team.slug}/", {"kind": kind, "file": file})
    job = ImportJob.objects.filter(team=team).order_by("-pk").first()
    client.post(f"/import/{team.slug}/jobs/{job.pk}/", {f"column_{i}": name for i, name in enumerate(job.mapping)})
    job.refresh_from_db()
    return job


def undo(client, job: ImportJob):
    return client.post(f"/import/{job.team.slug}/jobs/{job.pk}/undo/", HTTP_ACCEPT_LANGUAGE="en", follow=True)


def revenue(team) -> dict[D, Decimal]:
    """The team's stored monthly revenue of January and February 2026, once the dirty marks are recomputed."""
    dirty_marks_recompute()
    cells = KpiValue.objects.filter(
        kpi__code="revenue",
        team=team,
        granularity="month",
        segment="",
        period_start__in=[D(2026, 1, 1), D(2026, 2, 1)],
    )
    return {cell.period_start: cell.value for cell in cells}


def stored_orders() -> dict[str, tuple]:
    return {
        o.external_id: (o.ordered_at, o.amount, o.status, o.attributes) for o in Order.objects.order_by("external_id")
    }


@pytest.fixture
def january(team_a, clock):
    """O-1 (100, 10 January) and O-2 (50, 20 January), both completed and sent through the API; January's revenue
    150 and February's 0 (no order), recomputed."""
    ingest_orders(
        team_a,
        [
            {"external_id": "O-1", "ordered_at": "2026-01-10T12:00:00+01:00", "amount": "100.00",
             "attributes": {"source": "api"}},
            {"external_id": "O-2", "ordered_at": "2026-01-20T12:00:00+01:00", "amount": "50.00"},
        ],
    )  # fmt: skip
    assert revenue(team_a) == {D(2026, 1, 1): q(150), D(2026, 2, 1): q(0)}
    clock.shift(dt.timedelta(minutes=5))
    return stored_orders()


def test_undo_deletes_what_the_import_created_and_restores_what_it_updated(
    client, manager_a, team_a, january, clock, eager_imports
):
    client.force_login(manager_a)
    # Given an import that updated O-1 and O-2 and created O-3 and O-4
    job = run_import(client, team_a, CHANGES)
    assert (job.status, job.report["created"], job.report["updated"]) == (ImportStatus.SUCCEEDED, 2, 2)
    # It kept what it changed: the previous values of the two it updated (O-1's attributes among them)
    changes = {c.external_id: (c.created, c.previous) for c in ImportChange.objects.filter(job=job)}
    assert {key: created for key, (created, _previous) in changes.items()} == {
        "O-1": False,
        "O-2": False,
        "O-3": True,
        "O-4": True,
    }
    assert changes["O-1"][1]["ordered_at"] == "2026-01-10T11:00:00+00:00"
    assert (changes["O-1"][1]["amount"], changes["O-1"][1]["attributes"]) == ("100.00", {"source": "api"})
    assert changes["O-2"][1]["amount"] == "50.00"
    # January: O-2 now 80; February: O-1 100 + O-3 20 (O-4 is abandoned, not revenue) = 120
    assert revenue(team_a) == {D(2026, 1, 1): q(80), D(2026, 2, 1): q(120)}
    clock.shift(dt.timedelta(hours=2))
    # When a manager undoes it, two hours after the import (itself 5 minutes after NOW: 125 minutes)
    response = undo(client, job)
    # Then the orders are as before the import, to the attribute
    assert "Import undone: 2 records deleted, 2 records restored." in response.content.decode()
    assert stored_orders() == january
    job.refresh_from_db()
    assert (job.status, job.undone_at, job.undone_by) == (
        ImportStatus.UNDONE,
        NOW + dt.timedelta(minutes=125),
        manager_a,
    )
    assert not ImportChange.objects.filter(job=job).exists()
    # And the dirty mark spans what moved: from O-1's 10 January (restored) to O-4's 6 February (deleted; local
    # midnight of the 6th, 23:00 UTC on the 5th) — [10 January, 7 February)
    mark = DirtyMark.objects.get(team=team_a, record_kind="orders")
    assert (mark.period_start, mark.period_end) == (D(2026, 1, 10), D(2026, 2, 7))
    # And once recomputed, January is back to 100 + 50 = 150 and February has no revenue left (0)
    assert revenue(team_a) == {D(2026, 1, 1): q(150), D(2026, 2, 1): q(0)}


def test_undo_is_refused_after_the_delay(client, manager_a, team_a, january, clock, eager_imports):
    client.force_login(manager_a)
    job = run_import(client, team_a, CHANGES)
    before = stored_orders()
    # 7 days to the second after the import it can still be undone; one second later it cannot
    clock.shift(dt.timedelta(days=7, seconds=1))
    page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "data-undo" not in page
    response = undo(client, job)
    assert "This import can no longer be undone: an import can be undone during 7 days." in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.SUCCEEDED and stored_orders() == before


def test_undo_is_offered_until_the_delay_ends(client, manager_a, team_a, january, clock, eager_imports):
    client.force_login(manager_a)
    job = run_import(client, team_a, CHANGES)
    clock.shift(dt.timedelta(days=7))
    page = client.get(f"/import/team-a/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "data-undo" in page
    assert "Import undone" in undo(client, job).content.decode()


def test_the_delay_is_a_setting(client, manager_a, team_a, january, clock, eager_imports, settings):
    settings.KPI_IMPORT_UNDO_DAYS = 1
    client.force_login(manager_a)
    job = run_import(client, team_a, CHANGES)
    clock.shift(dt.timedelta(days=1, seconds=1))
    response = undo(client, job)
    assert "an import can be undone during 1 day." in response.content.decode()


def test_undo_is_refused_when_already_undone(client, manager_a, team_a, january, clock, eager_imports):
    client.force_login(manager_a)
    job = run_import(client, team_a, CHANGES)
    clock.shift(dt.timedelta(minutes=1))
    undo(client, job)
    response = undo(client, job)
    assert "This import has already been undone." in response.content.decode()
    assert stored_orders() == january


def test_undo_is_refused_when_a_record_changed_since(client, manager_a, team_a, january, clock, eager_imports):
    client.force_login(manager_a)
    job = run_import(client, team_a, CHANGES)
    # Given O-3 (created by the import) changed by the API afterwards
    clock.shift(dt.timedelta(minutes=1))
    ingest_orders(team_a, [{"external_id": "O-3", "ordered_at": "2026-02-05T18:30:00+01:00", "amount": "25.00"}])
    before = stored_orders()
    # When the import is undone, then it is refused and nothing changes
    clock.shift(dt.timedelta(minutes=1))
    response = undo(client, job)
    assert "1 record was changed after this import" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.SUCCEEDED and stored_orders() == before


def test_undo_is_refused_when_other_records_refer_to_what_it_created(client, manager_a, team_a, clock, eager_imports):
    client.force_login(manager_a)
    job = run_import(client, team_a, "Référence;Client depuis;Nom\nC-1;05/01/2026;Dupont\n", kind="customers")
    assert job.report["created"] == 1
    clock.shift(dt.timedelta(minutes=1))
    ingest_orders(
        team_a, [{"external_id": "O-9", "ordered_at": "2026-02-01T10:00:00Z", "amount": "9", "customer": "C-1"}]
    )
    response = undo(client, job)
    assert "1 other record refers to records this import created" in response.content.decode()
    assert Customer.objects.filter(external_id="C-1").exists()
    assert Order.objects.get(external_id="O-9").customer.external_id == "C-1"


def test_a_failed_import_has_nothing_to_undo(client, manager_a, team_a, clock, eager_imports):
    client.force_login(manager_a)
    job = run_import(client, team_a, "Référence;Date;Montant\nX-1;02/03/2026;-1\n")
    assert job.status == ImportStatus.FAILED
    response = undo(client, job)
    assert "This import wrote nothing: there is nothing to undo." in response.content.decode()


def test_undo_is_for_the_team_s_managers_only(
    client, manager_a, viewer_a, manager_b, team_a, january, clock, eager_imports
):
    client.force_login(manager_a)
    job = run_import(client, team_a, CHANGES)
    after_import = stored_orders()
    # A viewer of the team may not undo (403), another team's manager does not see the job (404)
    client.force_login(viewer_a)
    assert client.post(f"/import/team-a/jobs/{job.pk}/undo/").status_code == 403
    client.force_login(manager_b)
    assert client.post(f"/import/team-a/jobs/{job.pk}/undo/").status_code == 404
    assert client.post(f"/import/team-b/jobs/{job.pk}/undo/").status_code == 404
    # Undo is a POST
    client.force_login(manager_a)
    assert client.get(f"/import/team-a/jobs/{job.pk}/undo/").status_code == 405
    job.refresh_from_db()
    assert job.status == ImportStatus.SUCCEEDED and stored_orders() == after_import


def test_the_journal_of_imports_past_the_delay_is_purged(client, manager_a, team_a, january, clock, eager_imports):
    client.force_login(manager_a)
    job = run_import(client, team_a, CHANGES)
    assert ImportChange.objects.filter(job=job).count() == 4
    clock.shift(dt.timedelta(days=7))
    assert import_changes_purge() == 0
    clock.shift(dt.timedelta(seconds=1))
    assert import_changes_purge() == 4
