"""Freshness: how soon ingested data shows in stored KPI values, alerts and webhooks (issue 17, item 1).

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/freshness.py \
            [--seconds 60] [--rate 5] [--batch 200] [--teams 4] [--history 20000] [--keep]

Runs the real stack on a throwaway database `bench_freshness` on the same server (created,
migrated and dropped by the script) and a Redis server of its own on a free port (never the
shared one): gunicorn (kpiplatform.wsgi on a free loopback port), one Celery worker without -Q
(it consumes every queue; with `--topology per-queue`, the README's production workers: one for
`recompute`, one for `imports`, one for `alerts,deliveries,celery`) and beat, all started as
subprocesses with REDIS_URL set, plus a
webhook receiver (http.server in a thread on 127.0.0.1; the app runs with
WEBHOOKS_ALLOW_PRIVATE=true). Setup: migrate, load_kpi_catalogue, create_team and
create_api_key per team, `--history` past orders spread over the teams (two years, ending 100
days ago) and one full recompute of them, a webhook per team (alert.firing), and per team a
ladder of alert rules through the API: daily `revenue` above k × STEP for k = 1, 2, … (one per
marker batch the run will send).

Then, twice — quiet, and while `manage.py recompute_kpis --sync` (a full recompute of everything)
runs again and again in a subprocess — a steady stream of `--rate` batches/s of `--batch` orders
for `--seconds`, round robin over the teams, through `POST /api/v1/activity/orders/` with each
team's API key. Ordinary batches are dated now; every `--marker-every`-th batch of a team is a
marker: all its orders two days ago (the oldest day alert evaluation still judges after a
recompute, objectives.alerts.evaluation.LOOKBACK_PERIODS; no ordinary order is on that day), one
of them of STEP + 1, so that the k-th marker of a team breaches its k-th rule and no other.
Per batch, from the moment its POST answered 200 (the data is committed):

- ingest → value: until `GET /api/v1/kpis/revenue/values/?granularity=day` shows it (ordinary
  batches: the team's revenue over yesterday..tomorrow reaches the sum of every batch sent so
  far; markers: their day's revenue reaches the sum of the team's markers so far), polled every
  `--poll` s per team;
- value → alert: until the marker's rule has an open alert (`GET /api/v1/alerts/?state=open`,
  timed by the alert's `opened_at`: server and bench share the clock);
- alert → webhook: until that rule's `alert.firing` POST reached the receiver.

Goals (printed next to the figures): p95 ingest → value ≤ 5 s (stretch 2 s); alert open ≤ 2 s
after its value; webhook ≤ 2 s after the alert; a full recompute in progress delays none of
them by more than 2 s (p95 during minus p95 quiet).
"""

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import database_url, drop_database, free_port, recreate_database  # noqa: E402

# --topology per-queue: the workers of the README's production topology (name → queues).
TOPOLOGY = {"recompute": "recompute", "imports": "imports", "fast": "alerts,deliveries,celery"}
BENCH_DB = "bench_freshness"
VENV = ROOT / ".venv" / "bin"
KPI = "revenue"
STEP = Decimal("1000000000")  # rule k fires above k × STEP: far above any ordinary daily revenue here
MARKER_DAYS_BACK = 2  # markers two days ago: judged after a recompute, outside the "today" window
HISTORY_END_DAYS_BACK = 100  # history ends before the marker day
GOAL_VALUE, STRETCH_VALUE, GOAL_STEP, GOAL_RECOMPUTE_DELAY = 5.0, 2.0, 2.0, 2.0


# --------------------------------------------------------------------------- database, ports, processes


class Processes:
    """The subprocesses this bench started (and only those), stopped in reverse order."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.started.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_all(self) -> None:
        for _name, process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for _name, process in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


# --------------------------------------------------------------------------- HTTP


class Api:
    """A keep-alive HTTP/1.1 client for one thread, with one team's API key."""

    def __init__(self, port: int, key: str):
        self.port, self.key = port, key
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Api-Key {self.key}", "Host": "127.0.0.1"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, data=None):
        status, body = self.request(method, path, None if data is None else json.dumps(data).encode())
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {body[:300]!r}")
        return json.loads(body)


class Receiver:
    """Webhook receiver: records when each alert.firing arrived, by (team, period_start)."""

    def __init__(self):
        self.arrivals: dict[int, float] = {}  # by alert rule id
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    payload = json.loads(body)
                    if payload["event"] == "alert.firing":
                        with receiver.lock:
                            receiver.arrivals.setdefault(int(payload["data"]["rule"]), arrived)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def arrival(self, rule: int) -> float | None:
        with self.lock:
            return self.arrivals.get(rule)


