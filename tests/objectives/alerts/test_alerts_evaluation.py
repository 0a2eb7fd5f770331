"""Alert evaluation: each condition on hand-made series, hysteresis, pending count, minimum sample,
no duplicates over repeated (or concurrent) evaluations, auto-resolve, snooze, and the triggers."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.roles import Role
from metrics.models import Customer, KpiMeasure, KpiValue
from metrics.recompute.signals import kpi_values_changed
from objectives.alerts import events as alert_events
from objectives.alerts import tasks as alert_tasks
from objectives.alerts.evaluation import (
    Verdict,
    alert_rule_apply,
    alerts_evaluate_cells,
    alerts_evaluate_scheduled,
    alerts_evaluate_targets,
    change_judge,
    freshness_judge,
    kpi_observations,
    level_judge,
    sample_size,
    target_judge,
)
from objectives.alerts.services import alert_rule_snooze
from objectives.models import Alert, AlertEvent, AlertRule, AlertState, Objective, Target
from objectives.notifications.recipients import alert_rule_recipients
from tests import factories

D = dt.date
JAN, FEB, MAR, APR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)
NOW = dt.datetime(2026, 4, 10, 12, tzinfo=dt.UTC)


def t(minutes: int) -> dt.datetime:
    """An instant `minutes` after NOW: computation times that only move forward."""
    return NOW + dt.timedelta(minutes=minutes)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def notified(monkeypatch):
    """A fake outbox: records each call and answers with the rule's recipients."""
    calls: list[tuple[int, str]] = []

    def alert_notify(*, alert, event):
        calls.append((alert.pk, event.kind))
        return [
            {"user": user.pk, "username": user.username, "channels": ["in_app"]}
            for user in alert_rule_recipients(rule=alert.rule)
        ]

    monkeypatch.setattr(alert_events, "alert_notify", alert_notify)
    return calls


@pytest.fixture
def cell(db):
    """Write one KPI cell with an explicit computation time."""

    def write(kpi, team, period, value, *, at, granularity="month", segment="", components=None):
        factories.kpi_value(
            kpi=kpi,
            team=team,
            granularity=granularity,
            period_start=period,
            segment=segment,
            value=value,
            components=components or {},
            computed_at=at,
        )

    return write


@pytest.fixture
def rule(team_a, churn):
    def make(**fields):
        values = {"team": team_a, "name": "Churn", "kpi": churn, "condition": "above", "threshold": Decimal(20)}
        values.update(fields)
        return factories.alert_rule(**values)

    return make


def evaluate(start=JAN, end=APR, now=None, granularities=("month",)):
    return alerts_evaluate_cells(
        kpi_ids=None, team_ids=None, granularities=list(granularities), start=start, end=end, now=now or t(100)
    )


def events(alert) -> list[tuple[str, Decimal | None]]:
    return list(alert.events.order_by("id").values_list("kind", "value"))


# --------------------------------------------------------------------------- pure judging


@pytest.mark.parametrize(
    ("condition", "value", "recovery", "verdict"),
    [
        ("above", "20.01", None, Verdict.BREACH),
        ("above", "20", None, Verdict.CLEAR),  # not strictly above
        ("above", "18", "15", Verdict.HOLD),  # between recovery and threshold
        ("above", "15", "15", Verdict.CLEAR),
        ("below", "19.99", None, Verdict.BREACH),
        ("below", "20", None, Verdict.CLEAR),
        ("below", "22", "25", Verdict.HOLD),
        ("below", "25", "25", Verdict.CLEAR),
        ("above", None, None, Verdict.SKIP),
    ],
)
def test_level_conditions_with_hysteresis(condition, value, recovery, verdict):
    judged = level_judge(
        condition=condition,
        value=None if value is None else Decimal(value),
        threshold=Decimal(20),
        recovery=None if recovery is None else Decimal(recovery),
    )
    assert judged.verdict == verdict
    assert judged.value == (None if value is None else Decimal(value))


