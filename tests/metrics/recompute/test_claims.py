"""Claiming dirty marks by team: a change reaches the team's ancestors, several workers share a backlog with
each mark recomputed once and the same values as one worker, and an ancestor waits for its subtree."""

import contextlib
import datetime as dt
import threading

import psycopg
import pytest
import time_machine
from django.db import connection

from metrics.models import DirtyMark, KpiValue, Order
from metrics.recompute import services
from metrics.recompute.marks import _team_lock_key
from metrics.recompute.services import dirty_marks_recompute
from tests.metrics.kpi_support import at, customer, order, q, ticket

pytestmark = pytest.mark.usefixtures("catalogue")

D = dt.date
JAN = D(2026, 1, 1)
NOW = dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC)
only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several workers at once need PostgreSQL (SQLite has one writer)"
)


def mark(team, kind: str, start: dt.date, end: dt.date) -> None:
    DirtyMark.objects.update_or_create(
        team=team, record_kind=kind, defaults={"period_start": start, "period_end": end, "generation": 1}
    )


def revenue(team, granularity: str = "month", start: dt.date = JAN):
    return KpiValue.objects.get(
        kpi__code="revenue", team=team, granularity=granularity, period_start=start, segment=""
    ).value


@pytest.fixture
def tree(make_team):
    """root → north (x, y), south (z)."""
    root = make_team("root")
    north = make_team("north", parent=root)
    south = make_team("south", parent=root)
    return {
        "root": root,
        "north": north,
        "south": south,
        "x": make_team("x", parent=north),
        "y": make_team("y", parent=north),
        "z": make_team("z", parent=south),
    }


class OtherWorker:
    """A second database session holding some teams' recompute locks, as a worker busy with them would."""

    def __init__(self):
        settings = connection.settings_dict
        self.connection = psycopg.connect(
            dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
        )

    def hold(self, *teams) -> None:
        for team in teams:
            self.connection.execute("SELECT pg_advisory_lock(%s)", [_team_lock_key(team.pk)])

    def close(self) -> None:
        # unlock explicitly: closing releases the locks only once the server has ended the session
        self.connection.execute("SELECT pg_advisory_unlock_all()")
        self.connection.close()


@time_machine.travel(NOW, tick=False)
def test_a_change_of_a_team_reaches_its_ancestors_in_one_run(tree):
    # given an order of 100 € in team x, marked dirty
    order(tree["x"], at(2026, 1, 5), 100)
    mark(tree["x"], "orders", D(2026, 1, 5), D(2026, 1, 6))
    # when one run consumes the marks
    result = dirty_marks_recompute()
    # then x, its region and the root count it, the other region does not, and no mark is left
    assert result.marks_claimed == 1 and result.marks_released == 1
    assert [revenue(tree[name]) for name in ("x", "north", "root")] == [q(100)] * 3
    assert not KpiValue.objects.filter(team=tree["south"], kpi__code="revenue").exclude(value=None).exists()
    assert not DirtyMark.objects.exists()


@only_postgresql
@time_machine.travel(NOW, tick=False)
def test_an_ancestor_waits_until_its_subtree_is_done(tree):
    # given orders in x (100 €) and y (30 €), both marked, and another worker busy with y
    order(tree["x"], at(2026, 1, 5), 100)
    order(tree["y"], at(2026, 1, 20), 30)
    mark(tree["x"], "orders", D(2026, 1, 5), D(2026, 1, 6))
    mark(tree["y"], "orders", D(2026, 1, 20), D(2026, 1, 21))
    other = OtherWorker()
    other.hold(tree["y"])
    try:
        # when this worker runs
        result = dirty_marks_recompute()
        # then it computes x, leaves y to its holder, and leaves north and the root for when y is done,
        # their marks widened over x's dates
        assert result.marks_claimed == 1 and result.busy
        assert revenue(tree["x"]) == q(100)
        assert not KpiValue.objects.filter(team__in=[tree["north"], tree["root"]], kpi__code="revenue").exists()
        assert set(DirtyMark.objects.values_list("team__slug", "record_kind", "period_start", "period_end")) == {
            ("y", "orders", D(2026, 1, 20), D(2026, 1, 21)),
            ("north", "orders", D(2026, 1, 5), D(2026, 1, 6)),
            ("root", "orders", D(2026, 1, 5), D(2026, 1, 6)),
        }
    finally:
        other.close()
    # and once y is free, the next run computes y, then north and the root once, over both dates
    dirty_marks_recompute()
    assert [revenue(tree[name]) for name in ("y", "north", "root")] == [q(30), q(130), q(130)]
    assert not DirtyMark.objects.exists()


