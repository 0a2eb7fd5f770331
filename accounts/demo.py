"""The demo organisation: three teams and a user of each role in each, plus an admin."""

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


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    team: str
    role: str


@transaction.atomic
def demo_organisation_create() -> tuple[dict[str, Team], list[DemoLogin]]:
    """Create (or reset) the demo teams and users; return the teams by slug and the logins."""
    teams = {
        slug: team_upsert(slug=slug, name=name, kind=kind, parent_slug=parent)
        for slug, name, kind, parent in DEMO_TEAMS
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
            membership_set(user=user, team=teams[team_slug], role=role)
            logins.append(DemoLogin(username, DEMO_PASSWORD, team_slug, str(role)))
    return teams, logins


def demo_users() -> list[User]:
    return list(User.objects.filter(email__endswith="@demo.example"))
