"""Scale-out of the dirty-mark recompute: one backlog of marks for many teams, consumed by 1, 2 and 4 worker
processes at once (issue 17 item 3).

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/workers.py \
            [--teams 200] [--records 200000] [--workers 1,2,4] [--keep]

Runs on a throwaway database `bench_workers` on the same server (created, migrated and dropped by the
script): `seed_demo --teams N --records M` builds a three-level organisation and its activity; the backlog
is a mark for every (team, kind) holding records, over its last `--days` days. For each worker count, the
stored values are emptied, the same marks written back, and that many processes call `dirty_marks_recompute`
together (what the Celery task does; each process is a worker with its own connection) until none can claim
a mark.

Printed per worker count: wall time from the start to the last process's end, throughput relative to one
worker, marks claimed (each (mark, generation) must be claimed once: duplicates counted), and the stored
cells compared one by one with the one-worker run (value, components, shares): every count must be 0.
"""

import argparse
import datetime as dt
import json
import os
import subprocess  # nosec B404 - the bench starts its own worker processes
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import bench_environment, database_url, drop_database, recreate_database  # noqa: E402

BENCH_DB = "bench_workers"


def django_setup(url: str) -> None:
    bench_environment(url)
    import django

    django.setup()


def worker(url: str, teams: int) -> int:
    """One worker process: consume marks until none can be claimed; print what it claimed as JSON."""
    django_setup(url)
    from metrics.recompute.services import dirty_marks_recompute

    started = time.monotonic()
    claimed: list = []
    values = 0
    while True:
        result = dirty_marks_recompute(teams=teams)
        claimed += result.claimed
        values += result.values_written
        if not result.busy:
            break
        time.sleep(0.2)  # others hold every team with marks: look again once they have moved on
    print(json.dumps({"seconds": time.monotonic() - started, "claimed": claimed, "values": values}))
    return 0


def cells() -> dict[tuple, tuple]:
    from metrics.models import KpiValue

    rows = KpiValue.objects.values_list(
        "kpi_id", "team_id", "granularity", "period_start", "segment", "value", "components", "shares"
    ).iterator(chunk_size=20_000)
    return {row[:5]: (row[5], json.dumps(row[6], sort_keys=True), json.dumps(row[7], sort_keys=True)) for row in rows}


def run(args, url: str) -> int:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_kpi_catalogue", verbosity=0)
    started = time.monotonic()
    call_command("seed_demo", teams=args.teams, records=args.records, seed=42, verbosity=0)
    print(f"seed_demo --teams {args.teams} --records {args.records}: {time.monotonic() - started:.1f} s")
    from django.db import connection

    from metrics.models import DirtyMark, KpiValue

    # The backlog: every (team, kind) with records, over its last `--days` days (changes arrive recent).
    written = DirtyMark.objects.values_list("team_id", "record_kind", "period_start", "period_end")
    backlog = [(team, kind, max(start, end - dt.timedelta(days=args.days)), end) for team, kind, start, end in written]
    print(f"backlog: {len(backlog)} marks over {len({m[0] for m in backlog})} teams, the last {args.days} days\n")
    reference = None
    print(f"{'workers':>7} {'seconds':>8} {'× one':>6} {'claimed':>8} {'twice':>6} {'cells':>9} {'differ':>7}")
    for count in [int(w) for w in args.workers.split(",")]:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {KpiValue._meta.db_table}")  # nosec B608 - table name from model metadata
        DirtyMark.objects.all().delete()
        DirtyMark.objects.bulk_create(
            DirtyMark(team_id=team, record_kind=kind, period_start=start, period_end=end)
            for team, kind, start, end in backlog
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        connection.close()
        begun = time.monotonic()
        processes = [
            subprocess.Popen(  # nosec B603 - this script, with its own arguments
                [sys.executable, __file__, "--worker", url, "--teams-per-round", str(args.teams_per_round)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        outputs = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in processes]
        wall = time.monotonic() - begun
        claimed = [tuple(pair) for output in outputs for pair in output["claimed"]]
        stored = cells()
        left = DirtyMark.objects.count()
        if reference is None:
            reference = (wall, stored)
        differing = sorted(
            (key for key in set(stored) | set(reference[1]) if stored.get(key) != reference[1].get(key)), key=str
        )
        differ = len(differing)
        for key in differing[: args.show]:
            print(f"        {key}: {reference[1].get(key)} (one worker) vs {stored.get(key)}")
        print(
            f"{count:>7} {wall:>8.1f} {reference[0] / wall:>6.2f} {len(claimed):>8} "
            f"{len(claimed) - len(set(claimed)):>6} {len(stored):>9} {differ:>7}"
            + (f"   ({left} marks left!)" if left else "")
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30, help="days each mark of the backlog spans (to today)")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument("--teams-per-round", type=int, default=25, help="teams a worker claims per round")
    parser.add_argument("--show", type=int, default=5, help="differing cells printed per worker count")
    parser.add_argument("--keep", action="store_true", help="keep the bench_workers database")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)  # internal: one worker process
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.teams_per_round)
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server (the bench uses its own database bench_workers).")
        return 2
    url = database_url(server_url, BENCH_DB)
    recreate_database(url)
    django_setup(url)
    try:
        return run(args, url)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
