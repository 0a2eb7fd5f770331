"""The organisation the isolation matrix runs against (tests/faults/test_isolation_matrix.py).

    Organisation (root, nobody's)
    ├── div-a  "Division Alpha"       the director manages it
    │   ├── team-a  "Equipe Alpha"    viewer, member, manager, a read key and a read,write key
    │   └── team-a-sibling            A's sibling: its objects are secret to A, not to the director
    └── team-b  "Bravo …"             another division
        └── team-b-sub                B's sub-team: the director of A must not see it either

Every team holds one object of each kind the URLs name (objective and its target, alert rule, alert, notification,
webhook and a delivery, import job, budget, dashboard card and chart, API key, one activity record of each kind,
stored KPI values). The names, titles and external ids of B's subtree carry `B_MARKER`, the sibling's `SIBLING_MARKER`,
and B's stored KPI values `B_VALUE`: a response that shows any of them to an actor of A has leaked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.management import call_command
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import Role
from accounts.services import api_key_create, membership_set, team_upsert, user_upsert
from metrics.activity.ingest import activity_ingest
from metrics.models import ImportJob, ImportStatus, KpiDefinition
from objectives.models import Budget, DashboardCard, DashboardPanel, Notification, WebhookDelivery, WebhookEndpoint
from tests import factories

B_MARKER = "QX7ZETA"  # in every name of B's subtree: never appears anywhere else
SIBLING_MARKER = "QX7SIBL"  # in every name of A's sibling team
B_VALUE = Decimal("731731.73")  # every KPI value stored for B's subtree
B_VALUE_SPELLINGS = ("731731", "731 731", "731\u00a0731", "731\u202f731", "731,731", "731.731")
KPI_CODE = "revenue"
RECORD_KIND = "orders"
PASSWORD = "correct-horse-battery"
TODAY = dt.date(2026, 3, 15)


@dataclass
class TeamObjects:
    """One team and the URL value of each of its objects, by kind ("objective" → "12", "team" → "team-b")."""

    team: Team
    label: str
    values: dict[str, str] = field(default_factory=dict)
    # Values a request body refers to by name (usernames, activity external ids), by kind.
    references: dict[str, str] = field(default_factory=dict)


@dataclass
class Actor:
    """Who sends the requests: a user of A (logged in) or an API key of A."""

    name: str
    user: User | None = None
    key: str | None = None
    sees_sibling: bool = False  # the director manages A's parent, so A's sibling is theirs too


@dataclass
class World:
    a: TeamObjects
    b: TeamObjects
    b_sub: TeamObjects
    sibling: TeamObjects
    actors: list[Actor]
    protected_team_ids: set[int]  # B, B's sub-team and A's sibling: no request may change their rows
    protected_user_ids: set[int]


def _user(username: str, team: Team, role: str) -> User:
    user = user_upsert(username=username, email=f"{username}@example.test", password=PASSWORD)
    membership_set(user=user, team=team, role=role)
    return user


def _activity(team: Team, prefix: str) -> dict[str, str]:
    """One record of every kind, external ids starting with `prefix` (the team's marker, for B)."""
    customer, campaign = f"{prefix}-C1", f"{prefix}-CA1"
    at = "2026-02-10T10:00:00Z"
    batches = {
        "customers": [{"external_id": customer, "name": f"{prefix} client", "acquired_at": at}],
        "campaigns": [{"external_id": campaign, "name": f"{prefix} campaign", "channel": "email", "started_at": at}],
        "leads": [{"external_id": f"{prefix}-L1", "created_at": at, "customer": customer}],
        "deals": [{"external_id": f"{prefix}-D1", "amount": "120.00", "created_at": at, "customer": customer}],
        "orders": [
            {"external_id": f"{prefix}-O1", "amount": "80.00", "ordered_at": at, "customer": customer},
        ],
        "subscriptions": [
            {"external_id": f"{prefix}-S1", "recurring_amount": "9.00", "started_at": at, "customer": customer}
        ],
        "tickets": [{"external_id": f"{prefix}-T1", "created_at": at, "customer": customer}],
        "survey-responses": [
            {"external_id": f"{prefix}-R1", "responded_at": at, "score": 9, "survey": "nps", "customer": customer}
        ],
        "meetings": [{"external_id": f"{prefix}-M1", "scheduled_at": at, "customer": customer}],
        "campaign-stats": [{"external_id": f"{prefix}-CS1", "campaign": campaign, "date": "2026-02-10", "sent": 5}],
        "spend": [
            {
                "external_id": f"{prefix}-SP1",
                "date": "2026-02-10",
                "category": "acquisition",
                "amount": "40.00",
                "campaign": campaign,
            }
        ],
        "web-traffic": [{"external_id": f"{prefix}-W1", "date": "2026-02-10", "visits": 12}],
        "interactions": [
            {"external_id": f"{prefix}-I1", "customer": customer, "kind": "email_open", "occurred_at": at}
        ],
    }
    for kind, records in batches.items():
        activity_ingest(kind=kind, records=records, default_team_id=team.pk, writable_team_ids=None)
    return {"customer": customer, "campaign": campaign, "lead": f"{prefix}-L1"}


def _populate(team: Team, *, label: str, owner: User, kpi: KpiDefinition, value: Decimal) -> TeamObjects:
    """Every kind of object for `team`, each named after `label`."""
    objective = factories.objective(
        team=team,
        owner=owner,
        kpi=kpi,
        title=f"{label} objective",
        description=f"{label} description",
        start_date=dt.date(2026, 1, 1),
        due_date=dt.date(2026, 12, 31),
        target_value=Decimal("90000"),
        today=TODAY,
    )
    target = objective.targets.get()
    alert = factories.alert_with_rule(team=team, kpi=kpi, name=f"{label} rule", period_start=dt.date(2026, 2, 1))
    notification = Notification.objects.create(
        user=owner,
        team=team,
        alert=alert,
        event="alert.firing",
        title=f"{label} notification",
        body=f"{label} body",
        url=f"/alerts/{alert.pk}/",
    )
    # .invalid never resolves: a request that wrongly reached the webhook's test would fail fast, not call out
    webhook = WebhookEndpoint.objects.create(
        team=team,
        name=f"{label} hook",
        url=f"https://hooks.example.invalid/{label.lower().replace(' ', '-')}",
    )
    WebhookDelivery.objects.create(endpoint=webhook, event="alert.firing", payload={"title": f"{label} payload"})
    job = ImportJob.objects.create(
        team=team,
        kind=RECORD_KIND,
        created_by=owner,
        filename=f"{label} orders.csv",
        content=f"external_id,amount\n{label}-X1,10\n".encode(),
        headers=["external_id", "amount"],
        mapping=["external_id", "amount"],
        status=ImportStatus.SUCCEEDED,
        progress=100,
        total_rows=1,
        report={"rows": 1, "created": 0, "updated": 0, "unchanged": 0, "skipped": 1, "written": True, "errors": []},
        started_at=timezone.now(),
        finished_at=timezone.now(),
        error_file=f"external_id,error\n{label}-X1,bad\n".encode(),
    )
    budget = Budget.objects.create(
        team=team,
        name=f"{label} budget",
        category="acquisition",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        amount=Decimal("5000"),
    )
    card = DashboardCard.objects.create(team=team, kpi=kpi, position=1)
    panel = DashboardPanel.objects.create(team=team, key="revenue", position=1)
    api_key, _plain = api_key_create(team=team, name=f"{label} key", scopes=("read", "write"))
    prefix = label.replace(" ", "-")
    references = _activity(team, prefix)
    for month in (1, 2, 3):
        factories.kpi_value(kpi=kpi, team=team, period_start=dt.date(2026, month, 1), value=value)
        factories.kpi_value(kpi=kpi, team=team, granularity="day", period_start=dt.date(2026, month, 2), value=value)
    return TeamObjects(
        team=team,
        label=label,
        values={
            "team": team.slug,
            "objective": str(objective.pk),
            "target": str(target.pk),
            "alert_rule": str(alert.rule_id),
            "alert": str(alert.pk),
            "notification": str(notification.pk),
            "webhook": str(webhook.pk),
            "import_job": str(job.pk),
            "budget": str(budget.pk),
            "dashboard_card": str(card.pk),
            "dashboard_panel": str(panel.pk),
            "api_key": str(api_key.pk),
            "kpi": kpi.code,
            "record_kind": RECORD_KIND,
            "user": str(owner.pk),
        },
        references={**references, "username": owner.username},
    )


def world_build() -> World:
    """The organisation above, its objects, and A's actors."""
    call_command("load_kpi_catalogue", verbosity=0)
    kpi = KpiDefinition.objects.get(code=KPI_CODE)
    root = team_upsert(slug="organisation", name="Organisation", kind="other")
    division = team_upsert(slug="div-a", name="Division Alpha", kind="sales", parent_slug=root.slug)
    team_a = team_upsert(slug="team-a", name="Equipe Alpha", kind="sales", parent_slug=division.slug)
    sibling = team_upsert(slug="team-a-sibling", name=f"Sibling {SIBLING_MARKER}", kind="sales", parent_slug="div-a")
    team_b = team_upsert(slug="team-b", name=f"Bravo {B_MARKER}", kind="sales", parent_slug=root.slug)
    team_b_sub = team_upsert(slug="team-b-sub", name=f"Bravo sub {B_MARKER}", kind="sales", parent_slug="team-b")

    manager_a = _user("manager-a", team_a, Role.MANAGER)
    actors = [
        Actor("viewer", user=_user("viewer-a", team_a, Role.VIEWER)),
        Actor("member", user=_user("member-a", team_a, Role.MEMBER)),
        Actor("manager", user=manager_a),
        Actor("director", user=_user("director-a", division, Role.MANAGER), sees_sibling=True),
        Actor("key:read", key=api_key_create(team=team_a, name="A read", scopes=("read",))[1]),
        Actor("key:read,write", key=api_key_create(team=team_a, name="A read write", scopes=("read", "write"))[1]),
    ]
    manager_b = _user(f"manager-b-{B_MARKER.lower()}", team_b, Role.MANAGER)
    _user(f"viewer-b-{B_MARKER.lower()}", team_b_sub, Role.VIEWER)
    manager_sibling = _user(f"manager-sibling-{SIBLING_MARKER.lower()}", sibling, Role.MANAGER)

    a = _populate(team_a, label="Alpha", owner=manager_a, kpi=kpi, value=Decimal("1000"))
    b = _populate(team_b, label=f"Bravo {B_MARKER}", owner=manager_b, kpi=kpi, value=B_VALUE)
    b_sub = _populate(team_b_sub, label=f"Bravo sub {B_MARKER}", owner=manager_b, kpi=kpi, value=B_VALUE)
    sibling_objects = _populate(
        sibling, label=f"Sibling {SIBLING_MARKER}", owner=manager_sibling, kpi=kpi, value=Decimal("2000")
    )
    protected = {team_b.pk, team_b_sub.pk, sibling.pk}
    protected_users = set(User.objects.filter(memberships__team_id__in=protected).values_list("pk", flat=True))
    return World(
        a=a,
        b=b,
        b_sub=b_sub,
        sibling=sibling_objects,
        actors=actors,
        protected_team_ids=protected,
        protected_user_ids=protected_users,
    )


def secrets_for(actor: Actor) -> tuple[str, ...]:
    """What must never reach `actor`: B's marker and values, and the sibling's marker unless the actor sees it."""
    found = (B_MARKER, *B_VALUE_SPELLINGS)
    return found if actor.sees_sibling else (*found, SIBLING_MARKER)
