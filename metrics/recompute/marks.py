"""Dirty marks: which (team, record kind) changed over which days, written in the ingest's own
transaction and consumed by the recompute (DESIGN §5).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.selectors import team_tree
from metrics.models import DirtyMark

logger = logging.getLogger(__name__)


def dirty_marks_widen(*, ranges: dict[tuple[int, str], tuple[date, date]]) -> None:
    """Mark (team, kind) dirty over [start, end), widening any existing mark and bumping its generation.

    One INSERT … ON CONFLICT DO UPDATE for all marks (PostgreSQL and SQLite alike), in
    the caller's transaction. Rows go in (team, kind) order so concurrent ingests lock
    them in the same order.
    """
    if not ranges:
        return
    table = DirtyMark._meta.db_table
    quote = connection.ops.quote_name
    t = quote(table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = []
    for (team_id, kind), (start, end) in sorted(ranges.items()):
        params += [
            team_id,
            kind,
            connection.ops.adapt_datefield_value(start),
            connection.ops.adapt_datefield_value(end),
            now,
        ]
    values = ", ".join(["(%s, %s, %s, %s, 1, %s)"] * len(ranges))
    sql = (
        f"INSERT INTO {t} (team_id, record_kind, period_start, period_end, generation, updated_at) "  # nosec B608 - table name from model metadata, values bound
        f"VALUES {values} ON CONFLICT (team_id, record_kind) DO UPDATE SET "
        f"period_start = CASE WHEN excluded.period_start < {t}.period_start "
        f"THEN excluded.period_start ELSE {t}.period_start END, "
        f"period_end = CASE WHEN excluded.period_end > {t}.period_end "
        f"THEN excluded.period_end ELSE {t}.period_end END, "
        f"generation = {t}.generation + 1, updated_at = excluded.updated_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


DIRTY_BATCH_SIZE = 500
DIRTY_BATCH_TEAMS = 25  # teams claimed per round: a backlog splits between workers in rounds of this many teams
FULL_RECOMPUTE_CLAIM = 100_000  # marks are per (team, record kind): all of them


@dataclass(frozen=True)
class ClaimedMark:
    """A dirty mark as read when claimed; it is released only if its generation is unchanged."""

    id: int | None  # None: a range covered for an ancestor's sake, no stored mark to release
    team_id: int
    record_kind: str
    period_start: dt.date
    period_end: dt.date
    generation: int


def _team_lock_key(team_id: int) -> int:
    """The PostgreSQL advisory lock key of a team's recompute: a signed 64-bit hash (a collision only makes
    two teams wait for each other's round)."""
    digest = hashlib.blake2b(f"kpi-recompute:{team_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def team_locks_try(team_ids: Sequence[int]) -> list[int]:
    """Take the recompute locks of these teams that no other session holds; return the teams locked.

    Session-level advisory locks (PostgreSQL): held across the round's transactions, freed by
    `team_locks_release` or, if the worker dies, with its connection. SQLite serialises writers
    itself (one worker on the embedded default): every team is granted.
    """
    if not team_ids:
        return []
    if connection.vendor != "postgresql":
        return list(team_ids)
    keys = {_team_lock_key(team_id): team_id for team_id in team_ids}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, pg_try_advisory_lock(key) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(key, n) ORDER BY n",
            [list(keys)],
        )
        return [keys[key] for key, locked in cursor.fetchall() if locked]


def team_locks_release(team_ids: Iterable[int]) -> None:
    """Free the teams' recompute locks; if the connection is gone, so are its locks."""
    keys = [_team_lock_key(team_id) for team_id in team_ids]
    if connection.vendor != "postgresql" or not keys:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(key) FROM unnest(%s::bigint[]) AS t(key)", [keys])
    except DatabaseError:
        logger.warning("Could not free the recompute locks of teams %s: they go with the connection.", team_ids)


def _marks_of(team_ids: Iterable[int]) -> list[ClaimedMark]:
    return [
        ClaimedMark(m.pk, m.team_id, m.record_kind, m.period_start, m.period_end, m.generation)
        for m in DirtyMark.objects.filter(team_id__in=list(team_ids)).order_by("updated_at", "pk")
    ]


def _ancestors(team_id: int, parents: dict[int, int | None]) -> list[int]:
    found: list[int] = []
    current = parents.get(team_id)
    while current is not None and current not in found:
        found.append(current)
        current = parents.get(current)
    return found


