"""The team dashboard: selectors with hand-computed values, the page, its JSON twin and team isolation."""

import datetime as dt
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from accounts.roles import Role
from metrics.models import KpiMeasure
from metrics.models.activity import Deal
from objectives.dashboards.cards import change_colour
from objectives.dashboards.panels import PANELS_BY_KEY
from objectives.dashboards.services import dashboard_panels_set
from objectives.dashboards.team import dashboard_period, team_dashboard
from objectives.models import Objective, Target
from tests import factories

TODAY = date(2026, 3, 15)
# March seen once it is over ("last month" on 2 April): compared with the whole of February.
AFTER_MARCH = {"today": date(2026, 4, 2), "period": "last_month"}


def card(data: dict, code: str) -> dict:
    return next(c for c in data["cards"] if c["code"] == code)


@pytest.fixture
def orders(make_kpi):
    return make_kpi("orders", unit="n", name_fr="Nombre de commandes", name_en="Orders")


@pytest.fixture
def win_rate(make_kpi):
    return make_kpi("win_rate", unit="%", additive=False, name_fr="Taux de conversion", name_en="Win rate")


def test_periods_select_granularity_and_dates():
    assert dashboard_period(period=None, today=TODAY)["start"] == date(2026, 3, 1)
    last = dashboard_period(period="last_month", today=TODAY)
    assert (last["granularity"], last["start"], last["end"]) == ("month", date(2026, 2, 1), date(2026, 2, 28))
    quarter = dashboard_period(period="this_quarter", today=TODAY)
    assert (quarter["granularity"], quarter["start"]) == ("quarter", date(2026, 1, 1))
    assert quarter["end"] == date(2026, 3, 31)
    year = dashboard_period(period="this_year", today=TODAY)
    assert (year["granularity"], year["start"]) == ("year", date(2026, 1, 1))
    assert dashboard_period(period="bogus", today=TODAY)["key"] == "this_month"


@pytest.mark.parametrize(
    ("direction", "change", "colour"),
    [
        ("higher", Decimal("5"), "good"),
        ("higher", Decimal("-5"), "bad"),
        ("lower", Decimal("5"), "bad"),
        ("lower", Decimal("-5"), "good"),
        ("neutral", Decimal("5"), "neutral"),
        ("higher", Decimal("0"), "neutral"),
        ("higher", None, "neutral"),
    ],
)
def test_change_colour_follows_the_kpi_direction(direction, change, colour):
    assert change_colour(direction=direction, change=change) == colour


def test_card_value_previous_change_and_sparkline(team_a, revenue, store):
    # given revenue 1000 in February and 1250 in March: +25 % (250 / 1000), good for a "higher" KPI
    store(revenue, team_a, "month", date(2026, 2, 1), 1000)
    store(revenue, team_a, "month", date(2026, 3, 1), 1250)

    data = team_dashboard(team=team_a, **AFTER_MARCH)

    revenue_card = card(data, "revenue")
    assert revenue_card["value"] == Decimal("1250")
    assert revenue_card["previous_value"] == Decimal("1000")
    assert revenue_card["change_percent"] == Decimal("25.0")
    assert revenue_card["colour"] == "good"
    assert revenue_card["sparkline"] == [None] * 10 + [1000.0, 1250.0]
    assert revenue_card["computed_at"] is not None
    assert data["has_data"] is True
    assert data["charts"]["revenue"]["values"][-2:] == [1000.0, 1250.0]
    assert data["charts"]["trend"]["kpi"] == "revenue"


def test_lower_is_better_kpi_turns_bad_when_it_rises(team_a, make_kpi, store):
    # sales cards include average_purchase_value; make it "lower is better" to check the colour: 40 → 50 is +25 %
    kpi = make_kpi("average_purchase_value", direction="lower")
    store(kpi, team_a, "month", date(2026, 2, 1), 40)
    store(kpi, team_a, "month", date(2026, 3, 1), 50)

    data = team_dashboard(team=team_a, **AFTER_MARCH)

    assert card(data, "average_purchase_value")["change_percent"] == Decimal("25.0")
    assert card(data, "average_purchase_value")["colour"] == "bad"


