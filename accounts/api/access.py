"""Team scoping of API requests: which teams the caller (a user or an API key) may read or write.

Every API view scopes its querysets through these functions; nothing else decides it.
"""

from django.http import Http404
from rest_framework.exceptions import PermissionDenied

from accounts import selectors
from accounts.models import Team
from accounts.roles import Role


def request_team_ids(request, *, write: bool = False) -> set[int] | None:
    """Ids of the teams the request may read (or write); None means every team (staff).

    Users: their memberships and sub-teams (writing needs the manager role).
    API keys: extended by the API-key authentication (see accounts.api.authentication).
    """
    api_key = getattr(request, "api_key", None)
    if api_key is not None:
        return api_key_team_ids(api_key, write=write)
    user = request.user
    if not write:
        return selectors.team_ids_visible_to(user)
    if user.is_staff:
        return None
    managed = user.memberships.filter(role=Role.MANAGER).values_list("team_id", flat=True)
    return selectors.team_ids_with_descendants(managed)


def api_key_team_ids(api_key, *, write: bool) -> set[int]:
    """The key's team and its sub-teams, if the key has the scope asked for."""
    scope = "write" if write else "read"
    if scope not in api_key.scope_list:
        raise PermissionDenied(f"This API key does not have the '{scope}' scope.")
    return selectors.team_ids_with_descendants([api_key.team_id])


def request_team(request, slug: str, *, write: bool = False) -> Team:
    """The team named `slug` if the request may read (or write) it; 404 otherwise, so slugs do not leak."""
    team = Team.objects.filter(slug=slug).first()
    allowed = request_team_ids(request, write=write)
    if team is None or (allowed is not None and team.pk not in allowed):
        if team is not None and write and team.pk in (request_team_ids(request) or set()):
            raise PermissionDenied(f"You may read team '{slug}' but not write to it.")
        raise Http404(f"No team '{slug}' visible to you.")
    return team
