"""Bulk ingestion over HTTP (gunicorn on loopback) vs PostgreSQL COPY (DESIGN.md §10: "within a fair fraction of COPY").

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ingest.py \
            [--rows 100000] [--batch 5000] [--workers 2] [--clients 2] [--no-in-process] [--profile]

Runs on a throwaway database `bench_ingest` (or $BENCH_DB) on the same server (created, migrated
and dropped by the script). It measures, in one run, the same generated orders:

- HTTP: POST /api/v1/activity/orders/ in batches of 5,000 to gunicorn started by the script
  on 127.0.0.1 (`--workers` sync workers, production settings: DJANGO_DEBUG=false), from
  `--clients` threads with http.client, as an integration does: real sockets, JSON parsing,
  API-key authentication (a key made by `manage.py create_api_key`), validation, reference
  resolution, upsert, dirty marks. The JSON bodies are encoded before the clock starts.
- HTTP resend: the same batches again (all unchanged).
- In-process (for comparison, skip with --no-in-process): the same batches through DRF's
  APIClient in this process, one at a time, for another team: no sockets, no gunicorn.
- COPY: the same rows copied into the same table (for another team) with psycopg's COPY.
- With --profile: one batch in-process, timed by phase (JSON parsing, validation with
  reference resolution, write) and then under cProfile (top functions printed).

Goals: HTTP rows/s >= 50 % of COPY rows/s; resend/first-send time <= 1.3.
"""

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import bench_environment, database_url, drop_database, free_port, recreate_database  # noqa: E402

BENCH_DB = os.environ.get("BENCH_DB", "bench_ingest")  # another name when two benches share a server
HOST = "127.0.0.1"
PATH = "/api/v1/activity/orders/"
CUSTOMERS = 2_000
GOAL = 50.0  # HTTP rows/s as a percentage of COPY rows/s
RESEND_GOAL = 1.3


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