# --------------------------------------------------------------------------- probes


@dataclass
class Probe:
    """One batch: when its POST answered, and when its value, alert and webhook were seen."""

    team: str
    marker_day: dt.date | None  # None: an ordinary batch (dated now)
    expected: Decimal  # markers: the marker day's revenue so far; ordinary: the team's running total
    rule: int | None = None  # markers: the rule this marker breaches
    sent_at: float = 0.0
    value_at: float | None = None
    alert_at: float | None = None
    webhook_at: float | None = None


@dataclass
class Phase:
    name: str
    probes: list[Probe] = field(default_factory=list)
    full_runs: list[float] = field(default_factory=list)
    send_seconds: float = 0.0
    settled: str = ""
    errors: list[str] = field(default_factory=list)


class Team:
    """One team's key, running revenue total, next marker day and pending probes (shared by its threads)."""

    def __init__(self, slug: str, key: str, today: dt.date):
        self.slug, self.key, self.today = slug, key, today
        self.total = Decimal(0)
        self.marker_day = today - dt.timedelta(days=MARKER_DAYS_BACK)
        self.marker_total = Decimal(0)
        self.rules: list[int] = []  # rule ids, k-th fires above k × STEP
        self.markers_sent = 0
        self.pending: list[Probe] = []
        self.lock = threading.Lock()


def order(external_id: str, when: dt.datetime, amount: Decimal) -> dict:
    return {
        "external_id": external_id,
        "ordered_at": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "amount": str(amount),
        "status": "completed",
        "channel": "web",
    }


def sender(team: Team, port: int, phase: Phase, args, tz: ZoneInfo, stop_at: float, offset: float, seed: int):
    """Send this team's batches on a fixed schedule (rate / teams per second) until `stop_at`."""
    api, rng = Api(port, team.key), random.Random(seed)
    interval = args.teams / args.rate
    next_at, n = time.monotonic() + offset, 0
    while next_at < stop_at:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        n += 1
        amounts = [Decimal(rng.randrange(500, 10_000)) / 100 for _ in range(args.batch)]
        prefix = f"{phase.name[0]}-{team.slug}-{n:05d}"
        marker = n % args.marker_every == 0 and team.markers_sent < len(team.rules)
        if marker:
            day = team.marker_day
            amounts[0] = STEP + 1
            when = dt.datetime.combine(day, dt.time(12), tzinfo=tz)
            records = [order(f"{prefix}-{i}", when, a) for i, a in enumerate(amounts)]
        else:
            day, now = None, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            records = [order(f"{prefix}-{i}", now, a) for i, a in enumerate(amounts)]
        body = json.dumps(records).encode()
        try:
            status, answer = api.request("POST", "/api/v1/activity/orders/", body)
        except OSError as error:
            phase.errors.append(f"{team.slug} batch {n}: {error}")
            status, answer = 0, b""
        sent_at = time.time()
        if status != 200:
            phase.errors.append(f"{team.slug} batch {n}: {status} {answer[:200]!r}")
        else:
            with team.lock:
                if marker:
                    team.marker_total += sum(amounts, Decimal(0))
                    rule = team.rules[team.markers_sent]
                    team.markers_sent += 1
                    probe = Probe(team.slug, day, team.marker_total, rule=rule, sent_at=sent_at)
                else:
                    team.total += sum(amounts, Decimal(0))
                    probe = Probe(team.slug, None, team.total, sent_at=sent_at)
                team.pending.append(probe)
                phase.probes.append(probe)
        next_at += interval


