"""Bulk ingestion through the API vs PostgreSQL COPY (DESIGN.md §10: "within a fair fraction of COPY").

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ingest.py [--rows 100000]

Runs on a throwaway database `bench_ingest` on the same server (created, migrated and
dropped by the script). It measures, in one run:

- API: POST /api/v1/activity/orders/ in batches of 5,000 through the real stack (DRF
  APIClient in-process, API-key authentication, validation, reference resolution,
  upsert, dirty marks); the JSON bodies are encoded before the clock starts.
- Resend: the same batches again (all unchanged).
- COPY: the same rows copied into the same table (for another team) with psycopg's COPY.

Goals: API rows/s ≥ 25 % of COPY rows/s (stretch 50 %); resend/first-send time ≤ 1.3.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "bench_ingest"


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def recreate_database(url: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def drop_database(url: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def make_orders(count: int, customers: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        {
            "external_id": f"O-{n:07d}",
            "customer": f"C-{rng.randrange(customers):05d}",
            "ordered_at": (start + timedelta(seconds=rng.randrange(365 * 86400))).isoformat().replace("+00:00", "Z"),
            "amount": f"{rng.uniform(5, 500):.2f}",
            "status": rng.choice(["completed"] * 8 + ["abandoned", "returned"]),
            "is_upsell": rng.random() < 0.1,
            "is_cross_sell": rng.random() < 0.1,
            "channel": rng.choice(["web", "shop", "phone"]),
        }
        for n in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench_ingest database")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server (the bench uses its own database bench_ingest).")
        return 2
    url = bench_database_url(server_url)
    recreate_database(url)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="kpiplatform.settings",
        # No broker needed: the recompute message goes to an in-memory transport.
        CELERY_BROKER_URL="memory://",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + "x" * 60,
        DJANGO_ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
        API_THROTTLE_USER="1000000/min",
    )
    try:
        return run(args, url)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url)


def run(args, url: str) -> int:
    import django

    django.setup()
    import psycopg
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from accounts.services import api_key_create, team_upsert
    from metrics.activity.ingest import activity_ingest
    from metrics.models import Customer, Order

    call_command("migrate", verbosity=0)
    api_team = team_upsert(slug="bench-api", name="Bench API", kind="sales")
    copy_team = team_upsert(slug="bench-copy", name="Bench COPY", kind="sales")
    customers = 2_000
    for team in (api_team, copy_team):
        activity_ingest(
            kind="customers",
            records=[{"external_id": f"C-{n:05d}", "acquired_at": "2024-01-01T00:00:00Z"} for n in range(customers)],
            default_team_id=team.pk,
            writable_team_ids={team.pk},
        )
    _api_key, key = api_key_create(team=api_team, name="bench", scopes=["write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    orders = make_orders(args.rows, customers)
    bodies = [json.dumps(orders[i : i + args.batch]) for i in range(0, len(orders), args.batch)]

    def send_all(expect: str) -> float:
        started = time.perf_counter()
        for body in bodies:
            response = client.post("/api/v1/activity/orders/", data=body, content_type="application/json")
            if response.status_code != 200 or response.json()[expect] != len(json.loads(body)):
                raise SystemExit(f"unexpected answer {response.status_code}: {response.content[:300]!r}")
        return time.perf_counter() - started

    first = send_all("created")
    resend = send_all("unchanged")
    assert Order.objects.filter(team=api_team).count() == args.rows

    # COPY of the same rows (customer ids resolved beforehand, as COPY cannot) into the same table.
    customer_ids = dict(Customer.objects.filter(team=copy_team).values_list("external_id", "id"))
    now = datetime.now(UTC)
    rows = [
        (
            copy_team.pk,
            o["external_id"],
            "{}",
            now,
            now,
            customer_ids[o["customer"]],
            o["ordered_at"],
            o["amount"],
            o["status"],
            o["is_upsell"],
            o["is_cross_sell"],
            o["channel"],
        )
        for o in orders
    ]
    columns = (
        "team_id, external_id, attributes, ingested_at, updated_at, customer_id, ordered_at, amount, status, "
        "is_upsell, is_cross_sell, channel"
    )
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(f"COPY {Order._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        copy_seconds = time.perf_counter() - started
    assert Order.objects.filter(team=copy_team).count() == args.rows

    api_rate = args.rows / first
    copy_rate = args.rows / copy_seconds
    print(f"rows: {args.rows} orders, batches of {args.batch}, PostgreSQL database {BENCH_DB}")
    print(f"API first send : {first:7.2f} s  {api_rate:10,.0f} rows/s")
    print(f"API resend     : {resend:7.2f} s  {args.rows / resend:10,.0f} rows/s (all unchanged)")
    print(f"COPY           : {copy_seconds:7.2f} s  {copy_rate:10,.0f} rows/s")
    print(f"API / COPY     : {100 * api_rate / copy_rate:6.1f} %   (goal >= 25 %, stretch 50 %)")
    print(f"resend / first : {resend / first:6.2f}     (goal <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