@pytest.mark.parametrize(
    ("condition", "previous", "value", "threshold", "floor", "verdict", "percent"),
    [
        # (130 − 100) / 100 = +30 % > 20 %
        ("change_above", "100", "130", "20", None, Verdict.BREACH, "30"),
        # +30 % but only 3 units on a base of 10: under the floor of 5, no breach (held)
        ("change_above", "10", "13", "20", "5", Verdict.HOLD, "30"),
        ("change_above", "100", "110", "20", None, Verdict.CLEAR, "10"),
        # a negative base: (−50 − (−100)) / |−100| = +50 %
        ("change_above", "-100", "-50", "20", None, Verdict.BREACH, "50"),
        # (70 − 100) / 100 = −30 % < −20 %; the threshold may be given as −20
        ("change_below", "100", "70", "20", None, Verdict.BREACH, "-30"),
        ("change_below", "100", "70", "-20", None, Verdict.BREACH, "-30"),
        ("change_below", "100", "90", "20", None, Verdict.CLEAR, "-10"),
        ("change_below", "100", "130", "20", None, Verdict.CLEAR, "30"),
        # no previous value, or a zero base: nothing to judge
        ("change_above", None, "130", "20", None, Verdict.SKIP, None),
        ("change_above", "0", "130", "20", None, Verdict.SKIP, None),
    ],
)
def test_change_conditions(condition, previous, value, threshold, floor, verdict, percent):
    judged = change_judge(
        condition=condition,
        value=Decimal(value),
        previous=None if previous is None else Decimal(previous),
        threshold=Decimal(threshold),
        floor=None if floor is None else Decimal(floor),
    )
    assert judged.verdict == verdict
    assert judged.value == (None if percent is None else Decimal(percent))


def test_change_recovery_uses_its_own_level():
    # −30 % breached a fall of 20 %; with recovery at 10 %, −15 % is held and −5 % clears
    kwargs = {"condition": "change_below", "previous": Decimal(100), "threshold": Decimal(20)}
    assert change_judge(value=Decimal(85), recovery=Decimal(10), **kwargs).verdict == Verdict.HOLD
    assert change_judge(value=Decimal(95), recovery=Decimal(10), **kwargs).verdict == Verdict.CLEAR


@pytest.mark.parametrize(
    ("condition", "status", "verdict"),
    [
        ("at_risk", "at_risk", Verdict.BREACH),
        ("at_risk", "off_track", Verdict.BREACH),
        ("at_risk", "missed", Verdict.BREACH),
        ("at_risk", "on_track", Verdict.CLEAR),
        ("at_risk", "achieved", Verdict.CLEAR),
        ("off_track", "at_risk", Verdict.CLEAR),
        ("off_track", "off_track", Verdict.BREACH),
        ("off_track", "missed", Verdict.BREACH),
    ],
)
def test_target_conditions(condition, status, verdict):
    assert target_judge(condition=condition, status=status).verdict == verdict


@pytest.mark.parametrize(
    ("days", "verdict"),
    [(None, Verdict.BREACH), ("7.01", Verdict.BREACH), ("7", Verdict.CLEAR), ("0.5", Verdict.CLEAR)],
)
def test_freshness_condition(days, verdict):
    judged = freshness_judge(days=None if days is None else Decimal(days), threshold=Decimal(7))
    assert judged.verdict == verdict


@pytest.mark.parametrize(
    ("components", "measure", "size"),
    [
        ({"promoters": 12, "detractors": 3, "responses": 29}, "responses", Decimal(29)),
        ({"promoters": 12, "detractors": 3, "responses": 29}, "", Decimal(29)),  # the largest
        ({"promoters": 12, "responses": "31.0"}, "", Decimal(31)),
        ({"promoters": 12}, "responses", None),
        ({}, "", None),
        ({"label": "x", "flag": True, "n": None}, "", None),
    ],
)
def test_sample_size(components, measure, size):
    assert sample_size(components=components, sample_measure=measure) == size


# --------------------------------------------------------------------------- above / below on stored cells


def test_a_breach_fires_one_alert_and_reevaluation_changes_nothing(rule, churn, team_a, cell, notified, manager_a):
    # given churn 25 % in March (computed once) under a rule "above 20 %"
    churn_rule = rule()
    cell(churn, team_a, FEB, 12, at=t(0))
    cell(churn, team_a, MAR, 25, at=t(0))
    # when evaluation runs three times on the same data
    first = evaluate()
    evaluate()
    evaluate()
    # then one alert, firing for March with the value and threshold, one history row, one notification
    alert = Alert.objects.get()
    assert (alert.rule, alert.team, alert.period_start, alert.state) == (churn_rule, team_a, MAR, AlertState.FIRING)
    assert (alert.value, alert.threshold, alert.breach_count) == (Decimal(25), Decimal(20), 1)
    assert events(alert) == [("fired", Decimal(25))]
    assert notified == [(alert.pk, "fired")]
    # the rule's default recipients (the team's managers) were recorded on the event
    assert alert.events.get().notified == [{"user": manager_a.pk, "username": "manager-a", "channels": ["in_app"]}]
    assert first.events == {"fired": 1}


