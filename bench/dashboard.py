"""Dashboard latency against the activity volume, under concurrent load over HTTP (DESIGN.md §10:
"flat from 10k to 1M+ records, close to a trivial view's").

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard.py \
            [--sizes 10000,1000000] [--clients 4] [--seconds 45] [--workers 2]

For each size, on a throwaway database `bench_dashboard_d` on the same server (created,
migrated and dropped by the script): seed the demo organisation with that many activity
records, load the KPI catalogue and recompute every KPI; then start gunicorn on 127.0.0.1
(DEBUG off, static files collected into a temporary directory), log in once as claire.martin
through the login form to get a session cookie, and load three URLs with `--clients`
concurrent clients (threads, one HTTP connection per request) for `--seconds`
seconds after a short warm-up, each client requesting the three URLs in turn (interleaved,
so the load of the shared machine weighs on all three alike):

* /dashboard/ventes/            the dashboard page
* /dashboard/ventes/data.json   its JSON twin
* /                             the team list, a trivial authenticated view

It prints p50 / p95 per URL and size, the dashboard's query count, and the ratios.
Goals: dashboard p95 within 3× the trivial view's p95 (same size, same run), and the
dashboard's p50 at the largest size within 1.2× of its p50 at the smallest.
"""

from __future__ import annotations

import argparse
import http.client
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

BENCH_DB = "bench_dashboard_d"
USERNAME = "claire.martin"
URLS = {"dashboard": "/dashboard/ventes/", "data.json": "/dashboard/ventes/data.json", "trivial": "/"}
WARMUP_SECONDS = 2.0


def _admin_execute(url: str, *statements: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def load(port: int, paths: list[str], cookies: dict[str, str], clients: int, seconds: float) -> dict[str, list[float]]:
    """`clients` threads GET the `paths` in turn, back to back, for `seconds` (after a warm-up); latencies in ms
    per path. The paths are interleaved, so background noise on the shared machine hits them alike."""
    latencies: dict[str, list[float]] = {path: [] for path in paths}
    failures: list[tuple[str, int]] = []
    lock = threading.Lock()
    warm_until = time.perf_counter() + WARMUP_SECONDS
    stop_at = warm_until + seconds

    def client(offset: int) -> None:
        mine: dict[str, list[float]] = {path: [] for path in paths}
        turn = offset
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                break
            path = paths[turn % len(paths)]
            turn += 1
            status, _ = _request(port, "GET", path, cookies=dict(cookies))
            if status != 200:
                failures.append((path, status))
                continue
            if started >= warm_until:
                mine[path].append((time.perf_counter() - started) * 1000)
        with lock:
            for path, values in mine.items():
                latencies[path].extend(values)

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


def prepare(size: int) -> float:
    """Seed `size` activity records, load the catalogue and compute every KPI; seconds taken."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", "--records", str(size), stdout=quiet, stderr=quiet)
        call_command("load_kpi_catalogue", stdout=quiet)
        call_command("recompute_kpis", "--sync", stdout=quiet, stderr=quiet)
    call_command("clearsessions")
    prepared = time.perf_counter() - started
    # Fresh statistics and visibility maps now, rather than autovacuum working during the measurement.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return prepared


def dashboard_queries() -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=USERNAME))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URLS["dashboard"]).status_code == 200
    return len(queries.captured_queries)


def measure(size: int, args, env: dict[str, str]) -> dict:
    from accounts.demo import DEMO_PASSWORD

    prepared = prepare(size)
    queries = dashboard_queries()
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "kpiplatform.wsgi",
            f"--bind=127.0.0.1:{port}",
            f"--workers={args.workers}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        cookies = login(port, DEMO_PASSWORD)
        latencies = load(port, list(URLS.values()), cookies, args.clients, args.seconds)
        figures = {
            name: {
                "n": len(latencies[path]),
                "p50": percentile(latencies[path], 0.50),
                "p95": percentile(latencies[path], 0.95),
            }
            for name, path in URLS.items()
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"size": size, "prepared_s": prepared, "queries": queries, "urls": figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000", help="activity record counts, comma-separated")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=45.0, help="measured seconds per size (URLs interleaved)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print(f"Set DATABASE_URL to a PostgreSQL server (the bench uses its own database {BENCH_DB}).")
        return 2
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{BENCH_DB}"))
    _admin_execute(url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)", f"CREATE DATABASE {BENCH_DB}")
    var_dir = tempfile.mkdtemp(prefix="bench-dashboard-")
    # The same settings for the seeding process and gunicorn: DEBUG off (no query log), real static storage.
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="kpiplatform.settings",
        KPI_VAR_DIR=var_dir,
        CELERY_BROKER_URL="memory://",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + "x" * 60,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,testserver",
        LOG_LEVEL="WARNING",
    )
    env = dict(os.environ)
    results = []
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        for size in sizes:
            results.append(measure(size, args, env))
            print_result(results[-1])
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(var_dir, ignore_errors=True)
        if not args.keep:
            _admin_execute(url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")

    print()
    print(f"{args.clients} concurrent clients, {args.seconds:g} s per size, gunicorn with {args.workers} workers")
    print(f"{'records':>10} {'url':>10} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for r in results:
        for name, f in r["urls"].items():
            print(f"{r['size']:>10} {name:>10} {f['n']:>9} {f['p50']:>8.1f} {f['p95']:>8.1f}")
    for r in results:
        trivial = r["urls"]["trivial"]["p95"]
        for name in ("dashboard", "data.json"):
            ratio = r["urls"][name]["p95"] / trivial
            print(f"{r['size']} records: {name} p95 / trivial p95 = ×{ratio:.2f} (goal ≤ 3)")
    first, last = results[0], results[-1]
    if last is not first:
        for name in ("dashboard", "data.json"):
            growth = last["urls"][name]["p50"] / first["urls"][name]["p50"]
            print(f"{name} p50 at {last['size']} vs {first['size']} records: ×{growth:.2f} (goal ≤ 1.2)")
    return 0


def print_result(r: dict) -> None:
    figures = ", ".join(f"{name} p50 {f['p50']:.1f} / p95 {f['p95']:.1f} ms" for name, f in r["urls"].items())
    print(f"{r['size']} records (prepared in {r['prepared_s']:.0f} s, dashboard {r['queries']} queries): {figures}")


if __name__ == "__main__":
    sys.exit(main())
