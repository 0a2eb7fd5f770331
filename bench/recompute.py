"""KPI recompute on PostgreSQL vs the same aggregates as hand-written SQL (DESIGN.md §10).

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/recompute.py \
            [--records 1000000] [--teams 200] [--granularities month,week,day,quarter,year] [--keep]
        .venv/bin/python bench/recompute.py --database sqlite [--records 100000] [--teams 200]

Runs on a throwaway database `bench_recompute` (`--db-name`) on the same server (created,
migrated and dropped by the script). It generates the demo organisation — the small one, or
with `--teams N` a generated three-level organisation of N teams whose leaf teams hold the
activity — and N demo activity records (metrics.demo.demo_activity_create, 24 months; COPY on
PostgreSQL), loads the KPI catalogue, then measures:

- SQL: every distinct aggregate the catalogue needs (each measure, and each measure per
  segment dimension), per granularity, as hand-written SQL — one GROUP BY per aggregate,
  state measures joined to a generated series of period boundaries — fetched, not stored;
- full: `kpi_values_recompute` of the whole catalogue, every team, the whole range, per
  granularity — queries, formulas and the upsert of every KpiValue (first run: inserts;
  second run: the same cells again);
- incremental: 1,000 orders of one team over the last three days ingested through
  activity_ingest (as the API does: data and dirty mark), then `dirty_marks_recompute` —
  what the Celery task does, every granularity — timed per granularity (after a VACUUM
  ANALYZE and a CHECKPOINT of the values the full runs wrote, as autovacuum and the
  checkpointer would have done by then).

Issue 4's figures: (a) full at month and week granularity, (b) the same as hand-written
SQL, (c) incremental; goals a/b ≤ 3 and c/a ≤ 5 %. Also printed over all granularities.
Issue 17's (item 4, at 10,000,000 records and 200 teams): full recompute of every granularity
≤ 1.5× the hand-written SQL, and incremental ≤ 1 % of (a).

On SQLite (`--database sqlite`, or when DATABASE_URL is not PostgreSQL) the database is a
throwaway file `<tmp>/<db-name>.sqlite3` and there is no hand-written SQL reference: the
bench prints the full recompute per granularity and in all, and the incremental (issue 17
item 6: a recompute of 100,000 records on SQLite in ≤ 30 s).
"""

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import bench_environment, database_url, drop_database, recreate_database  # noqa: E402

BENCH_DB = "bench_recompute"
ISSUE_GRANULARITIES = ("month", "week")  # issue 4's full recompute (a) and hand-written SQL (b)
STEPS = {"day": "1 day", "week": "1 week", "month": "1 month", "quarter": "3 months", "year": "1 year"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--teams", type=int, help="a generated organisation of this many teams (seed_demo --teams)")
    parser.add_argument(
        "--database",
        choices=("postgresql", "sqlite"),
        help="PostgreSQL (the server of DATABASE_URL, the default when it is one) or a SQLite file",
    )
    parser.add_argument("--db-name", default=BENCH_DB, help="name of the throwaway database (default %(default)s)")
    parser.add_argument("--granularities", default="month,week,day,quarter,year")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the bench_recompute database")
    parser.add_argument(
        "--once",
        action="store_true",
        help="per granularity, the hand-written SQL and one full run into an empty table only (no compute-only "
        "pass, no second run, no incremental): the day at 10M × 200 in well under an hour",
    )
    parser.add_argument("--reuse", action="store_true", help="reuse a kept bench_recompute database")
    parser.add_argument(
        "--incremental-only",
        type=float,
        metavar="FULL_SECONDS",
        help="with --reuse: only the incremental part, compared with this full recompute time",
    )
    parser.add_argument(
        "--sql-only",
        action="store_true",
        help="with --reuse: only the hand-written SQL of each granularity, on the database as it is (for instance "
        "one that bench/dashboard.py --keep prepared with recompute_kpis --sync)",
    )
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "")
    on_postgres = server_url.startswith(("postgres://", "postgresql://"))
    args.database = args.database or ("postgresql" if on_postgres else "sqlite")
    if args.database == "postgresql":
        if not on_postgres:
            print(f"Set DATABASE_URL to a PostgreSQL server (the bench uses its own database {args.db_name}).")
            return 2
        url = database_url(server_url, args.db_name)
        if not args.reuse:
            recreate_database(url)
    else:
        path = Path(tempfile.gettempdir()) / f"{args.db_name}.sqlite3"
        url = f"sqlite:///{path}"
        if not args.reuse:
            _sqlite_remove(path)
    bench_environment(url)
    try:
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            if args.database == "postgresql":
                drop_database(url)
            else:
                _sqlite_remove(path)