def backlog(tree) -> None:
    """Activity in every leaf and region over January, and a mark for each (team, kind) written."""
    for position, name in enumerate(("x", "y", "z", "north", "south")):
        team = tree[name]
        buyer = customer(team, at(2026, 1, 2 + position))
        for day in range(1, 28, 3):
            order(team, at(2026, 1, day, 10), 10 * (position + 1) + day, customer=buyer)
        ticket(team, at(2026, 1, 3 + position), first_response_at=at(2026, 1, 3 + position, 4))
        for kind in ("orders", "customers", "tickets"):
            mark(team, kind, D(2026, 1, 1), D(2026, 2, 1))


def cells() -> dict[tuple, tuple]:
    rows = KpiValue.objects.values_list(
        "kpi__code", "team__slug", "granularity", "period_start", "segment", "value", "components", "shares"
    )
    return {row[:5]: row[5:] for row in rows}


@only_postgresql
@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_two_workers_share_a_backlog_each_mark_once_and_the_values_of_one_worker(tree, monkeypatch):
    # given a backlog of marks over five teams with activity
    backlog(tree)
    marks = DirtyMark.objects.count()
    # when two workers consume it at once, a team per round, both having claimed a round before either computes
    barrier = threading.Barrier(2, timeout=10)
    real = services.kpi_values_recompute
    first_call = threading.local()

    def recompute(**kwargs):
        if not getattr(first_call, "done", False):
            first_call.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        return real(**kwargs)

    monkeypatch.setattr(services, "kpi_values_recompute", recompute)
    results, failures = [], []

    def work():
        try:
            results.append(dirty_marks_recompute(teams=1))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    # then both worked, every mark was recomputed by exactly one of them (the regions' and the root's marks
    # too, each once its subtree was done), and none is left
    claimed = [pair for result in results for pair in result.claimed]
    assert all(result.marks_claimed for result in results)
    assert len(claimed) == len(set(claimed))
    assert len({mark_id for mark_id, _generation in claimed}) >= marks
    assert not DirtyMark.objects.exists()
    two_workers = cells()
    monkeypatch.setattr(services, "kpi_values_recompute", real)
    # and one worker, from the same marks and no stored value, stores exactly the same cells
    KpiValue.objects.all().delete()
    backlog_marks_again(tree)
    dirty_marks_recompute()
    assert cells() == two_workers
    # (the root's revenue is its regions', which include their teams')
    assert revenue(tree["root"]) == revenue(tree["north"]) + revenue(tree["south"])
    assert revenue(tree["north"]) == sum(
        o.amount for o in Order.objects.filter(team__in=[tree["north"], tree["x"], tree["y"]])
    )


def backlog_marks_again(tree) -> None:
    for name in ("x", "y", "z", "north", "south"):
        for kind in ("orders", "customers", "tickets"):
            mark(tree[name], kind, D(2026, 1, 1), D(2026, 2, 1))


@only_postgresql
@time_machine.travel(NOW, tick=False)
def test_marks_computed_while_everything_is_recomputed_are_kept_for_after(tree):
    # given an order of 100 € in x, marked, while another process recomputes everything
    order(tree["x"], at(2026, 1, 5), 100)
    mark(tree["x"], "orders", D(2026, 1, 5), D(2026, 1, 6))
    other = OtherWorker()
    other.connection.execute("SELECT pg_advisory_lock_shared(%s)", [services.FULL_RUN_LOCK_KEY])
    try:
        # when a dirty-mark run comes by
        result = dirty_marks_recompute()
        # then the value is there at once, but the marks stay (that run may write older reads after it)
        assert revenue(tree["x"]) == q(100)
        # (x's mark, and marks for its region and the root, computed with it)
        assert result.marks_kept == 1 and result.marks_released == 0
        assert set(DirtyMark.objects.values_list("team__slug", flat=True)) == {"x", "north", "root"}
    finally:
        other.close()
    # and once it is over, the next run computes them again and lets them go
    assert dirty_marks_recompute().marks_released == 3
    assert not DirtyMark.objects.exists()
