"""The KPI detail page: formula in plain words, history, breakdown, values table, exports, isolation."""

import csv
import io
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from accounts.roles import Role
from metrics.kpis.words import formula_in_words, measure_in_words
from metrics.models import KpiMeasure
from objectives.dashboards.kpi_detail import detail_range, kpi_detail

TODAY = date(2026, 3, 15)
# The last day of March: as many days as all of February, so March is compared with the whole of it.
MARCH_31 = date(2026, 3, 31)


@pytest.fixture
def churn_kpi(make_kpi):
    kpi = make_kpi(
        "churn_rate",
        unit="%",
        direction="lower",
        additive=False,
        name_fr="Taux d'attrition",
        name_en="Churn rate",
        formula="100 * lost / customers_start",
        segments=["channel", "segment"],
    )
    common = {"source": "customers", "aggregate": "count", "binding": "state", "active_from": "acquired_at"}
    KpiMeasure.objects.create(kpi=kpi, name="lost", state="lost", active_to="churned_at", position=0, **common)
    KpiMeasure.objects.create(
        kpi=kpi, name="customers_start", state="start", active_to="churned_at", position=1, **common
    )
    return kpi


@pytest.fixture
def win_rate_kpi(make_kpi):
    kpi = make_kpi("win_rate", unit="%", additive=False, formula="100 * won / (won + lost)")
    for position, status in enumerate(("won", "lost")):
        KpiMeasure.objects.create(
            kpi=kpi,
            name=status,
            source="deals",
            aggregate="count",
            binding="event",
            date_field="closed_at",
            filters=[{"field": "status", "op": "exact", "value": status}],
            position=position,
        )
    return kpi


def _url(name: str, team, kpi, query: str = "") -> str:
    return reverse(name, args=[team.slug, kpi.code]) + query


# --------------------------------------------------------------------------- the formula in plain words


def test_churn_formula_in_french_words(churn_kpi):
    with translation.override("fr"):
        words = formula_in_words(formula=churn_kpi.formula, measures=list(churn_kpi.measures.all()))

    assert words == "Clients perdus sur la période ÷ clients actifs au début de la période × 100"


def test_churn_formula_in_english_words(churn_kpi):
    with translation.override("en"):
        words = formula_in_words(formula=churn_kpi.formula, measures=list(churn_kpi.measures.all()))

    assert words == "Customers lost during the period ÷ customers active at the start of the period × 100"


def test_filtered_measures_are_bracketed_and_brackets_kept(win_rate_kpi):
    with translation.override("en"):
        words = formula_in_words(formula=win_rate_kpi.formula, measures=list(win_rate_kpi.measures.all()))

    won = "(deals whose “closed at” falls in the period, where “status” = Won)"
    lost = "(deals whose “closed at” falls in the period, where “status” = Lost)"
    assert words == f"{won[0]}{won[1].upper()}{won[2:]} ÷ ({won} + {lost}) × 100"


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("a - (b + c)", "A − (b + c)"),
        ("(a - b) - c", "A − b − c"),
        ("a / (b * c)", "A ÷ (b × c)"),
        ("-a + prev(a)", "−a + a of the previous period"),
        ("if_null(a, 0)", "A (or 0 when it has no value)"),
        ("100 * (a - b) / c", "(A − b) ÷ c × 100"),
        ("a +", "a +"),  # not a formula: shown as written
    ],
)
def test_formula_words_keep_the_meaning(formula, expected):
    with translation.override("en"):
        # no measure given: the names stay as written, so only the operators and brackets are checked
        assert formula_in_words(formula=formula, measures=[]) == expected