@contextmanager
def dirty_marks_claimed(
    *, limit: int = DIRTY_BATCH_SIZE, teams: int = DIRTY_BATCH_TEAMS, done: Collection[int] = ()
) -> Iterator[tuple[list[ClaimedMark], bool]]:
    """Claim a round of dirty marks for this process: yield (marks, busy), then free the claim.

    Marks are claimed by team — every mark of a team, under the team's recompute lock, skipping the teams
    another worker holds (the SKIP LOCKED of advisory locks) — because a KPI reads several record kinds: only
    the holder of a team's lock writes its values, so two workers never race on a cell. Deepest teams first,
    oldest marks first, up to `teams` teams or about `limit` marks.

    A team's ancestors count its records too (a region's revenue includes its teams'). An ancestor is claimed
    in the same round when no other team below it has a mark waiting (a single change: one round); its jobs
    then cover its claimed descendants' ranges (marks without an id, nothing to release). Otherwise its marks
    are widened over these ranges and it waits until its subtree is done, to be computed once rather than
    once per worker. `busy`: marks exist but other workers hold all of them. `done`: teams this run has
    computed and whose marks it kept (see dirty_marks_recompute): not claimed again, not waited for.
    """
    held: list[int] = []
    try:
        pending = [
            team_id
            for team_id in DirtyMark.objects.order_by("updated_at", "pk").values_list("team_id", flat=True)
            if team_id not in done
        ]
        if not pending:
            yield [], False
            return
        parents, _children = team_tree()
        marks_per_team = Counter(pending)  # in order of each team's oldest mark
        arrival = {team_id: position for position, team_id in enumerate(marks_per_team)}
        # A team with marks below it waits for them (claimed with them below, or in a later round).
        below = {ancestor for team_id in marks_per_team for ancestor in _ancestors(team_id, parents)}
        order = sorted(set(marks_per_team) - below, key=lambda t: (-len(_ancestors(t, parents)), arrival[t]))
        for start in range(0, len(order), teams):
            room = teams - len(held)
            if room <= 0 or sum(marks_per_team[t] for t in held) >= limit:
                break
            held += team_locks_try(order[start : start + room])
        if not held:
            yield [], True
            return
        waiting = set(marks_per_team) - set(held)
        blocked = {ancestor for team_id in waiting for ancestor in _ancestors(team_id, parents)}
        above = {ancestor for team_id in held for ancestor in _ancestors(team_id, parents)} - set(held)
        held += team_locks_try(sorted(above - blocked))
        marks = _marks_of(held)
        mine = set(held)
        covered: dict[tuple[int, str], tuple[dt.date, dt.date]] = {}
        widened: dict[tuple[int, str], tuple[dt.date, dt.date]] = {}
        for mark in marks:
            for ancestor in _ancestors(mark.team_id, parents):
                ranges = covered if ancestor in mine else widened
                known = ranges.get((ancestor, mark.record_kind))
                first, end = mark.period_start, mark.period_end
                ranges[(ancestor, mark.record_kind)] = (
                    (first, end) if known is None else (min(known[0], first), max(known[1], end))
                )
        with transaction.atomic():
            dirty_marks_widen(ranges=widened)
        marks += [ClaimedMark(None, team_id, kind, first, end, 0) for (team_id, kind), (first, end) in covered.items()]
        yield marks, False
    finally:
        team_locks_release(held)


def dirty_marks_claim(*, limit: int = DIRTY_BATCH_SIZE) -> list[ClaimedMark]:
    """Read up to `limit` dirty marks, oldest first, without holding them (a recompute of everything, which
    computes every team anyway, and SQLite's single writer)."""
    marks = DirtyMark.objects.order_by("updated_at", "pk")
    return [
        ClaimedMark(m.pk, m.team_id, m.record_kind, m.period_start, m.period_end, m.generation) for m in marks[:limit]
    ]


def dirty_marks_release(*, marks: Sequence[ClaimedMark]) -> int:
    """Delete the claimed marks still at their claimed generation; a mark bumped meanwhile stays for the next run."""
    if not marks:
        return 0
    condition = Q()
    stored = [mark for mark in marks if mark.id is not None]
    if not stored:
        return 0
    for mark in stored:
        condition |= Q(pk=mark.id, generation=mark.generation)
    deleted, _ = DirtyMark.objects.filter(condition).delete()
    return deleted