def test_below_fires_under_its_threshold(rule, make_kpi, team_a, cell, notified):
    # given a win rate of 18 % in February and 22 % in March, and a rule "below 20 %"
    win_rate = make_kpi("win_rate", unit="%")
    rule(kpi=win_rate, condition="below")
    cell(win_rate, team_a, FEB, 18, at=t(0))
    cell(win_rate, team_a, MAR, 22, at=t(0))
    evaluate()
    # then only February fires
    assert list(Alert.objects.values_list("period_start", "state", "value")) == [(FEB, "firing", Decimal(18))]


def test_hysteresis_holds_the_alert_until_the_recovery_level_then_resolves(rule, churn, team_a, cell, notified):
    # given churn 25 % (rule: above 20 %, recovers at 15 %), firing
    rule(recovery_threshold=Decimal(15))
    cell(churn, team_a, MAR, 25, at=t(0))
    evaluate(now=t(1))
    alert = Alert.objects.get()
    # when March is recomputed at 18 %: back under the threshold but not past the recovery level
    cell(churn, team_a, MAR, 18, at=t(2))
    evaluate(now=t(3))
    alert.refresh_from_db()
    # then the alert stays open with the new value, a silent "updated" row
    assert (alert.state, alert.value) == (AlertState.FIRING, Decimal(18))
    # when recomputed at 14 %
    cell(churn, team_a, MAR, 14, at=t(4))
    evaluate(now=t(5))
    alert.refresh_from_db()
    # then it resolves by itself, and the resolution is notified
    assert (alert.state, alert.resolved_at, alert.resolved_by) == (AlertState.RESOLVED, t(5), None)
    assert events(alert) == [("fired", Decimal(25)), ("updated", Decimal(18)), ("resolved", Decimal(14))]
    assert notified == [(alert.pk, "fired"), (alert.pk, "resolved")]
    # when the churn breaches again later, the rule fires anew: a second alert for the same month
    cell(churn, team_a, MAR, 21, at=t(6))
    evaluate(now=t(7))
    assert list(Alert.objects.order_by("id").values_list("period_start", "state")) == [
        (MAR, "resolved"),
        (MAR, "firing"),
    ]


def test_no_flapping_between_threshold_and_recovery(rule, churn, team_a, cell, notified):
    # given a resolved-free history: 25 → 19 → 21 → 19 with recovery at 15: one alert, never resolved
    rule(recovery_threshold=Decimal(15))
    for minute, value in enumerate([25, 19, 21, 19]):
        cell(churn, team_a, MAR, value, at=t(2 * minute))
        evaluate(now=t(2 * minute + 1))
    alert = Alert.objects.get()
    assert alert.state == AlertState.FIRING
    assert [kind for kind, _v in events(alert)] == ["fired", "updated", "updated", "updated"]
    assert notified == [(alert.pk, "fired")]


# --------------------------------------------------------------------------- pending count


def test_pending_count_fires_after_consecutive_breaches_of_new_data(rule, churn, team_a, cell, notified):
    # given a rule that fires after 3 breaching evaluations
    rule(pending_count=3)
    cell(churn, team_a, MAR, 25, at=t(0))
    evaluate(now=t(1))
    alert = Alert.objects.get()
    assert (alert.state, alert.breach_count, alert.fired_at) == (AlertState.PENDING, 1, None)
    # when the same data is judged again: nothing (not a second breach)
    evaluate(now=t(2))
    alert.refresh_from_db()
    assert alert.breach_count == 1
    # when new data (a recompute) still breaches, twice
    cell(churn, team_a, MAR, 26, at=t(3))
    evaluate(now=t(4))
    alert.refresh_from_db()
    assert (alert.state, alert.breach_count) == (AlertState.PENDING, 2)
    cell(churn, team_a, MAR, 26, at=t(5))
    evaluate(now=t(6))
    alert.refresh_from_db()
    # then the third breach fires it, and only then is anybody told
    assert (alert.state, alert.breach_count, alert.fired_at) == (AlertState.FIRING, 3, t(6))
    assert [kind for kind, _v in events(alert)] == ["pending", "breach", "fired"]
    assert notified == [(alert.pk, "fired")]


def test_a_pending_alert_whose_condition_clears_resolves_quietly(rule, churn, team_a, cell, notified):
    # given a pending alert (2 breaches needed)
    rule(pending_count=2)
    cell(churn, team_a, MAR, 25, at=t(0))
    evaluate(now=t(1))
    # when the recomputed value is back to 10 %
    cell(churn, team_a, MAR, 10, at=t(2))
    evaluate(now=t(3))
    # then it is resolved with a history row, and nobody is notified
    alert = Alert.objects.get()
    assert alert.state == AlertState.RESOLVED
    assert events(alert) == [("pending", Decimal(25)), ("resolved", Decimal(10))]
    assert notified == []


# --------------------------------------------------------------------------- minimum sample


