"""Schemathesis over the whole OpenAPI schema, in process: no server error, and every answer as the schema says.

The app is called through WSGI (no server), authenticated with a read-write API key of a team that has data to
return (the KPI catalogue, activity records, an objective, an alert rule and its alert, a budget). Every operation
goes through the phases schemathesis runs by default (examples, coverage, fuzzing, stateful) with every check, a
bounded number of examples each. The counts go to the fault suite's report; a failure lists, one line each, the
operation, the check, the request and the status answered.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db.backends.signals import connection_created
from schemathesis.engine import events, from_schema
from schemathesis.specs.openapi import _auth_retry, auth_inference

from accounts.models import Team
from accounts.roles import Role
from accounts.services import api_key_create, membership_set, team_upsert, user_upsert
from metrics.activity.ingest import activity_ingest
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import KpiDefinition
from objectives.budgets.services import budget_create
from tests import factories
from tests.faults.report import record

# Committed data: schemathesis calls the app from its own worker thread, with its own connection.
pytestmark = pytest.mark.django_db(transaction=True)

# Examples per operation and phase: enough to reach the input checks of every operation, few enough for the whole
# schema (about 50 operations) to run in a few minutes on PostgreSQL.
MAX_EXAMPLES = int(os.environ.get("KPI_SCHEMATHESIS_EXAMPLES", "50"))
# A fixed seed: what is found once is found again; set another one to explore further.
SEED = int(os.environ.get("KPI_SCHEMATHESIS_SEED", "20250301"))
SCHEMA_URL = "/api/v1/schema/?format=json"
# Failures meaning the schema does not describe what the API answers.
CONFORMANCE_CHECKS = frozenset(
    {
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    }
)
# How strict the API is with input, counted but not failing the run: DRF coerces on purpose (0 for a string,
# "1" for an integer), a page_size it cannot read falls back to the default, and the rules of the business (a
# customer that exists, start on or before end, dates in a plausible window, no lone surrogate) are not in the
# schema, so a schema-valid request may well be refused.
LENIENCY_CHECKS = frozenset({"positive_data_acceptance", "negative_data_rejection"})
# WSGI has no socket: werkzeug's client refuses these settings.
SOCKET_SETTINGS = ("max_redirects", "verify", "cert", "proxies")


@dataclass(frozen=True)
class Finding:
    """One distinct failure: which operation, which check, what was sent and what came back."""

    operation: str
    check: str
    title: str
    request: str
    status: int | None

    def line(self) -> str:
        answered = "no response" if self.status is None else f"HTTP {self.status}"
        return f"{self.operation} | {self.check}: {self.title} | {self.request} -> {answered}"


@dataclass
class Run:
    """What a schemathesis run did: requests sent, 5xx received, operations reached, distinct failures."""

    requests: int = 0
    server_errors: int = 0
    tested: set[str] = field(default_factory=set)
    findings: dict[tuple, Finding] = field(default_factory=dict)
    engine_errors: list[str] = field(default_factory=list)

    def failing(self) -> list[Finding]:
        return self._sorted(f for f in self.findings.values() if f.check not in LENIENCY_CHECKS)

    def lenient(self) -> list[Finding]:
        return self._sorted(f for f in self.findings.values() if f.check in LENIENCY_CHECKS)

    @staticmethod
    def _sorted(findings: Iterable[Finding]) -> list[Finding]:
        return sorted(findings, key=lambda f: (f.operation, f.check, f.title))


def _request_line(case, interaction) -> str:
    """`METHOD /path?query body…`, the body cut short: enough to replay it by hand."""
    request = interaction.request if interaction is not None else None
    uri = request.uri.split("://", 1)[-1].partition("/")[2] if request is not None else case.formatted_path
    text = f"{request.method if request is not None else case.method} /{uri.lstrip('/')}"
    if request is not None and request.body:
        text += " " + request.body[:160].decode("utf-8", "backslashreplace")
    return text


def _where(error: BaseException) -> str:
    """The innermost frame of an engine error: where to look."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""


def _run(schema) -> Run:
    """Run every phase and check over every operation; keep one finding per operation, check, failure and status."""
    run = Run()
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            run.engine_errors.append(f"{event.label} ({event.phase}): {_where(event.value)} {event.value!r}"[:400])
        if not (isinstance(event, events.ScenarioFinished) and event.is_test_scenario):
            continue
        recorder = event.recorder
        run.requests += len(recorder.interactions)
        run.server_errors += sum(
            1 for item in recorder.interactions.values() if item.response and item.response.status_code >= 500
        )
        for case_id, checks in recorder.checks.items():
            case = recorder.cases[case_id].value
            run.tested.add(case.operation.label)
            for check in checks:
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                interaction = recorder.interactions.get(failure.case_id or case_id)
                status = interaction.response.status_code if interaction and interaction.response else None
                summary = failure.message.splitlines()[0][:160] if failure.message else ""
                run.findings.setdefault(
                    (case.operation.label, check.name, failure.title, status),
                    Finding(
                        operation=case.operation.label,
                        check=check.name,
                        title=f"{failure.title} ({summary})",
                        request=_request_line(case, interaction),
                        status=status,
                    ),
                )
    return run


