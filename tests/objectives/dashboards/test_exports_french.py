"""KPI detail exports that spreadsheets open as numbers: `;` and a decimal comma for French readers, `,` and a
decimal point for English ones, numbers to the cards' places and never escaped, translated headers, real
numbers and dates in XLSX, and nothing for another team's user."""

import csv
import datetime as dt
import io
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from accounts.roles import Role
from metrics.models import KpiMeasure
from objectives.dashboards.exports import display_places
from tests import factories

# The last day of March: March is a whole month, compared with the whole of February.
MARCH_31 = date(2026, 3, 31)
QUERY = "?range=3m&granularity=month"  # January, February and March 2026


@pytest.fixture
def net_revenue(make_kpi):
    kpi = make_kpi(
        "net_revenue",
        unit="€",
        name_fr="Chiffre d'affaires net",
        name_en="Net revenue",
        formula="revenue",
        segments=["channel"],
    )
    KpiMeasure.objects.create(
        kpi=kpi, name="orders", source="orders", aggregate="count", binding="event", date_field="ordered_at"
    )
    KpiMeasure.objects.create(
        kpi=kpi,
        name="revenue",
        source="orders",
        aggregate="sum",
        field="amount",
        binding="event",
        date_field="ordered_at",
        position=1,
    )
    return kpi


@pytest.fixture
def cells(team_a, net_revenue):
    """January is negative (more refunds than sales); February has three decimals; March is whole."""
    for start, value, orders in (
        (date(2026, 1, 1), "-874.08", 3),
        (date(2026, 2, 1), "1234.567", 12),
        (date(2026, 3, 1), "2500", 20),
    ):
        components = {"orders": orders, "revenue": float(value)}
        factories.kpi_value(kpi=net_revenue, team=team_a, period_start=start, value=value, components=components)
    for segment, start, value in (
        ("channel=web", date(2026, 2, 1), "1234.567"),
        ("channel=email", date(2026, 3, 1), "1000.5"),
        ("channel=", date(2026, 3, 1), "1499.5"),
    ):
        factories.kpi_value(kpi=net_revenue, team=team_a, period_start=start, value=value, segment=segment)
    return net_revenue


def _get(client, name: str, team, kpi, language: str = "fr"):
    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=MARCH_31):
        return client.get(reverse(name, args=[team.slug, kpi.code]) + QUERY, HTTP_ACCEPT_LANGUAGE=language)


def _csv_rows(response, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=delimiter))


def _segment_title(language: str, dimension: str, segment: str) -> str:
    with translation.override(language):
        return _("%(dimension)s: %(segment)s") % {"dimension": dimension, "segment": segment or _("(not set)")}


# --------------------------------------------------------------------------- CSV for French readers


def test_french_csv_has_semicolons_decimal_commas_and_french_dates(client, team_a, viewer_a, cells):
    client.force_login(viewer_a)

    response = _get(client, "kpi-detail-csv", team_a, cells)

    assert response.status_code == 200
    assert response.content.startswith("\ufeff".encode())  # the byte-order mark: accents survive
    rows = _csv_rows(response, ";")
    # Money to 2 places, half up; counts whole. Changes: February 1234.567 − (−874.08) = 2108.647, which is
    # 2108.647 / 874.08 = +241.2 %; March 2500 − 1234.567 = 1265.433, that is 1265.433 / 1234.567 = +102.5 %.
    # Segments (no blank channel, email, web): only in the months they were stored.
    assert rows[1] == ["01/01/2026", "janvier 2026", "-874,08", "", "", "3", "-874,08", "", "", ""]
    assert rows[2] == ["01/02/2026", "février 2026", "1234,57", "2108,65", "241,2", "12", "1234,57", "", "", "1234,57"]
    assert rows[3] == [
        "01/03/2026",
        "mars 2026",
        "2500,00",
        "1265,43",
        "102,5",
        "20",
        "2500,00",
        "1499,50",
        "1000,50",
        "",
    ]
    assert len(rows) == 4


def test_french_csv_numbers_parse_after_replacing_the_comma(client, team_a, viewer_a, cells):
    client.force_login(viewer_a)

    rows = _csv_rows(_get(client, "kpi-detail-csv", team_a, cells), ";")

    numbers = [cell for row in rows[1:] for cell in row[2:] if cell]
    assert [float(cell.replace(",", ".")) for cell in numbers][:2] == [-874.08, 3.0]
    assert not any(cell.startswith("'") for row in rows[1:] for cell in row)  # negative ones included
    assert all("." not in cell for cell in numbers)


def test_french_csv_headers_are_translated_words_not_codes(client, team_a, viewer_a, cells):
    client.force_login(viewer_a)

    header = _csv_rows(_get(client, "kpi-detail-csv", team_a, cells), ";")[0]

    assert header[:5] == ["Début de période", "Période", "Valeur (€)", "Variation", "Variation (%)"]
    # the measures in words (orders before revenue, by name), not their names
    assert header[5].startswith("Commandes dont « commandée le » tombe dans la période")
    assert header[6].startswith("Somme de « montant » sur les commandes")
    assert header[7:] == [
        "Canal : (non renseigné)",
        "Canal : E-mail",
        "Canal : Site web",  # the channels in words (metrics.kpis.labels), not their codes
    ]
    assert not {"orders", "revenue", "channel=email", "Period"} & set(header)


