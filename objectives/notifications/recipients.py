"""Who hears of an event: the team's managers (one definition for every notice), a rule's recipients, the users
who may still see the team, their settings and quiet hours."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership, User
from accounts.roles import Role
from accounts.selectors import team_ancestor_chain, team_ids_with_ancestors
from metrics.kpis.periods import business_tz
from objectives.models import (
    AlertRule,
    NotificationSettings,
)


def team_managers(*, team_id: int) -> list[User]:
    """The team's managers: the active managers of the team itself or, when it has none, of its nearest parent
    that has some (ordered by username). Every notice "to the team's managers" uses this one definition."""
    chain = team_ancestor_chain(team_id)
    managers = Membership.objects.filter(team_id__in=chain, role=Role.MANAGER, user__is_active=True)
    by_team: dict[int, list[User]] = {}
    for membership in managers.select_related("user").order_by("user__username"):
        by_team.setdefault(membership.team_id, []).append(membership.user)
    for team in chain:
        if by_team.get(team):
            return by_team[team]
    return []


def users_seeing_team(*, user_ids: Iterable[int], team) -> list[User]:
    """These users, restricted to active ones who can still see the team (member of it or a parent, or staff)."""
    ids = set(user_ids)
    if not ids:
        return []
    ancestors = team_ids_with_ancestors([team.pk])
    return list(
        User.objects.filter(id__in=ids, is_active=True)
        .filter(Q(is_staff=True) | Q(memberships__team_id__in=ancestors))
        .distinct()
        .order_by("id")
    )


def settings_of(user_ids: Iterable[int]) -> dict[int, NotificationSettings]:
    """Each user's settings; users without a row get the defaults (unsaved)."""
    ids = set(user_ids)
    found = {s.user_id: s for s in NotificationSettings.objects.filter(user_id__in=ids)}
    return {uid: found.get(uid) or NotificationSettings(user_id=uid) for uid in ids}


def in_quiet_hours(*, prefs: NotificationSettings, now: dt.datetime | None = None) -> bool:
    """Whether `now` falls in the user's quiet hours, read in the organisation's time zone.

    A window whose start is after its end crosses midnight (22:00–07:00); equal or missing
    bounds mean no quiet hours.
    """
    start, end = prefs.quiet_start, prefs.quiet_end
    if start is None or end is None or start == end:
        return False
    local = (now or timezone.now()).astimezone(business_tz()).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def users_in_quiet_hours(*, now: dt.datetime | None = None) -> set[int]:
    """Ids of the users whose quiet hours include `now`; one query over the settings that have some."""
    with_hours = NotificationSettings.objects.filter(quiet_start__isnull=False, quiet_end__isnull=False)
    return {
        prefs.user_id
        for prefs in with_hours.only("user_id", "quiet_start", "quiet_end")
        if in_quiet_hours(prefs=prefs, now=now)
    }


def wants_email(*, rule_wants: bool, user: User, prefs: NotificationSettings) -> bool:
    """Whether the user gets the e-mail: the rule sends e-mails, their settings allow them, they have an address."""
    return rule_wants and prefs.email_alerts and bool(user.email)


def alert_rule_recipients(*, rule: AlertRule) -> list[User]:
    """Who the rule notifies: its chosen recipients who may see the team, else the team's managers.

    A team without a manager of its own falls back on the managers of its nearest managed parent.
    """
    chosen = list(rule.recipients.filter(is_active=True).order_by("username"))
    if chosen:
        # A recipient must still be able to see the team: no notification crosses team lines.
        allowed_teams = team_ids_with_ancestors([rule.team_id])
        members = set(
            Membership.objects.filter(user__in=chosen, team_id__in=allowed_teams).values_list("user_id", flat=True)
        )
        return [user for user in chosen if user.is_staff or user.pk in members]
    return team_managers(team_id=rule.team_id)
