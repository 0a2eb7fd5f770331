"""Storing computed cells: the text the PostgreSQL path writes through COPY, and the upsert on both databases."""

import datetime as dt
from decimal import Decimal

import pytest

from metrics.engine.compute import ValueRow
from metrics.engine.store import _copy_text_chunks, kpi_values_store
from metrics.models import KpiDefinition, KpiValue

D = dt.date
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _row(kpi, team, segment: str, value, components: dict, shares: dict | None = None) -> ValueRow:
    return ValueRow(kpi.pk, team.pk, "month", D(2026, 1, 1), segment, value, components, shares or {})


def test_copy_text_escapes_tabs_newlines_and_backslashes_and_writes_null():
    # given a segment value holding a tab, a newline and a backslash, and a cell without a value
    rows = [ValueRow(1, 2, "month", D(2026, 1, 1), "owner=a\tb\nc\\d", None, {"n": 0}, {})]
    # then COPY's text format gets each of them escaped, and \N for the missing value
    (text,) = _copy_text_chunks(rows, now=NOW)
    assert text == '1\t2\tmonth\t2026-01-01\towner=a\\tb\\nc\\\\d\t\\N\t{"n": 0}\t{}\t2026-03-01T12:00:00+00:00\n'


def test_copy_text_encodes_a_shared_components_dict_once_and_each_row_its_own_shares():
    shared = {"orders": 3, "revenue": 120.5}
    rows = [
        ValueRow(1, 2, "day", D(2026, 1, 1), "", Decimal("40.1666666667"), shared, {"share_of_month": 0.25}),
        ValueRow(1, 3, "day", D(2026, 1, 1), "", Decimal("40.1666666667"), shared, {}),
    ]
    lines = "".join(_copy_text_chunks(rows, now=NOW, size=1)).splitlines()
    assert [line.split("\t")[5:8] for line in lines] == [
        ["40.1666666667", '{"orders": 3, "revenue": 120.5}', '{"share_of_month": 0.25}'],
        ["40.1666666667", '{"orders": 3, "revenue": 120.5}', "{}"],
    ]


def test_copy_text_writes_each_value_and_segment_as_its_own_text_when_they_repeat():
    # given rows sharing one Decimal, and another Decimal of the same value at another scale, and one segment
    # string on several rows
    shared, other = Decimal("2.5000000000"), Decimal("2.5")
    rows = [
        ValueRow(1, 2, "day", D(2026, 1, 1), "channel=web", shared, {}, {}),
        ValueRow(1, 3, "day", D(2026, 1, 2), "channel=web", shared, {}, {}),
        ValueRow(1, 4, "day", D(2026, 1, 1), "channel=web", other, {}, {}),
        ValueRow(1, 5, "day", D(2026, 1, 2), "", None, {}, {}),
    ]
    # then each row reads its own value's text (the text is kept per value object, not per equal value), date
    # and segment
    lines = "".join(_copy_text_chunks(rows, now=NOW)).splitlines()
    assert [line.split("\t")[1:6] for line in lines] == [
        ["2", "day", "2026-01-01", "channel=web", "2.5000000000"],
        ["3", "day", "2026-01-02", "channel=web", "2.5000000000"],
        ["4", "day", "2026-01-01", "channel=web", "2.5"],
        ["5", "day", "2026-01-02", "", "\\N"],
    ]


@pytest.mark.django_db
def test_a_first_run_refused_by_a_cell_written_meanwhile_upserts_instead(catalogue, team_a, monkeypatch):
    """A first run COPYs straight into the table (PostgreSQL); when a concurrent recompute has written one of
    its cells since it looked, the unique index refuses the COPY and the upsert writes the cells."""
    from django.db import connection

    from metrics.engine import store

    if connection.vendor != "postgresql":
        pytest.skip("the COPY straight into the table is PostgreSQL's path (SQLite always upserts)")
    kpi = KpiDefinition.objects.get(code="revenue")
    # given a January cell stored by another recompute after this one saw an empty range
    kpi_values_store(
        rows=[_row(kpi, team_a, "", Decimal("90"), {"revenue": 90})],
        kpi_ids=[kpi.pk],
        team_ids=[team_a.pk],
        granularity="month",
        periods=[D(2026, 1, 1)],
    )
    monkeypatch.setattr(store, "_scope_stored", lambda *args: False)
    # when this run stores January's total and a segment
    kpi_values_store(
        rows=[
            _row(kpi, team_a, "", Decimal("150"), {"revenue": 150}),
            _row(kpi, team_a, "channel=web", Decimal("100"), {"revenue": 100}),
        ],
        kpi_ids=[kpi.pk],
        team_ids=[team_a.pk],
        granularity="month",
        periods=[D(2026, 1, 1)],
    )
    # then both are stored, the total overwritten, once each, and the transaction is still usable
    stored = KpiValue.objects.filter(kpi=kpi, team=team_a).values_list("segment", "value")
    assert sorted(stored) == [("", Decimal("150")), ("channel=web", Decimal("100"))]


