"""A recompute of everything computes its chunks ahead in threads, on connections of their own, while it stores
the chunk before (services.compute_chunks_ahead): the same cells as one chunk after another, and never inside
a caller's transaction, whose uncommitted records those connections could not see."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from metrics.models import KpiDefinition, KpiValue
from metrics.recompute import services
from metrics.recompute.services import kpi_values_recompute
from tests.metrics.kpi_support import q
from tests.metrics.recompute.test_incremental import END, START, TODAY, activity, organisation

pytestmark = pytest.mark.usefixtures("catalogue")


def stored() -> dict:
    """Every stored cell with all it stores: value, components and shares of longer periods."""
    return {
        (kpi, team, granularity, period, segment): (value, components, shares)
        for kpi, team, granularity, period, segment, value, components, shares in KpiValue.objects.values_list(
            "kpi_id", "team_id", "granularity", "period_start", "segment", "value", "components", "shares"
        )
    }


@pytest.fixture
def computing_threads(monkeypatch) -> list[str]:
    """The names of the threads that computed a chunk on their own connection, as the recompute runs."""
    names: list[str] = []
    on_own_connection = services._on_own_connection

    def spy(compute):
        names.append(threading.current_thread().name)
        return on_own_connection(compute)

    monkeypatch.setattr(services, "_on_own_connection", spy)
    return names


def recompute_everything() -> dict:
    KpiValue.objects.all().delete()
    kpi_values_recompute(start=START, end=END, notify=False)
    return stored()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="computed ahead on PostgreSQL only (PARALLEL_VENDORS): SQLite takes one writing transaction at a time, "
    "and the threads' read transactions would wait on the recompute's own",
)
def test_chunks_computed_ahead_in_threads_store_the_cells_of_chunks_computed_in_turn(
    transactional_db, make_team, monkeypatch, computing_threads
):
    _sales, north, south = organisation(make_team)
    activity(north, south)
    # 55 KPIs × 3 teams: days in chunks of 20 (in turn) and 10 (ahead, two at a time), months in one or two.
    monkeypatch.setattr(services, "CHUNK_CELLS", 55 * 3 * 20)
    monkeypatch.setattr(services, "FOLD_VENDORS", set())  # SQLite folds; here both databases compute each chunk
    with time_machine.travel(TODAY, tick=False):
        monkeypatch.setattr(services, "PARALLEL_VENDORS", set())
        in_turn = recompute_everything()
        assert computing_threads == []
        monkeypatch.setattr(services, "PARALLEL_VENDORS", {connection.vendor})
        ahead = recompute_everything()

    assert ahead == in_turn
    assert len(in_turn) > 2000  # days, weeks, months, quarters, years of three teams, with segments
    # 273 days from 1 October 2025 in chunks of 10 days: 28 computed in threads; weeks, months and quarters too.
    assert computing_threads.count(computing_threads[0]) < len(computing_threads)  # both threads computed
    assert all(name.startswith("recompute") for name in computing_threads)
    assert len(computing_threads) >= 28


def test_inside_a_callers_transaction_no_chunk_is_computed_ahead(make_team, monkeypatch, computing_threads):
    """Under `db`, the test runs in a transaction: the records below are not committed, so only this connection
    sees them; the recompute computes them all itself, and the values are there."""
    _sales, north, south = organisation(make_team)
    activity(north, south)
    monkeypatch.setattr(services, "CHUNK_CELLS", 55 * 3 * 20)
    monkeypatch.setattr(services, "PARALLEL_VENDORS", {connection.vendor})
    with time_machine.travel(TODAY, tick=False):
        cells = recompute_everything()

    assert computing_threads == []
    # north's January 2026: the completed order of 19.99 on the 5th (the abandoned one of the 6th is not revenue)
    revenue = KpiDefinition.objects.get(code="revenue").pk
    assert cells[(revenue, north.pk, "month", dt.date(2026, 1, 1), "")][0] == q("19.99")