def test_minimum_sample_leaves_small_samples_unjudged(rule, make_kpi, team_a, cell, notified):
    # given an NPS of −40 on 29 answers in February and −40 on 30 answers in March; rule: below 0, 30 answers
    nps = make_kpi("nps", unit="pts", additive=False)
    rule(kpi=nps, condition="below", threshold=Decimal(0), min_sample=30, sample_measure="responses")
    cell(nps, team_a, FEB, -40, at=t(0), components={"promoters": 3, "detractors": 15, "responses": 29})
    cell(nps, team_a, MAR, -40, at=t(0), components={"promoters": 3, "detractors": 15, "responses": 30})
    evaluate()
    # then only March (30 answers) is judged
    assert list(Alert.objects.values_list("period_start", flat=True)) == [MAR]


def test_minimum_sample_on_the_largest_component_keeps_an_open_alert_as_is(rule, make_kpi, team_a, cell, notified):
    # given a firing alert on an NPS of −40 over 40 answers (no sample measure named: the largest component)
    nps = make_kpi("nps", unit="pts", additive=False)
    rule(kpi=nps, condition="below", threshold=Decimal(0), min_sample=30)
    cell(nps, team_a, MAR, -40, at=t(0), components={"promoters": 4, "detractors": 20, "responses": 40})
    evaluate(now=t(1))
    # when March is recomputed from only 10 answers at +50
    cell(nps, team_a, MAR, 50, at=t(2), components={"promoters": 5, "detractors": 0, "responses": 10})
    evaluate(now=t(3))
    # then nothing is judged: the alert stays as it was
    alert = Alert.objects.get()
    assert (alert.state, alert.value) == (AlertState.FIRING, Decimal(-40))
    assert [kind for kind, _v in events(alert)] == ["fired"]


def test_a_cell_without_value_is_not_judged(rule, churn, team_a, cell, notified):
    rule()
    cell(churn, team_a, MAR, None, at=t(0))
    evaluate()
    assert Alert.objects.count() == 0


# --------------------------------------------------------------------------- change vs previous period


def test_change_above_reads_the_previous_period_and_respects_the_floor(rule, make_kpi, team_a, cell, notified):
    # given tickets 10 → 13 (+30 %, 3 tickets) then 13 → 26 (+100 %, 13 tickets); rule: +20 %, floor 5 tickets
    tickets = make_kpi("tickets", unit="n")
    rule(kpi=tickets, condition="change_above", threshold=Decimal(20), change_floor=Decimal(5))
    cell(tickets, team_a, JAN, 10, at=t(0))
    cell(tickets, team_a, FEB, 13, at=t(0))
    cell(tickets, team_a, MAR, 26, at=t(0))
    evaluate()
    # then only March fires, with the change in % as its value: (26 − 13) / 13 × 100 = 100
    assert list(Alert.objects.values_list("period_start", "value")) == [(MAR, Decimal(100))]


def test_change_below_with_a_negative_threshold(rule, revenue, team_a, cell, notified):
    # given revenue 1 000 → 700 (−30 %) → 680 (−2.857… %); rule: fall beyond −25 %
    rule(kpi=revenue, condition="change_below", threshold=Decimal(-25))
    cell(revenue, team_a, JAN, 1000, at=t(0))
    cell(revenue, team_a, FEB, 700, at=t(0))
    cell(revenue, team_a, MAR, 680, at=t(0))
    evaluate()
    assert list(Alert.objects.values_list("period_start", "value")) == [(FEB, Decimal(-30))]


# --------------------------------------------------------------------------- objective targets


@pytest.fixture
def target(team_a, revenue):
    objective = Objective.objects.create(team=team_a, title="CA T1", start_date=JAN, due_date=D(2026, 3, 31))
    return Target.objects.create(
        objective=objective,
        kpi=revenue,
        target_value=Decimal(3000),
        status="on_track",
        progress_percent=Decimal(40),
        computed_at=t(0),
    )


def test_target_rule_fires_when_off_track_and_resolves_when_back(team_a, target, notified):
    # given an "at risk" rule on a target that is off track (progress 20 %)
    at_risk = AlertRule.objects.create(team=team_a, name="T1", target=target, condition="at_risk")
    Target.objects.filter(pk=target.pk).update(status="off_track", progress_percent=Decimal(20), computed_at=t(1))
    alerts_evaluate_targets(now=t(2))
    alerts_evaluate_targets(now=t(3))
    # then one alert for the objective's period, valued at the progress %
    alert = Alert.objects.get()
    assert (alert.rule, alert.period_start, alert.value, alert.state) == (at_risk, JAN, Decimal(20), "firing")
    # when the progress refresh finds it on track again
    Target.objects.filter(pk=target.pk).update(status="on_track", progress_percent=Decimal(45), computed_at=t(4))
    alerts_evaluate_targets(now=t(5))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert notified == [(alert.pk, "fired"), (alert.pk, "resolved")]


