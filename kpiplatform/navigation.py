"""The site's menus and the role each page needs: the main menu, the team menu, and what the error pages say.

Every page asks the same question (which teams does this user see, with which role), so it is answered once per
request, from one query, and only when a template first asks: the login page asks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django import template
from django.contrib.auth.models import AnonymousUser
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Team, User
from accounts.roles import ROLE_RANK, Role, role_at_least

register = template.Library()

# The role a team page asks for beyond seeing the team (viewers see every other page), by URL name. The views
# enforce it through accounts.permissions; this table lets the menus hide what would answer 403, and the 403 page
# say which role is needed. tests/accounts/test_navigation.py checks both against the views.
PAGE_MINIMUM_ROLE: dict[str, str] = {
    **dict.fromkeys(("objective-create", "objective-edit", "objective-delete", "objective-smart-check"), Role.MANAGER),
    **dict.fromkeys(("alert-rule-create", "alert-rule-edit", "alert-rule-delete", "alert-rule-snooze"), Role.MANAGER),
    **dict.fromkeys(("webhook-list", "webhook-edit", "webhook-delete", "webhook-test"), Role.MANAGER),
    **dict.fromkeys(("budget-create", "budget-edit", "budget-delete", "budget-import"), Role.MANAGER),
    **dict.fromkeys(("dashboard-cards", "dashboard-panels"), Role.MANAGER),
    **dict.fromkeys(("alert-acknowledge", "alert-resolve"), Role.MEMBER),
}
# Every page of the activity import (its views ask for a manager), whatever pages it grows.
PREFIX_MINIMUM_ROLE = (("import-", Role.MANAGER),)


def page_minimum_role(url_name: str | None) -> str | None:
    """The role the page named `url_name` needs on its team, when more than a viewer; None otherwise."""
    if not url_name:
        return None
    if url_name in PAGE_MINIMUM_ROLE:
        return PAGE_MINIMUM_ROLE[url_name]
    return next((role for prefix, role in PREFIX_MINIMUM_ROLE if url_name.startswith(prefix)), None)


@dataclass(frozen=True)
class TeamPage:
    """An item of the team menu: the page it opens, and the URL names (prefixes) of the pages it stands for."""

    key: str
    label: Promise
    url_name: str
    section: tuple[str, ...]
    # The alerts page is shared by every team: the team menu opens it filtered on the team.
    team_in_query: bool = False

    def url(self, slug: str) -> str:
        if self.team_in_query:
            return f"{reverse(self.url_name)}?{urlencode({'team': slug})}"
        return reverse(self.url_name, args=[slug])

    def contains(self, url_name: str) -> bool:
        return any(url_name.startswith(prefix) for prefix in self.section)


TEAM_MENU = (
    TeamPage("dashboard", _("Dashboard"), "dashboard", ("dashboard", "kpi-detail")),
    TeamPage("objectives", _("Objectives"), "objective-list", ("objective-",)),
    TeamPage("alerts", _("Alerts"), "alert-list", ("alert-list", "alert-detail"), team_in_query=True),
    TeamPage("alert-rules", _("Alert rules"), "alert-rule-list", ("alert-rule-",)),
    TeamPage("budgets", _("Budgets"), "budget-list", ("budget-",)),
    TeamPage("import", _("Import"), "import-home", ("import-", "activity-export")),
    TeamPage("webhooks", _("Webhooks"), "webhook-list", ("webhook-",)),
)


@dataclass(frozen=True)
class NavTeam:
    """A team the user sees, with the user's effective role in it (held on it or on a team above)."""

    id: int
    slug: str
    name: str
    kind: str
    role: str

    @property
    def pk(self) -> int:
        return self.id


@dataclass(frozen=True)
class MenuItem:
    """A link of a menu; `current` marks the page the user is on (aria-current)."""

    key: str
    label: str
    url: str
    current: bool = False


