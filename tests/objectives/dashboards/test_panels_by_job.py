"""Dashboard charts for each job: the defaults of each kind of team, their data from stored cells, the sentence shown
instead of an empty chart, a manager's choice of charts and the query count whatever the number of charts."""

import datetime as dt
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts.roles import Role
from metrics.kpis.catalogue import CATALOGUE_CODES
from objectives.dashboards.panels import PANELS, PANELS_BY_KEY, dashboard_panels, panels_for
from objectives.dashboards.services import dashboard_panels_set
from objectives.dashboards.team import team_dashboard
from objectives.models import Budget, DashboardPanel
from tests import factories

TODAY = date(2026, 3, 15)
# Running in the middle of March 2026: the twelve months are April 2025 … March 2026.
MIDDAY = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)
BEFORE_FEBRUARY = [None] * 10  # April 2025 … January 2026, when a test stores only February and March


def keys_of(data: dict) -> list[str]:
    return [panel["key"] for panel in data["panels"]]


def panel(data: dict, key: str) -> dict:
    return next(p for p in data["panels"] if p["key"] == key)


def html_of(client, team, user, **params) -> str:
    client.force_login(user)
    with time_machine.travel(MIDDAY, tick=False):
        response = client.get(reverse("dashboard", args=[team.slug]), params, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    return response.content.decode()


# --------------------------------------------------------------------------- the defaults of each job


@pytest.mark.parametrize(
    ("kind", "keys"),
    [
        ("sales", ["revenue", "pipeline", "win_rate", "sales_cycle"]),
        ("marketing", ["leads_by_channel", "lead_conversion", "spend_budget", "cac_roi"]),
        ("support", ["tickets", "response_times", "first_contact_resolution", "satisfaction", "nps"]),
        ("other", ["revenue", "pipeline", "leads_by_channel", "nps"]),
    ],
)
def test_each_kind_of_team_gets_the_charts_of_its_job_in_order(make_team, kind, keys):
    team = make_team(f"team-{kind}", kind=kind)

    data = team_dashboard(team=team, today=TODAY)

    assert keys_of(data) == keys
    assert [key for key in data["charts"] if key != "trend"] == keys
    assert dashboard_panels(team=team)["is_default"] is True
    assert [p.key for p in panels_for(team_kind=kind)] == keys


def test_every_panel_reads_catalogue_kpis_and_serves_a_job():
    read = {code for panel in PANELS for code in panel.kpi_codes}

    assert read <= set(CATALOGUE_CODES)
    assert all(panel.kinds for panel in PANELS)
    assert len(PANELS_BY_KEY) == len(PANELS)


# --------------------------------------------------------------------------- pipeline in funnel order


def test_pipeline_stages_come_in_funnel_order_with_french_labels(make_team, make_kpi, store):
    # given the stored open pipeline of March by stage, the largest amount in negotiation, a closed stage with
    # nothing open and a stage of the CRM's own
    team = make_team("ventes", kind="sales")
    pipeline = make_kpi("pipeline_value", additive=False)
    for stage, amount in [
        ("negotiation", 900),
        ("prospecting", 100),
        ("custom_stage", 20),
        ("proposal", 300),
        ("qualification", 50),
        ("closed_won", 0),
    ]:
        store(pipeline, team, "month", date(2026, 3, 1), amount, segment=f"stage={stage}")

    with translation.override("fr"):
        chart = team_dashboard(team=team, today=TODAY)["charts"]["pipeline"]

    # then the funnel's order (not the amounts', not the alphabet's), the CRM's own stage after it, no closed stage
    assert chart["stages"] == ["prospecting", "qualification", "proposal", "negotiation", "custom_stage"]
    assert chart["labels"] == ["Prospection", "Qualification", "Proposition", "Négociation", "Custom stage"]
    assert chart["amounts"] == [100.0, 50.0, 300.0, 900.0, 20.0]


def test_the_page_shows_the_stages_in_french(client, make_team, make_user, make_kpi, store):
    team = make_team("ventes", kind="sales")
    pipeline = make_kpi("pipeline_value", additive=False)
    store(pipeline, team, "month", date(2026, 3, 1), 300, segment="stage=proposal")
    store(pipeline, team, "month", date(2026, 3, 1), 100, segment="stage=prospecting")

    html = html_of(client, team, make_user("claire", team=team, role=Role.VIEWER))

    assert 'data-chart="pipeline"' in html
    assert html.index('"Prospection"') < html.index('"Proposition"')
    assert '"proposal"' in html  # the codes stay in the data, for integrations
    assert '"labels": ["Prospection", "Proposition"]' in html


# --------------------------------------------------------------------------- no empty axis


def missing_sentence(html: str, key: str) -> str:
    """The paragraph shown instead of the chart `key`."""
    start = html.index(f'data-missing="{key}"')
    return html[start : html.index("</p>", start)]


def test_a_chart_without_data_says_what_is_missing_and_where_to_import(client, make_team, make_user):
    # given a support team without any stored value
    team = make_team("support", kind="support")
    manager = make_user("nadia", team=team, role=Role.MANAGER)
    viewer = make_user("paul", team=team, role=Role.VIEWER)
    import_url = reverse("import-home", args=[team.slug])

    html = html_of(client, team, manager)

    # then no chart is drawn: each panel says what is missing and how to get it, with a link to the import page
    assert 'data-chart="' not in html
    tickets = missing_sentence(html, "tickets")
    assert (
        "Aucune demande enregistrée sur les 12 derniers mois : importez vos demandes (Import › Demandes) "
        "ou envoyez-les par l’API." in tickets
    )
    assert f'href="{import_url}"' in tickets
    assert "Aucune réponse NPS sur la période" in missing_sentence(html, "nps")
    # a viewer, who may not import, reads the same sentence without the link
    tickets = missing_sentence(html_of(client, team, viewer), "tickets")
    assert "Aucune demande enregistrée" in tickets
    assert "href=" not in tickets


def test_a_year_of_zero_tickets_is_no_data_but_a_zero_rate_is(make_team, make_kpi, store):
    team = make_team("support", kind="support")
    tickets = make_kpi("tickets", unit="n", additive=True)
    fcr = make_kpi("first_contact_resolution_rate", unit="%", additive=False)
    store(tickets, team, "month", date(2026, 3, 1), 0)
    store(fcr, team, "month", date(2026, 3, 1), 0)

    data = team_dashboard(team=team, today=TODAY)

    # a sum of zero is "nothing recorded"; a rate of 0 % is a value (no ticket resolved at first contact)
    assert panel(data, "tickets")["has_data"] is False
    assert panel(data, "first_contact_resolution")["has_data"] is True


def test_support_charts_draw_the_stored_months(client, make_team, make_user, make_kpi, store):
    # given stored months of February and March 2026
    team = make_team("support", kind="support")
    tickets = make_kpi("tickets", unit="n")
    first_response = make_kpi("ticket_first_response_time", unit="h", additive=False)
    resolution = make_kpi("ticket_resolution_time", unit="h", additive=False)
    csat = make_kpi("csat", unit="%", additive=False)
    for kpi, february, march in [
        (tickets, 40, 25),
        (first_response, Decimal("3.5"), Decimal("2.25")),
        (resolution, 30, Decimal("26.5")),
        (csat, Decimal("87.5"), 90),
    ]:
        store(kpi, team, "month", date(2026, 2, 1), february)
        store(kpi, team, "month", date(2026, 3, 1), march)

    data = team_dashboard(team=team, today=TODAY)

    # then the twelve months end with March, each stored value in its month and nothing before February
    charts = data["charts"]
    assert charts["tickets"]["labels"][0] == "2025-04-01" and charts["tickets"]["labels"][-1] == "2026-03-01"
    assert [s["values"] for s in charts["tickets"]["series"]] == [[*BEFORE_FEBRUARY, 40.0, 25.0]]
    assert [(s["kpi"], s["unit"], s["values"]) for s in charts["response_times"]["series"]] == [
        ("ticket_first_response_time", "h", [*BEFORE_FEBRUARY, 3.5, 2.25]),
        ("ticket_resolution_time", "h", [*BEFORE_FEBRUARY, 30.0, 26.5]),
    ]
    # no NPS KPI in this catalogue: the satisfaction chart shows the CSAT alone
    assert [(s["kpi"], s["values"]) for s in charts["satisfaction"]["series"]] == [
        ("csat", [*BEFORE_FEBRUARY, 87.5, 90.0])
    ]
    assert [p["has_data"] for p in data["panels"]] == [True, True, False, True, False]
    # and the page draws them instead of the sentence
    html = html_of(client, team, make_user("nadia", team=team, role=Role.MANAGER))
    assert 'data-chart="tickets"' in html and 'data-missing="tickets"' not in html
    assert 'data-chart="first_contact_resolution"' not in html and 'data-missing="first_contact_resolution"' in html


def test_sales_charts_revenue_orders_win_rate_and_cycle(make_team, make_kpi, store):
    team = make_team("ventes", kind="sales")
    revenue = make_kpi("revenue")
    orders = make_kpi("orders", unit="n")
    win_rate = make_kpi("win_rate", unit="%", additive=False)
    cycle = make_kpi("sales_cycle_length", unit="d", direction="lower", additive=False)
    store(revenue, team, "month", date(2026, 3, 1), Decimal("1250.50"))
    store(orders, team, "month", date(2026, 3, 1), 12)
    store(win_rate, team, "month", date(2026, 2, 1), None)  # no deal closed in February: no value
    store(win_rate, team, "month", date(2026, 3, 1), Decimal("37.5"))
    store(cycle, team, "month", date(2026, 3, 1), 42)

    with translation.override("en"):
        charts = team_dashboard(team=team, today=TODAY)["charts"]

    # revenue as bars and orders as a line, on two axes (€ and n); the revenue's values kept at the top level
    assert [(s["kpi"], s["style"], s["values"][-1]) for s in charts["revenue"]["series"]] == [
        ("revenue", "bar", 1250.5),
        ("orders", "line", 12.0),
    ]
    assert charts["revenue"]["values"] == [*BEFORE_FEBRUARY, None, 1250.5]
    assert charts["win_rate"]["series"][0]["values"][-2:] == [None, 37.5]
    assert (charts["sales_cycle"]["series"][0]["unit_label"], charts["sales_cycle"]["series"][0]["values"][-1]) == (
        "d",
        42.0,
    )


def test_spend_against_the_acquisition_budget_per_month(make_team, make_kpi):
    # given the acquisition spend stored in the CAC's components: 1 200 € in January, 800 € in March (no new
    # customer in March: no CAC value, but the spend is there)
    team = make_team("marketing", kind="marketing")
    cac = make_kpi("customer_acquisition_cost", additive=False)
    factories.kpi_value(
        kpi=cac,
        team=team,
        period_start=date(2026, 1, 1),
        value=600,
        components={"acquisition_spend": 1200, "new_customers": 2},
    )
    factories.kpi_value(
        kpi=cac,
        team=team,
        period_start=date(2026, 3, 1),
        value=None,
        components={"acquisition_spend": 800, "new_customers": 0},
    )
    # and a quarterly acquisition budget of 9 000 € (plus a channel's part of it and a retention budget, not added)
    for name, category, channel, amount in [
        ("T1", "acquisition", "", 9000),
        ("T1 e-mail", "acquisition", "email", 1000),
        ("Fidélité", "retention", "", 5000),
    ]:
        Budget.objects.create(
            team=team,
            name=name,
            category=category,
            channel=channel,
            amount=Decimal(amount),
            start_date=date(2026, 1, 1),
            end_date=date(2026, 3, 31),
        )

    data = team_dashboard(team=team, today=TODAY)

    spend, budget = data["charts"]["spend_budget"]["series"]
    assert spend["values"] == [None] * 9 + [1200.0, None, 800.0]
    # 9 000 € over the 90 days of the quarter, by days of each month: 31, 28 and 31 days
    # → 9000 × 31 / 90 = 3 100, 9000 × 28 / 90 = 2 800, 3 100; nothing planned before January
    assert budget["values"] == [None] * 9 + [3100.0, 2800.0, 3100.0]
    assert panel(data, "spend_budget")["has_data"] is True
    # the budget block of the period reads the same budgets (no second read)
    assert [b["name"] for b in data["budgets"]] == ["Fidélité", "T1", "T1 e-mail"]


def test_leads_by_channel_and_conversion(make_team, make_kpi, store):
    team = make_team("marketing", kind="marketing")
    leads = make_kpi("leads", unit="n")
    conversion = make_kpi("lead_conversion_rate", unit="%", additive=False)
    store(leads, team, "month", date(2026, 3, 1), 7, segment="channel=web")
    store(leads, team, "month", date(2026, 3, 1), 3, segment="channel=")
    store(conversion, team, "month", date(2026, 3, 1), Decimal("12.5"))

    with translation.override("en"):
        charts = team_dashboard(team=team, today=TODAY)["charts"]

    # by channel name as stored, written for people; a lead without channel says so
    assert (charts["leads_by_channel"]["labels"], charts["leads_by_channel"]["values"]) == (
        ["(no channel)", "Website"],
        [3.0, 7.0],
    )
    assert charts["lead_conversion"]["series"][0]["values"][-1] == 12.5


# --------------------------------------------------------------------------- a manager's choice


def _post(client, team, **data):
    return client.post(reverse("dashboard-panels", args=[team.slug]), data)


def test_manager_adds_removes_and_reorders_charts_and_the_dashboard_follows(client, make_team, make_user):
    team = make_team("support", kind="support")
    manager = make_user("nadia", team=team, role=Role.MANAGER)
    client.force_login(manager)
    defaults = ["tickets", "response_times", "first_contact_resolution", "satisfaction", "nps"]

    # add the revenue chart (not a support one by default) at the end
    response = _post(client, team, panels=defaults, action="add", add_panel="revenue")
    assert response.status_code == 302
    assert dashboard_panels(team=team)["is_default"] is False
    # remove the NPS distribution, then move the revenue up once
    _post(client, team, panels=[*defaults, "revenue"], action="remove:nps")
    response = _post(client, team, panels=[*defaults[:4], "revenue"], action="up:revenue")
    assert response["Location"].endswith("?focus=up%3Arevenue")

    expected = ["tickets", "response_times", "first_contact_resolution", "revenue", "satisfaction"]
    assert list(DashboardPanel.objects.filter(team=team).values_list("key", flat=True)) == expected
    assert keys_of(team_dashboard(team=team, today=TODAY)) == expected
    html = html_of(client, team, manager)
    assert [html.index(f'data-panel="{key}"') for key in expected] == sorted(
        html.index(f'data-panel="{key}"') for key in expected
    )
    assert 'data-panel="nps"' not in html

    # restoring the defaults deletes the team's choice
    _post(client, team, action="reset")
    assert DashboardPanel.objects.filter(team=team).count() == 0
    assert keys_of(team_dashboard(team=team, today=TODAY)) == defaults


def test_editor_page_lists_the_charts_and_the_others_to_add(client, make_team, make_user):
    team = make_team("support", kind="support")
    client.force_login(make_user("nadia", team=team, role=Role.MANAGER))

    response = client.get(reverse("dashboard-panels", args=[team.slug]), HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('name="panels" value="tickets"') == 2  # in the order form and the add form
    assert '<option value="revenue">' in html and '<option value="tickets">' not in html
    assert [c["key"] for c in response.context["choices"]][:4] == ["revenue", "pipeline", "win_rate", "sales_cycle"]


def test_the_dashboard_links_to_the_charts_editor_for_managers_only(client, team_a, manager_a, viewer_a):
    editor = reverse("dashboard-panels", args=[team_a.slug])

    assert editor in html_of(client, team_a, manager_a)
    assert editor not in html_of(client, team_a, viewer_a)


@pytest.mark.parametrize(
    "data",
    [
        {"panels": ["revenue"], "action": "add", "add_panel": "bogus"},
        {"panels": ["revenue", "bogus"], "action": "up:revenue"},
        {"panels": ["revenue"], "action": "remove:bogus"},
    ],
)
def test_a_chart_outside_the_registry_is_a_form_error_and_changes_nothing(client, team_a, manager_a, data):
    dashboard_panels_set(team=team_a, keys=["pipeline", "revenue"])
    client.force_login(manager_a)

    response = _post(client, team_a, **data)

    assert response.status_code == 400
    assert any("bogus" in error for error in response.context["errors"])
    assert list(DashboardPanel.objects.filter(team=team_a).values_list("key", flat=True)) == ["pipeline", "revenue"]


def test_adding_without_a_chart_is_a_form_error(client, team_a, manager_a):
    client.force_login(manager_a)

    response = _post(client, team_a, panels=["revenue"], action="add")

    assert response.status_code == 400
    assert DashboardPanel.objects.count() == 0


@pytest.mark.parametrize(("keys", "code"), [(["revenue", "bogus"], "unknown"), (["nps", "nps"], "repeated")])
def test_the_service_refuses_unknown_or_repeated_charts(team_a, keys, code):
    dashboard_panels_set(team=team_a, keys=["tickets"])

    with pytest.raises(ValidationError) as error:
        dashboard_panels_set(team=team_a, keys=keys)

    assert error.value.code == code
    assert list(DashboardPanel.objects.filter(team=team_a).values_list("key", flat=True)) == ["tickets"]


def test_viewer_and_member_may_not_choose_charts(client, team_a, make_user):
    for role in (Role.VIEWER, Role.MEMBER):
        client.force_login(make_user(f"u-{role}", team=team_a, role=role))

        assert client.get(reverse("dashboard-panels", args=[team_a.slug])).status_code == 403
        assert _post(client, team_a, panels=["revenue"], action="remove:revenue").status_code == 403

    assert DashboardPanel.objects.count() == 0


def test_another_teams_manager_gets_404(client, team_a, manager_b):
    client.force_login(manager_b)

    assert client.get(reverse("dashboard-panels", args=[team_a.slug])).status_code == 404
    assert _post(client, team_a, panels=["revenue"], action="add", add_panel="nps").status_code == 404
    assert DashboardPanel.objects.count() == 0


def test_another_teams_choice_does_not_leak(team_a, team_b):
    dashboard_panels_set(team=team_b, keys=["nps"])

    assert keys_of(team_dashboard(team=team_a, today=TODAY)) == ["revenue", "pipeline", "win_rate", "sales_cycle"]


# --------------------------------------------------------------------------- queries


def _store_every_panel(team, make_kpi, store):
    """A value in March for every KPI of the registry, and the pipeline and leads by segment (so no panel falls
    back on the activity)."""
    for code in sorted({code for p in PANELS for code in p.kpi_codes}):
        store(make_kpi(code, additive=False), team, "month", date(2026, 3, 1), 5)
    nps = PANELS_BY_KEY["nps"].kpi_codes[0]
    components = {"promoters": 5, "detractors": 2, "responses": 10}
    factories.kpi_value(kpi=make_kpi(nps), team=team, period_start=date(2026, 3, 1), value=30, components=components)
    store(make_kpi("pipeline_value"), team, "month", date(2026, 3, 1), 100, segment="stage=proposal")
    store(make_kpi("leads"), team, "month", date(2026, 3, 1), 4, segment="channel=web")


def _queries(client, team) -> int:
    client.get(reverse("dashboard", args=[team.slug]))  # warm the session and the translation caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("dashboard", args=[team.slug])).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("kind", ["sales", "marketing", "support"])
def test_the_page_costs_the_same_queries_for_two_charts_or_all(client, make_team, make_user, make_kpi, store, kind):
    # given a team with a value for every chart of the registry
    team = make_team(f"team-{kind}", kind=kind)
    client.force_login(make_user(f"user-{kind}", team=team, role=Role.MANAGER))
    _store_every_panel(team, make_kpi, store)

    with time_machine.travel(MIDDAY, tick=False):
        dashboard_panels_set(team=team, keys=["tickets", "win_rate"])
        two = _queries(client, team)
        dashboard_panels_set(team=team, keys=[p.key for p in PANELS])
        every = _queries(client, team)

    # then the thirteen charts cost what two do, except the budget line's one read of the budgets, which a
    # marketing team's budget block reads anyway
    assert every == two + (0 if kind == "marketing" else 1)


def test_the_defaults_cost_no_query_per_chart(make_team, make_kpi, store, django_assert_max_num_queries):
    team = make_team("support", kind="support")
    _store_every_panel(team, make_kpi, store)
    dashboard_panels_set(team=team, keys=["tickets", "nps"])
    with CaptureQueriesContext(connection) as two:
        team_dashboard(team=team, today=TODAY)
    dashboard_panels_set(team=team, keys=[])

    # the five support charts: the same queries as two of them
    with django_assert_max_num_queries(len(two.captured_queries)):
        data = team_dashboard(team=team, today=TODAY)

    assert all(p["has_data"] for p in data["panels"])