def test_progress_refresh_task_has_the_target_rules_judged(
    team_a, target, notified, monkeypatch, django_capture_on_commit_callbacks
):
    # given the progress refresh task, with its follow-up task captured
    queued = []
    monkeypatch.setattr(
        alert_tasks.alerts_evaluate_targets_task, "apply_async", lambda args, kw, **_: queued.append(kw)
    )
    from objectives.tasks import objectives_progress_refresh_task

    with django_capture_on_commit_callbacks(execute=True):
        objectives_progress_refresh_task(kpi_ids=[target.kpi_id], team_ids=[team_a.pk])
    assert queued == [{"kpi_ids": [target.kpi_id], "team_ids": [team_a.pk]}]


# --------------------------------------------------------------------------- no data


def test_no_data_counts_sub_teams_and_resolves_when_data_arrives(make_team, make_kpi, notified):
    # given a customers KPI, a team whose sub-team acquired its last customer on 31 March 09:00 UTC
    parent = make_team("support", kind="support")
    child = make_team("support-n1", kind="support", parent=parent)
    kpi = make_kpi("new_customers", unit="n")
    KpiMeasure.objects.create(
        kpi=kpi, name="n", source="customers", aggregate="count", binding="event", date_field="acquired_at"
    )
    last = dt.datetime(2026, 3, 31, 9, tzinfo=dt.UTC)
    Customer.objects.create(team=child, external_id="C-1", acquired_at=last)
    # a customer acquired in the future (a data-entry slip) does not count as fresh data
    Customer.objects.create(team=child, external_id="C-2", acquired_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    AlertRule.objects.create(team=parent, name="Silence", kpi=kpi, condition="no_data", threshold=Decimal(7))
    # when judged on 10 April 12:00 UTC: 10 days 3 hours = 10.125 days > 7 (shown as 10.13)
    alerts_evaluate_scheduled(now=NOW)
    alerts_evaluate_scheduled(now=NOW + dt.timedelta(hours=2))
    # then one alert dated by the last record (31 March, Paris), the days as its value
    alert = Alert.objects.get()
    assert (alert.team, alert.period_start, alert.value, alert.state) == (
        parent,
        D(2026, 3, 31),
        Decimal("10.13"),
        "firing",
    )
    # when the next day is judged, still silent: the same alert, its value updated
    alerts_evaluate_scheduled(now=NOW + dt.timedelta(days=1))
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.value) == (1, Decimal("11.13"))
    # when a record arrives and is judged
    Customer.objects.create(team=child, external_id="C-3", acquired_at=NOW + dt.timedelta(days=1, hours=1))
    alerts_evaluate_scheduled(now=NOW + dt.timedelta(days=1, hours=2))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert notified == [(alert.pk, "fired"), (alert.pk, "resolved")]


def test_latest_record_reads_every_date_the_measures_use(make_team, make_kpi, django_assert_num_queries):
    # given a KPI over customers (a state: acquired and churned dates) and spend (a plain date)
    from metrics.kpis.freshness import kpi_latest_record_at
    from metrics.models import Spend

    team, other = make_team("marketing", kind="marketing"), make_team("autre")
    kpi = make_kpi("cac", unit="€")
    KpiMeasure.objects.create(
        kpi=kpi,
        name="customers",
        source="customers",
        aggregate="count",
        binding="state",
        active_from="acquired_at",
        active_to="churned_at",
        state="start",
    )
    KpiMeasure.objects.create(kpi=kpi, name="spend", source="spend", aggregate="sum", field="amount", date_field="date")
    Customer.objects.create(
        team=team,
        external_id="C-1",
        acquired_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        churned_at=dt.datetime(2026, 4, 2, 8, tzinfo=dt.UTC),
    )
    Spend.objects.create(team=team, external_id="S-1", date=D(2026, 4, 1), category="acquisition", amount=10)
    # later records that must not count: tomorrow's spend, and another team's customer
    Spend.objects.create(team=team, external_id="S-2", date=D(2026, 4, 11), category="acquisition", amount=10)
    Customer.objects.create(team=other, external_id="C-2", acquired_at=dt.datetime(2026, 4, 9, tzinfo=dt.UTC))
    kpi = type(kpi).objects.prefetch_related("measures").get(pk=kpi.pk)
    # when asked on 10 April: one aggregate query per source
    with django_assert_num_queries(2):
        latest = kpi_latest_record_at(kpi=kpi, team_ids=[team.pk], now=NOW)
    # then the churn on 2 April 08:00 UTC is later than the spend of 1 April (midnight in Paris)
    assert latest == dt.datetime(2026, 4, 2, 8, tzinfo=dt.UTC)
    # and without the churn, the spend's 1 April counts from Paris midnight: 31 March 22:00 UTC (summer time)
    Customer.objects.filter(team=team).update(churned_at=None)
    assert kpi_latest_record_at(kpi=kpi, team_ids=[team.pk], now=NOW) == dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC)


