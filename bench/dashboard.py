"""Dashboard latency against the activity volume (DESIGN.md §10: "flat from 10k to 1M+ records,
close to a trivial view's").

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard.py \
            [--sizes 10000,100000,1000000] [--requests 30]

For each size, on a throwaway database `bench_dashboard` on the same server (created,
migrated and dropped by the script): seed the demo organisation with that many activity
records, load the KPI catalogue, recompute every KPI, then time GET /dashboard/ventes/
(logged in as claire.martin, in-process test client) against GET / (the team list, a
trivial view) and count the dashboard's queries.

Goal: the dashboard's median at the largest size within 1.5× of its median at the
smallest, and within a small factor (≤ 3×) of the trivial view's.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import bench_database_url  # noqa: E402 (bench scripts run from the repository root)

BENCH_DB = "bench_dashboard"


def _admin_execute(url: str, *statements: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def timed(client, path: str, count: int) -> list[float]:
    for _ in range(3):  # warm caches (templates, translations, session)
        assert client.get(path).status_code == 200
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def measure(size: int, requests: int) -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", "--records", str(size), stdout=quiet, stderr=quiet)
        call_command("load_kpi_catalogue", stdout=quiet)
        call_command("recompute_kpis", "--sync", stdout=quiet, stderr=quiet)
    prepared = time.perf_counter() - started
    client = Client()
    client.force_login(User.objects.get(username="claire.martin"))
    dashboard = timed(client, "/dashboard/ventes/", requests)
    trivial = timed(client, "/", requests)
    with CaptureQueriesContext(connection) as queries:
        client.get("/dashboard/ventes/")
    return {
        "size": size,
        "prepared_s": prepared,
        "dashboard_ms": statistics.median(dashboard),
        "dashboard_p95_ms": sorted(dashboard)[int(0.95 * (len(dashboard) - 1))],
        "trivial_ms": statistics.median(trivial),
        "queries": len(queries.captured_queries),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="activity record counts, comma-separated")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the bench_dashboard database")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server (the bench uses its own database bench_dashboard).")
        return 2
    url = bench_database_url(server_url).rsplit("/", 1)[0] + f"/{BENCH_DB}"
    _admin_execute(url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)", f"CREATE DATABASE {BENCH_DB}")
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="kpiplatform.settings",
        CELERY_BROKER_URL="memory://",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + "x" * 60,
        DJANGO_ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test.utils import override_settings

        # Plain static storage: the bench does not need collectstatic's manifest.
        static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        override_settings(
            STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": static}
        ).enable()

        call_command("migrate", verbosity=0)
        results = [measure(size, args.requests) for size in sizes]
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin_execute(url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    print(f"{'records':>10} {'prepare s':>10} {'dashboard ms':>13} {'p95 ms':>8} {'trivial ms':>11} {'queries':>8}")
    for r in results:
        print(
            f"{r['size']:>10} {r['prepared_s']:>10.1f} {r['dashboard_ms']:>13.1f} {r['dashboard_p95_ms']:>8.1f} "
            f"{r['trivial_ms']:>11.1f} {r['queries']:>8}"
        )
    first, last = results[0], results[-1]
    growth = last["dashboard_ms"] / first["dashboard_ms"]
    versus_trivial = last["dashboard_ms"] / last["trivial_ms"]
    print(f"dashboard median {last['size']} vs {first['size']} records: ×{growth:.2f} (goal ≤ 1.5)")
    print(f"dashboard vs trivial view at {last['size']} records: ×{versus_trivial:.2f} (goal ≤ 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
