"""Reads about teams and memberships. Team trees are small: they are walked in memory."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from accounts.models import Membership, Team, User
from accounts.roles import ROLE_RANK


def team_tree() -> tuple[dict[int, int | None], dict[int, list[int]]]:
    """Return (parent of each team id, children of each team id) in one query."""
    parents: dict[int, int | None] = {}
    children: dict[int, list[int]] = defaultdict(list)
    for team_id, parent_id in Team.objects.values_list("id", "parent_id"):
        parents[team_id] = parent_id
        if parent_id is not None:
            children[parent_id].append(team_id)
    return parents, children


def team_ids_with_descendants(team_ids: Iterable[int]) -> set[int]:
    """These teams and every team below them."""
    return set().union(*team_subtrees(team_ids).values())


def team_subtrees(team_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """Each of these teams with every team below it, from one query of the tree."""
    _, children = team_tree()
    subtrees = {}
    for root in set(team_ids):
        seen: set[int] = set()
        stack = [root]
        while stack:
            team_id = stack.pop()
            if team_id not in seen:
                seen.add(team_id)
                stack.extend(children.get(team_id, ()))
        subtrees[root] = frozenset(seen)
    return subtrees


def team_ancestor_chain(team_id: int) -> list[int]:
    """The team, then its parent, its parent's parent… up to the root (nearest first); one query."""
    parents, _ = team_tree()
    chain: list[int] = []
    current: int | None = team_id
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def team_ids_with_ancestors(team_ids: Iterable[int]) -> set[int]:
    """These teams and every team above them (whose KPIs include theirs)."""
    parents, _ = team_tree()
    seen: set[int] = set()
    for team_id in team_ids:
        current: int | None = team_id
        while current is not None and current not in seen:
            seen.add(current)
            current = parents.get(current)
    return seen


def team_ids_visible_to(user: User) -> set[int] | None:
    """Ids of the teams `user` may see, or None for "all teams" (staff)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_staff:
        return None
    member_of = Membership.objects.filter(user=user).values_list("team_id", flat=True)
    return team_ids_with_descendants(member_of)


def teams_visible_to(user: User) -> QuerySet[Team]:
    """The teams a user belongs to and their sub-teams; staff see every team."""
    ids = team_ids_visible_to(user)
    if ids is None:
        return Team.objects.all()
    return Team.objects.filter(id__in=ids)


def team_role_of(user: User, team: Team) -> str | None:
    """The user's effective role in `team`: the highest one held on it or on an ancestor.

    Staff are managers everywhere. None means no access.
    """
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_staff:
        return "manager"
    ancestors = team_ids_with_ancestors([team.pk])
    roles = Membership.objects.filter(user=user, team_id__in=ancestors).values_list("role", flat=True)
    return max(roles, key=lambda role: ROLE_RANK.get(role, 0), default=None)


def team_member_ids(team_ids: Iterable[int]) -> dict[int, set[int]]:
    """User ids holding a membership in each of these teams."""
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in Membership.objects.filter(team_id__in=list(team_ids)).values_list("team_id", "user_id"):
        members[team_id].add(user_id)
    return members


def team_members_by_username(*, team: Team, usernames: Iterable[str]) -> dict[str, User]:
    """Users named in `usernames` who hold a role on `team` or on a parent team (who may own its objectives or
    receive its alerts), by username. Anyone else is simply absent: an API resolving names through this reads an
    outsider exactly like a name that does not exist, so it never tells which usernames exist in other teams."""
    ancestors = team_ids_with_ancestors([team.pk])
    users = User.objects.filter(username__in=list(usernames), memberships__team_id__in=ancestors).distinct()
    return {user.username: user for user in users}