def test_rates_change_in_points_and_amounts_in_percent(client, manager_a, team_a, revenue, win_rate, store):
    # given a win rate of 37.9 % in February and 40.3 % in March (+2.4 points, which is +6.3 % of 37.9),
    # and revenue from 1000 to 1250 (+25 %)
    store(win_rate, team_a, "month", date(2026, 2, 1), Decimal("37.9"))
    store(win_rate, team_a, "month", date(2026, 3, 1), Decimal("40.3"))
    store(revenue, team_a, "month", date(2026, 2, 1), 1000)
    store(revenue, team_a, "month", date(2026, 3, 1), 1250)

    data = team_dashboard(team=team_a, **AFTER_MARCH)

    rate = card(data, "win_rate")
    assert (rate["change"], rate["change_unit"], rate["change_delta"]) == (Decimal("2.4"), "pts", Decimal("2.4"))
    assert rate["change_percent"] == Decimal("6.3")  # 2.4 / 37.9 = 6.33 %, kept for the API, not shown
    assert rate["colour"] == "good"
    amount = card(data, "revenue")
    assert (amount["change"], amount["change_unit"], amount["change_delta"]) == (Decimal("25.0"), "%", Decimal("250"))
    # and the page shows the points, in French
    client.force_login(manager_a)
    with time_machine.travel(dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC), tick=False):
        url = reverse("dashboard", args=[team_a.slug]) + "?period=last_month"
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "+2,4\u00a0pts" in html
    assert "+25\u00a0%" in html


def test_a_score_crossing_zero_changes_in_points(team_a, make_kpi, store):
    # given an NPS of −10 then +5: +15 points (a relative change, 15 / |−10| = +150 %, would mean nothing)
    nps = make_kpi("nps", unit="pts", additive=False)
    store(nps, team_a, "month", date(2026, 2, 1), -10)
    store(nps, team_a, "month", date(2026, 3, 1), 5)
    team_a.kind = "support"
    team_a.save()

    data = team_dashboard(team=team_a, **AFTER_MARCH)

    assert (card(data, "nps")["change"], card(data, "nps")["change_unit"]) == (Decimal("15.0"), "pts")


def test_no_value_is_not_no_data(team_a, revenue, win_rate, orders, store):
    # given a stored win rate without a value (no closed deal) and no orders row at all
    store(win_rate, team_a, "month", date(2026, 3, 1), None)

    data = team_dashboard(team=team_a, today=TODAY)

    assert card(data, "win_rate")["has_data"] is True
    assert card(data, "win_rate")["value"] is None
    assert card(data, "orders")["has_data"] is False
    assert data["has_data"] is True


def test_empty_team_has_no_data(team_a, revenue):
    data = team_dashboard(team=team_a, today=TODAY)

    assert data["has_data"] is False
    assert [c["code"] for c in data["cards"]][:2] == ["revenue", "orders"]


