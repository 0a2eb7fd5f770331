"""What a scorecard costs, against the activity volume: queries and time of GET /api/v1/teams/<slug>/scorecard/.

Usage:  .venv/bin/python bench/scorecard.py [--sizes 3000,30000,300000] [--repeat 5]
        (DATABASE_URL=postgres://…/postgres to run on PostgreSQL: one throwaway database per size)

For each size, in a throwaway database (a temporary SQLite file, or `bench_scorecard_<size>` on the
PostgreSQL server of DATABASE_URL): migrate, load the KPI catalogue, seed the demo organisation with that
many records and recompute every KPI; then, for each demo team and each period (month, quarter, year), the
scorecard as of today and as of a past day (a replay), through the API with an API key, counting the SQL
queries and timing `--repeat` requests (median). Goal: the query count does not depend on the volume.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEAMS = ("ventes", "marketing", "service-client", "organisation")
PERIODS = ("month", "quarter", "year")


def _measure(size: int, repeat: int) -> dict:
    """In this process (DATABASE_URL already points at an empty database): build, then measure."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpiplatform.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from accounts.models import Team
    from accounts.services import api_key_create
    from metrics.kpis.periods import today_local

    call_command("migrate", verbosity=0)
    call_command("load_kpi_catalogue", verbosity=0)
    call_command("seed_demo", "--records", str(size), verbosity=0)
    call_command("recompute_kpis", "--sync", verbosity=0)
    root = Team.objects.get(slug="organisation")
    _key, raw = api_key_create(team=root, name="bench", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    past = today_local().replace(day=1).isoformat()
    rows = []
    for slug in TEAMS:
        for period in PERIODS:
            for day in (None, past):
                url = f"/api/v1/teams/{slug}/scorecard/?period={period}" + (f"&date={day}" if day else "")
                executed = []

                def count(execute, sql, params, many, context, executed=executed):
                    executed.append(sql)
                    return execute(sql, params, many, context)

                with connection.execute_wrapper(count):
                    response = client.get(url)
                assert response.status_code == 200, (url, response.content[:300])
                timings = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    client.get(url)
                    timings.append(time.perf_counter() - start)
                rows.append(
                    {
                        "team": slug,
                        "period": period,
                        "replay": day is not None,
                        "queries": len(executed),
                        "ms": round(statistics.median(timings) * 1000, 1),
                    }
                )
    return {"size": size, "rows": rows}


def _database_for(size: int, base: str | None, tmp: Path) -> str:
    if not base:
        return f"sqlite:///{tmp / f'scorecard_{size}.sqlite3'}"
    import psycopg

    name = f"bench_scorecard_{size}"
    admin = urlunsplit(urlsplit(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3000,30000,300000", help="activity record counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per URL")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)  # internal: one size, in a child process
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(_measure(args.measure, args.repeat)))
        return 0
    base = os.environ.get("DATABASE_URL")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            env = {
                **os.environ,
                "DATABASE_URL": _database_for(size, base, Path(tmp)),
                "DJANGO_DEBUG": "false",
                "DJANGO_ALLOWED_HOSTS": "testserver",
            }
            env.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(size), "--repeat", str(args.repeat)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'team':<16}{'period':<9}{'replay':<8}" + "".join(f"{r['size']:>12} q  {'ms':>6}" for r in results))
    for i, row in enumerate(results[0]["rows"]):
        cells = "".join(f"{r['rows'][i]['queries']:>14}  {r['rows'][i]['ms']:>6}" for r in results)
        print(f"{row['team']:<16}{row['period']:<9}{'yes' if row['replay'] else 'no':<8}{cells}")
    constant = all(len({r["rows"][i]["queries"] for r in results}) == 1 for i in range(len(results[0]["rows"])))
    print(f"query count independent of the volume: {'yes' if constant else 'NO'}")
    return 0 if constant else 1


if __name__ == "__main__":
    raise SystemExit(main())
