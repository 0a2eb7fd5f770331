"""The KPI tree page (/dashboard/<team>/kpi/<code>/tree/): each node's value, change and target by hand, a target
carried down, child objectives created by managers only, bad input refused, other teams kept out; and the KPI
detail's drivers section."""

from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.roles import Role
from metrics.kpis.services import kpi_catalogue_load
from metrics.models import KpiDefinition
from objectives.dashboards.trees import kpi_tree_page
from objectives.models import Objective, Target
from tests.metrics.kpi_support import at, order

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"
MARCH_10 = date(2026, 3, 10)  # the tree shows February (the last complete month) against January


@pytest.fixture
def shop(team_a, team_b):
    """Team A — January: 2 orders (100 € and 50 € on the web); February: 3 orders (100 € web, 60 € and 80 €
    by e-mail). Team B: one February order of 9 999 € that team A never sees."""
    kpi_catalogue_load()
    for when, amount, channel in [
        (at(2026, 1, 5), 100, "web"),
        (at(2026, 1, 6), 50, "web"),
        (at(2026, 2, 5), 100, "web"),
        (at(2026, 2, 6), 60, "email"),
        (at(2026, 2, 7), 80, "email"),
    ]:
        order(team_a, when, amount, channel=channel)
    order(team_b, at(2026, 2, 7), 9999, channel="email")
    return KpiDefinition.objects.get(code="revenue")


@pytest.fixture(autouse=True)
def march_10():
    with mock.patch("objectives.dashboards.trees.today_local", return_value=MARCH_10):
        yield


def url(team, code="revenue", query=""):
    return reverse("kpi-tree", args=[team.slug, code]) + query


def revenue_objective(team, value="300"):
    objective = Objective.objects.create(
        team=team, title="Février", start_date=date(2026, 2, 1), due_date=date(2026, 2, 28)
    )
    return Target.objects.create(
        objective=objective, kpi=KpiDefinition.objects.get(code="revenue"), target_value=Decimal(value)
    )


def test_the_tree_values_by_hand(shop, team_a):
    page = kpi_tree_page(team=team_a, kpi=shop)
    assert (page.span, page.compare_span) == (
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 1, 1), date(2026, 2, 1)),
    )
    rows = {row.item.key: row.item for row in page.rows}
    # revenue 100 + 60 + 80 = 240 € vs 150 € (+60 %) = orders 3 vs 2 (+50 %) × basket 80 € vs 75 € (+6,7 %)
    assert (rows["root"].value, rows["root"].compared, rows["root"].change_percent) == (240, 150, Decimal("60.0"))
    assert (rows["root.0"].value, rows["root.0"].compared, rows["root.0"].change_percent) == (3, 2, Decimal("50.0"))
    assert (rows["root.1"].value, rows["root.1"].compared, rows["root.1"].change_percent) == (80, 75, Decimal("6.7"))
    # the basket is revenue ÷ orders, the same 240 € and 3 orders
    assert (rows["root.1.0"].value, rows["root.1.1"].value) == (240, 3)
    # no target yet, nothing to carry down
    assert page.parent_target is None and page.combinations == ()