def test_target_and_objective_progress(team_a, revenue, store, django_assert_num_queries):
    store(revenue, team_a, "month", date(2026, 3, 1), 1250)
    objective = Objective.objects.create(
        team=team_a, title="CA du trimestre", start_date=date(2026, 1, 1), due_date=date(2026, 3, 31)
    )
    Target.objects.create(
        objective=objective, kpi=revenue, target_value=Decimal("5000"), progress_percent=Decimal("60"), status="at_risk"
    )

    # charts, kpis, values, objectives, their targets, the targets' KPIs and phases, team tree, pipeline (open deals)
    # 9 + 2 on a running month: the cards' measures and the first days of February (like for like)
    with django_assert_num_queries(11):
        data = team_dashboard(team=team_a, today=TODAY)

    # the month's share of the quarter's 5000 € (31 of its 90 days), not the quarter's target against a month
    target = card(data, "revenue")["target"]
    assert (target["value"], target["objective_value"], target["for_the_period"]) == (
        Decimal("1722.22"),
        Decimal("5000"),
        True,
    )
    assert target["progress_percent"] == Decimal("72.58")  # 1250 / 1722.22
    assert target["expected"] == Decimal("777.78")  # 14 finished days of March: 5000 × 14 / 90
    assert (target["gap"], target["reached"]) == (None, False)
    assert target["status"] == "at_risk"
    assert data["objectives"][0]["progress_percent"] == Decimal("60")
    # additive KPI: 5000 over Jan–Mar (90 days) → 31/90, 28/90 and 31/90 of it; nothing before January
    expected = [None] * 9 + [round(5000 * 31 / 90, 2), round(5000 * 28 / 90, 2), round(5000 * 31 / 90, 2)]
    assert data["charts"]["trend"]["target"] == expected


def test_a_rate_target_shows_the_gap_in_points(team_a, win_rate, store):
    # given a win rate of 37.9 % in March under a quarterly objective of 45 %
    store(win_rate, team_a, "month", date(2026, 3, 1), Decimal("37.9"))
    objective = Objective.objects.create(
        team=team_a, title="Taux de réussite du trimestre", start_date=date(2026, 1, 1), due_date=date(2026, 3, 31)
    )
    Target.objects.create(objective=objective, kpi=win_rate, target_value=Decimal("45"), status="off_track")

    target = card(team_dashboard(team=team_a, today=TODAY), "win_rate")["target"]

    # then the target as is (a rate is aimed at in every period), the gap in points, no % of the way
    assert (target["value"], target["for_the_period"], target["gap"]) == (Decimal("45.00"), False, Decimal("-7.1"))
    assert (target["progress_percent"], target["expected"], target["reached"]) == (None, None, False)


def test_nps_distribution_from_components(make_team, make_kpi):
    team = make_team("support", kind="support")
    nps = make_kpi("nps", unit="pts", additive=False)
    # 10 answers: 5 promoters, 2 detractors → 3 passives; NPS = 100 × (5 − 2) / 10 = 30
    factories.kpi_value(
        kpi=nps,
        team=team,
        granularity="month",
        period_start=date(2026, 3, 1),
        value=Decimal("30"),
        components={"promoters": 5, "detractors": 2, "responses": 10},
    )

    chart = team_dashboard(team=team, today=TODAY)["charts"]["nps"]

    assert chart["values"] == [5, 3, 2]
    assert chart["score"] == 30.0


def test_pipeline_by_stage_and_leads_by_channel(team_a, make_kpi, store):
    # a sales team that also chose the leads chart (marketing's by default)
    dashboard_panels_set(team=team_a, keys=["pipeline", "leads_by_channel"])
    leads = make_kpi("leads", unit="n")
    store(leads, team_a, "month", date(2026, 3, 1), 7, segment="channel=email")
    store(leads, team_a, "month", date(2026, 3, 1), 3, segment="channel=web")
    now = timezone.now()
    for external_id, stage, amount, status in [
        ("D1", "proposal", 100, "open"),
        ("D2", "proposal", 50, "open"),
        ("D3", "qualification", 70, "open"),
        ("D4", "proposal", 999, "won"),
    ]:
        Deal.objects.create(
            team=team_a,
            external_id=external_id,
            stage=stage,
            amount=Decimal(amount),
            status=status,
            created_at=now,
            closed_at=now if status == "won" else None,
        )

    with translation.override("en"):
        charts = team_dashboard(team=team_a, today=TODAY)["charts"]

    # open deals only: proposal 100 + 50 = 150 (2 deals), qualification 70 (1 deal), in funnel order
    assert charts["pipeline"] == {
        "type": "stages",
        "source": "deals",
        "stages": ["qualification", "proposal"],
        "labels": ["Qualification", "Proposal"],
        "counts": [1, 2],
        "amounts": [70.0, 150.0],
        "has_data": True,
    }
    assert charts["leads_by_channel"]["source"] == "kpi"
    assert charts["leads_by_channel"]["labels"] == ["E-mail", "Website"]  # the channels in words
    assert charts["leads_by_channel"]["values"] == [7.0, 3.0]


