"""Dashboard latency against the activity volume, under concurrent load over HTTP (DESIGN.md §10:
"flat from 10k to 1M+ records, close to a trivial view's").

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard.py \
            [--sizes 10000,1000000] [--teams 200] [--clients 4] [--seconds 60] [--workers 2]

For each size, in its own throwaway database `bench_dashboard_d_<size>` (`--db-name`) on the
same server (created, migrated and dropped by the script): seed the demo organisation — with
`--teams N`, a generated organisation of N teams where Ventes is a department adding up its
teams — with that many activity records, load the KPI catalogue, recompute every KPI and
VACUUM ANALYZE (`--reuse`: a database of that name that already exists, kept by `--keep` or
prepared by hand the same way, is used as it is); start a
gunicorn for it on 127.0.0.1 (DEBUG off, static files collected into a temporary directory)
and log in once as claire.martin through the login form to get a session cookie. Then one
load over every size at once: `--clients` concurrent clients (threads, one HTTP connection
per request) for `--seconds` seconds after a short warm-up, each requesting in turn, for
every size:

* /dashboard/ventes/            the dashboard page
* /dashboard/ventes/data.json   its JSON twin
* /                             the team list, a trivial authenticated view

It prints p50 / p95 per URL and size, the dashboard's query count, and the ratios.
Goals: dashboard p95 within 3× the trivial view's p95 (same size, same run), and the
dashboard's p50 at the largest size within 1.2× of its p50 at the smallest (issue 17 item 4:
within 1.05× at 10,000,000 records and 200 teams vs 10,000).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import free_port  # noqa: E402

BENCH_DB = "bench_dashboard_d"  # one database per size: bench_dashboard_d_<size>
USERNAME = "claire.martin"
URLS = {"dashboard": "/dashboard/ventes/", "data.json": "/dashboard/ventes/data.json", "trivial": "/"}
WARMUP_SECONDS = 2.0


def _admin_execute(url: str, *statements: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _database_exists(url: str, name: str) -> bool:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _request(port: int, method: str, path: str, *, cookies: dict[str, str], body: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "Host": "127.0.0.1"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Referer"] = f"http://127.0.0.1:{port}/accounts/login/"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                cookie = SimpleCookie()
                cookie.load(value)
                cookies.update({name: morsel.value for name, morsel in cookie.items()})
        return response.status, payload
    finally:
        conn.close()


def login(port: int, password: str) -> dict[str, str]:
    """Log in through the form once; return the cookies (session and CSRF) every client then sends."""
    cookies: dict[str, str] = {}
    status, page = _request(port, "GET", "/accounts/login/", cookies=cookies)
    assert status == 200, status
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = urlencode({"csrfmiddlewaretoken": token, "username": USERNAME, "password": password})
    status, _ = _request(port, "POST", "/accounts/login/", cookies=cookies, body=form)
    assert status == 302 and "sessionid" in cookies, f"login failed ({status})"
    return cookies


def load(targets: list[tuple], clients: int, seconds: float) -> dict[tuple, list[float]]:
    """`clients` threads GET the targets — (key, port, path, cookies) — in turn, back to back, for `seconds`
    (after a warm-up); latencies in ms per key. Interleaved, so background noise on the shared machine
    weighs on every URL and every size alike."""
    latencies: dict[tuple, list[float]] = {t[0]: [] for t in targets}
    failures: list[tuple] = []
    lock = threading.Lock()
    warm_until = time.perf_counter() + WARMUP_SECONDS
    stop_at = warm_until + seconds

    def client(offset: int) -> None:
        mine: dict[tuple, list[float]] = {t[0]: [] for t in targets}
        turn = offset
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                break
            key, port, path, cookies = targets[turn % len(targets)]
            turn += 1
            status, _ = _request(port, "GET", path, cookies=dict(cookies))
            if status != 200:
                failures.append((key, status))
                continue
            if started >= warm_until:
                mine[key].append((time.perf_counter() - started) * 1000)
        with lock:
            for key, values in mine.items():
                latencies[key].extend(values)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0][0]}: HTTP {failures[0][1]}")
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def prepare(size: int, teams: int | None, reuse: bool, period: str | None = None) -> dict:
    """In this process's database: migrate, seed `size` activity records (over `teams` teams), load the
    catalogue, compute every KPI — unless reused as it is — then VACUUM ANALYZE; the seconds taken and the
    dashboard's query count."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.demo import DEMO_PASSWORD
    from accounts.models import User

    started = time.perf_counter()
    recompute = 0.0
    if not reuse:
        call_command("migrate", verbosity=0)
        organisation = ["--teams", str(teams)] if teams else []
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", "--records", str(size), *organisation, stdout=quiet, stderr=quiet)
            call_command("load_kpi_catalogue", stdout=quiet)
            recompute = time.perf_counter()
            call_command("recompute_kpis", "--sync", stdout=quiet, stderr=quiet)
            recompute = time.perf_counter() - recompute
    prepared = time.perf_counter() - started
    # Fresh statistics and visibility maps now, rather than autovacuum working during the measurement.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    client = Client()
    client.force_login(User.objects.get(username=USERNAME))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URLS["dashboard"], {"period": period} if period else {}).status_code == 200
    call_command("clearsessions")
    return {
        "prepared_s": prepared,
        "recompute_s": recompute,
        "queries": len(queries.captured_queries),
        "password": DEMO_PASSWORD,
    }


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "kpiplatform.wsgi",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="activity record counts, comma-separated")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds (every URL and size interleaved)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes per size")
    parser.add_argument("--teams", type=int, help="a generated organisation of this many teams (seed_demo --teams)")
    parser.add_argument(
        "--period",
        help="the dashboard's period (?period=…, e.g. last_month: stored months only, no running month rebuilt "
        "from the stored days); default: the page's, this month",
    )
    parser.add_argument("--db-name", default=BENCH_DB, help="databases <db-name>_<size> (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument("--reuse", action="store_true", help="use the bench databases that exist as they are")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)  # internal: prepare one size's database
    parser.add_argument("--prepared", action="store_true", help=argparse.SUPPRESS)  # internal: reuse it
    args = parser.parse_args()
    if args.prepare:
        print("PREPARED " + json.dumps(prepare(args.prepare, args.teams, args.prepared, args.period)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]

    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print(f"Set DATABASE_URL to a PostgreSQL server (the bench uses its own databases {args.db_name}_<size>).")
        return 2
    names = {size: f"{args.db_name}_{size}" for size in sizes}
    urls = {size: urlunsplit(urlsplit(server_url)._replace(path=f"/{names[size]}")) for size in sizes}
    var_dir = tempfile.mkdtemp(prefix="bench-dashboard-")
    # The same settings for the seeding processes and gunicorn: DEBUG off (no query log), real static storage.
    base_env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="kpiplatform.settings",
        KPI_VAR_DIR=var_dir,
        CELERY_BROKER_URL="memory://",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + "x" * 60,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,testserver",
        LOG_LEVEL="WARNING",
    )
    servers: list[subprocess.Popen] = []
    results: dict[int, dict] = {}
    try:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=dict(base_env, DATABASE_URL=urls[sizes[0]]),
            check=True,
        )
        # Every size in its own database, all served at once: one load over all of them, so the
        # sizes are compared under the same machine load (other work on a shared machine varies).
        targets = []
        for size in sizes:
            env = dict(base_env, DATABASE_URL=urls[size])
            reused = args.reuse and _database_exists(urls[size], names[size])
            if not reused:
                _admin_execute(urls[size], f"DROP DATABASE IF EXISTS {names[size]} WITH (FORCE)")
                _admin_execute(urls[size], f"CREATE DATABASE {names[size]}")
            options = (["--teams", str(args.teams)] if args.teams else []) + (["--prepared"] if reused else [])
            options += ["--period", args.period] if args.period else []
            done = subprocess.run(
                [sys.executable, __file__, "--prepare", str(size), *options],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            line = next(x for x in done.stdout.splitlines() if x.startswith("PREPARED "))
            results[size] = json.loads(line.removeprefix("PREPARED "))
            how = "reused" if reused else "prepared"
            recomputed = results[size]["recompute_s"]
            of_which = f" (of which recompute_kpis --sync, every granularity: {recomputed:.0f} s)" if recomputed else ""
            print(f"{size} records {how} in {results[size]['prepared_s']:.0f} s{of_which}", flush=True)
            server, port = start_server(env, args.workers)
            servers.append(server)
            cookies = login(port, results[size]["password"])
            query = f"?{urlencode({'period': args.period})}" if args.period else ""
            for name, path in URLS.items():
                targets.append(((size, name), port, path if name == "trivial" else path + query, cookies))
        latencies = load(targets, args.clients, args.seconds)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)
        if not args.keep:
            for size in sizes:
                _admin_execute(urls[size], f"DROP DATABASE IF EXISTS {names[size]} WITH (FORCE)")

    figures = {
        key: {"n": len(v), "p50": percentile(v, 0.50), "p95": percentile(v, 0.95)} for key, v in latencies.items()
    }
    print()
    print(
        f"{args.clients} concurrent clients for {args.seconds:g} s over every URL and size, "
        f"gunicorn with {args.workers} workers per size"
    )
    print(f"{'records':>10} {'url':>10} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for (size, name), f in figures.items():
        queries = results[size]["queries"] if name == "dashboard" else ""
        print(f"{size:>10} {name:>10} {f['n']:>9} {f['p50']:>8.1f} {f['p95']:>8.1f} {queries:>8}")
    for size in sizes:
        trivial = figures[(size, "trivial")]["p95"]
        for name in ("dashboard", "data.json"):
            ratio = figures[(size, name)]["p95"] / trivial
            print(f"{size} records: {name} p95 / trivial p95 = ×{ratio:.2f} (goal ≤ 3)")
    first, last = sizes[0], sizes[-1]
    if last != first:
        for name in ("dashboard", "data.json", "trivial"):
            growth = figures[(last, name)]["p50"] / figures[(first, name)]["p50"]
            goal = "(goal ≤ 1.2; issue 17: ≤ 1.05)" if name != "trivial" else "(reference: no volume dependence)"
            print(f"{name} p50 at {last} vs {first} records: ×{growth:.2f} {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
