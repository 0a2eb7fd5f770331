"""Alert pages and alert rule pages: who sees and changes what, filters, history, query-count guards, isolation."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import Role
from objectives.models import AlertRule, AlertState, Objective, Target
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert_a(team_a, revenue):
    return factories.alert_with_rule(team=team_a, kpi=revenue)


@pytest.fixture
def member_a(make_user, team_a):
    return make_user("member-a", team=team_a, role=Role.MEMBER)


def rows(response) -> list[int]:
    return [a.pk for a in response.context["alerts"]]


# --- /alerts/ ---------------------------------------------------------------------------------


def test_alert_list_shows_open_alerts_of_my_teams_by_default(client, viewer_a, team_a, team_b, revenue, alert_a):
    resolved = factories.alert_with_rule(
        team=team_a, kpi=revenue, state=AlertState.RESOLVED, name="ancien", period_start=date(2026, 1, 1)
    )
    factories.alert_with_rule(team=team_b, kpi=revenue, name="CA de B")
    client.force_login(viewer_a)
    response = client.get("/alerts/")
    assert response.status_code == 200
    assert rows(response) == [alert_a.pk]
    html = response.content.decode()
    assert "CA élevé" in html and "Équipe A" in html and "CA de B" not in html
    assert 'lang="fr"' in html and "Alertes" in html
    assert rows(client.get("/alerts/?state=resolved")) == [resolved.pk]
    assert set(rows(client.get("/alerts/?state=all"))) == {alert_a.pk, resolved.pk}


def test_alert_list_filters_by_team_and_severity(client, manager_a, make_team, team_a, revenue, alert_a):
    child = make_team("team-a-web", name="Web", parent=team_a)
    critical = factories.alert_with_rule(team=child, kpi=revenue, name="critique", severity="critical")
    client.force_login(manager_a)
    assert rows(client.get("/alerts/?team=team-a-web")) == [critical.pk]
    assert rows(client.get("/alerts/?severity=critical")) == [critical.pk]
    # state chips count open alerts of the filtered set: 1 firing in the child team
    chips = {value: n for value, _label, n in client.get("/alerts/?team=team-a-web").context["state_chips"]}
    assert (chips["open"], chips["firing"], chips["resolved"]) == (1, 1, 0)


def test_alert_list_of_another_teams_filter_is_404(client, manager_b, alert_a):
    client.force_login(manager_b)
    assert client.get("/alerts/?team=team-a").status_code == 404
    assert rows(client.get("/alerts/")) == []


def test_alert_list_costs_a_constant_number_of_queries(
    client, manager_a, team_a, revenue, alert_a, django_assert_num_queries
):
    client.force_login(manager_a)
    client.get("/alerts/")
    for month in range(1, 6):
        factories.alert_with_rule(team=team_a, kpi=revenue, name=f"r{month}", period_start=date(2025, month, 1))

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get("/alerts/").status_code == 200
        return len(queries)

    baseline = count()
    for month in range(6, 12):
        factories.alert_with_rule(team=team_a, kpi=revenue, name=f"s{month}", period_start=date(2025, month, 1))
    # 12 alerts instead of 6: the same queries (session, user, teams, counts, page, bell)
    with django_assert_num_queries(baseline):
        response = client.get("/alerts/")
    assert len(rows(response)) == 12


# --- /alerts/<id>/ ----------------------------------------------------------------------------


def test_alert_detail_shows_figures_chart_data_and_history(client, viewer_a, team_a, revenue, store, alert_a):
    store(revenue, team_a, "month", date(2026, 1, 1), 800)
    store(revenue, team_a, "month", date(2026, 2, 1), 950)
    store(revenue, team_a, "month", date(2026, 3, 1), 1250.5)
    client.force_login(viewer_a)
    response = client.get(f"/alerts/{alert_a.pk}/")
    assert response.status_code == 200
    chart = response.context["chart"]
    assert chart["labels"] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert chart["values"] == [800.0, 950.0, 1250.5] and chart["threshold"] == 1000.0 and chart["highlight"] == 2
    html = response.content.decode()
    assert 'id="alert-chart-data"' in html and "vendor/chart.js/chart.umd.min.js" in html
    assert 'data-event="fired"' in html
    # a viewer reads but has no acknowledge form
    assert f'action="/alerts/{alert_a.pk}/acknowledge/"' not in html


def test_member_acknowledges_with_a_comment_and_the_history_shows_it(client, member_a, alert_a):
    client.force_login(member_a)
    page = client.get(f"/alerts/{alert_a.pk}/").content.decode()
    assert f'action="/alerts/{alert_a.pk}/acknowledge/"' in page
    response = client.post(f"/alerts/{alert_a.pk}/acknowledge/", {"comment": "On s'en occupe"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/alerts/{alert_a.pk}/"
    alert_a.refresh_from_db()
    assert alert_a.state == AlertState.ACKNOWLEDGED and alert_a.acknowledged_by == member_a
    html = response.content.decode()
    assert "Alerte prise en compte." in html
    assert "On s&#x27;en occupe" in html and 'data-event="acknowledged"' in html


def test_member_resolves_and_a_second_resolve_says_why(client, member_a, alert_a):
    client.force_login(member_a)
    client.post(f"/alerts/{alert_a.pk}/resolve/", {"note": "corrigé"})
    alert_a.refresh_from_db()
    assert alert_a.state == AlertState.RESOLVED and alert_a.resolved_by == member_a
    response = client.post(f"/alerts/{alert_a.pk}/resolve/", {"note": "encore"}, follow=True)
    assert "Cette alerte est déjà résolue." in response.content.decode()
    assert alert_a.events.filter(kind="resolved").count() == 1


def test_viewer_cannot_acknowledge(client, viewer_a, alert_a):
    client.force_login(viewer_a)
    assert client.post(f"/alerts/{alert_a.pk}/acknowledge/", {"comment": "x"}).status_code == 403
    alert_a.refresh_from_db()
    assert alert_a.state == AlertState.FIRING


def test_another_teams_user_gets_404_on_an_alert_and_nothing_changes(client, manager_b, alert_a):
    client.force_login(manager_b)
    assert client.get(f"/alerts/{alert_a.pk}/").status_code == 404
    assert client.post(f"/alerts/{alert_a.pk}/acknowledge/", {"comment": "x"}).status_code == 404
    assert client.post(f"/alerts/{alert_a.pk}/resolve/", {"note": "x"}).status_code == 404
    alert_a.refresh_from_db()
    assert alert_a.state == AlertState.FIRING and alert_a.events.count() == 1


def test_alert_pages_need_a_login(client, alert_a):
    assert client.get("/alerts/").status_code == 302
    assert client.get(f"/alerts/{alert_a.pk}/").status_code == 302


# --- /teams/<slug>/alert-rules/ ----------------------------------------------------------------


def rule_form(**extra) -> dict:
    data = {
        "name": "",
        "condition": "above",
        "kpi": "",
        "segment": "",
        "granularity": "month",
        "target": "",
        "threshold": "1000",
        "pending_count": "1",
        "severity": "warning",
        "notify_in_app": "on",
        "notify_email": "on",
        "active": "on",
    }
    data.update(extra)
    return data


def test_manager_creates_a_kpi_rule_in_the_form(client, manager_a, team_a, revenue):
    client.force_login(manager_a)
    page = client.get("/teams/team-a/alert-rules/new/")
    assert page.status_code == 200 and "Nouvelle règle d’alerte" in page.content.decode()
    response = client.post(
        "/teams/team-a/alert-rules/new/",
        rule_form(name="CA au-dessus de 1000", kpi="revenue", recipients=[manager_a.pk]),
    )
    assert response.status_code == 302 and response["Location"] == "/teams/team-a/alert-rules/"
    rule = AlertRule.objects.get()
    assert (rule.name, rule.kpi, rule.threshold, rule.notify_webhook) == ("CA au-dessus de 1000", revenue, 1000, False)
    assert list(rule.recipients.all()) == [manager_a]
    listing = client.get("/teams/team-a/alert-rules/").content.decode()
    assert "CA au-dessus de 1000" in listing


def test_rule_form_shows_the_services_message_on_the_field(client, manager_a, revenue):
    client.force_login(manager_a)
    response = client.post("/teams/team-a/alert-rules/new/", rule_form(kpi="revenue", threshold=""))
    assert response.status_code == 200
    assert response.context["form"].errors["threshold"] == ["Cette condition demande un seuil."]
    assert not AlertRule.objects.exists()


def test_rule_form_offers_only_the_teams_targets_and_members(client, manager_a, manager_b, team_a, team_b, revenue):
    mine = Target.objects.create(
        objective=Objective.objects.create(
            team=team_a, title="A", start_date=date(2026, 1, 1), due_date=date(2026, 3, 31)
        ),
        kpi=revenue,
        target_value=1,
    )
    Target.objects.create(
        objective=Objective.objects.create(
            team=team_b, title="B", start_date=date(2026, 1, 1), due_date=date(2026, 3, 31)
        ),
        kpi=revenue,
        target_value=1,
    )
    client.force_login(manager_a)
    form = client.get("/teams/team-a/alert-rules/new/").context["form"]
    assert list(form.fields["target"].queryset) == [mine]
    assert list(form.fields["recipients"].queryset) == [manager_a]


def test_manager_edits_snoozes_and_deletes_a_rule(client, manager_a, alert_a):
    rule = alert_a.rule
    client.force_login(manager_a)
    edit = client.get(f"/teams/team-a/alert-rules/{rule.pk}/edit/")
    assert edit.context["form"].initial["threshold"] == Decimal(1000)
    client.post(
        f"/teams/team-a/alert-rules/{rule.pk}/edit/",
        rule_form(name="CA élevé", kpi=rule.kpi.code, threshold="1500", severity="critical"),
    )
    rule.refresh_from_db()
    assert (rule.threshold, rule.severity) == (Decimal(1500), "critical")
    client.post(f"/teams/team-a/alert-rules/{rule.pk}/snooze/", {"until": "2099-12-31"})
    rule.refresh_from_db()
    assert rule.snoozed_until is not None and timezone.localtime(rule.snoozed_until).date() == date(2099, 12, 31)
    client.post(f"/teams/team-a/alert-rules/{rule.pk}/delete/")
    assert not AlertRule.objects.exists()


def test_viewer_reads_rules_but_cannot_change_them(client, viewer_a, alert_a):
    rule = alert_a.rule
    client.force_login(viewer_a)
    page = client.get("/teams/team-a/alert-rules/")
    assert page.status_code == 200 and "CA élevé" in page.content.decode()
    assert "/alert-rules/new/" not in page.content.decode()
    assert client.get("/teams/team-a/alert-rules/new/").status_code == 403
    assert client.post(f"/teams/team-a/alert-rules/{rule.pk}/delete/").status_code == 403
    assert AlertRule.objects.filter(pk=rule.pk).exists()


def test_another_teams_manager_gets_404_on_rule_pages_and_nothing_changes(client, manager_b, alert_a):
    rule = alert_a.rule
    client.force_login(manager_b)
    assert client.get("/teams/team-a/alert-rules/").status_code == 404
    assert client.get(f"/teams/team-a/alert-rules/{rule.pk}/edit/").status_code == 404
    assert client.post(f"/teams/team-a/alert-rules/{rule.pk}/delete/").status_code == 404
    assert client.post(f"/teams/team-a/alert-rules/{rule.pk}/snooze/", {"until": "2099-01-01"}).status_code == 404
    # their own team's URL with team A's rule id: still nothing
    assert client.get(f"/teams/team-b/alert-rules/{rule.pk}/edit/").status_code == 404
    assert client.post(f"/teams/team-b/alert-rules/{rule.pk}/delete/").status_code == 404
    rule.refresh_from_db()
    assert rule.snoozed_until is None and rule.threshold == Decimal(1000)


def test_rule_list_costs_a_constant_number_of_queries(client, manager_a, team_a, revenue, django_assert_num_queries):
    client.force_login(manager_a)

    def add(n: int) -> None:
        for i in range(n):
            rule = AlertRule.objects.create(team=team_a, name=f"r{i}-{n}", condition="above", kpi=revenue, threshold=1)
            rule.recipients.add(manager_a)

    add(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get("/teams/team-a/alert-rules/")
    add(5)
    with django_assert_num_queries(len(queries)):
        response = client.get("/teams/team-a/alert-rules/")
    assert len(response.context["rules"]) == 7
