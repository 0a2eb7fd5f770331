"""Dirty marks of the adoption KPIs: a login marks its user's teams, a membership change its team."""

import datetime as dt
from unittest import mock

import pytest
import time_machine

from accounts.models import LoginEvent
from accounts.services import login_event_record, membership_set
from metrics.models import DirtyMark, KpiValue
from metrics.recompute.services import dirty_marks_recompute
from metrics.recompute.tasks import recompute_dirty_task
from tests.metrics.kpi_support import at, q

pytestmark = pytest.mark.usefixtures("catalogue")

D = dt.date
NOW = dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC)


def marks() -> set[tuple]:
    return set(DirtyMark.objects.values_list("team__slug", "record_kind", "period_start", "period_end"))


@time_machine.travel(NOW, tick=False)
def test_a_login_marks_its_users_teams_and_the_recompute_counts_it(make_user, team_a, team_b):
    # given a user of team A and team B, and no dirty mark
    user = make_user("ana", team=team_a)
    membership_set(user=user, team=team_b)
    DirtyMark.objects.all().delete()
    # when she logs in (13:00 in Paris on 10 February)
    with mock.patch.object(recompute_dirty_task, "apply_async") as enqueue:
        login_event_record(user=user)
    # then both teams are dirty for logins on that day, in the login's transaction
    assert marks() == {
        ("team-a", "logins", D(2026, 2, 10), D(2026, 2, 11)),
        ("team-b", "logins", D(2026, 2, 10), D(2026, 2, 11)),
    }
    enqueue.assert_not_called()  # only once the login commits
    # and the recompute stores team A's active-user rate of the day: 1 active user of 1 member = 100 %
    dirty_marks_recompute()
    rate = KpiValue.objects.get(kpi__code="crm_active_user_rate", team=team_a, granularity="day", segment="")
    assert (rate.period_start, rate.value, rate.components) == (
        D(2026, 2, 10),
        q(100),
        {"active_users": 1, "members": 1},
    )
    assert not DirtyMark.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_removed_membership_marks_its_team_from_the_users_first_login(
    make_user, team_a, django_capture_on_commit_callbacks
):

    # given a member of team A who first logged in on 3 January (the membership itself dates from today)
    user = make_user("ben", team=team_a)
    LoginEvent.objects.bulk_create([LoginEvent(user=user, occurred_at=at(2026, 1, 3, 9))])
    DirtyMark.objects.all().delete()
    # when the membership is removed and the transaction commits
    with (
        mock.patch.object(recompute_dirty_task, "apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        user.memberships.get(team=team_a).delete()
    # then team A is dirty for memberships from 3 January to today included, and the recompute is enqueued
    assert marks() == {("team-a", "memberships", D(2026, 1, 3), D(2026, 2, 11))}
    enqueue.assert_called_once_with((), {}, retry=False)  # one try: see kpiplatform.queue


def test_a_team_deleted_with_its_memberships_is_not_marked(make_user, team_a, django_capture_on_commit_callbacks):
    # given a member of team A
    make_user("cleo", team=team_a)
    DirtyMark.objects.all().delete()
    # when the team is deleted (its memberships with it)
    with django_capture_on_commit_callbacks(execute=True):
        team_a.delete()
    # then no mark refers to it, and the deletion went through
    assert not DirtyMark.objects.exists()