def test_no_data_fires_for_a_team_that_never_had_any(team_a, make_kpi, notified):
    kpi = make_kpi("leads", unit="n")
    KpiMeasure.objects.create(
        kpi=kpi, name="n", source="leads", aggregate="count", binding="event", date_field="created_at"
    )
    AlertRule.objects.create(team=team_a, name="Silence", kpi=kpi, condition="no_data", threshold=Decimal(3))
    alerts_evaluate_scheduled(now=NOW)
    # on the following days the same alert stays open rather than one more per day
    alerts_evaluate_scheduled(now=NOW + dt.timedelta(days=1))
    alerts_evaluate_scheduled(now=NOW + dt.timedelta(days=2))
    alert = Alert.objects.get()
    assert (alert.period_start, alert.value, alert.state) == (D(2026, 4, 10), None, "firing")


# --------------------------------------------------------------------------- snooze, inactive, scope


def test_snoozed_and_inactive_rules_are_not_evaluated(rule, churn, team_a, cell, notified):
    # given churn 25 % in March, a rule snoozed until 11 April and an inactive rule
    snoozed = rule()
    alert_rule_snooze(rule=snoozed, until=dt.datetime(2026, 4, 11, tzinfo=dt.UTC))
    rule(name="Off", active=False)
    cell(churn, team_a, MAR, 25, at=t(0))
    # when judged on 10 April: nothing
    evaluate(now=NOW)
    assert Alert.objects.count() == 0
    # when judged after the snooze: only the snoozed (active) rule fires
    evaluate(now=dt.datetime(2026, 4, 11, 0, 1, tzinfo=dt.UTC))
    assert list(Alert.objects.values_list("rule", flat=True)) == [snoozed.pk]


def test_cells_outside_the_recomputed_range_or_granularity_are_not_judged(rule, churn, team_a, cell, notified):
    # given breaches in January (month) and in Q1 (quarter), and rules on both granularities
    rule()
    rule(name="Quarter", granularity="quarter")
    cell(churn, team_a, JAN, 30, at=t(0))
    cell(churn, team_a, MAR, 30, at=t(0))
    cell(churn, team_a, JAN, 30, at=t(0), granularity="quarter")
    # when the signal says only months [March, April) were recomputed
    evaluate(start=MAR, end=APR, granularities=["month"])
    # then only the March cell is judged
    assert list(Alert.objects.values_list("period_start", "rule__granularity")) == [(MAR, "month")]


def test_scheduled_evaluation_judges_the_current_and_previous_period(rule, churn, team_a, cell, notified):
    # given breaches in January, March and April; on 10 April the current month is April, the previous March
    rule()
    for period in (JAN, MAR, APR):
        cell(churn, team_a, period, 30, at=t(0))
    alerts_evaluate_scheduled(now=NOW)
    assert sorted(Alert.objects.values_list("period_start", flat=True)) == [MAR, APR]


def test_kpi_cells_are_loaded_in_one_query_for_all_rules_of_a_kpi(
    rule, churn, make_team, team_a, cell, django_assert_num_queries
):
    # given four rules on the churn KPI across two teams and two granularities
    team_b = make_team("team-b")
    rules = [rule(), rule(name="Q", granularity="quarter"), rule(team=team_b), rule(team=team_b, condition="below")]
    cell(churn, team_a, MAR, 30, at=t(0))
    cell(churn, team_b, FEB, 3, at=t(0))
    for r in rules:
        r.refresh_from_db()
    # when their observations over three months are gathered: one query
    with django_assert_num_queries(1):
        found = kpi_observations(rules=rules, periods=lambda r: [JAN, FEB, MAR])
    # then each rule sees its own team's cells, with the previous period's value
    assert [o.period_start for o in found[rules[0].pk]] == [MAR]
    assert [(o.period_start, o.value) for o in found[rules[3].pk]] == [(FEB, Decimal(3))]
    assert found[rules[1].pk] == []


# --------------------------------------------------------------------------- triggers