def poller(team: Team, port: int, receiver: Receiver, poll: float, stop: threading.Event):
    """Resolve this team's probes: stored values, open alerts and webhook arrivals, every `poll` s."""
    api = Api(port, team.key)
    cents = Decimal("0.005")
    while not stop.is_set():
        started = time.monotonic()
        with team.lock:
            pending = list(team.pending)
        if pending:
            first = team.marker_day
            query = urlencode(
                {
                    "team": team.slug,
                    "granularity": "day",
                    "start": first.isoformat(),
                    "end": (team.today + dt.timedelta(days=1)).isoformat(),
                }
            )
            try:
                values = api.json("GET", f"/api/v1/kpis/{KPI}/values/?{query}")["results"]
                seen = time.time()
                by_day = {r["period_start"]: Decimal(str(r["value"])) for r in values if r["value"] is not None}
                recent = sum(
                    (v for d, v in by_day.items() if d >= (team.today - dt.timedelta(days=1)).isoformat()), Decimal(0)
                )
                alerts = {}
                if any(p.marker_day and p.value_at and not p.alert_at for p in pending):
                    query = urlencode({"team": team.slug, "state": "open"})
                    for alert in api.json("GET", f"/api/v1/alerts/?{query}")["results"]:
                        if alert["period_start"] == team.marker_day.isoformat():
                            alerts[alert["rule"]] = dt.datetime.fromisoformat(alert["opened_at"]).timestamp()
            except (RuntimeError, OSError, http.client.HTTPException, ValueError):
                stop.wait(poll)
                continue
            done = []
            for probe in pending:
                if probe.value_at is None:
                    got = by_day.get(probe.marker_day.isoformat()) if probe.marker_day else recent
                    if got is not None and got >= probe.expected - cents:
                        probe.value_at = seen
                if probe.marker_day is None:
                    if probe.value_at is not None:
                        done.append(probe)
                    continue
                if probe.alert_at is None and probe.rule in alerts:
                    probe.alert_at = alerts[probe.rule]
                if probe.webhook_at is None:
                    probe.webhook_at = receiver.arrival(probe.rule)
                if probe.value_at and probe.alert_at and probe.webhook_at:
                    done.append(probe)
            with team.lock:
                done_ids = {id(p) for p in done}
                team.pending = [p for p in team.pending if id(p) not in done_ids]
        stop.wait(max(0.0, poll - (time.monotonic() - started)))


def full_recompute_loop(env: dict, processes: Processes, phase: Phase, stop: threading.Event, running: threading.Event):
    """Run `manage.py recompute_kpis --sync` back to back until told to stop (the current run is let finish)."""
    while not stop.is_set():
        started = time.monotonic()
        process = processes.start("recompute", [str(VENV / "python"), "manage.py", "recompute_kpis", "--sync"], env)
        running.set()
        process.wait()
        phase.full_runs.append(time.monotonic() - started)
        if process.returncode != 0:
            phase.errors.append(f"recompute_kpis --sync exited {process.returncode}")
            return


def run_phase(name: str, teams: list[Team], port: int, receiver: Receiver, args, tz, env, processes) -> Phase:
    phase = Phase(name)
    background = name != "quiet"
    stop_recompute, recompute_running = threading.Event(), threading.Event()
    recompute = None
    if background:
        recompute = threading.Thread(
            target=full_recompute_loop, args=(env, processes, phase, stop_recompute, recompute_running)
        )
        recompute.start()
        recompute_running.wait(30)
        time.sleep(args.recompute_lead)  # let the full recompute get going (it claims the dirty marks)
    stop_polling = threading.Event()
    pollers = [threading.Thread(target=poller, args=(t, port, receiver, args.poll, stop_polling)) for t in teams]
    for thread in pollers:
        thread.start()
    started = time.monotonic()
    stop_at = started + args.seconds
    senders = [
        threading.Thread(
            target=sender, args=(t, port, phase, args, tz, stop_at, i / args.rate, hash((name, t.slug)) & 0xFFFF)
        )
        for i, t in enumerate(teams)
    ]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    phase.send_seconds = time.monotonic() - started
    drain_until = time.monotonic() + args.drain
    while time.monotonic() < drain_until and any(t.pending for t in teams):
        time.sleep(0.2)
    stop_polling.set()
    for thread in pollers:
        thread.join()
    for team in teams:
        team.pending.clear()
    if recompute is not None:
        stop_recompute.set()
        recompute.join()
    phase.settled = settle_check(teams, port, args.settle)
    return phase