def http_request(port: int, method: str, path: str, body: bytes | None, key: str) -> tuple[int, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close it after each answer)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=600)
    try:
        headers = {"Authorization": f"Api-Key {key}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_gunicorn(port: int, workers: int, log) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "kpiplatform.wsgi",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "300",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)


def stop_gunicorn(server: subprocess.Popen) -> None:
    """SIGTERM (gunicorn stops its workers gracefully), SIGKILL if it lingers; harmless if already stopped."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wait_until_ready(server: subprocess.Popen, port: int, key: str, workers: int) -> None:
    """Wait for /healthz, then warm every worker up (URLconf, first database connection) before the clock."""
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode} (its log is printed above)")
        try:
            status, _body = http_request(port, "GET", "/healthz", None, key)
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("gunicorn did not answer /healthz within 60 s")
        time.sleep(0.2)
    for _n in range(4 * workers):
        status, body = http_request(port, "GET", f"{PATH}?page_size=1", None, key)
        if status != 200:
            raise SystemExit(f"warm-up GET answered {status}: {body[:300]!r}")


def create_api_key(team_slug: str) -> str:
    """`manage.py create_api_key`, as an operator does; the key is its last line."""
    completed = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_api_key",
            "--team",
            team_slug,
            "--name",
            "bench",
            "--scopes",
            "read,write",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip().splitlines()[-1]


def post_all_http(port: int, key: str, bodies: list[tuple[bytes, int]], clients: int, expect: str) -> float:
    """POST every batch from `clients` threads; return the wall time. Any unexpected answer stops the bench."""
    pending: queue.SimpleQueue[tuple[bytes, int]] = queue.SimpleQueue()
    for item in bodies:
        pending.put(item)
    failures: list[str] = []

    def client() -> None:
        while not failures:
            try:
                body, count = pending.get_nowait()
            except queue.Empty:
                return
            try:
                status, answer = http_request(port, "POST", PATH, body, key)
                if status != 200 or json.loads(answer)[expect] != count:
                    failures.append(f"unexpected answer {status}: {answer[:300]!r}")
            except Exception as exc:  # a broken connection is a failed bench, reported below
                failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(failures[0])
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--clients", type=int, default=2, help="client threads posting batches (default 2)")
    parser.add_argument("--no-in-process", action="store_true", help="skip the in-process APIClient figure")
    parser.add_argument("--profile", action="store_true", help="time and cProfile one batch in-process")
    parser.add_argument("--keep", action="store_true", help="keep the bench_ingest database")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server (the bench uses its own database bench_ingest).")
        return 2
    url = database_url(server_url, BENCH_DB)
    recreate_database(url)
    # The same production environment for this process, manage.py and gunicorn.
    bench_environment(url, hosts=HOST, API_THROTTLE_USER="1000000/min")
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
    from django.core.management import call_command

    from accounts.services import team_upsert
    from metrics.activity.ingest import activity_ingest
    from metrics.models import Order

    call_command("migrate", verbosity=0)
    slugs = ["bench-http", "bench-copy"]
    if not args.no_in_process:
        slugs.append("bench-inproc")
    if args.profile:
        slugs += ["bench-cprofile"]
        slugs += [f"bench-{use}-{n}" for use in ("request", "phases") for n in range(PROFILE_REPEATS)]
    teams = {slug: team_upsert(slug=slug, name=slug, kind="sales") for slug in slugs}
    for team in teams.values():
        activity_ingest(
            kind="customers",
            records=[{"external_id": f"C-{n:05d}", "acquired_at": "2024-01-01T00:00:00Z"} for n in range(CUSTOMERS)],
            default_team_id=team.pk,
            writable_team_ids={team.pk},
        )
    key = create_api_key("bench-http")

    orders = make_orders(args.rows, CUSTOMERS)
    batches = [orders[i : i + args.batch] for i in range(0, len(orders), args.batch)]
    bodies = [(json.dumps(batch).encode(), len(batch)) for batch in batches]

    port = free_port()
    # gunicorn's own output goes to a temporary file, printed only if something goes wrong.
    with tempfile.TemporaryFile("w+") as log:
        server = start_gunicorn(port, args.workers, log)
        try:
            wait_until_ready(server, port, key, args.workers)
            first = post_all_http(port, key, bodies, args.clients, "created")
            resend = post_all_http(port, key, bodies, args.clients, "unchanged")
        except BaseException:
            stop_gunicorn(server)
            log.seek(0)
            print(log.read(), file=sys.stderr)
            raise
        finally:
            stop_gunicorn(server)
    assert Order.objects.filter(team=teams["bench-http"]).count() == args.rows

    in_process = None if args.no_in_process else in_process_send(teams["bench-inproc"], bodies)
    copy_seconds = copy_orders(url, teams["bench-copy"], orders)
    assert Order.objects.filter(team=teams["bench-copy"]).count() == args.rows

    http_rate = args.rows / first
    copy_rate = args.rows / copy_seconds
    ratio = 100 * http_rate / copy_rate
    print(f"rows: {args.rows} orders, batches of {args.batch}, PostgreSQL database {BENCH_DB}")
    print(f"gunicorn: {args.workers} sync worker(s) on {HOST}, {args.clients} client thread(s); {os.cpu_count()} CPUs")
    print(f"HTTP first send      : {first:7.2f} s  {http_rate:10,.0f} rows/s")
    print(f"HTTP resend          : {resend:7.2f} s  {args.rows / resend:10,.0f} rows/s (all unchanged)")
    if in_process is not None:
        print(
            f"in-process APIClient : {in_process:7.2f} s  {args.rows / in_process:10,.0f} rows/s "
            f"(one thread, no HTTP; {100 * args.rows / in_process / copy_rate:.1f} % of COPY)"
        )
    print(f"COPY                 : {copy_seconds:7.2f} s  {copy_rate:10,.0f} rows/s")
    print(f"HTTP / COPY          : {ratio:6.1f} %   (goal >= {GOAL:.0f} %: {'met' if ratio >= GOAL else 'MISSED'})")
    print(f"HTTP resend / first  : {resend / first:6.2f}     (goal <= {RESEND_GOAL}: ", end="")
    print("met)" if resend / first <= RESEND_GOAL else "MISSED)")
    if args.profile:
        profile_one_batch(teams, batches[0])
    return 0


def in_process_send(team, bodies: list[tuple[bytes, int]]) -> float:
    """The same batches through DRF's APIClient in this process, with an API key of `team`."""
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    _api_key, key = api_key_create(team=team, name="bench", scopes=["write"])
    client = APIClient(HTTP_HOST=HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    client.get("/healthz")  # loads the middleware, off the clock (as a gunicorn worker at start)
    started = time.perf_counter()
    for body, count in bodies:
        response = client.post(PATH, data=body, content_type="application/json")
        if response.status_code != 200 or response.json()["created"] != count:
            raise SystemExit(f"unexpected answer {response.status_code}: {response.content[:300]!r}")
    return time.perf_counter() - started


def copy_orders(url: str, team, orders: list[dict]) -> float:
    """COPY of the same rows (customer ids resolved beforehand, as COPY cannot) into the same table."""
    import psycopg

    from metrics.models import Customer, Order

    customer_ids = dict(Customer.objects.filter(team=team).values_list("external_id", "id"))
    now = datetime.now(UTC)
    rows = [
        (
            team.pk,
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
        return time.perf_counter() - started


PROFILE_REPEATS = 3  # fresh teams per measure; the fastest pass is kept (a shared machine is noisy)
# Steps of the ingest timed in --profile (module attributes of metrics.activity.ingest, looked up at call time).
PROFILE_STEPS = {
    "validate": {
        "_unstorable_errors": "NUL/surrogate/depth screen of records not plain (_unstorable_errors)",
        "_resolve_teams": "team resolution (_resolve_teams)",
        "_reject_duplicates": "duplicate external_ids (_reject_duplicates)",
        "_resolve_references": "reference resolution (_resolve_references, SQL included)",
        "_check_natural_keys": "natural keys (_check_natural_keys)",
    },
    "write": {
        "activity_batch_lock": "advisory lock, shared (activity_batch_lock)",
        "_existing_rows": "read stored rows (_existing_rows, SQL included)",
        "insert": "insert the new records (_insert_postgresql, SQL included)",
        "upsert": "upsert the changed ones (_upsert_postgresql, SQL included)",
        "dirty_marks_widen": "dirty marks (dirty_marks_widen, SQL included)",
    },
}


def profile_one_batch(teams: dict, batch: list[dict]) -> None:
    """Where a batch's time goes in the request: a full request unprofiled, its phases timed step by step, then
    cProfile's top functions.

    Each pass writes a fresh team, so all see the first-send (all created) path.
    """
    import psycopg
    from rest_framework.test import APIClient

    from accounts.services import api_key_create
    from metrics.activity import ingest

    body = json.dumps(batch).encode()
    count = len(batch)
    print(f"\nprofile: one batch of {count} orders, in-process, first send (all created), best of {PROFILE_REPEATS}")

    def client_for(team) -> APIClient:
        _api_key, key = api_key_create(team=team, name="bench", scopes=["write"])
        client = APIClient(HTTP_HOST=HOST)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        # A client loads the middleware on its first request (WhiteNoise then indexes the static files, ~30 ms):
        # done here, off the clock, as a gunicorn worker does once.
        client.get("/healthz")
        return client

    def post(client: APIClient) -> None:
        response = client.post(PATH, data=body, content_type="application/json")
        if response.status_code != 200 or response.json()["created"] != count:
            raise SystemExit(f"unexpected answer {response.status_code}: {response.content[:300]!r}")

    request_seconds = []
    for n in range(PROFILE_REPEATS):
        client = client_for(teams[f"bench-request-{n}"])
        started = time.perf_counter()
        post(client)
        request_seconds.append(time.perf_counter() - started)

    # The phases, called as the view calls them, each step of the ingest timed by a wrapper (restored after).
    passes: list[dict[str, float]] = []
    spent: dict[str, float] = {}

    def timed(label: str, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

        return wrapper

    def timed_execute(cursor, query, *args, **kwargs):
        started = time.perf_counter()
        try:
            return saved_execute(cursor, query, *args, **kwargs)
        finally:
            text = query if isinstance(query, str) else str(query)
            label = "SQL " + " ".join(text.split()[:3])[:40]
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

    registries = {"insert": ingest.INSERTS, "upsert": ingest.UPSERTS}
    steps = [name for names in PROFILE_STEPS.values() for name in names if name not in registries]
    saved = {name: getattr(ingest, name) for name in steps}
    saved["activity_batch_write"] = ingest.activity_batch_write
    saved_writers = {name: registry["postgresql"] for name, registry in registries.items()}
    saved_execute = psycopg.Cursor.execute
    try:
        for name, function in saved.items():
            setattr(ingest, name, timed(name, function))
        for name, registry in registries.items():
            registry["postgresql"] = timed(name, saved_writers[name])
        psycopg.Cursor.execute = timed_execute
        for n in range(PROFILE_REPEATS):
            spent = {}
            team = teams[f"bench-phases-{n}"]
            started = time.perf_counter()
            records = json.loads(body)
            spent["json"] = time.perf_counter() - started
            started = time.perf_counter()
            validated = ingest.activity_batch_validate(
                kind="orders", records=records, default_team_id=team.pk, writable_team_ids={team.pk}
            )
            spent["validate"] = time.perf_counter() - started
            assert not validated.errors, validated.errors[:3]
            started = time.perf_counter()
            result = ingest.activity_batch_commit(batch=validated)
            spent["commit"] = time.perf_counter() - started
            assert result.created == count, result
            passes.append(spent)
    finally:
        for name, function in saved.items():
            setattr(ingest, name, function)
        for name, registry in registries.items():
            registry["postgresql"] = saved_writers[name]
        psycopg.Cursor.execute = saved_execute

    best = min(passes, key=lambda timings: timings["json"] + timings["validate"] + timings["commit"])
    total = best["json"] + best["validate"] + best["commit"]
    validate_steps = sum(best.get(name, 0.0) for name in PROFILE_STEPS["validate"])
    write_steps = sum(best.get(name, 0.0) for name in PROFILE_STEPS["write"])
    lines = [
        ("JSON parsing (json.loads of the body)", best["json"]),
        ("validation (activity_batch_validate)", best["validate"]),
        (
            "  per-record screen, field parsing and rules (the loop, rest of validation)",
            best["validate"] - validate_steps,
        ),
        *((f"  {label}", best.get(name, 0.0)) for name, label in PROFILE_STEPS["validate"].items()),
        ("write (activity_batch_commit)", best["commit"]),
        (
            "  compare with stored rows, date ranges (rest of activity_batch_write)",
            best["activity_batch_write"] - write_steps,
        ),
        *((f"  {label}", best.get(name, 0.0)) for name, label in PROFILE_STEPS["write"].items()),
        (
            "  transaction begin/commit, enqueue (rest of activity_batch_commit)",
            best["commit"] - best["activity_batch_write"],
        ),
        *((f"  {label}", seconds) for label, seconds in best.items() if label.startswith("SQL ")),
    ]
    request_label = "full APIClient request (DRF, API-key auth, parsing, ingest, render)"
    print(f"  {request_label:<74} {1000 * min(request_seconds):8.1f} ms")
    print(f"  {'  phases below: JSON + validation + write':<74} {1000 * total:8.1f} ms  ({count / total:,.0f} rows/s)")
    rest = min(request_seconds) - total
    print(f"  {'  rest: DRF, authentication, access, rendering (within noise)':<74} {1000 * rest:8.1f} ms")
    for label, seconds in lines:
        print(f"  {label:<74} {1000 * seconds:8.1f} ms  {100 * seconds / total:5.1f} %")

    client = client_for(teams["bench-cprofile"])
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    post(client)
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(f"\n  full APIClient request under cProfile: {1000 * elapsed:.1f} ms (profiler overhead included)")
    stats = pstats.Stats(profiler)
    watched = (
        "activity_batch_validate",
        "_unstorable_errors",
        "_resolve_references",
        "_check_natural_keys",
        "activity_batch_write",
        "_existing_rows",
        "_insert_postgresql",
        "_upsert_postgresql",
        "dirty_marks_widen",
    )
    print("  cumulative time of the ingest's steps:")
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in sorted(
        stats.stats.items(), key=lambda item: -item[1][3]
    ):
        if name in watched and "metrics" in filename:
            print(f"    {name:<40} {1000 * cumulative:8.1f} ms")
    output = io.StringIO()
    pstats.Stats(profiler, stream=output).sort_stats("tottime").print_stats(15)
    print("  top 15 functions by own time:")
    lines = output.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    for line in lines[start:]:
        if line.strip():
            print("   " + line.replace(str(ROOT) + "/", ""))


if __name__ == "__main__":
    sys.exit(main())
