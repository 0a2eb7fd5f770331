"""Recompute: idempotent upserts, dirty marks consumed (and kept when bumped meanwhile), debounced and
broker-proof tasks, the recompute_kpis and load_kpi_catalogue commands, and the values-changed hook."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from celery.app.task import Task
from celery.exceptions import Retry
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from kombu.exceptions import OperationalError as BrokerError

from metrics.activity.ingest import activity_ingest
from metrics.engine.periods import period_floor
from metrics.models import DirtyMark, KpiDefinition, KpiValue
from metrics.recompute import services
from metrics.recompute.marks import ClaimedMark
from metrics.recompute.services import (
    DirtyRecomputeResult,
    dirty_marks_jobs,
    dirty_marks_recompute,
    kpi_values_recompute,
    kpi_values_recompute_all,
)
from metrics.recompute.signals import kpi_values_changed
from metrics.recompute.tasks import DEBOUNCE_SECONDS, recompute_dirty_enqueue, recompute_dirty_task
from tests.metrics.kpi_support import at, order, q, ticket

pytestmark = pytest.mark.usefixtures("catalogue")


D = dt.date
JAN, FEB = D(2026, 1, 1), D(2026, 2, 1)


def stored(**filters) -> list[tuple]:
    return sorted(
        KpiValue.objects.filter(**filters).values_list(
            "pk", "kpi__code", "team_id", "granularity", "period_start", "segment", "value", "components"
        )
    )


def mark(team, kind: str, start: dt.date, end: dt.date, generation: int = 1) -> DirtyMark:
    return DirtyMark.objects.create(
        team=team, record_kind=kind, period_start=start, period_end=end, generation=generation
    )


def test_recompute_twice_gives_the_same_rows(team_a):
    # given some activity, recomputed once
    order(team_a, at(2026, 1, 5), 100, channel="web")
    ticket(team_a, at(2026, 1, 6), first_response_at=at(2026, 1, 6, 2))
    kpi_values_recompute(start=JAN, end=FEB)
    first = stored()
    # when recomputed again with nothing changed
    kpi_values_recompute(start=JAN, end=FEB)
    # then the very same rows (ids, values, components) are there
    assert stored() == first
    assert len(first) > 55 * 5


def test_dirty_marks_are_consumed_for_the_team_and_its_ancestors(make_team):
    # given an order of a sub-team on 15 January, marked dirty by its ingestion
    sales = make_team("sales")
    north = make_team("north", parent=sales)
    order(north, at(2026, 1, 15, 10), 100)
    mark(north, "orders", D(2026, 1, 15), D(2026, 1, 16))
    # when the dirty marks are recomputed
    result = dirty_marks_recompute()
    # then the mark is gone, and the revenue of the day, week, month, quarter and year is stored for both teams
    assert (result.marks_claimed, result.marks_released) == (1, 1)
    assert not DirtyMark.objects.exists()
    for team in (north, sales):
        cells = {
            granularity: value
            for granularity, period, value in KpiValue.objects.filter(
                kpi__code="revenue", team=team, segment=""
            ).values_list("granularity", "period_start", "value")
            if period == period_floor(D(2026, 1, 15), granularity)
        }
        assert cells == {g: q(100) for g in ("day", "week", "month", "quarter", "year")}
    # and only KPIs reading orders (and customers' states for the CLV) were recomputed: no ticket KPI
    assert not KpiValue.objects.filter(kpi__code="tickets").exists()
    assert KpiValue.objects.filter(kpi__code="sales_growth_rate", granularity="month", period_start=FEB).exists()


def test_a_mark_bumped_during_the_recompute_is_kept(team_a):
    # given a dirty mark at generation 1
    order(team_a, at(2026, 1, 15), 100)
    dirty = mark(team_a, "orders", D(2026, 1, 15), D(2026, 1, 16))
    real = services.kpi_values_recompute

    def recompute_while_an_ingest_arrives(**kwargs):
        # an ingestion commits a new order and bumps the mark while the recompute runs
        if not KpiValue.objects.exists():
            order(team_a, at(2026, 1, 15, 12), 5)
            DirtyMark.objects.filter(pk=dirty.pk).update(generation=F("generation") + 1)
        return real(**kwargs)

    # when one round of recompute runs
    with mock.patch.object(services, "kpi_values_recompute", side_effect=recompute_while_an_ingest_arrives):
        result = dirty_marks_recompute(max_rounds=1)
    # then the mark is kept, at its new generation
    assert (result.marks_claimed, result.marks_released) == (1, 0)
    assert DirtyMark.objects.get().generation == 2
    # and the next run consumes it and stores the new order too
    dirty_marks_recompute()
    assert not DirtyMark.objects.exists()
    revenue = KpiValue.objects.get(kpi__code="revenue", team=team_a, granularity="day", period_start=D(2026, 1, 15))
    assert revenue.value == q(105)


def test_the_task_is_idempotent(team_a):
    order(team_a, at(2026, 1, 15), 100)
    mark(team_a, "orders", D(2026, 1, 15), D(2026, 1, 16))
    # when the task runs twice (a duplicate delivery)
    first = recompute_dirty_task.apply().get()
    rows = stored()
    second = recompute_dirty_task.apply().get()
    # then the second run finds nothing to do and changes nothing
    assert first["marks_released"] == 1 and first["values_written"] > 0
    assert second == {"marks_claimed": 0, "marks_released": 0, "values_written": 0}
    assert stored() == rows


@time_machine.travel(dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC), tick=False)
def test_jobs_cover_whole_periods_the_next_period_for_prev_and_today_for_states(team_a):
    # given a mark of orders on 15 January
    claimed = [ClaimedMark(1, team_a.pk, "orders", D(2026, 1, 15), D(2026, 1, 16), 1)]
    ids = dict(KpiDefinition.objects.values_list("code", "pk"))
    # when the jobs are planned
    jobs = dirty_marks_jobs(marks=claimed)

    def span(code: str, granularity: str) -> tuple[dt.date, dt.date]:
        (job,) = [j for j in jobs if j.granularity == granularity and ids[code] in j.kpi_ids]
        assert job.team_ids == {team_a.pk}
        return job.start, job.end

    # then each granularity's periods holding 15 January, up to the period after it for the growth rate
    # (whose next period reads January as prev()) — revenue shares that job, one or two periods wider —
    # but only as far as periods have begun on 10 February: not the second quarter, not 2027
    assert span("sales_growth_rate", "day") == (D(2026, 1, 15), D(2026, 1, 17))
    assert span("revenue", "day") == (D(2026, 1, 15), D(2026, 1, 17))
    assert span("revenue", "week") == (D(2026, 1, 12), D(2026, 1, 26))
    assert span("revenue", "month") == (JAN, D(2026, 3, 1))
    assert span("revenue", "quarter") == (JAN, D(2026, 4, 1))
    assert span("revenue", "year") == (JAN, D(2027, 1, 1))
    # the CLV reads customers' states, which reach up to today's period (10 February): by day, its own job
    assert span("customer_lifetime_value", "day") == (D(2026, 1, 15), D(2026, 2, 11))
    assert span("customer_lifetime_value", "month") == (JAN, D(2026, 3, 1))
    assert len([job for job in jobs if job.granularity == "day"]) == 2
    # ticket KPIs are untouched
    assert not any(ids["tickets"] in job.kpi_ids for job in jobs)


@time_machine.travel(dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC), tick=False)
def test_a_change_never_writes_a_growth_for_a_period_not_begun(team_a):
    # given orders in the first quarter (10 February today): 100 € in January
    order(team_a, at(2026, 1, 15), 100)
    mark(team_a, "orders", D(2026, 1, 15), D(2026, 1, 16))
    # when the marks are recomputed
    dirty_marks_recompute()
    growth = KpiValue.objects.filter(kpi__code="sales_growth_rate", team=team_a, segment="")
    # then the quarter's growth exists for the first quarter only: the second, not begun, would read -100 %
    assert list(growth.filter(granularity="quarter").values_list("period_start", flat=True)) == [JAN]
    # and a quarter already stored (an order dated in May, recorded in advance) is kept up to date
    order(team_a, at(2026, 5, 4), 40)
    mark(team_a, "orders", D(2026, 5, 4), D(2026, 5, 5))
    dirty_marks_recompute()
    order(team_a, at(2026, 1, 20), 60)
    mark(team_a, "orders", D(2026, 1, 20), D(2026, 1, 21))
    dirty_marks_recompute()
    q2 = growth.get(granularity="quarter", period_start=D(2026, 4, 1))
    # the second quarter: 40 € against 160 € in the first, (40 - 160) / 160 = -75 %
    assert q2.value == q(-75)


def test_enqueues_are_debounced(team_a):
    sent = []
    with mock.patch.object(Task, "apply_async", autospec=True, side_effect=lambda *a, **k: sent.append(k)):
        # when a burst of ingests asks for a recompute three times
        for _ in range(3):
            recompute_dirty_task.delay()
        # then one run is queued, after the debounce delay
        assert sent == [{"countdown": DEBOUNCE_SECONDS}]
        # while explicit countdowns (retries) always go through
        recompute_dirty_task.apply_async(countdown=9)
    assert sent[-1] == {"countdown": 9}


def test_broker_down_keeps_the_marks_and_the_sweep_consumes_them(team_a, django_capture_on_commit_callbacks):
    # given the broker is unreachable
    record = {"external_id": "O-1", "ordered_at": "2026-01-15T10:00:00+01:00", "amount": "100", "status": "completed"}
    with (
        mock.patch.object(Task, "apply_async", autospec=True, side_effect=BrokerError("connection refused")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        # when an order is ingested (which enqueues the recompute after commit) and the engine's enqueue is used too
        activity_ingest(kind="orders", records=[record], default_team_id=team_a.pk, writable_team_ids=None)
        recompute_dirty_enqueue()
    # then the data and its dirty mark are saved, nothing is computed yet
    assert DirtyMark.objects.filter(team=team_a, record_kind="orders").exists()
    assert not KpiValue.objects.exists()
    # and when the beat sweep runs later, it consumes the mark
    recompute_dirty_task.apply()
    assert not DirtyMark.objects.exists()
    revenue = KpiValue.objects.get(kpi__code="revenue", team=team_a, granularity="month", period_start=JAN, segment="")
    assert revenue.value == q(100)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the team locks are PostgreSQL advisory locks")
def test_a_run_leaves_the_teams_another_worker_holds(team_a):
    import psycopg

    from metrics.recompute.marks import _team_lock_key

    # given another worker holding team A's recompute lock
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    )
    other.execute("SELECT pg_advisory_lock(%s)", [_team_lock_key(team_a.pk)])
    mark(team_a, "orders", D(2026, 1, 15), D(2026, 1, 16))
    try:
        # when this run starts, it claims nothing and leaves the mark to the holder
        result = dirty_marks_recompute()
        assert result.busy and result.marks_claimed == 0
        assert DirtyMark.objects.count() == 1
    finally:
        # unlock explicitly: closing the connection releases the lock only when the server
        # has finished ending that session, which can be after the next line runs
        other.execute("SELECT pg_advisory_unlock(%s)", [_team_lock_key(team_a.pk)])
        other.close()
    # and once the team is free, it runs
    assert dirty_marks_recompute().marks_released == 1


def test_values_changed_hook_is_sent_after_commit(team_a, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    kpi_values_changed.connect(receiver, dispatch_uid="test-receiver")
    try:
        order(team_a, at(2026, 1, 5), 100)
        revenue = KpiDefinition.objects.get(code="revenue")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            kpi_values_recompute(start=JAN, end=FEB, kpi_ids=[revenue.pk], granularities=["month", "year"])
        # nothing is sent before the commit
        assert received == []
        for callback in callbacks:
            callback()
    finally:
        kpi_values_changed.disconnect(dispatch_uid="test-receiver")
    assert {k: v for k, v in received[0].items() if k != "signal"} == {
        "kpi_ids": [revenue.pk],
        "team_ids": [team_a.pk],
        "granularities": ["month", "year"],
        "start": JAN,
        "end": D(2027, 1, 1),
    }


# --------------------------------------------------------------------------- commands


def test_recompute_kpis_sync_command(team_a, team_b, capsys):
    order(team_a, at(2026, 1, 5), 100)
    order(team_b, at(2026, 1, 5), 7)
    # when only the revenue of team A is recomputed, by month, since 1 January
    call_command("recompute_kpis", "--sync", "--kpi", "revenue", "--team", "team-a", "--since", "2026-01-01",
                 "--granularity", "month")  # fmt: skip
    # then values are stored for it alone
    assert "KPI values stored for 1 KPIs, 1 teams, month" in capsys.readouterr().out
    assert set(KpiValue.objects.values_list("kpi__code", "team__slug", "granularity").distinct()) == {
        ("revenue", "team-a", "month")
    }
    assert KpiValue.objects.get(period_start=JAN, segment="").value == q(100)


def test_recompute_kpis_command_refuses_bad_arguments(team_a):
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("recompute_kpis", "--sync", "--since", "yesterday")
    with pytest.raises(CommandError, match="Unknown KPI code"):
        call_command("recompute_kpis", "--sync", "--kpi", "nope")
    with pytest.raises(CommandError, match="Unknown team"):
        call_command("recompute_kpis", "--sync", "--team", "nope")


def test_recompute_kpis_command_queues_a_task_without_sync(team_a, capsys):
    with mock.patch.object(Task, "apply_async", autospec=True) as apply_async:
        call_command("recompute_kpis", "--kpi", "revenue")
    assert apply_async.call_args.args[2] == {"kpi_codes": ["revenue"], "team_slugs": None, "since": None}
    assert "queued" in capsys.readouterr().out


def test_load_kpi_catalogue_is_idempotent_and_keeps_an_admin_switch(capsys):
    # given the catalogue loaded (by the fixture) and a KPI an admin switched off
    KpiDefinition.objects.filter(code="tickets").update(active=False)
    # when it is loaded again
    call_command("load_kpi_catalogue")
    # then nothing changed, and the KPI stays off
    assert "0 created, 0 updated, 55 unchanged" in capsys.readouterr().out
    assert not KpiDefinition.objects.get(code="tickets").active
    # and a KPI edited in the admin is restored to the shipped definition
    KpiDefinition.objects.filter(code="nps").update(formula="promoters")
    call_command("load_kpi_catalogue")
    assert "1 updated" in capsys.readouterr().out
    assert KpiDefinition.objects.get(code="nps").formula == "100 * (promoters - detractors) / responses"


def test_a_kpi_reads_the_kinds_its_segments_reach():
    from metrics.engine.compute import KpiPlan
    from metrics.recompute.services import kpi_plan_record_kinds

    def kinds(code: str) -> set[str]:
        return set(kpi_plan_record_kinds(KpiPlan.of(KpiDefinition.objects.get(code=code))))

    # revenue is broken down by the customer's segment; email rates by the campaign's channel
    assert kinds("revenue") == {"orders", "customers"}
    assert kinds("email_open_rate") == {"campaign-stats", "campaigns"}
    assert kinds("tickets") == {"tickets"}
    # logins and memberships: marked by metrics' receivers of their saves (see test_recompute_adoption)
    assert kinds("crm_active_user_rate") == {"logins", "memberships"}


@time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), tick=False)
def test_a_recompute_of_everything_releases_the_marks_it_covers(make_team):
    # given orders of January and March ingested (a mark from 5 January to 2 March), and a mark of a future week
    team = make_team("sales")
    records = [{"external_id": "O-1", "ordered_at": "2026-01-05T10:00:00+01:00", "amount": "10.00"},
               {"external_id": "O-2", "ordered_at": "2026-03-02T10:00:00+01:00", "amount": "20.00"}]  # fmt: skip
    activity_ingest(kind="orders", records=records, default_team_id=team.pk, writable_team_ids=None)
    DirtyMark.objects.create(team=team, record_kind="tickets", period_start=D(2026, 4, 1), period_end=D(2026, 4, 8))
    # when one KPI is recomputed: the marks stay, other KPIs read those orders too
    kpi_values_recompute_all(kpi_codes=["revenue"])
    assert DirtyMark.objects.count() == 2
    # when everything is recomputed (as `recompute_kpis --sync` and the nightly task do)
    kpi_values_recompute_all()
    # then the orders' mark is released, the future one (after today, not recomputed) stays
    assert list(DirtyMark.objects.values_list("record_kind", flat=True)) == ["tickets"]
    assert KpiValue.objects.get(
        kpi__code="revenue", team=team, granularity="quarter", period_start=D(2026, 1, 1), segment=""
    ).value == q(30)


def test_a_run_that_keeps_finding_the_recompute_busy_ends_quietly(monkeypatch):
    # given a dirty-mark recompute that is always busy (another run holds the lock and loops over the marks)
    from metrics.recompute import tasks

    monkeypatch.setattr(tasks, "dirty_marks_recompute", lambda: DirtyRecomputeResult(busy=True))
    retried = []
    monkeypatch.setattr(tasks.recompute_dirty_task, "retry", lambda **kw: retried.append(kw) or Retry())
    # when a first run finds it busy, it looks again later
    tasks.recompute_dirty_task.push_request(retries=0)
    with pytest.raises(Retry):
        tasks.recompute_dirty_task.run()
    tasks.recompute_dirty_task.pop_request()
    assert retried == [{"countdown": 2 * tasks.DEBOUNCE_SECONDS, "max_retries": tasks.BUSY_LOOKS}]
    # and after its last look it ends without an error (no MaxRetriesExceededError in the worker's log)
    tasks.recompute_dirty_task.push_request(retries=tasks.BUSY_LOOKS)
    assert tasks.recompute_dirty_task.run() == {"busy": True}
    tasks.recompute_dirty_task.pop_request()