def settle_check(teams: list[Team], port: int, timeout: float) -> str:
    """Once the stream (and any full recompute) is over: do the stored values end equal to what was sent?

    A value seen once can still be overwritten later by a recompute that read older data; this
    catches values left stale at the end of the phase."""
    started = time.monotonic()
    wrong: list[str] = []
    while True:
        wrong = []
        for team in teams:
            query = urlencode(
                {
                    "team": team.slug,
                    "granularity": "day",
                    "start": team.marker_day.isoformat(),
                    "end": (team.today + dt.timedelta(days=1)).isoformat(),
                }
            )
            results = Api(port, team.key).json("GET", f"/api/v1/kpis/{KPI}/values/?{query}")["results"]
            by_day = {r["period_start"]: Decimal(str(r["value"] or 0)) for r in results}
            recent = sum(
                (v for d, v in by_day.items() if d >= (team.today - dt.timedelta(days=1)).isoformat()), Decimal(0)
            )
            marker = by_day.get(team.marker_day.isoformat(), Decimal(0))
            if abs(recent - team.total) > Decimal("0.01"):
                wrong.append(f"{team.slug} today {recent} ≠ {team.total} sent")
            if abs(marker - team.marker_total) > Decimal("0.01"):
                wrong.append(f"{team.slug} {team.marker_day} {marker} ≠ {team.marker_total} sent")
        if not wrong:
            return f"stored values equal what was sent, {time.monotonic() - started:.1f} s after the phase"
        if time.monotonic() - started > timeout:
            return f"after {timeout:g} s still STALE: " + "; ".join(wrong)
        time.sleep(1)


# --------------------------------------------------------------------------- figures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def stats(values: list[float]) -> tuple[int, float, float, float] | None:
    return (len(values), percentile(values, 50), percentile(values, 95), max(values)) if values else None


def phase_figures(phase: Phase) -> dict[str, tuple[list[float], int]]:
    """Per measure, the delays seen and how many probes never showed it."""
    ordinary = [p for p in phase.probes if p.marker_day is None]
    markers = [p for p in phase.probes if p.marker_day is not None]

    def series(probes, start, end):
        got = [end(p) - start(p) for p in probes if start(p) is not None and end(p) is not None]
        missing = sum(1 for p in probes if start(p) is not None and end(p) is None)
        return got, missing

    return {
        "ingest → value (ordinary)": series(ordinary, lambda p: p.sent_at, lambda p: p.value_at),
        "ingest → value (markers)": series(markers, lambda p: p.sent_at, lambda p: p.value_at),
        "value → alert open": series(markers, lambda p: p.value_at, lambda p: p.alert_at),
        "alert open → webhook": series(markers, lambda p: p.alert_at, lambda p: p.webhook_at),
        "ingest → alert open": series(markers, lambda p: p.sent_at, lambda p: p.alert_at),
        "ingest → webhook": series(markers, lambda p: p.sent_at, lambda p: p.webhook_at),
    }


GOALS = {
    "ingest → value (ordinary)": f"p95 ≤ {GOAL_VALUE:g} s (stretch {STRETCH_VALUE:g} s)",
    "ingest → value (markers)": f"p95 ≤ {GOAL_VALUE:g} s (stretch {STRETCH_VALUE:g} s)",
    "value → alert open": f"≤ {GOAL_STEP:g} s",
    "alert open → webhook": f"≤ {GOAL_STEP:g} s",
    "ingest → alert open": "",
    "ingest → webhook": "",
}


