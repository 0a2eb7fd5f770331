"""Who may do what on a team: shared by pages, the REST API and services."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.permissions import BasePermission

from accounts import selectors
from accounts.models import Team, User
from accounts.roles import Role, role_at_least


def has_team_role(user: User, team: Team, minimum: str = Role.VIEWER) -> bool:
    """Whether `user` holds at least `minimum` on `team` (directly or through a parent team)."""
    role = selectors.team_role_of(user, team)
    return role is not None and role_at_least(role, minimum)


def check_team_role(user: User, team: Team, minimum: str = Role.VIEWER) -> None:
    """Raise if the user may not act on the team.

    A user who cannot even see the team gets a 404, so team slugs do not leak;
    one who sees it without the role gets a 403.
    """
    role = selectors.team_role_of(user, team)
    if role is None:
        raise Http404("No such team.")
    if not role_at_least(role, minimum):
        raise PermissionDenied


def team_for_user_or_404(user: User, slug: str, minimum: str = Role.VIEWER) -> Team:
    """The team named by `slug` if the user may act on it with `minimum`."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    check_team_role(user, team, minimum)
    return team


class IsTeamMember(BasePermission):
    """DRF: an object with a `team` is readable by viewers and writable by managers."""

    def has_object_permission(self, request, view, obj) -> bool:
        team = obj if isinstance(obj, Team) else obj.team
        minimum = Role.VIEWER if request.method in ("GET", "HEAD", "OPTIONS") else Role.MANAGER
        return has_team_role(request.user, team, minimum)