def test_measure_words_name_the_aggregate_field_and_duration():
    revenue = KpiMeasure(
        name="revenue",
        source="orders",
        aggregate="sum",
        field="amount",
        binding="event",
        date_field="ordered_at",
        filters=[{"field": "status", "op": "in", "value": ["completed", "returned"]}],
    )
    response = KpiMeasure(
        name="response_time",
        source="leads",
        aggregate="median",
        field="first_response_at",
        duration_from="created_at",
        duration_unit="h",
        binding="event",
        date_field="created_at",
        filters=[{"field": "first_response_at", "op": "isnull", "value": False}],
    )

    with translation.override("en"):
        assert measure_in_words(revenue) == (
            "sum of “amount” over the orders whose “ordered at” falls in the period, "
            "where “status” is one of Completed, Returned"
        )
        assert measure_in_words(response) == (
            "median of the time from “created at” to “first response at” in hours over the leads whose "
            "“created at” falls in the period, where “first response at” is set"
        )


# --------------------------------------------------------------------------- periods and selectors


def test_ranges_and_period_labels(team_a, churn_kpi):
    assert (detail_range(range_key=None, today=TODAY)["start"], detail_range(range_key=None, today=TODAY)["end"]) == (
        date(2025, 4, 1),
        TODAY,
    )
    last_year = detail_range(range_key="last_year", today=TODAY)
    assert (last_year["start"], last_year["end"]) == (date(2025, 1, 1), date(2025, 12, 31))
    assert detail_range(range_key="3m", today=TODAY)["start"] == date(2026, 1, 1)
    assert detail_range(range_key="bogus", today=TODAY)["key"] == "12m"
    # the rows are named by kpiplatform.dates.period (tested in tests/kpiplatform/test_dates.py)
    with translation.override("fr"):
        data = kpi_detail(team=team_a, kpi=churn_kpi, granularity="quarter", range_key="3m", today=TODAY)
    assert [r["label"] for r in data["rows"]] == ["T1 2026"]


def test_rows_changes_history_and_breakdown(team_a, churn_kpi, store, django_assert_num_queries):
    # given churn 4 % in January, 5 % in February, nothing stored in March; February by channel
    store(churn_kpi, team_a, "month", date(2026, 1, 1), 4)
    store(churn_kpi, team_a, "month", date(2026, 2, 1), 5)
    store(churn_kpi, team_a, "month", date(2026, 2, 1), 8, segment="channel=email")
    store(churn_kpi, team_a, "month", date(2026, 2, 1), 2, segment="channel=web")
    store(churn_kpi, team_a, "month", date(2026, 2, 1), 6, segment="segment=smb")

    # the measures and every stored cell of the range; March is running: its measures, February's first days'
    # cells, and — churn reads states, which days cannot rebuild — its measures over 1–N February from the records
    with django_assert_num_queries(5):
        data = kpi_detail(team=team_a, kpi=churn_kpi, granularity="month", range_key="3m", today=TODAY)

    assert [r["period_start"] for r in data["rows"]] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    january, february, march = data["rows"]
    assert january["change"] is None  # December was never computed
    # 5 − 4 = +1 point, i.e. +25 % of 4
    assert (february["change"], february["change_percent"]) == (Decimal("1"), Decimal("25.0"))
    assert march["has_data"] is False
    assert data["history"]["values"] == [4.0, 5.0, None]
    breakdown = data["breakdown"]
    assert breakdown["period_start"] == date(2026, 2, 1)
    channel = next(d for d in breakdown["dimensions"] if d["key"] == "channel")
    # largest first; bars relative to the largest (8): 100 % and 25 %; a rate has no shares
    assert [(i["name"], i["value"], i["bar_percent"]) for i in channel["items"]] == [
        ("email", Decimal("8"), 100.0),
        ("web", Decimal("2"), 25.0),
    ]
    assert channel["items"][0]["share_percent"] is None
    assert [d["key"] for d in breakdown["dimensions"]] == ["channel", "segment"]