def test_values_changed_signal_enqueues_the_evaluation_of_those_cells(
    monkeypatch, team_a, churn, django_capture_on_commit_callbacks
):
    # given the tasks' enqueueing captured
    from objectives import tasks

    queued = []
    monkeypatch.setattr(alert_tasks.alerts_evaluate_task, "apply_async", lambda args, kw, **_: queued.append(kw))
    monkeypatch.setattr(tasks.objectives_progress_refresh_task, "apply_async", lambda *args, **kw: None)
    # when the engine says it recomputed months and quarters of [January, April)
    with django_capture_on_commit_callbacks(execute=True):
        kpi_values_changed.send(
            sender=KpiValue,
            kpi_ids=[churn.pk],
            team_ids=[team_a.pk],
            granularities=["month", "quarter"],
            start=JAN,
            end=APR,
        )
    # then the evaluation is queued with ids and ISO dates (JSON-safe)
    assert queued == [
        {
            "kpi_ids": [churn.pk],
            "team_ids": [team_a.pk],
            "granularities": ["month", "quarter"],
            "start": "2026-01-01",
            "end": "2026-04-01",
        }
    ]


def test_a_broker_outage_does_not_break_the_recompute(
    monkeypatch, team_a, churn, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError as BrokerError

    from objectives import tasks

    def down(*args, **kwargs):
        raise BrokerError("connection refused")

    monkeypatch.setattr(alert_tasks.alerts_evaluate_task, "apply_async", down)
    monkeypatch.setattr(tasks.objectives_progress_refresh_task, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        kpi_values_changed.send(
            sender=KpiValue, kpi_ids=[churn.pk], team_ids=[team_a.pk], granularities=["month"], start=JAN, end=APR
        )
    assert "alert rules will be judged by the scheduled evaluation" in caplog.text


def test_a_sub_team_recompute_has_the_parent_team_rule_judged(
    make_team, monkeypatch, notified, django_capture_on_commit_callbacks
):
    # given the catalogue's churn, a rule on a parent team, and customers recorded by its sub-team:
    # 10 active on 1 March, 3 of whom leave on 5 March (3 / 10 = 30 % > 20 %)
    from metrics.kpis.services import kpi_catalogue_load
    from metrics.models import KpiDefinition
    from metrics.recompute.services import kpi_values_recompute

    kpi_catalogue_load()
    parent = make_team("ventes", kind="sales")
    child = make_team("ventes-nord", kind="sales", parent=parent)
    churn = KpiDefinition.objects.get(code="churn_rate")
    AlertRule.objects.create(team=parent, name="Churn", kpi=churn, condition="above", threshold=Decimal(20))
    acquired = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    Customer.objects.bulk_create(
        Customer(team=child, external_id=f"C-{i}", acquired_at=acquired, churned_at=churned)
        for i, churned in enumerate([dt.datetime(2026, 3, 5, tzinfo=dt.UTC)] * 3 + [None] * 7)
    )
    from objectives import tasks

    queued = []
    monkeypatch.setattr(alert_tasks.alerts_evaluate_task, "apply_async", lambda args, kw, **_: queued.append(kw))
    monkeypatch.setattr(tasks.objectives_progress_refresh_task, "apply_async", lambda *args, **kw: None)
    # when only the sub-team's March is recomputed, and the queued evaluation runs
    with django_capture_on_commit_callbacks(execute=True):
        kpi_values_recompute(start=MAR, end=APR, kpi_ids=[churn.pk], team_ids=[child.pk], granularities=["month"])
    (payload,) = queued
    assert parent.pk in payload["team_ids"]  # the parent's values include the sub-team's facts
    with time_machine.travel(dt.datetime(2026, 4, 10, 9, tzinfo=dt.UTC), tick=False):
        alert_tasks.alerts_evaluate_task(**payload)
    # then the parent's rule fires for March at 30 %
    assert list(Alert.objects.values_list("team", "period_start", "value")) == [(parent.pk, MAR, Decimal(30))]


def test_resolved_by_hand_the_same_data_does_not_fire_again(rule, churn, team_a, cell, notified, manager_a):
    # given a firing alert on churn 25 %, resolved by hand
    from objectives.alerts.services import alert_resolve

    rule()
    cell(churn, team_a, MAR, 25, at=t(0))
    evaluate(now=t(1))
    alert_resolve(alert=Alert.objects.get(), user=manager_a, note="Saisonnier, attendu.")
    # when the same data is judged again: no new alert
    evaluate(now=t(2))
    assert Alert.objects.count() == 1
    # when newer data still breaches, the rule fires anew
    cell(churn, team_a, MAR, 26, at=t(3))
    evaluate(now=t(4))
    assert list(Alert.objects.order_by("id").values_list("state", flat=True)) == ["resolved", "firing"]


def test_evaluate_task_twice_changes_nothing_the_second_time(rule, churn, team_a, cell, notified):
    rule()
    cell(churn, team_a, MAR, 25, at=t(0))
    args = ([churn.pk], [team_a.pk], ["month"], "2026-01-01", "2026-04-01")
    with time_machine.travel(NOW, tick=False):
        assert alert_tasks.alerts_evaluate_task(*args) == 1
        assert alert_tasks.alerts_evaluate_task(*args) == 0
        assert alert_tasks.alerts_evaluate_scheduled_task() == 0
    assert AlertEvent.objects.count() == 1


def test_recipients_default_to_the_managers(rule, team_a, manager_a, make_user):
    make_user("member-a", team=team_a, role=Role.MEMBER)
    assert alert_rule_recipients(rule=rule()) == [manager_a]


# --------------------------------------------------------------------------- concurrency (PostgreSQL)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent transactions and row locks (PostgreSQL)"
)
@pytest.mark.django_db(transaction=True)
def test_two_workers_evaluating_the_same_rule_at_once_open_one_alert(rule, churn, team_a, cell, notified):
    # given a breach, and two workers judging the same rule at the same instant
    churn_rule = rule()
    cell(churn, team_a, MAR, 25, at=t(0))
    observations = kpi_observations(rules=[churn_rule], periods=lambda r: [MAR])[churn_rule.pk]
    barrier = threading.Barrier(2)
    failures = []

    def work():
        try:
            barrier.wait()
            alert_rule_apply(rule_id=churn_rule.pk, observations=observations, now=timezone.now())
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then one alert, one history row, one notification
    assert failures == []
    alert = Alert.objects.get()
    assert [kind for kind, _v in events(alert)] == ["fired"]
    assert notified == [(alert.pk, "fired")]


def test_a_rebuilt_history_alerts_only_on_the_current_period_and_the_two_before(rule, cell, churn, team_a, notified):
    # given churn at 30 % (> 20 %) in every month from November 2025 to April 2026, all just recomputed,
    # evaluated on 10 April 2026 (NOW)
    rule()
    months = [D(2025, 11, 1), D(2025, 12, 1), JAN, FEB, MAR, APR]
    for month in months:
        cell(churn, team_a, month, 30, at=t(1))
    # when the recompute of the whole range is judged
    evaluate(start=months[0], end=D(2026, 5, 1))
    # then only April (current), March and February alert: the older months are history, not news
    assert sorted(Alert.objects.values_list("period_start", flat=True)) == [FEB, MAR, APR]
    assert len(notified) == 3


# --------------------------------------------------------------------------- like for like


@pytest.fixture
def daily_leads(make_kpi, team_a, cell):
    """Leads (a count the days add up to): `per_day` in every day of March, `april` per day on 1–4 April."""
    leads = make_kpi("leads", unit="n")
    KpiMeasure.objects.create(kpi=leads, name="x", source="leads", aggregate="count", date_field="created_at")

    def store(*, per_day: int, april: int):
        for day in range(1, 32):
            cell(leads, team_a, D(2026, 3, day), per_day, at=t(0), granularity="day", components={"x": per_day})
        for day in range(1, 5):
            cell(leads, team_a, D(2026, 4, day), april, at=t(0), granularity="day", components={"x": april})
        cell(leads, team_a, MAR, per_day * 31, at=t(0))
        cell(leads, team_a, APR, april * 4, at=t(0))
        return leads

    return store


def test_a_change_rule_compares_a_running_month_with_the_same_days_of_the_last_one(rule, daily_leads, notified):
    # given 10 leads a day in March and on 1–4 April: April has 40 leads on the 4th, March had 310 in all
    # but 40 on its first 4 days; and a rule "leads fall by more than 30 %"
    leads = daily_leads(per_day=10, april=10)
    rule(kpi=leads, name="Leads en baisse", condition="change_below", threshold=Decimal(30))
    # when it is evaluated on 4 April
    evaluate(start=MAR, end=D(2026, 5, 1), now=dt.datetime(2026, 4, 4, 12, tzinfo=dt.UTC))
    # then nothing fires: 40 vs 40 is no change (against all of March it would read −87 %)
    assert not Alert.objects.exists()
    assert notified == []


def test_a_real_drop_of_a_running_month_fires(rule, daily_leads, notified):
    # given 10 leads a day in March but 2 a day on 1–4 April: 8 vs 40 on the same days = −80 %
    leads = daily_leads(per_day=10, april=2)
    rule(kpi=leads, name="Leads en baisse", condition="change_below", threshold=Decimal(30))
    evaluate(start=MAR, end=D(2026, 5, 1), now=dt.datetime(2026, 4, 4, 12, tzinfo=dt.UTC))
    alert = Alert.objects.get()
    assert (alert.period_start, alert.state, alert.value) == (APR, AlertState.FIRING, Decimal("-80"))
