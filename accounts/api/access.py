"""Team scoping of API requests: which teams the caller (a user or an API key) may read or write.

Every API view scopes its querysets through these functions; nothing else decides it.
"""

from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from accounts import selectors
from accounts.models import Membership, Team
from accounts.roles import ROLE_RANK, Role


def request_team_ids(request, *, write: bool = False, minimum_role: str = Role.MANAGER) -> set[int] | None:
    """Ids of the teams the request may read (or write); None means every team (staff).

    Users: their memberships and sub-teams; writing needs at least `minimum_role`
    (managers by default: objectives, targets, alert rules; activity accepts members).
    API keys (see accounts.api.authentication): the key's team and sub-teams, if the key
    has the `read` (or `write`) scope.
    """
    api_key = getattr(request, "api_key", None)
    if api_key is not None:
        return api_key_team_ids(api_key, write=write)
    user = request.user
    if not write:
        return selectors.team_ids_visible_to(user)
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_staff:
        return None
    roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[minimum_role]]
    writable = Membership.objects.filter(user=user, role__in=roles).values_list("team_id", flat=True)
    return selectors.team_ids_with_descendants(writable)


def api_key_team_ids(api_key, *, write: bool) -> set[int]:
    """The key's team and its sub-teams, if the key has the scope asked for."""
    scope = "write" if write else "read"
    if scope not in api_key.scope_list:
        raise PermissionDenied(_("This API key does not have the '%(scope)s' scope.") % {"scope": scope})
    return selectors.team_ids_with_descendants([api_key.team_id])


def request_team(request, slug: str, *, write: bool = False, minimum_role: str = Role.MANAGER) -> Team:
    """The team named `slug` if the request may read (or write) it; 404 otherwise, so slugs do not leak."""
    team = Team.objects.filter(slug=slug).first()
    allowed = request_team_ids(request, write=write, minimum_role=minimum_role)
    if team is None or (allowed is not None and team.pk not in allowed):
        if team is not None and write and team.pk in (request_team_ids(request) or set()):
            raise PermissionDenied(_("You may read team '%(slug)s' but not write to it.") % {"slug": slug})
        raise Http404(_("No team '%(slug)s' visible to you.") % {"slug": slug})
    return team


def request_default_team_id(request, *, slug: str | None, minimum_role: str = Role.MANAGER) -> int | None:
    """The team that receives written records naming no team of their own.

    `slug` (e.g. `?team=`) if given and writable; else the API key's team; else the one
    team where the user holds at least `minimum_role`. None when that is ambiguous.
    """
    if slug:
        return request_team(request, slug, write=True, minimum_role=minimum_role).pk
    api_key = getattr(request, "api_key", None)
    if api_key is not None:
        return api_key.team_id
    user = request.user
    if not user.is_authenticated:
        return None
    roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[minimum_role]]
    team_ids = set(Membership.objects.filter(user=user, role__in=roles).values_list("team_id", flat=True))
    return team_ids.pop() if len(team_ids) == 1 else None
