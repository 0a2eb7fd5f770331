"""Alert rule services: create, update, delete, and the per-field validation shared by pages, API and admin."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from accounts.roles import Role
from metrics.models import KpiMeasure
from objectives.alerts.rules import alert_rule_create, alert_rule_delete, alert_rule_update
from objectives.models import AlertRule, Objective, Target, WebhookEndpoint
from objectives.notifications.endpoints import webhook_endpoint_create, webhook_endpoint_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def target_a(team_a, revenue):
    objective = Objective.objects.create(
        team=team_a, title="CA T1", start_date=date(2026, 1, 1), due_date=date(2026, 3, 31)
    )
    return Target.objects.create(objective=objective, kpi=revenue, target_value=Decimal(3000))


@pytest.fixture
def target_b(team_b, revenue):
    objective = Objective.objects.create(
        team=team_b, title="CA B", start_date=date(2026, 1, 1), due_date=date(2026, 3, 31)
    )
    return Target.objects.create(objective=objective, kpi=revenue, target_value=Decimal(3000))


def errors_of(team, data, *, user=None) -> dict:
    with pytest.raises(ValidationError) as raised:
        alert_rule_create(user=user, team=team, data=data)
    return raised.value.message_dict


def test_kpi_rule_is_created_with_defaults_and_a_readable_name(team_a, manager_a, revenue):
    rule = alert_rule_create(
        user=manager_a, team=team_a, data={"kpi": "revenue", "condition": "above", "threshold": 1000}
    )
    rule.refresh_from_db()
    assert rule.kpi == revenue and rule.target is None
    assert rule.threshold == Decimal(1000)
    assert rule.granularity == "month" and rule.severity == "warning" and rule.pending_count == 1
    assert rule.created_by == manager_a and rule.active and rule.notify_email
    # name_fr of the fixture KPI, the condition's (English, no active language) label, the threshold
    with translation.override("en"):
        named = alert_rule_create(
            user=None, team=team_a, data={"kpi": revenue, "condition": "below", "threshold": "5.50"}
        )
    assert named.name == "Revenue — Value below the threshold (5.5)"


def test_target_rule_of_own_team_is_created(team_a, target_a):
    rule = alert_rule_create(user=None, team=team_a, data={"condition": "off_track", "target": target_a.pk})
    assert rule.target == target_a and rule.kpi is None and rule.threshold is None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kpi": "nope", "condition": "above", "threshold": 1}, "kpi", "Unknown KPI 'nope'."),
        ({"kpi": "revenue", "condition": "above"}, "threshold", "This condition needs a threshold."),
        ({"condition": "above", "threshold": 1}, "kpi", "This condition needs a KPI."),
        ({"kpi": "revenue", "condition": "no_data"}, "threshold", "Give the number of days without data."),
        (
            {"kpi": "revenue", "condition": "no_data", "threshold": 0},
            "threshold",
            "The number of days without data must be at least 1.",
        ),
        (
            {"kpi": "revenue", "condition": "change_above", "threshold": 0},
            "threshold",
            "Give the change as a percentage other than 0, e.g. 20 for 20 %.",
        ),
        ({"condition": "off_track"}, "target", "This condition needs an objective target."),
        (
            {"kpi": "revenue", "condition": "sideways", "threshold": 1},
            "condition",
            "Choose a condition among: above, below, change_above, change_below, off_track, at_risk, no_data, "
            "budget_over, anomaly.",
        ),
        ({"kpi": "revenue", "condition": "above", "threshold": "abc"}, "threshold", "Enter a number."),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 1, "segment": "email"},
            "segment",
            "Write a segment as <dimension>=<value>, e.g. channel=email.",
        ),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 1, "segment": "channel=email"},
            "segment",
            "This KPI has no 'channel' breakdown (breakdowns: none).",
        ),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 10, "recovery_threshold": 12},
            "recovery_threshold",
            "The recovery threshold must not be above the threshold.",
        ),
        (
            {"kpi": "revenue", "condition": "below", "threshold": 10, "recovery_threshold": 8},
            "recovery_threshold",
            "The recovery threshold must not be below the threshold.",
        ),
        (
            {"kpi": "revenue", "condition": "change_below", "threshold": -20, "recovery_threshold": 25},
            "recovery_threshold",
            "The recovery change must not be larger than the threshold.",
        ),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 1, "pending_count": 0},
            "pending_count",
            "The number of consecutive breaches must be at least 1.",
        ),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 1, "min_sample": 0},
            "min_sample",
            "The minimum sample must be a whole number of at least 1.",
        ),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 1, "change_floor": -1},
            "change_floor",
            "The minimum absolute change cannot be negative.",
        ),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 1, "granularity": "hour"},
            "granularity",
            "Choose a granularity among: day, week, month, quarter, year.",
        ),
        (
            {"kpi": "revenue", "condition": "above", "threshold": 1, "severity": "huge"},
            "severity",
            "Choose a severity among: info, warning, critical.",
        ),
    ],
)
def test_invalid_rule_gets_a_message_on_its_field_and_nothing_is_written(team_a, revenue, data, field, message):
    with translation.override("en"):
        errors = errors_of(team_a, data)
    assert errors[field] == [message]
    assert AlertRule.objects.count() == 0


def test_messages_are_translated_to_french(team_a, revenue):
    with translation.override("fr"):
        errors = errors_of(team_a, {"kpi": "revenue", "condition": "above"})
    assert errors["threshold"] == ["Cette condition demande un seuil."]


def test_target_of_another_team_reads_as_unknown(team_a, target_b):
    with translation.override("en"):
        errors = errors_of(team_a, {"condition": "at_risk", "target": target_b.pk})
    assert errors == {"target": ["Unknown objective target for this team."]}


def test_kpi_and_target_cannot_be_mixed(team_a, revenue, target_a):
    with translation.override("en"):
        errors = errors_of(team_a, {"condition": "off_track", "target": target_a.pk, "kpi": "revenue"})
    assert errors == {"kpi": ["An objective rule watches its target's KPI; leave the KPI empty."]}


def test_sample_measure_must_be_a_measure_of_the_kpi(team_a, revenue):
    KpiMeasure.objects.create(kpi=revenue, name="amount", source="orders", aggregate="sum", field="amount")
    KpiMeasure.objects.create(kpi=revenue, name="orders", source="orders", aggregate="count")
    with translation.override("en"):
        errors = errors_of(
            team_a, {"kpi": "revenue", "condition": "above", "threshold": 1, "sample_measure": "answers"}
        )
    assert errors == {"sample_measure": ["'answers' is not a measure of this KPI (measures: amount, orders)."]}
    rule = alert_rule_create(
        user=None,
        team=team_a,
        data={"kpi": "revenue", "condition": "above", "threshold": 1, "sample_measure": "orders"},
    )
    assert rule.sample_measure == "orders"


def test_recipients_must_be_members_of_the_team(team_a, revenue, manager_a, manager_b, make_user):
    member = make_user("member-a", team=team_a, role=Role.MEMBER)
    data = {"kpi": "revenue", "condition": "above", "threshold": 1}
    with translation.override("en"):
        errors = errors_of(team_a, {**data, "recipients": [member.pk, manager_b.pk]})
    assert errors == {"recipients": ["Recipients must be members of the team."]}
    rule = alert_rule_create(user=manager_a, team=team_a, data={**data, "recipients": [member, manager_a.pk]})
    assert set(rule.recipients.all()) == {member, manager_a}


def test_update_changes_only_the_given_fields_and_validates_the_result(team_a, revenue):
    rule = alert_rule_create(
        user=None, team=team_a, data={"name": "CA", "kpi": "revenue", "condition": "above", "threshold": 100}
    )
    alert_rule_update(rule=rule, data={"threshold": 200, "severity": "critical"})
    rule.refresh_from_db()
    assert (rule.name, rule.threshold, rule.severity, rule.kpi_id) == ("CA", Decimal(200), "critical", revenue.pk)
    with pytest.raises(ValidationError):
        alert_rule_update(rule=rule, data={"recovery_threshold": 300})
    rule.refresh_from_db()
    assert rule.recovery_threshold is None


def test_delete_removes_the_rule(team_a, revenue):
    rule = alert_rule_create(user=None, team=team_a, data={"kpi": "revenue", "condition": "above", "threshold": 1})
    alert_rule_delete(rule=rule)
    assert not AlertRule.objects.exists()


def test_webhook_refuses_a_loopback_address_and_accepts_a_public_one(team_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with translation.override("en"), pytest.raises(ValidationError) as raised:
        webhook_endpoint_create(team=team_a, data={"name": "local", "url": "http://127.0.0.1:8000/hook"})
    assert raised.value.message_dict["url"] == [
        "The address 127.0.0.1 is private, local or reserved: webhooks cannot be sent there."
    ]
    assert not WebhookEndpoint.objects.exists()
    endpoint = webhook_endpoint_create(
        team=team_a, data={"name": "ops", "url": "https://93.184.216.34/hook", "events": ["alert.firing"]}
    )
    assert endpoint.secret and endpoint.events == ["alert.firing"]
    secret = endpoint.secret
    webhook_endpoint_update(endpoint=endpoint, data={"events": []})
    endpoint.refresh_from_db()
    assert endpoint.events == [] and endpoint.secret == secret


def test_admin_saves_rules_through_the_same_validation(client, make_user, team_a, revenue):
    admin_user = make_user("root", staff=True)
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    form = {
        "team": team_a.pk,
        "name": "CA",
        "condition": "above",
        "kpi": revenue.pk,
        "granularity": "month",
        "compare_with": "previous",  # preselected in the admin form
        "pending_count": 1,
        "severity": "warning",
        "notify_in_app": "on",
        "active": "on",
    }
    refused = client.post("/admin/objectives/alertrule/add/", form)
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["threshold"] == ["Cette condition demande un seuil."]
    assert not AlertRule.objects.exists()
    saved = client.post("/admin/objectives/alertrule/add/", {**form, "threshold": "1000"})
    assert saved.status_code == 302
    rule = AlertRule.objects.get()
    assert (rule.threshold, rule.created_by) == (Decimal(1000), admin_user)
    for page in ("alert", "alertrule", "notification", "webhookendpoint", "webhookdelivery", "objective"):
        assert client.get(f"/admin/objectives/{page}/").status_code == 200
