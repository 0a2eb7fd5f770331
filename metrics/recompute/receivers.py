"""Platform facts the engine follows: logins and memberships turned into dirty marks, the team tree into
the closure the measure queries join.

accounts never imports metrics: metrics connects these receivers to the saves of LoginEvent,
Membership and Team in its AppConfig.ready().
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import LoginEvent, Membership, Team
from metrics.engine.hierarchy import team_closure_sync
from metrics.engine.periods import business_tz
from metrics.recompute.marks import dirty_marks_widen
from metrics.recompute.tasks import recompute_dirty_enqueue


def team_tree_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    """A team added, moved or removed: its facts count for its new ancestors at once (any range read before the
    next recompute included), not only after a recompute resyncs the closure."""
    if not raw:
        team_closure_sync()


def login_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A new login makes the active-user rate of its user's teams stale for its day."""
    if created and not raw:
        login_mark_dirty(user_id=instance.user_id, occurred_at=instance.occurred_at)


def membership_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    """A membership added, changed or removed changes its team's members and which team its user's logins
    count for."""
    if not raw:
        membership_mark_dirty(user_id=instance.user_id, team_id=instance.team_id, joined_at=instance.created_at)


def login_mark_dirty(*, user_id: int, occurred_at: datetime) -> None:
    """Mark the user's teams dirty for logins on the login's day (the CRM active-user rate reads them),
    in the caller's transaction, and enqueue the recompute once it commits."""
    day = occurred_at.astimezone(business_tz()).date()
    team_ids = Membership.objects.filter(user_id=user_id).values_list("team_id", flat=True)
    ranges = {(team_id, "logins"): (day, day + timedelta(days=1)) for team_id in team_ids}
    if ranges:
        dirty_marks_widen(ranges=ranges)
        recompute_dirty_enqueue()


def membership_mark_dirty(*, user_id: int, team_id: int, joined_at: datetime | None) -> None:
    """Once the transaction commits, mark a team whose membership was added, changed or removed dirty from
    the membership's start (its member counts) or the user's first login, whichever is earlier (a login
    counts for the teams its user belongs to), up to today.

    After the commit, because a membership is also deleted when its team is: the mark is then skipped.
    """

    def mark() -> None:
        if not Team.objects.filter(pk=team_id).exists():
            return
        moments = [joined_at, LoginEvent.objects.filter(user_id=user_id).aggregate(m=Min("occurred_at"))["m"]]
        zone = business_tz()
        today = timezone.localdate()
        start = min([m.astimezone(zone).date() for m in moments if m is not None], default=today)
        with transaction.atomic():
            dirty_marks_widen(ranges={(team_id, "memberships"): (min(start, today), today + timedelta(days=1))})
            recompute_dirty_enqueue()

    transaction.on_commit(mark)