def test_the_page_shows_values_targets_and_combinations(shop, team_a, make_user, client):
    target = revenue_objective(team_a)
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    response = client.get(url(team_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"240{NBSP}€" in html and f"150{NBSP}€" in html and f"+60{NBSP}%" in html
    assert f"+6,7{NBSP}%" in html  # the basket 75 → 80 €
    assert f'href="/teams/team-a/objectives/{target.objective_id}/"' in html  # the target links to its objective
    # 300 € carried down: hold the basket at 80 € → 300 / 80 = 3,75 → 4 orders; hold orders at 3 → 100 €
    page = response.context["page"]
    assert page.target_value == 300
    values = {c.key: [v for _n, v in c.values] for c in page.combinations}
    assert values["root.0@0"] == [4, Decimal("80.00")]
    assert values["root.1@0"] == [3, Decimal("100.00")]
    assert "9" + NBSP + "999" not in html and "9999" not in html
    # a viewer sees the combinations but no button to create objectives
    assert 'name="combination"' not in html


def test_a_target_asked_for_is_carried_down(shop, team_a, make_user, client):
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    page = client.get(url(team_a, query="?target=480")).context["page"]
    # 480 €: hold orders at 3 → 160 €; at 3 + 5 % = 3,15 → 3 orders (rounded) → same line, kept once; hold the
    # basket at 80 € → 6 orders
    values = {c.key: [v for _n, v in c.values] for c in page.combinations}
    assert values["root.1@0"] == [3, Decimal("160.00")]
    assert values["root.0@0"] == [6, Decimal("80.00")]
    for combination in page.combinations:
        orders, basket = (v for _n, v in combination.values)
        assert orders * basket == combination.reached >= 480


@pytest.mark.parametrize("query", ["?target=abc", "?granularity=decade", "?target=1e400"])
def test_bad_query_parameters_are_refused(shop, team_a, make_user, client, query):
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    assert client.get(url(team_a, query=query)).status_code == 400


def post(client, team, **data):
    fields = {"granularity": "month", "target": "300", "start_date": "2026-03-01", "due_date": "2026-03-31"}
    return client.post(url(team), {**fields, **data})


def test_a_manager_creates_the_child_objectives_below_the_teams_objective(shop, team_a, manager_a, client):
    target = revenue_objective(team_a)
    client.force_login(manager_a)
    response = post(client, team_a, combination="root.1@0")
    assert response.status_code == 302
    children = Objective.objects.filter(parent=target.objective).order_by("id")
    # orders 3, basket 100 € (3 × 100 = 300 €), on the dates given
    assert [(t.kpi.code, t.target_value) for o in children for t in o.targets.all()] == [
        ("orders", Decimal("3")),
        ("average_purchase_value", Decimal("100")),
    ]
    assert {(o.team_id, o.start_date, o.due_date, o.owner_id) for o in children} == {
        (team_a.pk, date(2026, 3, 1), date(2026, 3, 31), manager_a.pk)
    }


def test_a_target_of_ones_own_creates_objectives_without_parent(shop, team_a, manager_a, client):
    client.force_login(manager_a)
    response = post(client, team_a, target="480", combination="root.0@0")
    assert response.status_code == 302
    created = Objective.objects.order_by("id")
    assert [o.parent_id for o in created] == [None, None]
    assert [t.target_value for o in created for t in o.targets.all()] == [Decimal("6"), Decimal("80")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"combination": "root.9@0"}, "Choose one of the combinations shown."),
        ({"combination": "root.1@0", "due_date": "2026-02-01"}, "The due date must be on or after the start date."),
        ({"combination": "root.1@0", "start_date": "not a date"}, "Enter a valid date."),
        ({"combination": "root.1@0", "target": "x"}, "Enter a number."),
    ],
)
def test_form_errors_create_nothing(shop, team_a, manager_a, client, data, message):
    client.force_login(manager_a)
    response = post(client, team_a, **data)
    assert response.status_code == 400
    with translation.override("fr"):
        assert gettext(message).replace("'", "&#x27;") in response.content.decode()
    assert Objective.objects.count() == 0


def test_other_teams_get_nothing(shop, team_a, team_b, make_user, client):
    revenue_objective(team_a)
    stranger = make_user("stranger", team=team_b, role=Role.MANAGER)
    client.force_login(stranger)
    assert client.get(url(team_a)).status_code == 404
    assert post(client, team_a, combination="root.1@0").status_code == 404
    assert Objective.objects.filter(team=team_a).count() == 1
    # their own team's tree never shows team A's figures
    html = client.get(url(team_b)).content.decode()
    assert f"240{NBSP}€" not in html and f"9{NBSP}999" in html


def test_a_viewer_cannot_create_objectives(shop, team_a, make_user, client):
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    assert post(client, team_a, combination="root.1@0").status_code == 403
    assert Objective.objects.count() == 0


def test_unknown_kpi_and_anonymous(shop, team_a, manager_a, client):
    assert client.get(url(team_a)).status_code == 302  # to the login page
    client.force_login(manager_a)
    assert client.get(url(team_a, code="nothing")).status_code == 404


def test_the_kpi_detail_links_to_the_tree_and_says_what_drove_the_change(shop, team_a, make_user, client):
    # February 240 € vs January 150 €: +90 € (+60 %); by channel e-mail +140 € (+93,3 pts), web −50 € (−33,3 pts)
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=date(2026, 2, 28)):
        response = client.get(reverse("kpi-detail", args=[team_a.slug, "revenue"]) + "?range=3m&granularity=month")
    html = response.content.decode()
    assert url(team_a) in html
    drivers = response.context["drivers"]
    assert drivers.drivers.span == (date(2026, 2, 1), date(2026, 3, 1))
    assert drivers.drivers.compare_span == (date(2026, 1, 1), date(2026, 2, 1))
    assert (drivers.drivers.change, drivers.drivers.change_percent) == (Decimal("90.00"), Decimal("60.0"))
    [channel] = [d for d in drivers.dimensions if d.label == "Canal"]
    assert [(s.label, s.contribution, s.percent) for s in channel.segments] == [
        ("E-mail", Decimal("140.00"), Decimal("93.3")),
        ("Site web", Decimal("-50.00"), Decimal("-33.3")),
    ]
    # the parts add up to the change
    assert sum(s.contribution for s in channel.segments) == drivers.drivers.change
    # and revenue = orders × basket: orders 2 → 3 and basket 75 → 80 € share the +90 € as 77,50 € + 12,50 €
    assert [(c.label, c.glue, c.contribution, c.percent) for c in drivers.components] == [
        ("Nombre de commandes", "", Decimal("77.50"), Decimal("51.7")),
        ("Panier moyen", "×", Decimal("12.50"), Decimal("8.3")),
    ]
    assert f"Chiffre d’affaires +60{NBSP}% (dont E-mail +93,3{NBSP}pts)" in drivers.line.replace("'", "’")
    assert "data-drivers" in html and f"+140{NBSP}€" in html
    # Its one measure is the catalogue's revenue: named as the KPI, not « Somme de « montant » sur les
    # commandes », and its own total (no « Variation » or « Total » row beside it)
    assert [(m.label, m.contribution, m.percent) for m in drivers.measures] == [
        ("Chiffre d'affaires", Decimal("90.00"), Decimal("60.0"))
    ]
    assert "data-drivers-total" not in html and f"+60{NBSP}%</td>" not in html
    # No order has a customer: the customer segment's one segment is « (non renseigné) », a card that tells
    # nothing, left out
    assert "Segment de clientèle" not in [d.label for d in drivers.dimensions]
    assert "(non renseigné)" not in html.split("data-drivers-measures")[1].split("breakdown-title")[0]