def print_phase(phase: Phase, args) -> dict:
    batches = len(phase.probes)
    markers = sum(1 for p in phase.probes if p.marker_day)
    print(
        f"\n== {phase.name}: {batches} batches of {args.batch} orders ({markers} markers) in "
        f"{phase.send_seconds:.1f} s = {batches / phase.send_seconds:.2f} batches/s (asked {args.rate:g}), "
        f"{args.teams} teams"
    )
    if phase.full_runs:
        runs = ", ".join(f"{s:.1f}" for s in phase.full_runs)
        print(f"   full recomputes (recompute_kpis --sync) back to back: {len(phase.full_runs)} runs, s: {runs}")
    print(f"   end of phase: {phase.settled}")
    for error in phase.errors[:5]:
        print(f"   error: {error}")
    if len(phase.errors) > 5:
        print(f"   … {len(phase.errors) - 5} more errors")
    print(f"   {'delay (s)':28} {'n':>5} {'p50':>7} {'p95':>7} {'max':>7} {'missed':>6}  goal")
    figures = phase_figures(phase)
    for label, (values, missing) in figures.items():
        s = stats(values)
        if s is None:
            print(f"   {label:28} {0:5} {'-':>7} {'-':>7} {'-':>7} {missing:6}  {GOALS[label]}")
            continue
        n, p50, p95, top = s
        print(f"   {label:28} {n:5} {p50:7.2f} {p95:7.2f} {top:7.2f} {missing:6}  {GOALS[label]}")
    return figures


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase's stream")
    parser.add_argument("--rate", type=float, default=5, help="batches per second, over all teams")
    parser.add_argument("--batch", type=int, default=200, help="orders per batch")
    parser.add_argument("--teams", type=int, default=4)
    parser.add_argument("--marker-every", type=int, default=10, help="every Nth batch of a team is a marker")
    parser.add_argument("--history", type=int, default=20_000, help="past orders the full recompute goes over")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between a team's probe polls")
    parser.add_argument("--drain", type=float, default=30, help="seconds to wait for the last probes")
    parser.add_argument("--settle", type=float, default=20, help="seconds for values to end equal to the data")
    parser.add_argument("--recompute-lead", type=float, default=2, help="seconds the full recompute runs alone")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (per worker)")
    parser.add_argument(
        "--topology",
        choices=("single", "per-queue"),
        default="single",
        help="one worker on every queue (what `make run` starts), or the README's production workers: "
        "recompute, imports, and one for alerts, deliveries and the rest",
    )
    parser.add_argument("--skip-background", action="store_true", help="only the quiet phase")
    parser.add_argument("--keep", action="store_true", help="keep the bench_freshness database")
    args = parser.parse_args()
    args.marker_every = max(1, args.marker_every)

    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server (the bench uses its own database bench_freshness).")
        return 2
    if not Path("/usr/bin/redis-server").exists():
        print("/usr/bin/redis-server is needed (the bench runs a Redis server of its own).")
        return 2
    url = database_url(server_url, BENCH_DB)
    redis_port, web_port = free_port(), free_port()
    logs = Path(tempfile.mkdtemp(prefix="bench-freshness-"))
    processes = Processes(logs)
    receiver = Receiver()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DJANGO_SETTINGS_MODULE": "kpiplatform.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "API_THROTTLE_USER": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CELERY_BROKER_URL", None)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    recreate_database(url)
    try:
        processes.start(
            "redis",
            [
                "/usr/bin/redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            env,
        )
        wait_until("Redis", lambda: socket.create_connection(("127.0.0.1", redis_port), timeout=1).close() is None, 20)
        os.environ.clear()
        os.environ.update(env)
        return run(args, env, processes, receiver, web_port, logs)
    finally:
        receiver.server.shutdown()
        processes.stop_all()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if not args.keep:
            drop_database(url)
        print(f"(logs of the web server, worker, beat and Redis: {logs})")


def setup(args) -> tuple[list[tuple[str, str]], float, dt.date]:
    """Migrate, load the catalogue, create teams, keys, history and webhooks; return (slug, key) pairs."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from accounts.models import Team as TeamModel
    from metrics.activity.ingest import activity_ingest
    from metrics.engine.periods import today_local
    from metrics.recompute.services import kpi_values_recompute_all
    from objectives.notifications.endpoints import webhook_endpoint_create

    call_command("migrate", verbosity=0)
    call_command("load_kpi_catalogue", stdout=StringIO())
    today = today_local()
    pairs = []
    for n in range(1, args.teams + 1):
        slug = f"fresh-{n}"
        call_command("create_team", slug=slug, name=f"Freshness {n}", kind="sales", stdout=StringIO())
        out = StringIO()
        call_command("create_api_key", team=slug, name="bench", scopes="read,write", stdout=out)
        pairs.append((slug, out.getvalue().strip().splitlines()[-1]))
    rng = random.Random(17)
    end = dt.datetime.combine(today - dt.timedelta(days=HISTORY_END_DAYS_BACK), dt.time(), tzinfo=dt.UTC)
    per_team = args.history // max(1, args.teams)
    for slug, _key in pairs:
        team = TeamModel.objects.get(slug=slug)
        for first in range(0, per_team, 10_000):
            records = [
                order(
                    f"H-{n:07d}",
                    end - dt.timedelta(seconds=rng.randrange(730 * 86400)),
                    Decimal(rng.randrange(500, 10_000)) / 100,
                )
                for n in range(first, min(per_team, first + 10_000))
            ]
            activity_ingest(kind="orders", records=records, default_team_id=team.pk, writable_team_ids={team.pk})
        webhook_endpoint_create(
            team=team,
            data={"name": "bench", "url": f"http://127.0.0.1:{args.receiver_port}/hook", "events": ["alert.firing"]},
        )
    started = time.monotonic()
    kpi_values_recompute_all()
    full_seconds = time.monotonic() - started
    connections.close_all()
    return pairs, full_seconds, today


def run(args, env, processes: Processes, receiver: Receiver, web_port: int, logs: Path) -> int:
    args.receiver_port = receiver.port
    receiver.thread.start()
    print(f"setup: {BENCH_DB}, Redis on :{env['REDIS_URL'].rsplit(':', 1)[1]}, {args.history} history orders …")
    pairs, full_seconds, today = setup(args)
    print(f"setup: first full recompute (in-process) over the history: {full_seconds:.1f} s")

    processes.start(
        "gunicorn",
        [
            str(VENV / "gunicorn"),
            "kpiplatform.wsgi",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            str(args.web_workers),
            "--timeout",
            "120",
        ],
        env,
    )
    # The README's production topology: the slow queues have their own workers, so a recompute round
    # never holds back an alert evaluation or a webhook.
    queues = {"worker": None} if args.topology == "single" else dict(TOPOLOGY)
    workers = {}
    for name, queue in queues.items():
        command = [str(VENV / "celery"), "-A", "kpiplatform", "worker", "--loglevel=INFO"]
        command += [f"--concurrency={args.concurrency}", "-n", f"bench-{name}-{os.getpid()}@%h"]
        if queue:
            command += ["-Q", queue]
        workers[name] = processes.start(name, command, env)
    processes.start(
        "beat",
        [
            str(VENV / "celery"),
            "-A",
            "kpiplatform",
            "beat",
            "--loglevel=INFO",
            f"--schedule={logs / 'beat-schedule'}",
            f"--pidfile={logs / 'beat.pid'}",
        ],
        env,
    )

    def web_up() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=2)
        conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
        return conn.getresponse().status == 200

    wait_until("gunicorn", web_up, 60)
    for name, worker in workers.items():
        wait_until(
            f"the Celery {name}",
            lambda name=name, worker=worker: worker.poll() is None and " ready." in processes.log_tail(name, 200),
            60,
        )

    tz = ZoneInfo(env.get("TIME_ZONE", "Europe/Paris"))
    teams = [Team(slug, key, today) for slug, key in pairs]
    phases = 1 if args.skip_background else 2
    ladder = math.ceil(phases * args.seconds * args.rate / args.teams / args.marker_every) + 2
    for team in teams:
        api = Api(web_port, team.key)
        for k in range(1, ladder + 1):
            rule = api.json(
                "POST",
                "/api/v1/alert-rules/",
                {
                    "team": team.slug,
                    "name": f"Freshness marker {k}",
                    "kpi": KPI,
                    "granularity": "day",
                    "condition": "above",
                    "threshold": str(k * STEP),
                    "notify_email": False,
                    "notify_in_app": False,
                    "notify_webhook": True,
                },
            )
            team.rules.append(rule["id"])
    print(
        f"stack: gunicorn ({args.web_workers} workers) on :{web_port}, celery "
        f"{'worker (all queues' if args.topology == 'single' else 'workers (' + ', '.join(TOPOLOGY.values())}; "
        f"concurrency {args.concurrency} each) + beat, webhook receiver on :{receiver.port}\n"
        f"rules: {ladder} per team, daily {KPI} above k × {STEP}"
    )
    print(f"load: {os.getloadavg()[0]:.2f} (1 min average) on {os.cpu_count()} CPUs before the first phase")

    quiet = run_phase("quiet", teams, web_port, receiver, args, tz, env, processes)
    results = {"quiet": print_phase(quiet, args)}
    if not args.skip_background:
        busy = run_phase("during full recompute", teams, web_port, receiver, args, tz, env, processes)
        results["busy"] = print_phase(busy, args)
        print(
            f"\n== delay added by a full recompute in progress (p95 during − p95 quiet; "
            f"goal ≤ {GOAL_RECOMPUTE_DELAY:g} s)"
        )
        for label in results["quiet"]:
            a, b = stats(results["quiet"][label][0]), stats(results["busy"][label][0])
            if a and b:
                delta = b[2] - a[2]
                verdict = "ok" if delta <= GOAL_RECOMPUTE_DELAY else "MISSED"
                print(f"   {label:28} {a[2]:7.2f} → {b[2]:7.2f}  {delta:+7.2f} s  {verdict}")
    worker_log = "".join(processes.log_tail(name, 10**6) for name in workers)
    print(
        f"\nworker: {worker_log.count(' received')} tasks received, "
        f"{worker_log.count('MaxRetriesExceededError(')} recompute_dirty_task runs gave up on the busy lock "
        "(MaxRetriesExceededError)"
    )
    print(
        f"\npolled every {args.poll:g} s per team: value delays are late by up to that much; alert times are "
        "the alerts' opened_at, webhook times their arrival"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