def test_additive_kpi_breakdown_has_shares_and_chosen_period(team_a, make_kpi, store):
    leads = make_kpi("leads", unit="n", segments=["channel"])
    store(leads, team_a, "month", date(2026, 1, 1), 4, segment="channel=email")
    store(leads, team_a, "month", date(2026, 2, 1), 3, segment="channel=email")
    store(leads, team_a, "month", date(2026, 2, 1), 1, segment="channel=web")

    data = kpi_detail(
        team=team_a, kpi=leads, granularity="month", range_key="3m", breakdown_at="2026-02-01", today=TODAY
    )

    items = data["breakdown"]["dimensions"][0]["items"]
    # 3 of 4 leads = 75 %, 1 of 4 = 25 %
    assert [(i["name"], i["share_percent"]) for i in items] == [("email", Decimal("75.0")), ("web", Decimal("25.0"))]
    assert [c["key"] for c in data["breakdown"]["choices"]] == ["2026-02-01", "2026-01-01"]
    assert data["has_data"] is False  # no row without a segment


def test_other_team_values_are_not_read(team_a, team_b, churn_kpi, store):
    store(churn_kpi, team_b, "month", date(2026, 3, 1), 99)

    data = kpi_detail(team=team_a, kpi=churn_kpi, granularity="month", range_key="3m", today=TODAY)

    assert data["has_data"] is False
    assert data["breakdown"]["dimensions"] == []


# --------------------------------------------------------------------------- pages, JSON, exports


@pytest.fixture
def page_data(team_a, churn_kpi, store):
    store(churn_kpi, team_a, "month", date(2026, 2, 1), Decimal("4"))
    store(churn_kpi, team_a, "month", date(2026, 3, 1), Decimal("5.25"))
    store(churn_kpi, team_a, "month", date(2026, 3, 1), 7, segment="channel=email")
    return churn_kpi


def test_page_in_french(client, team_a, viewer_a, page_data):
    client.force_login(viewer_a)

    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=MARCH_31):
        html = client.get(_url("kpi-detail", team_a, page_data, "?range=3m")).content.decode()

    assert "Taux d&#x27;attrition" in html or "Taux d'attrition" in html
    assert "Clients perdus sur la période ÷ clients actifs au début de la période × 100" in html
    assert "100 * lost / customers_start" in html
    assert "5,3\u00a0%" in html  # March, 5.25 shown with one decimal and a French decimal comma
    # a rate changes in points: 5.25 % − 4.00 % = +1.25 pts, shown half up to one decimal like the values
    assert "+1,3\u00a0pts" in html
    assert "mars 2026" in html
    assert "Canal" in html
    assert reverse("kpi-detail-xlsx", args=[team_a.slug, "churn_rate"]) in html


def test_page_in_english(client, team_a, make_user, page_data):
    client.force_login(make_user("anne", team=team_a, role=Role.VIEWER, language="en"))

    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=TODAY):
        html = client.get(_url("kpi-detail", team_a, page_data, "?range=3m"), HTTP_ACCEPT_LANGUAGE="en").content
    html = html.decode()

    assert "Customers lost during the period" in html
    assert "5.3\u00a0%" in html
    assert "March 2026" in html
    assert "Channel" in html


def test_page_query_count_does_not_grow_with_values(client, team_a, viewer_a, page_data, store):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(viewer_a)
    url = _url("kpi-detail", team_a, page_data, "?range=24m")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for month in range(1, 13):
        store(page_data, team_a, "month", date(2025, month, 1), month)
        store(page_data, team_a, "month", date(2025, month, 1), month, segment="channel=web")
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200

    assert len(many.captured_queries) == len(few.captured_queries)


def test_csv_export_has_the_table_rows_in_french(client, team_a, viewer_a, page_data):
    client.force_login(viewer_a)

    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=MARCH_31):
        response = client.get(_url("kpi-detail-csv", team_a, page_data, "?range=3m&granularity=month"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="team-a-churn_rate-month-3m.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Début de période", "Période", "Valeur (%)", "Variation", "Variation (%)"]
    assert rows[0][5].startswith("Canal")  # the email segment's column
    # January (never computed), February 4, March 5.25: +1.25 points, +31.2 %; a rate to one decimal, half up
    assert rows[1] == ["01/01/2026", "janvier 2026", "", "", "", ""]
    assert rows[2][:3] == ["01/02/2026", "février 2026", "4,0"]
    assert rows[3] == ["01/03/2026", "mars 2026", "5,3", "1,3", "31,2", "7,0"]


def test_csv_export_is_formula_safe(client, make_team, make_user, make_kpi, store):
    # a team name cannot reach the table, but a component key can: a formula-like key is quoted
    team = make_team("evil")
    kpi = make_kpi("orders", unit="n")
    from metrics.models import KpiValue

    store(kpi, team, "month", date(2026, 3, 1), 3)
    KpiValue.objects.filter(kpi=kpi, team=team).update(components={'=HYPERLINK("http://x")': 1})
    client.force_login(make_user("eve", team=team, role=Role.VIEWER))

    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=TODAY):
        response = client.get(_url("kpi-detail-csv", team, kpi, "?range=3m&granularity=month"))

    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert header[-1] == '\'=HYPERLINK("http://x")'