def _fill(team, kpis, store, months):
    for kpi in kpis:
        for month in range(1, months + 1):
            store(kpi, team, "month", date(2025 + (month - 1) // 12, (month - 1) % 12 + 1, 1), month)


def test_query_count_does_not_grow_with_values(
    team_a, revenue, orders, win_rate, store, django_assert_num_queries, make_team
):
    store(revenue, team_a, "month", date(2026, 3, 1), 1)
    # charts, kpis, values, objectives, team tree, pipeline (no stored stage values: the open deals)
    # 6 + 2 on a running month: the cards' measures and the first days of February (like for like)
    with django_assert_num_queries(8):
        team_dashboard(team=team_a, today=TODAY)

    _fill(team_a, [revenue, orders, win_rate], store, 15)
    make_team("team-a-north", parent=team_a)
    with django_assert_num_queries(8):
        data = team_dashboard(team=team_a, today=TODAY)
    assert card(data, "orders")["value"] == Decimal("15")


def test_page_shows_cards_in_french(client, team_a, viewer_a, revenue, orders, win_rate, store):
    # 1234567.5 € rounds to 1 234 568 € (no decimals from 1 000 €)
    store(revenue, team_a, "month", date(2026, 2, 1), 1000000)
    store(revenue, team_a, "month", date(2026, 3, 1), Decimal("1234567.5"))
    store(win_rate, team_a, "month", date(2026, 3, 1), None)
    client.force_login(viewer_a)

    from unittest import mock

    with mock.patch("objectives.dashboards.team.today_local", return_value=AFTER_MARCH["today"]):
        response = client.get(reverse("dashboard", args=[team_a.slug]), {"period": "last_month"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-kpi="revenue"' in html
    assert 'data-kpi="orders"' in html
    assert "1\u202f234\u202f568\u00a0€" in html or "1\u00a0234\u00a0568\u00a0€" in html
    # +23,5 %: 100 × 234567.5 / 1000000 = 23.45675 → 23.5
    assert "+23,5\u00a0%" in html
    assert "Chiffre d&#x27;affaires" in html or "Chiffre d'affaires" in html
    assert "Aucune donnée" in html  # orders: never computed
    assert "Pas de valeur" in html  # win rate: computed without a value


def test_empty_dashboard_points_to_the_import(client, team_a, manager_a, viewer_a):
    client.force_login(manager_a)

    response = client.get(reverse("dashboard", args=[team_a.slug]))

    assert response.status_code == 200
    assert reverse("import-home", args=[team_a.slug]) in response.content.decode()
    # a viewer, who may not import, gets no link to a page that would refuse them
    client.force_login(viewer_a)
    html = client.get(reverse("dashboard", args=[team_a.slug])).content.decode()
    assert reverse("import-home", args=[team_a.slug]) not in html


def test_json_endpoint_returns_the_dashboard(client, team_a, viewer_a, revenue, store):
    store(revenue, team_a, "month", date(2026, 3, 1), 1250)
    client.force_login(viewer_a)

    from unittest import mock

    with mock.patch("objectives.dashboards.team.today_local", return_value=TODAY):
        response = client.get(reverse("dashboard-data", args=[team_a.slug]) + "?period=this_month")

    assert response.status_code == 200
    body = response.json()
    assert body["period"]["start"] == "2026-03-01"
    assert card(body, "revenue")["value"] == 1250.0
    assert card(body, "orders")["has_data"] is False


@pytest.mark.parametrize("name", ["dashboard", "dashboard-data"])
def test_other_teams_user_gets_404(client, team_a, manager_b, revenue, store, name):
    store(revenue, team_a, "month", date(2026, 3, 1), 1250)
    client.force_login(manager_b)

    response = client.get(reverse(name, args=[team_a.slug]))

    assert response.status_code == 404
    assert b"1250" not in response.content


def test_anonymous_is_sent_to_login(client, team_a):
    response = client.get(reverse("dashboard-data", args=[team_a.slug]))

    assert response.status_code == 302


def test_parent_team_member_sees_sub_team(client, make_team, make_user):
    parent = make_team("company", kind="other")
    child = make_team("north", parent=parent)
    client.force_login(make_user("boss", team=parent, role=Role.VIEWER))

    assert client.get(reverse("dashboard", args=[child.slug])).status_code == 200


def test_page_query_count_does_not_grow_with_values(client, team_a, viewer_a, revenue, orders, store):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(viewer_a)
    url = reverse("dashboard", args=[team_a.slug])
    store(revenue, team_a, "month", date(2026, 3, 1), 1)
    client.get(url)  # warm the session and the translation caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200

    _fill(team_a, [revenue, orders], store, 24)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200

    assert len(many.captured_queries) == len(one.captured_queries)


def test_trend_follows_the_chosen_kpi_and_granularity(client, team_a, viewer_a, revenue, orders, store):
    # given orders in the ISO week of Monday 2026-03-09 (today is Sunday 15 March)
    store(orders, team_a, "week", date(2026, 3, 9), 42)
    client.force_login(viewer_a)

    from unittest import mock

    with mock.patch("objectives.dashboards.team.today_local", return_value=TODAY):
        body = client.get(reverse("dashboard-data", args=[team_a.slug]) + "?granularity=week&kpi=orders").json()

    trend = body["charts"]["trend"]
    assert (trend["kpi"], trend["granularity"]) == ("orders", "week")
    assert trend["labels"][-1] == "2026-03-09"
    assert trend["values"][-1] == 42.0
    assert body["period"]["key"] == "this_month"


def test_page_in_english_uses_english_names_and_separators(client, team_a, make_user, revenue, store):
    from unittest import mock

    store(revenue, team_a, "month", date(2026, 3, 1), Decimal("1234567.5"))
    client.force_login(make_user("anne", team=team_a, role=Role.VIEWER, language="en"))

    with mock.patch("objectives.dashboards.team.today_local", return_value=TODAY):
        html = client.get(reverse("dashboard", args=[team_a.slug]), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Key indicators" in html
    assert "Revenue" in html
    assert "1,234,568\u00a0€" in html


def test_pipeline_and_leads_from_stored_segments_read_no_activity(team_a, make_kpi, store, django_assert_num_queries):
    # given the engine's segment values: pipeline at the end of March by stage, March leads by channel
    dashboard_panels_set(team=team_a, keys=["pipeline", "leads_by_channel"])
    pipeline = make_kpi("pipeline_value", additive=False)
    leads = make_kpi("leads", unit="n")
    store(pipeline, team_a, "month", date(2026, 3, 1), 150, segment="stage=proposal")
    store(pipeline, team_a, "month", date(2026, 3, 1), 700, segment="stage=negotiation")
    store(pipeline, team_a, "month", date(2026, 2, 1), 999, segment="stage=proposal")  # another period
    store(pipeline, team_a, "month", date(2026, 3, 1), 0, segment="stage=closed_won")  # nothing open there
    store(leads, team_a, "month", date(2026, 3, 1), 7, segment="channel=web")
    store(leads, team_a, "month", date(2026, 3, 1), 3, segment="channel=email")
    Deal.objects.create(team=team_a, external_id="D1", stage="ignored", amount=Decimal(5), created_at=timezone.now())

    # charts, kpis, values, objectives: no team tree, no deals, no leads query
    # 4 + 2 on a running month: the cards' measures and the first days of February (like for like)
    with django_assert_num_queries(6), translation.override("en"):
        charts = team_dashboard(team=team_a, today=TODAY)["charts"]

    # in funnel order: proposal before negotiation, whatever the amounts
    assert charts["pipeline"] == {
        "type": "stages",
        "source": "kpi",
        "stages": ["proposal", "negotiation"],
        "labels": ["Proposal", "Negotiation"],
        "counts": [],
        "amounts": [150.0, 700.0],
        "note": "at the end of the period, by each deal's current stage",
        "has_data": True,
    }
    assert charts["leads_by_channel"] == {
        "type": "categories",
        "source": "kpi",
        "channels": ["email", "web"],
        "labels": ["E-mail", "Website"],
        "values": [3.0, 7.0],
        "has_data": True,
    }


@pytest.mark.parametrize(
    ("kind", "panels"),
    [
        ("sales", {"trend", "revenue", "pipeline", "win_rate", "sales_cycle"}),
        ("marketing", {"trend", "leads_by_channel", "lead_conversion", "spend_budget", "cac_roi"}),
        ("support", {"trend", "tickets", "response_times", "first_contact_resolution", "satisfaction", "nps"}),
        ("other", {"trend", "revenue", "nps", "pipeline", "leads_by_channel"}),
    ],
)
def test_each_kind_of_team_gets_the_panels_of_its_job(client, make_team, make_user, kind, panels):
    # given a team of each kind: a support team has no revenue chart nor pipeline, marketing no NPS
    team = make_team(f"team-{kind}", kind=kind)
    assert set(team_dashboard(team=team, today=TODAY)["charts"]) == panels
    # and the page draws only those
    client.force_login(make_user(f"user-{kind}", team=team))
    html = client.get(reverse("dashboard", args=[team.slug])).content.decode()
    assert {key for key in PANELS_BY_KEY if f'data-panel="{key}"' in html} == panels - {"trend"}


def test_a_card_without_value_says_why_and_where_it_can_be_read(client, make_team, make_kpi, make_user, store):
    # given marketing under the organisation: 1 000 € spent in March but no new customer in marketing itself
    # (sales brings them), so its acquisition cost divides by zero; the organisation's is 50 €
    organisation = make_team("organisation", kind="other")
    marketing = make_team("marketing", kind="marketing", parent=organisation)
    cac = make_kpi("customer_acquisition_cost", formula="spend / new_customers", additive=False)
    KpiMeasure.objects.create(kpi=cac, name="spend", source="spend", aggregate="sum", field="amount", date_field="date")
    KpiMeasure.objects.create(
        kpi=cac, name="new_customers", source="customers", aggregate="count", date_field="acquired_at", position=1
    )
    factories.kpi_value(
        kpi=cac,
        team=marketing,
        period_start=date(2026, 3, 1),
        value=None,
        components={"spend": 1000, "new_customers": 0},
    )
    store(cac, organisation, "month", date(2026, 3, 1), 50)

    card_ = card(team_dashboard(team=marketing, today=TODAY), "customer_acquisition_cost")

    # then the card names the zero it divides by, and the organisation's value
    assert card_["value"] is None and len(card_["no_value_because"]) == 1
    assert card_["value_above"] == {
        "team_id": organisation.pk,
        "slug": "organisation",
        "name": "Organisation",
        "value": Decimal("50"),
    }
    # a member of marketing reads why, and where, but gets no link to a team they cannot open
    client.force_login(make_user("lucas", team=marketing))
    with time_machine.travel(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC), tick=False):
        html = client.get(reverse("dashboard", args=["marketing"])).content.decode()
    assert "Rien à diviser ici" in html and "Au niveau Organisation : 50\u00a0€" in html
    assert 'href="/dashboard/organisation/kpi/customer_acquisition_cost/"' not in html
    # the organisation's manager gets the link
    client.force_login(make_user("isabelle", team=organisation, role=Role.MANAGER))
    with time_machine.travel(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC), tick=False):
        html = client.get(reverse("dashboard", args=["marketing"])).content.decode()
    assert 'href="/dashboard/organisation/kpi/customer_acquisition_cost/"' in html