@pytest.fixture
def in_process_probes(monkeypatch):
    """schemathesis 4.32.5 sends the `ignored_auth` probes to a WSGI app with the socket settings werkzeug's
    client refuses (TypeError on max_redirects): drop them, as its WSGI transport does for every other call."""
    original = _auth_retry.build_retry_transport_kwargs

    def without_socket_settings(*args, **kwargs):
        built = original(*args, **kwargs)
        for name in SOCKET_SETTINGS:
            built.pop(name, None)
        return built

    for module in (_auth_retry, auth_inference):
        monkeypatch.setattr(module, "build_retry_transport_kwargs", without_socket_settings)


@pytest.fixture
def worker_connections_closed():
    """schemathesis calls the app from its own threads, each opening a database connection of its own: close them
    after the run, or PostgreSQL refuses to drop the test database still in use."""
    opened = []

    def track(sender, connection, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            opened.append(connection)

    connection_created.connect(track, weak=False, dispatch_uid="schemathesis-worker-connections")
    yield
    connection_created.disconnect(dispatch_uid="schemathesis-worker-connections")
    for wrapper in opened:
        wrapper.inc_thread_sharing()  # its thread is over: closing it from here is safe
        wrapper.close()


@pytest.fixture
def seeded_api_key() -> str:
    """A read-write API key of a sales team with a sub-team, holding some of everything the API lists."""
    kpi_catalogue_load()
    team = team_upsert(slug="ventes", name="Ventes", kind="sales")
    team_upsert(slug="ventes-nord", name="Ventes Nord", kind="sales", parent_slug="ventes")
    team_upsert(slug="support", name="Support", kind="support")  # another team's: never visible to the key
    manager = user_upsert(username="manager", email="manager@example.test", password="x-unused-x", language="en")
    membership_set(user=manager, team=team, role=Role.MANAGER)
    records = {
        "customers": [
            {"external_id": "C-1", "acquired_at": "2025-01-05T10:00:00Z", "acquisition_channel": "email"},
            {"external_id": "C-2", "acquired_at": "2025-02-07T10:00:00Z", "acquisition_channel": "web"},
        ],
        "orders": [
            {"external_id": "O-1", "customer": "C-1", "ordered_at": "2025-01-06T12:00:00Z", "amount": "120.00"},
            {"external_id": "O-2", "customer": "C-2", "ordered_at": "2025-02-08T12:00:00Z", "amount": "80.50"},
        ],
        "campaigns": [{"external_id": "CMP-1", "name": "Janvier", "channel": "email", "budget": "500.00"}],
        "spend": [{"external_id": "SP-1", "date": "2025-01-10", "category": "acquisition", "amount": "200.00"}],
    }
    for kind, batch in records.items():
        activity_ingest(kind=kind, records=batch, default_team_id=team.pk, writable_team_ids=None)
    revenue = KpiDefinition.objects.get(code="revenue")
    factories.objective(team=team, owner=manager, kpi=revenue, today=dt.date(2025, 2, 1))
    factories.alert_with_rule(team=team, kpi=revenue)
    budget_create(
        team=team,
        name="Acquisition T1",
        category="acquisition",
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2025, 3, 31),
        amount=Decimal("1500.00"),
    )
    _api_key, key = api_key_create(team=Team.objects.get(slug="ventes"), name="schemathesis", scopes=["read", "write"])
    return key


def test_every_operation_answers_as_its_schema_says_and_never_with_a_server_error(
    seeded_api_key, in_process_probes, worker_connections_closed
):
    # given the API in process, called with a read-write key of a team holding data, throttling counters at zero
    cache.clear()
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Api-Key {seeded_api_key}", "Accept-Language": "en"},
            "workers": 1,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        }
    )
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler(), config=config)
    operations = {f"{method.upper()} {path}" for path, items in schema.raw_schema["paths"].items() for method in items}

    # when schemathesis runs every phase and every check over every operation
    run = _run(schema)

    # then it is counted, and there is nothing to report but the API's leniency
    failing = run.failing()
    violations = [finding for finding in failing if finding.check in CONFORMANCE_CHECKS]
    record(
        "schemathesis",
        operations=len(operations),
        operations_tested=len(run.tested & operations),
        requests=run.requests,
        server_errors=run.server_errors,
        schema_violations=len(violations),
        other_failures=len(failing) - len(violations),
        lenient_answers=len(run.lenient()),
    )
    for finding in run.lenient():
        print("lenient:", finding.line())
    problems = [f"{len(failing)} failures (operation | check: what | request -> response):"] if failing else []
    problems += [finding.line() for finding in failing]
    problems += [f"engine error: {error}" for error in run.engine_errors]
    problems += [f"not tested: {label}" for label in sorted(operations - run.tested)]
    assert not problems, "\n".join(problems)
    assert run.server_errors == 0