def teams_with_roles(user: User) -> list[NavTeam]:
    """Every team `user` sees with their effective role, by name, in one query.

    The same rules as accounts.selectors.team_role_of, for all teams at once: the highest role held on the team or
    on an ancestor; staff are managers everywhere; no role means the team is not visible.
    """
    if not user.is_authenticated or not user.is_active:
        return []
    held = Membership.objects.filter(user=user, team=OuterRef("pk")).values("role")[:1]
    rows = list(
        Team.objects.annotate(held=Subquery(held)).values_list("id", "parent_id", "slug", "name", "kind", "held")
    )
    parents = {row[0]: row[1] for row in rows}
    held_roles = {row[0]: row[5] for row in rows if row[5]}
    teams = []
    for team_id, _parent, slug, name, kind, _held in rows:
        role = Role.MANAGER if user.is_staff else _effective_role(team_id, parents, held_roles)
        if role is not None:
            teams.append(NavTeam(id=team_id, slug=slug, name=name, kind=kind, role=role))
    return teams


def _effective_role(team_id: int, parents: dict[int, int | None], held: dict[int, str]) -> str | None:
    roles = []
    current: int | None = team_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        seen.add(current)
        if current in held:
            roles.append(held[current])
        current = parents.get(current)
    return max(roles, key=lambda role: ROLE_RANK.get(role, 0), default=None)


class Navigation:
    """What the menus of one request show: the user's teams and roles, read on first use, then kept."""

    def __init__(self, request: HttpRequest):
        self.request = request
        self.user = getattr(request, "user", None) or AnonymousUser()
        match = getattr(request, "resolver_match", None)
        self.url_name = (match.url_name or "") if match else ""
        self.url_kwargs = match.kwargs if match else {}

    @cached_property
    def teams(self) -> list[NavTeam]:
        return teams_with_roles(self.user)

    @cached_property
    def _by_slug(self) -> dict[str, NavTeam]:
        return {team.slug: team for team in self.teams}

    @property
    def several_teams(self) -> bool:
        return len(self.teams) > 1

    @property
    def only_team(self) -> NavTeam | None:
        return self.teams[0] if len(self.teams) == 1 else None

    def team(self, slug: str | None) -> NavTeam | None:
        """The visible team with this slug, if any."""
        return self._by_slug.get(slug or "")

    def url_team(self) -> NavTeam | None:
        """The visible team the current URL names, if any (error pages use it to point back to the team)."""
        slug = self.url_kwargs.get("slug") or self.url_kwargs.get("team_slug")
        if not slug and self.url_name == "alert-list":
            slug = self.request.GET.get("team")
        return self.team(slug)

    @cached_property
    def main_menu(self) -> list[MenuItem]:
        """The header's links: the user's teams (or their one team), the overview, alerts, administration."""
        items = []
        only = self.only_team
        if only is not None:
            on_it = self.url_name == "dashboard" and self.url_kwargs.get("slug") == only.slug
            items.append(MenuItem("team", only.name, reverse("dashboard", args=[only.slug]), on_it))
        else:
            items.append(MenuItem("home", str(_("My teams")), reverse("home"), self.url_name == "home"))
        if self.several_teams:
            on_it = self.url_name == "organisation-overview"
            items.append(MenuItem("overview", str(_("Overview")), reverse("organisation-overview"), on_it))
        # On alerts filtered on a team, the team menu marks its own "Alerts" item instead.
        on_alerts = self.url_name == "alert-list" and not self.request.GET.get("team")
        items.append(MenuItem("alerts", str(_("Alerts")), reverse("alert-list"), on_alerts))
        if self.user.is_staff:
            items.append(MenuItem("admin", str(_("Administration")), reverse("admin:index")))
        return items

    def team_menu(self, team: NavTeam | Team) -> list[MenuItem]:
        """The pages of `team` the user may open, the one they are on marked."""
        found = self.team(team.slug)
        if found is None:
            return []
        items = []
        for page in TEAM_MENU:
            if role_at_least(found.role, page_minimum_role(page.url_name) or Role.VIEWER):
                current = bool(self.url_name) and page.contains(self.url_name)
                items.append(MenuItem(page.key, str(page.label), page.url(found.slug), current))
        return items


def navigation_for(request: HttpRequest) -> Navigation:
    """The request's navigation, built once per request."""
    nav = getattr(request, "_navigation", None)
    if nav is None:
        nav = request._navigation = Navigation(request)
    return nav


def navigation(request: HttpRequest) -> dict:
    """Context processor: `nav`, read lazily by base.html and the team menu."""
    return {"nav": navigation_for(request)}


@register.filter
def team_menu(nav: Navigation, team) -> list[MenuItem]:
    """`{% with items=nav|team_menu:current_team %}`: the team menu's items for this team."""
    if not isinstance(nav, Navigation) or team is None:
        return []
    return nav.team_menu(team)