def _sqlite_remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --------------------------------------------------------------------------- hand-written SQL


class HandSql:
    """Plain SQL for one measure spec, written the way one would by hand (no ORM)."""

    def __init__(self, spec, dimension_path: str | None, granularity: str, tz: str):
        self.spec, self.model, self.granularity, self.tz = spec, spec.model, granularity, tz
        self.joins: dict[str, str] = {}
        self.params: list = []
        self.dimension = self.column(dimension_path) if dimension_path else None

    def column(self, path: str) -> str:
        model, alias = self.model, "f"
        parts = path.split("__")
        for part in parts[:-1]:
            field = model._meta.get_field(part)
            model, parent = field.related_model, alias
            alias = f"j_{part}"
            self.joins[alias] = f'LEFT JOIN "{model._meta.db_table}" {alias} ON {alias}.id = {parent}."{field.column}"'
        return f'{alias}."{model._meta.get_field(parts[-1]).column}"'

    def local_period(self, path: str) -> str:
        from django.db import models

        field = self.spec.model._meta.get_field(path.split("__")[0])
        column = self.column(path)
        is_datetime = isinstance(field, models.DateTimeField) or "__" in path
        expr = f"{column} AT TIME ZONE '{self.tz}'" if is_datetime else column
        return f"date_trunc('{self.granularity}', {expr})"

    def condition(self, item) -> str:
        if "any" in item:
            return "(" + " OR ".join(self.condition(sub) for sub in item["any"]) + ")"
        column, op, value = self.column(item["field"]), item["op"], item.get("value")
        if op == "in_period":
            return f"{self.local_period(item['field'])} = {self.local_period(self.spec.date_field)}"
        if op == "isnull":
            return f"{column} IS {'' if value else 'NOT '}NULL"
        sql_op = {"exact": "=", "gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}[op]
        if isinstance(value, dict):
            return f"{column} {sql_op} {self.column(value['field'])}"
        self.params.append(value)
        return f"{column} {sql_op} %s"

    def value(self) -> str:
        s = self.spec
        if s.duration_from:
            return f"EXTRACT(EPOCH FROM ({self.column(s.field)} - {self.column(s.duration_from)}))"
        if s.multiply_by:
            return f"{self.column(s.field)} * {self.column(s.multiply_by)}"
        return self.column(s.field) if s.field else "*"

    def aggregate(self, value: str) -> str:
        return {
            "count": "COUNT(*)",
            "count_distinct": f"COUNT(DISTINCT {value})",
            "sum": f"SUM({value})",
            "avg": f"AVG({value})",
            "min": f"MIN({value})",
            "max": f"MAX({value})",
            "median": f"PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY {value})",
        }[self.spec.aggregate]

    def team_join(self) -> str:
        if self.spec.source == "logins":
            return "JOIN accounts_membership m ON m.user_id = f.user_id JOIN metrics_teamclosure tc ON tc.descendant_id = m.team_id"  # noqa: E501
        return "JOIN metrics_teamclosure tc ON tc.descendant_id = f.team_id"

    def state_running_sum(self, start, end, where, group, lo, hi) -> tuple[str, list]:
        """Counts and sums of a state, the efficient way by hand: S and E as running sums of +1 at the
        period after `from` and −1 at the period after `to`; N and lost as plain GROUP BYs."""
        s, tz, step = self.spec, self.tz, STEPS[self.granularity]
        value = "1" if s.aggregate == "count" else self.value()
        joins = " ".join(self.joins.values())
        table = f'"{self.model._meta.db_table}" f'
        keys = ", ".join(group)

        def period(column: str) -> str:
            return f"date_trunc('{self.granularity}', {column} AT TIME ZONE '{tz}')"

        base = f"FROM {table} {self.team_join()} {joins} WHERE {' AND '.join(where) or 'TRUE'}"
        lo_local = f"(%s::timestamptz AT TIME ZONE '{tz}')"
        if s.state in ("start", "end"):
            shift = f" + interval '{step}'" if s.state == "start" else ""
            ends = (
                f" UNION ALL SELECT {keys}, {period(end)}{shift} AS p, -({value}) AS d {base} "
                f"AND {end} IS NOT NULL AND {end} < %s"
                if end
                else ""
            )
            outer = ", ".join(f"k.{g.split('.')[-1]}" for g in group)
            sql = (
                f"SELECT {outer}, k.p, SUM(SUM(k.d)) OVER (PARTITION BY {outer} ORDER BY k.p) "
                f"FROM (SELECT {keys}, GREATEST({period(start)}{shift}, {lo_local}) AS p, {value} AS d "
                f"{base} AND {start} < %s{ends}) k GROUP BY {outer}, k.p"
            )
            params = [*self.params, lo, hi] + ([*self.params, hi] if end else [])
            return sql, params
        agg = f"SUM({value})" if s.aggregate == "sum" else "COUNT(*)"
        if s.state == "new":
            still = f"AND ({end} IS NULL OR {period(end)} > {period(start)})" if end else ""
            sql = f"SELECT {keys}, {period(start)} AS p, {agg} {base} AND {start} >= %s AND {start} < %s {still} GROUP BY {keys}, p"  # noqa: E501
            return sql, [*self.params, lo, hi]
        if not end:
            return "SELECT 1 WHERE FALSE", []
        sql = f"SELECT {keys}, {period(end)} AS p, {agg} {base} AND {end} >= %s AND {end} < %s AND {period(start)} < {period(end)} GROUP BY {keys}, p"  # noqa: E501
        return sql, [*self.params, lo, hi]

    def sql(self, lo, hi) -> tuple[str, list]:
        s = self.spec
        where = [self.condition(item) for item in s.filters]
        value = self.value()
        group = ["tc.ancestor_id"] + ([self.dimension] if self.dimension else [])
        table = f'"{self.model._meta.db_table}" f'
        if s.binding == "event":
            period = self.local_period(s.date_field)
            date_column = self.column(s.date_field)
            where += [f"{date_column} >= %s", f"{date_column} < %s"]
            params = self.params + [lo, hi]
            joins = " ".join(self.joins.values())
            if s.min_count > 1:
                inner = (
                    f"SELECT {', '.join(group)}, {period} AS p, {value} AS v FROM {table} {self.team_join()} {joins} "
                    f"WHERE {' AND '.join(where)} GROUP BY {', '.join(group)}, p, v HAVING COUNT(*) >= {s.min_count}"
                )
                keys = ", ".join(f"k{i}" for i in range(len(group)))
                inner = inner.replace(
                    f"SELECT {', '.join(group)}", "SELECT " + ", ".join(f"{g} AS k{i}" for i, g in enumerate(group)), 1
                )  # noqa: E501
                return f"SELECT {keys}, p, COUNT(*) FROM ({inner}) r GROUP BY {keys}, p", params
            sql = (
                f"SELECT {', '.join(group)}, {period} AS p, {self.aggregate(value)} FROM {table} {self.team_join()} "
                f"{joins} WHERE {' AND '.join(where) or 'TRUE'} GROUP BY {', '.join(group)}, p"
            )
            return sql, params
        start, end = self.column(s.active_from), self.column(s.active_to) if s.active_to else None
        if s.aggregate in ("count", "sum"):
            return self.state_running_sum(start, end, where, group, lo, hi)
        # Other aggregates: join each fact to the period boundaries it is in the state at.

        active = (lambda at: f"({end} IS NULL OR {end} >= {at})") if end else (lambda at: "TRUE")
        state = {
            "start": f"{start} < b.lo AND {active('b.lo')}",
            "end": f"{start} < b.hi AND {active('b.hi')}",
            "new": f"{start} >= b.lo AND {start} < b.hi AND {active('b.hi')}",
            "lost": f"{start} < b.lo AND {end} >= b.lo AND {end} < b.hi" if end else "FALSE",
        }[s.state]
        step = STEPS[self.granularity]
        boundaries = (
            f"(SELECT d AT TIME ZONE '{self.tz}' AS lo, (d + interval '{step}') AT TIME ZONE '{self.tz}' AS hi, d AS p "
            f"FROM generate_series(%s::timestamptz AT TIME ZONE '{self.tz}', "
            f"(%s::timestamptz AT TIME ZONE '{self.tz}') - interval '{step}', interval '{step}') d) b"
        )
        joins = " ".join(self.joins.values())
        sql = (
            f"SELECT {', '.join(group)}, b.p, {self.aggregate(value)} FROM {table} {self.team_join()} {joins} "
            f"JOIN {boundaries} ON {state} WHERE {' AND '.join(where) or 'TRUE'} GROUP BY {', '.join(group)}, b.p"
        )
        return sql, [*self.params, lo, hi]


def _seconds(seconds: float) -> str:
    return f"{seconds:.2f}s" if seconds else "—"


def _ratio(seconds: float, reference: float) -> str:
    return f"{seconds / reference:.2f}" if reference and seconds else "—"


def hand_sql_seconds(plans, granularity: str, start: dt.date, end: dt.date, team_ids) -> tuple[float, int, int]:
    """Run every distinct aggregate of the plans as hand-written SQL; return (seconds, queries, rows)."""
    from django.conf import settings
    from django.db import connection

    from metrics.engine.periods import local_midnight, period_end, period_starts

    periods = period_starts(start=start, end=end, granularity=granularity)
    first, last = periods[0], period_end(periods[-1], granularity)
    wanted = {}
    for plan in plans:
        for spec in plan.measures.values():
            wanted[(spec, None)] = None
            for dimension in plan.segments:
                wanted[(spec, spec.record_source.dimensions[dimension])] = None
    queries = rows = 0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for spec, dimension_path in wanted:
            hand = HandSql(spec, dimension_path, granularity, settings.TIME_ZONE)
            if spec.binding == "event":
                from metrics.engine.sources import is_datetime, resolve_path

                dated = is_datetime(resolve_path(spec.model, spec.date_field)[0])
                lo, hi = (local_midnight(first), local_midnight(last)) if dated else (first, last)
            else:
                lo, hi = local_midnight(first), local_midnight(last)
            sql, params = hand.sql(lo, hi)
            cursor.execute(sql, params)
            rows += len(cursor.fetchall())
            queries += 1
    return time.perf_counter() - started, queries, rows


# --------------------------------------------------------------------------- run


def catalogue_scope() -> tuple[dt.date, dt.date, list[int], list]:
    """What the bench computes: from the earliest activity to today included, every team, the active KPIs' plans."""
    from accounts.models import Team
    from metrics.engine.compute import KpiPlan
    from metrics.engine.periods import today_local
    from metrics.models import KpiDefinition
    from metrics.recompute.services import activity_earliest_date

    start, end = activity_earliest_date(), today_local() + dt.timedelta(days=1)
    team_ids = list(Team.objects.values_list("id", flat=True))
    plans = [KpiPlan.of(k) for k in KpiDefinition.objects.filter(active=True).prefetch_related("measures")]
    return start, end, team_ids, plans


def sql_only(granularities: list[str]) -> int:
    """The hand-written SQL of each granularity over the whole activity, on the database as it is."""
    start, end, team_ids, plans = catalogue_scope()
    print(f"catalogue: {len(plans)} KPIs, {len(team_ids)} teams, {start} → {end} (exclusive)")
    total = 0.0
    for granularity in granularities:
        seconds, queries, rows = hand_sql_seconds(plans, granularity, start, end, team_ids)
        total += seconds
        print(f"{granularity:<12} hand SQL {seconds:8.2f} s  ({queries} queries, {rows:,} rows fetched)", flush=True)
    print(f"{'all':<12} hand SQL {total:8.2f} s")
    return 0


def run(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count

    from accounts.demo import demo_activity_teams, demo_organisation_create
    from accounts.models import Team
    from metrics.activity.ingest import activity_ingest
    from metrics.demo import demo_activity_create
    from metrics.engine.compute import kpis_compute
    from metrics.engine.hierarchy import team_closure_sync
    from metrics.engine.periods import period_end, period_starts, today_local
    from metrics.kpis.services import kpi_catalogue_load
    from metrics.models import DirtyMark, KpiValue, Order
    from metrics.recompute.services import (
        dirty_marks_recompute,
        kpi_values_recompute,
        period_chunks,
    )

    granularities = [g.strip() for g in args.granularities.split(",") if g.strip()]
    today = today_local()
    postgres = connection.vendor == "postgresql"

    def settle(checkpoint: bool = False) -> None:
        """Fresh statistics (and on PostgreSQL visibility maps, and the written pages flushed)."""
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if postgres else "ANALYZE")
            if checkpoint:
                cursor.execute("CHECKPOINT" if postgres else "PRAGMA wal_checkpoint(TRUNCATE)")

    if not args.reuse:
        call_command("migrate", verbosity=0)
        teams, _logins = demo_organisation_create(teams=args.teams)
        started = time.perf_counter()
        counts = demo_activity_create(demo_activity_teams(teams), records=args.records, seed=args.seed, today=today)
        print(f"generated {sum(counts.values()):,} demo records in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items())))  # fmt: skip
    if args.sql_only:
        if not args.reuse:  # a database just generated: the catalogue and closure the scope reads, fresh statistics
            kpi_catalogue_load()
            team_closure_sync()
            settle()
        return sql_only(granularities)
    if args.reuse:
        # Orders of earlier incremental runs: removed, so that each run ingests into the state a full run left.
        Order.objects.filter(external_id__startswith="bench-inc-").delete()
    DirtyMark.objects.all().delete()
    if not args.incremental_only:
        KpiValue.objects.all().delete()
    kpi_catalogue_load()
    team_closure_sync()
    settle()
    start, end, team_ids, plans = catalogue_scope()
    where = f"PostgreSQL {args.db_name}" if postgres else f"SQLite {connection.settings_dict['NAME']}"
    print(f"catalogue: {len(plans)} KPIs, {len(team_ids)} teams, {start} → {end} (exclusive), {where}")
    print()
    print(f"{'granularity':<12}{'hand SQL':>10}{'compute':>10}{'full #1':>10}{'full #2':>10}{'values':>12}"
          f"{'#1/SQL':>8}{'#2/SQL':>8}")  # fmt: skip
    totals = {"sql": 0.0, "compute": 0.0, "full1": 0.0, "full2": 0.0}
    issue = {"sql": 0.0, "compute": 0.0, "full1": 0.0, "full2": 0.0}
    ratios: dict[str, float] = {}
    for granularity in [] if args.incremental_only else granularities:
        # No hand-written SQL on SQLite (the reference is PostgreSQL's); its columns stay empty there.
        sql_seconds = hand_sql_seconds(plans, granularity, start, end, team_ids)[0] if postgres else 0.0
        compute = full2 = 0.0
        if not args.once:
            # The queries and formulas alone, in the chunks of a recompute computing one chunk at a time (the full
            # runs below compute two ahead on PostgreSQL: metrics.recompute.services.compute_chunks_ahead).
            started = time.perf_counter()
            periods = period_starts(start=start, end=end, granularity=granularity)
            for chunk in period_chunks(periods, cells_per_period=len(plans) * len(team_ids)):
                chunk_end = min(end, period_end(chunk[-1], granularity))
                kpis_compute(plans=plans, team_ids=team_ids, granularity=granularity, start=chunk[0], end=chunk_end)
            compute = time.perf_counter() - started
        started = time.perf_counter()
        result = kpi_values_recompute(start=start, end=end, granularities=[granularity], notify=False)
        full1 = time.perf_counter() - started
        if not args.once:
            started = time.perf_counter()
            kpi_values_recompute(start=start, end=end, granularities=[granularity], notify=False)
            full2 = time.perf_counter() - started
        if sql_seconds:
            ratios[granularity] = full2 / sql_seconds
        for key, value in zip(totals, (sql_seconds, compute, full1, full2), strict=True):
            totals[key] += value
            if granularity in ISSUE_GRANULARITIES:
                issue[key] += value
        print(f"{granularity:<12}{_seconds(sql_seconds):>10}{_seconds(compute):>10}{full1:>9.2f}s{_seconds(full2):>10}"
              f"{result.values_written:>12,}{_ratio(full1, sql_seconds):>8}"
              f"{_ratio(full2, sql_seconds):>8}")  # fmt: skip
    if not args.incremental_only:
        sql, full1, full2 = totals["sql"], totals["full1"], totals["full2"]
        print(f"{'all':<12}{_seconds(sql):>10}{_seconds(totals['compute']):>10}{full1:>9.2f}s{_seconds(full2):>10}"
              f"{KpiValue.objects.count():>12,}{_ratio(full1, sql):>8}{_ratio(full2, sql):>8}")  # fmt: skip
    print()
    one_call: tuple[float, float] | None = None
    if not postgres and not args.incremental_only:
        # What `recompute_kpis` (and `make run`) does: every granularity in one call, where the longer periods
        # are added up from the shorter ones just computed (metrics.engine.fold); first into an empty table, then
        # again.
        KpiValue.objects.all().delete()
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            kpi_values_recompute(start=start, end=end, granularities=granularities, notify=False)
            seconds.append(time.perf_counter() - started)
        one_call = (seconds[0], seconds[1])
        print(f"one call, {', '.join(granularities)} (as recompute_kpis): {seconds[1]:.2f} s "
              f"(first run, inserts: {seconds[0]:.2f} s)\n")  # fmt: skip

    if args.once:
        return 0
    if not args.incremental_only:
        # The full runs have just written a million values: let autovacuum's pass over them, and the checkpoint
        # flushing them, happen here, not during the incremental run (which in service runs every minute against
        # settled tables).
        settle(checkpoint=True)

    # Incremental: 1,000 orders of one team over the last three days through the ingestion service (data +
    # dirty mark, as the API does), then the task's work, timed per granularity.
    # The first sales team holding orders (in a generated organisation, the Ventes department holds none).
    sales = next(t for t in Team.objects.filter(kind="sales").order_by("pk") if Order.objects.filter(team=t).exists())
    customers = list(
        Order.objects.filter(team=sales, customer__isnull=False).values_list("customer__external_id", flat=True)[:500]
    )
    stamp = int(time.time())
    records = [
        {
            "external_id": f"bench-inc-{stamp}-{n:04d}",
            "ordered_at": f"{today - dt.timedelta(days=1 + n % 3)}T{8 + n % 10:02d}:{n % 60:02d}:00+01:00",
            "amount": f"{20 + n % 200}.50",
            "status": "completed" if n % 10 else "abandoned",
            "customer": customers[n % len(customers)],
            "channel": ("web", "store", "phone")[n % 3],
        }
        for n in range(1000)
    ]
    started = time.perf_counter()
    activity_ingest(kind="orders", records=records, default_team_id=sales.pk, writable_team_ids=None)
    ingest_seconds = time.perf_counter() - started
    marks = list(DirtyMark.objects.values("record_kind", "period_start", "period_end"))
    from django.test.utils import CaptureQueriesContext

    from metrics.recompute import services

    by_granularity: dict[str, float] = {}
    real_recompute = services.kpi_values_recompute

    def timed_recompute(**kwargs):
        begun = time.perf_counter()
        try:
            return real_recompute(**kwargs)
        finally:
            for granularity in kwargs["granularities"]:
                by_granularity[granularity] = by_granularity.get(granularity, 0.0) + time.perf_counter() - begun

    services.kpi_values_recompute = timed_recompute
    profile = None
    if os.environ.get("BENCH_PROFILE"):  # the incremental's Python, by own time (cProfile)
        import cProfile

        profile = cProfile.Profile()
    started = time.perf_counter()
    try:
        with CaptureQueriesContext(connection) as queries:
            if profile:
                profile.enable()
            incremental = dirty_marks_recompute()
            if profile:
                profile.disable()
    finally:
        services.kpi_values_recompute = real_recompute
    incremental_seconds = time.perf_counter() - started
    assert not DirtyMark.objects.exists()
    if profile:
        import pstats

        pstats.Stats(profile).sort_stats("tottime").print_stats(int(os.environ["BENCH_PROFILE"]))
    print(f"incremental: 1,000 orders of {sales.slug} ingested in {ingest_seconds:.2f} s → marks {marks}")
    if os.environ.get("BENCH_SLOWEST"):
        slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[: int(os.environ["BENCH_SLOWEST"])]
        for query in slowest:
            print(f"    {float(query['time']):6.3f} s  {query['sql'][: int(os.environ.get('BENCH_SQL_CHARS', 300))]}")
        print(f"    total SQL time {sum(float(q['time']) for q in queries.captured_queries):.2f} s")
    print(
        f"  dirty_marks_recompute: {incremental_seconds:.2f} s, {len(queries.captured_queries)} queries, "
        f"{incremental.values_written:,} values written; per granularity: "
        + ", ".join(f"{g} {by_granularity[g]:.2f} s" for g in STEPS if g in by_granularity)
    )
    print()
    issue_full = issue["full2"] or None
    if args.incremental_only:
        print(f"c/a: incremental / given full: {100 * incremental_seconds / args.incremental_only:.2f} %")
    if not postgres and not args.incremental_only:
        print(f"SQLite, {args.records:,} records:")
        print(f"  full recompute, granularity by granularity: {totals['full2']:.2f} s (first run, inserts: "
              f"{totals['full1']:.2f} s)")  # fmt: skip
        if one_call:
            print(f"  full recompute in one call (recompute_kpis): {one_call[1]:.2f} s (first run, inserts: "
                  f"{one_call[0]:.2f} s)  (issue 17 item 6 goal ≤ 30 s)")  # fmt: skip
        print(f"  incremental, 1,000 orders: {incremental_seconds:.2f} s")
        if issue_full:
            print(f"  incremental / full month + week = {100 * incremental_seconds / issue_full:.2f} %")
    if postgres and issue_full and set(ISSUE_GRANULARITIES) <= set(granularities):
        print("issue 4 (month + week):")
        print(
            f"  (a) full recompute, month + week: {issue['full2']:.2f} s (first run, inserts: {issue['full1']:.2f} s)"
        )
        print(f"  (b) hand-written SQL, month + week: {issue['sql']:.2f} s")
        print(f"  (c) incremental, 1,000 orders: {incremental_seconds:.2f} s")
        print(f"  a/b = {issue['full2'] / issue['sql']:.2f}  (goal ≤ 3)")
        print(f"  c/a = {100 * incremental_seconds / issue_full:.2f} %  (goal ≤ 5 %)")
        # Like for like: the incremental at month and week, with the days they are combined from.
        like = sum(by_granularity.get(g, 0.0) for g in ("day", *ISSUE_GRANULARITIES))
        print(f"  incremental at day + month + week only: {like:.2f} s = {100 * like / issue_full:.2f} % of (a)")
        print(f"issue 17 item 4: c/a = {100 * incremental_seconds / issue_full:.2f} %  (goal ≤ 1 %)")
    if totals["sql"] and set(granularities) == set(STEPS):
        print("all granularities:")
        print(f"  full {totals['full2']:.2f} s (first run {totals['full1']:.2f} s), hand SQL {totals['sql']:.2f} s")
        print(f"  full / SQL = {totals['full2'] / totals['sql']:.2f};  incremental / full = "
              f"{100 * incremental_seconds / totals['full2']:.2f} %")  # fmt: skip
        worst = max(ratios, key=ratios.get)
        print(f"issue 17 item 4: full / SQL = {totals['full2'] / totals['sql']:.2f} over every granularity, "
              f"worst {worst} {ratios[worst]:.2f}  (goal ≤ 1.5)")  # fmt: skip
    by_kind = Order.objects.values("status").annotate(n=Count("pk"))
    print("orders by status:", {row["status"]: row["n"] for row in by_kind})
    return 0


if __name__ == "__main__":
    sys.exit(main())