def test_segment_values_with_choices_get_their_labels(client, team_a, viewer_a, make_kpi):
    # Tickets' kind has choices: "request" is « Demande » in French, « Request » in English.
    kpi = make_kpi("tickets_opened", unit="n", segments=["kind"])
    KpiMeasure.objects.create(
        kpi=kpi, name="tickets", source="tickets", aggregate="count", binding="event", date_field="opened_at"
    )
    factories.kpi_value(kpi=kpi, team=team_a, period_start=date(2026, 3, 1), value=7)
    factories.kpi_value(kpi=kpi, team=team_a, period_start=date(2026, 3, 1), value=4, segment="kind=request")
    client.force_login(viewer_a)

    french = _csv_rows(_get(client, "kpi-detail-csv", team_a, kpi), ";")
    english = _csv_rows(_get(client, "kpi-detail-csv", team_a, kpi, "en"), ",")

    assert french[0][-1] == _segment_title("fr", "Type", "Demande")
    assert english[0][-1] == "Kind: Request"
    assert [row[-1] for row in french[1:]] == ["", "", "4"]  # a count: no decimals


def test_formula_like_text_is_neutralised_but_numbers_are_not(client, team_a, viewer_a, make_kpi):
    # A component key and a component value that are text starting like formulas; a negative value beside them.
    kpi = make_kpi("margin", unit="€")
    factories.kpi_value(
        kpi=kpi,
        team=team_a,
        period_start=date(2026, 3, 1),
        value="-12.5",
        components={'=HYPERLINK("http://x")': "-2+3", "@cost": -4},
    )
    client.force_login(viewer_a)

    rows = _csv_rows(_get(client, "kpi-detail-csv", team_a, kpi), ";")

    assert rows[0][5:] == ['\'=HYPERLINK("http://x")', "'@cost"]
    # value −12.50 €; components: the text "-2+3" quoted, the number −4 (no measure, so 2 places) written bare
    assert rows[3][2] == "-12,50"
    assert rows[3][5:] == ["'-2+3", "-4,00"]


# --------------------------------------------------------------------------- CSV for English readers


def test_english_csv_has_commas_decimal_points_and_iso_dates(client, team_a, make_user, cells):
    client.force_login(make_user("anne", team=team_a, role=Role.VIEWER, language="en"))

    response = _get(client, "kpi-detail-csv", team_a, cells, "en")

    assert response.content.startswith("\ufeff".encode())
    rows = _csv_rows(response, ",")
    assert rows[0][:5] == ["Period start", "Period", "Value (€)", "Change", "Change (%)"]
    assert rows[0][7:] == ["Channel: (not set)", "Channel: E-mail", "Channel: Website"]
    assert rows[1][:3] == ["2026-01-01", "January 2026", "-874.08"]
    assert rows[3] == [
        "2026-03-01",
        "March 2026",
        "2500.00",
        "1265.43",
        "102.5",
        "20",
        "2500.00",
        "1499.50",
        "1000.50",
        "",
    ]


# --------------------------------------------------------------------------- XLSX


def test_xlsx_has_real_numbers_and_dates_with_translated_headers(client, team_a, viewer_a, cells):
    client.force_login(viewer_a)

    response = _get(client, "kpi-detail-xlsx", team_a, cells)

    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    assert sheet.title == "Chiffre d'affaires net"
    assert workbook.properties.subject == "Équipe A · Mois · 3 derniers mois"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Début de période", "Période", "Valeur (€)", "Variation", "Variation (%)")
    assert rows[0][7] == _segment_title("fr", "Canal", "")
    # exact values (not rounded), shown with 2 places; dates shown the French way
    assert rows[1][:3] == (dt.datetime(2026, 1, 1), "janvier 2026", -874.08)
    assert rows[2][2:7] == (1234.567, pytest.approx(2108.647), 241.2, 12, 1234.567)
    assert rows[3][7:] == (1499.5, 1000.5, None)
    assert sheet["A2"].number_format == "dd/mm/yyyy"
    assert sheet["C2"].number_format == "#,##0.00"
    assert sheet["E2"].number_format == "#,##0.0"
    assert sheet["F2"].number_format == "#,##0"


def test_english_xlsx_dates_are_iso(client, team_a, make_user, cells):
    client.force_login(make_user("anne", team=team_a, role=Role.VIEWER, language="en"))

    sheet = load_workbook(io.BytesIO(_get(client, "kpi-detail-xlsx", team_a, cells, "en").content)).active

    assert sheet.title == "Net revenue"
    assert sheet["A1"].value == "Period start"
    assert sheet["A2"].number_format == "yyyy-mm-dd"


# --------------------------------------------------------------------------- places, isolation, queries


@pytest.mark.parametrize(
    ("unit", "places"),
    [("n", 0), ("€", 2), ("%", 1), ("pts", 1), ("h", 1), ("d", 1), ("s", 0), ("€/d", 2), ("", 2)],
)
def test_places_are_those_of_the_cards(unit, places):
    assert display_places(unit) == places


@pytest.mark.parametrize("name", ["kpi-detail-csv", "kpi-detail-xlsx"])
def test_other_teams_user_gets_404(client, team_a, manager_b, cells, name):
    client.force_login(manager_b)

    response = _get(client, name, team_a, cells)

    assert response.status_code == 404
    assert b"874" not in response.content and b"1234" not in response.content


def test_export_queries_do_not_grow_with_segments_or_periods(client, team_a, viewer_a, cells):
    client.force_login(viewer_a)
    _get(client, "kpi-detail-csv", team_a, cells)
    with CaptureQueriesContext(connection) as few:
        _get(client, "kpi-detail-csv", team_a, cells)
    for channel in ("phone", "shop", "partner"):
        for month in (1, 2, 3):
            factories.kpi_value(
                kpi=cells,
                team=team_a,
                period_start=date(2026, month, 1),
                value=Decimal(month),
                segment=f"channel={channel}",
            )
    with CaptureQueriesContext(connection) as many:
        rows = _csv_rows(_get(client, "kpi-detail-csv", team_a, cells), ";")

    assert len(rows[0]) == 13
    assert len(many.captured_queries) == len(few.captured_queries)