def test_xlsx_export_has_numbers_and_dates(client, team_a, viewer_a, page_data):
    client.force_login(viewer_a)

    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=MARCH_31):
        response = client.get(_url("kpi-detail-xlsx", team_a, page_data, "?range=3m&granularity=month"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Début de période", "Période", "Valeur (%)", "Variation", "Variation (%)")
    assert rows[3][0].date() == date(2026, 3, 1)
    assert rows[3][1:] == ("mars 2026", 5.25, 1.25, 31.2, 7)
    assert rows[1][2] is None


def test_json_endpoint(client, team_a, viewer_a, page_data):
    client.force_login(viewer_a)

    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=TODAY):
        body = client.get(_url("kpi-detail-data", team_a, page_data, "?range=3m")).json()

    assert body["kpi"]["code"] == "churn_rate"
    assert body["history"]["values"] == [None, 4.0, 5.25]
    assert body["rows"][2]["period_start"] == "2026-03-01"


@pytest.mark.parametrize("name", ["kpi-detail", "kpi-detail-data", "kpi-detail-csv", "kpi-detail-xlsx"])
def test_other_teams_user_gets_404_everywhere(client, team_a, manager_b, page_data, name):
    client.force_login(manager_b)

    response = client.get(_url(name, team_a, page_data))

    assert response.status_code == 404
    assert b"5.25" not in response.content and b"5,25" not in response.content


@pytest.mark.parametrize("name", ["kpi-detail", "kpi-detail-csv"])
def test_anonymous_is_sent_to_login(client, team_a, page_data, name):
    assert client.get(_url(name, team_a, page_data)).status_code == 302


def test_unknown_kpi_is_404(client, team_a, viewer_a):
    client.force_login(viewer_a)

    assert client.get(reverse("kpi-detail", args=[team_a.slug, "nope"])).status_code == 404


def test_dashboard_cards_link_to_their_detail_page(client, team_a, viewer_a, make_kpi):
    make_kpi("revenue")
    client.force_login(viewer_a)

    html = client.get(reverse("dashboard", args=[team_a.slug])).content.decode()

    assert f'href="{reverse("kpi-detail", args=[team_a.slug, "revenue"])}"' in html


def test_csv_export_headers_in_english_for_english_users(client, team_a, make_user, page_data):
    client.force_login(make_user("anne", team=team_a, role=Role.VIEWER, language="en"))

    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=TODAY):
        response = client.get(_url("kpi-detail-csv", team_a, page_data, "?range=3m"), HTTP_ACCEPT_LANGUAGE="en")

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Period start", "Period", "Value (%)", "Change", "Change (%)", "Channel: E-mail"]
    assert rows[3][1] == "March 2026"


def test_daily_granularity_lists_every_day_of_the_range(team_a, churn_kpi, store):
    # 3 months back from 15 March 2026: 1 January to 15 March = 31 + 28 + 15 = 74 days
    store(churn_kpi, team_a, "day", date(2026, 3, 15), 2)

    data = kpi_detail(team=team_a, kpi=churn_kpi, granularity="day", range_key="3m", today=TODAY)

    assert len(data["rows"]) == 74
    assert data["rows"][-1]["value"] == Decimal("2")
    assert data["granularity"] == "day"