def test_the_drivers_of_a_two_measure_kpi_end_with_their_total_in_the_same_units(shop, team_a, make_user, client):
    # The basket (revenue / orders): February 240 € / 3 = 80 € against January 150 € / 2 = 75 €: +5 €, that is
    # +6,7 pts of 75 € (5 × 100 / 75 = 6.67)
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    with mock.patch("objectives.dashboards.kpi_detail.today_local", return_value=date(2026, 2, 28)):
        response = client.get(
            reverse("kpi-detail", args=[team_a.slug, "average_purchase_value"]) + "?range=3m&granularity=month"
        )
    drivers = response.context["drivers"]
    assert (drivers.drivers.change, drivers.drivers.change_percent) == (Decimal("5.00"), Decimal("6.7"))
    # each measure under its catalogue KPI's name, the parts adding up to the total
    assert [m.label for m in drivers.measures] == ["Chiffre d'affaires", "Nombre de commandes"]
    assert sum(m.contribution for m in drivers.measures) == Decimal("5.00")
    html = response.content.decode()
    total = html.split("data-drivers-total>")[1].split("</tr>")[0]
    assert '<th scope="row">Total</th>' in total
    assert f"+5{NBSP}€" in total and f"+6,7{NBSP}pts" in total


def test_the_kpi_detail_of_another_team_shows_no_drivers(shop, team_a, team_b, make_user, client):
    client.force_login(make_user("stranger", team=team_b))
    assert client.get(reverse("kpi-detail", args=[team_a.slug, "revenue"])).status_code == 404


def test_the_page_costs_the_same_queries_whatever_the_records(shop, team_a, make_user, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    client.get(url(team_a))
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(team_a)).status_code == 200
    for day in range(1, 20):  # more orders, and new channels
        order(team_a, at(2026, 2, day), 10, channel=f"c{day % 5}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(url(team_a)).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_kpi_reading_a_measure_it_lacks_shows_no_value_rather_than_failing(team_a, make_user, make_kpi, client):
    broken = make_kpi("half_made")  # formula "x", no measure yet
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    response = client.get(url(team_a, code=broken.code, query="?target=10"))
    assert response.status_code == 200
    assert [row.item.value for row in response.context["page"].rows] == [None]
    assert response.context["page"].combinations == ()
    detail = client.get(reverse("kpi-detail", args=[team_a.slug, broken.code]))
    assert detail.status_code == 200 and detail.context["drivers"] is None


def test_a_rate_moves_in_points_and_its_target_is_typed_back_plainly(team_a, make_user, client):
    # given deals closed in January (1 won, 1 lost: 50 %) and February (3 won, 1 lost: 75 %), and a 45 % target
    from tests.metrics.kpi_support import deal

    kpi_catalogue_load()
    for status, closed in (
        [("won", at(2026, 1, 10)), ("lost", at(2026, 1, 12))]
        + [("won", at(2026, 2, d)) for d in (3, 4, 5)]
        + [("lost", at(2026, 2, 9))]
    ):
        deal(team_a, at(2025, 12, 1), 1000, status=status, closed=closed)
    win_rate = KpiDefinition.objects.get(code="win_rate")
    objective = Objective.objects.create(
        team=team_a, title="Février", start_date=date(2026, 2, 1), due_date=date(2026, 2, 28)
    )
    Target.objects.create(objective=objective, kpi=win_rate, target_value=Decimal("45"))
    client.force_login(make_user("viewer", team=team_a, role=Role.VIEWER))
    with translation.override("fr"):
        html = client.get(url(team_a, "win_rate"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    # then the rate's change is a gap in points, 75 − 50 = +25 pts (not +50 % of 50), as on the cards
    assert f"+25{NBSP}pts" in html and f"+50{NBSP}%" not in html.split("Par segment")[0]
    # and the target to carry down reads 45 in the field, not 45.000000
    assert 'value="45"' in html and "45.000000" not in html