@pytest.mark.django_db
def test_store_round_trips_awkward_segments_and_deletes_stale_ones(catalogue, team_a):
    kpi = KpiDefinition.objects.get(code="revenue")
    months = [D(2026, 1, 1)]
    awkward = "owner=Zoé\t« l’équipe »\\n"
    # given a first run storing a total and two segments
    kpi_values_store(
        rows=[
            _row(kpi, team_a, "", Decimal("150"), {"revenue": 150}),
            _row(kpi, team_a, awkward, Decimal("100"), {"revenue": 100}),
            _row(kpi, team_a, "owner=bob", Decimal("50"), {"revenue": 50}),
        ],
        kpi_ids=[kpi.pk],
        team_ids=[team_a.pk],
        granularity="month",
        periods=months,
    )
    stored = dict(KpiValue.objects.filter(kpi=kpi, team=team_a).values_list("segment", "value"))
    assert stored == {"": Decimal("150"), awkward: Decimal("100"), "owner=bob": Decimal("50")}
    # when a second run no longer has bob's segment and changes the total
    kpi_values_store(
        rows=[
            _row(kpi, team_a, "", Decimal("100"), {"revenue": 100}),
            _row(kpi, team_a, awkward, Decimal("100"), {"revenue": 100}),
        ],
        kpi_ids=[kpi.pk],
        team_ids=[team_a.pk],
        granularity="month",
        periods=months,
    )
    # then bob's row is gone, the total updated, the awkward segment read back exactly
    stored = {
        v.segment: (v.value, v.components) for v in KpiValue.objects.filter(kpi=kpi, team=team_a, granularity="month")
    }
    assert stored == {"": (Decimal("100"), {"revenue": 100}), awkward: (Decimal("100"), {"revenue": 100})}


def test_a_cell_keeps_its_computed_at_until_its_value_or_components_change(catalogue, team_a):
    import time_machine

    kpi = KpiDefinition.objects.get(code="revenue")

    def store(total, segment, shares):
        kpi_values_store(
            rows=[
                _row(kpi, team_a, "", Decimal(total), {"revenue": total}, shares),
                _row(kpi, team_a, "channel=web", Decimal(segment), {"revenue": segment}),
            ],
            kpi_ids=[kpi.pk],
            team_ids=[team_a.pk],
            granularity="month",
            periods=[D(2026, 1, 1)],
        )

    def stamps():
        rows = KpiValue.objects.filter(kpi=kpi, team=team_a).values_list("segment", "computed_at", "shares")
        return {segment: (stamp, shares) for segment, stamp, shares in rows}

    first, later, latest = NOW, NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)
    # given cells stored at 12:00
    with time_machine.travel(first, tick=False):
        store("150.50", "100", {"revenue@year": 150.5})
    # when the same cells are stored again at 13:00, then at 14:00 with the web segment changed and the
    # total's share of its year (not its value) changed
    with time_machine.travel(later, tick=False):
        store("150.50", "100", {"revenue@year": 150.5})
    assert stamps() == {"": (first, {"revenue@year": 150.5}), "channel=web": (first, {})}
    with time_machine.travel(latest, tick=False):
        store("150.50", "90", {"revenue@year": 140})
    # then computed_at says when each value last changed, on both databases: the total's is still 12:00 (its
    # new share is stored), the web segment's 14:00
    assert stamps() == {"": (first, {"revenue@year": 140}), "channel=web": (latest, {})}


def test_deleting_a_team_or_a_kpi_deletes_its_values(catalogue, make_team):
    # given values of two KPIs for two teams (KpiValue has no database constraint: the ORM cascades)
    from tests.factories import kpi_value

    kept, gone = make_team("kept"), make_team("gone")
    revenue, orders = KpiDefinition.objects.get(code="revenue"), KpiDefinition.objects.get(code="orders")
    for team in (kept, gone):
        for kpi in (revenue, orders):
            kpi_value(kpi=kpi, team=team, period_start=D(2026, 1, 1), value=1)
    # when a team, then a KPI, is deleted
    gone.delete()
    orders.delete()
    # then only the kept team's revenue is left
    assert list(KpiValue.objects.values_list("team_id", "kpi_id")) == [(kept.pk, revenue.pk)]
