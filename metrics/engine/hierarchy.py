"""The team closure the engine joins facts to, kept in step with the team tree.

Roll-up choice: a parent team's KPI is recomputed over the union of its own and its
sub-teams' facts, not combined from its children's results (which would be wrong for
count_distinct and medians). Every measure query joins each fact to the closure pairs
(ancestor, descendant=fact's team) and groups by the ancestor: one grouped query gives
every team's value, a fact counting once for its team and once for each ancestor.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import Team
from metrics.models import TeamClosure


def team_closure_pairs(parents: dict[int, int | None]) -> dict[tuple[int, int], int]:
    """(ancestor, descendant) → depth for a tree given as {team: parent}; every team is its own ancestor."""
    pairs: dict[tuple[int, int], int] = {}
    for team_id in parents:
        current: int | None = team_id
        depth = 0
        seen: set[int] = set()
        while current is not None and current not in seen:
            seen.add(current)
            pairs[(current, team_id)] = depth
            current = parents.get(current)
            depth += 1
    return pairs


def team_closure_sync() -> int:
    """Bring TeamClosure in line with accounts.Team (two reads when nothing changed); return rows changed."""
    parents = dict(Team.objects.values_list("id", "parent_id"))
    wanted = team_closure_pairs(parents)
    existing = {
        (a, d): (pk, depth)
        for pk, a, d, depth in TeamClosure.objects.values_list("pk", "ancestor_id", "descendant_id", "depth")
    }
    stale = [pk for key, (pk, depth) in existing.items() if wanted.get(key) != depth]
    missing = [key for key, depth in wanted.items() if existing.get(key, (None, None))[1] != depth]
    if not stale and not missing:
        return 0
    with transaction.atomic():
        if stale:
            TeamClosure.objects.filter(pk__in=stale).delete()
        TeamClosure.objects.bulk_create(
            [TeamClosure(ancestor_id=a, descendant_id=d, depth=wanted[(a, d)]) for a, d in missing],
            ignore_conflicts=True,
        )
    return len(stale) + len(missing)
