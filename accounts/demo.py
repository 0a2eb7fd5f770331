"""The demo organisation: three teams and a user of each role in each, plus an admin.

The small demo (`make run`) is the organisation root, three departments (Ventes, Marketing,
Service client) and Marketing's sub-team Marketing digital; every team of a kind holds
activity. A generated organisation (`seed_demo --teams N`, for the benches) keeps those five
teams and their users and adds leaf teams under the departments, round robin, up to N teams
in all: three levels, root → departments → teams, where only the leaf teams hold activity.
"""

from dataclasses import dataclass

from django.db import transaction

from accounts.models import Team, TeamKind, User
from accounts.roles import Role
from accounts.services import membership_set, team_upsert, user_upsert

DEMO_PASSWORD = "demo-kpi-2026"  # nosec B105 - the demo users' documented password (make run prints it)

DEMO_TEAMS = [
    # slug, name, kind, parent slug. The organisation sits above every team, so KPIs that join teams' facts
    # (acquisition cost: marketing's spend over the new customers sales bring) have a value there.
    ("organisation", "Organisation", TeamKind.OTHER, None),
    ("ventes", "Ventes", TeamKind.SALES, "organisation"),
    ("marketing", "Marketing", TeamKind.MARKETING, "organisation"),
    ("marketing-digital", "Marketing digital", TeamKind.MARKETING, "marketing"),
    ("service-client", "Service client", TeamKind.SUPPORT, "organisation"),
]

DEMO_PEOPLE = {
    "organisation": [
        ("isabelle.morel", "Isabelle", "Morel", Role.MANAGER),
    ],
    "ventes": [
        ("claire.martin", "Claire", "Martin", Role.MANAGER),
        ("hugo.bernard", "Hugo", "Bernard", Role.MEMBER),
        ("lea.petit", "Léa", "Petit", Role.VIEWER),
    ],
    "marketing": [
        ("sophie.durand", "Sophie", "Durand", Role.MANAGER),
        ("lucas.moreau", "Lucas", "Moreau", Role.MEMBER),
        ("emma.laurent", "Emma", "Laurent", Role.VIEWER),
    ],
    "service-client": [
        ("julien.roux", "Julien", "Roux", Role.MANAGER),
        ("chloe.fournier", "Chloé", "Fournier", Role.MEMBER),
        ("nathan.girard", "Nathan", "Girard", Role.VIEWER),
    ],
}


# The departments a generated organisation's leaf teams go under, in turn, with the names of their teams.
DEPARTMENTS = [
    ("ventes", TeamKind.SALES, "Ventes"),
    ("marketing", TeamKind.MARKETING, "Marketing"),
    ("service-client", TeamKind.SUPPORT, "Service client"),
]
# A generated organisation: the root, the departments and at least one leaf team in each.
MIN_GENERATED_TEAMS = 1 + 2 * len(DEPARTMENTS)


class DemoOrganisationError(ValueError):
    """The generated organisation cannot have that many teams."""


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    team: str
    role: str


def generated_teams(count: int) -> list[tuple[str, str, str, str]]:
    """The (slug, name, kind, parent slug) of a generated organisation of `count` teams: the small demo's five
    teams, then leaf teams under the three departments in turn (Marketing digital is Marketing's first)."""
    if count < MIN_GENERATED_TEAMS:
        raise DemoOrganisationError(f"A generated organisation has at least {MIN_GENERATED_TEAMS} teams, not {count}.")
    rows = list(DEMO_TEAMS)
    # Leaves already in the small demo: Marketing digital.
    per_department = {slug: sum(1 for *_r, parent in DEMO_TEAMS if parent == slug) for slug, *_r in DEPARTMENTS}
    position = 0
    while len(rows) < count:
        department, kind, label = DEPARTMENTS[position % len(DEPARTMENTS)]
        position += 1
        per_department[department] += 1
        number = per_department[department]
        rows.append((f"{department}-{number:02d}", f"{label} {number:02d}", kind, department))
    return rows


@transaction.atomic
def demo_organisation_create(*, teams: int | None = None) -> tuple[dict[str, Team], list[DemoLogin]]:
    """Create (or reset) the demo teams and users — the small demo, or a generated organisation of `teams`
    teams; return the teams by slug and the logins."""
    rows = DEMO_TEAMS if teams is None else generated_teams(teams)
    teams_by_slug = {
        slug: team_upsert(slug=slug, name=name, kind=kind, parent_slug=parent) for slug, name, kind, parent in rows
    }
    logins = []
    admin = user_upsert(
        username="admin", email="admin@demo.example", password=DEMO_PASSWORD, first_name="Admin", is_staff=True
    )
    logins.append(DemoLogin(admin.username, DEMO_PASSWORD, "*", "admin"))
    for team_slug, people in DEMO_PEOPLE.items():
        for username, first, last, role in people:
            user = user_upsert(
                username=username,
                email=f"{username}@demo.example",
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
            )
            membership_set(user=user, team=teams_by_slug[team_slug], role=role)
            logins.append(DemoLogin(username, DEMO_PASSWORD, team_slug, str(role)))
    return teams_by_slug, logins


def demo_activity_teams(teams: dict[str, Team]) -> dict[str, Team]:
    """The teams that hold the demo activity: all of the small demo's (Marketing has records beside its
    sub-team's); only the leaf teams of a generated organisation (its departments add their teams up)."""
    if len(teams) <= len(DEMO_TEAMS):
        return teams
    parents = {team.parent_id for team in teams.values()}
    return {slug: team for slug, team in teams.items() if team.pk not in parents}


def demo_users() -> list[User]:
    return list(User.objects.filter(email__endswith="@demo.example"))
