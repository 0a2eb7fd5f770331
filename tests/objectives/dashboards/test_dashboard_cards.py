"""Dashboard cards: defaults per team kind, a manager's choice and order, the page that edits them."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.roles import Role
from objectives.dashboards.cards import DEFAULT_CARD_CODES, MAX_CARDS, dashboard_cards, dashboard_cards_edited
from objectives.dashboards.services import dashboard_cards_set
from objectives.dashboards.team import team_dashboard
from objectives.models import DashboardCard

TODAY = date(2026, 3, 15)


@pytest.fixture
def kpis(make_kpi):
    return {code: make_kpi(code) for code in ("revenue", "orders", "nps", "csat", "leads", "tickets")}


def codes_of(data: dict) -> list[str]:
    return [c["code"] for c in data["cards"]]


@pytest.mark.parametrize("kind", ["sales", "marketing", "support", "other"])
def test_a_team_that_never_chose_shows_its_kinds_defaults(make_team, kind):
    team = make_team(f"t-{kind}", kind=kind)

    assert codes_of(team_dashboard(team=team, today=TODAY)) == list(DEFAULT_CARD_CODES[kind])
    assert dashboard_cards(team=team)["is_default"] is True


def test_chosen_cards_replace_the_defaults_in_their_order(team_a, kpis, store):
    store(kpis["csat"], team_a, "month", date(2026, 3, 1), 80)

    dashboard_cards_set(team=team_a, kpi_codes=["csat", "revenue", "tickets"])
    data = team_dashboard(team=team_a, today=TODAY)

    assert codes_of(data) == ["csat", "revenue", "tickets"]
    assert data["cards"][0]["value"] == 80
    assert list(DashboardCard.objects.filter(team=team_a).values_list("kpi__code", "position")) == [
        ("csat", 0),
        ("revenue", 1),
        ("tickets", 2),
    ]


def test_reading_chosen_cards_costs_no_extra_query(team_a, kpis, store, django_assert_num_queries):
    # charts, kpis (with the chosen cards), values, objectives, team tree, pipeline (open deals), and on a running
    # month the cards' measures and the previous month's first days: as with the defaults
    dashboard_cards_set(team=team_a, kpi_codes=["csat", "nps", "tickets", "orders", "revenue", "leads"])
    with django_assert_num_queries(8):
        data = team_dashboard(team=team_a, today=TODAY)

    assert len(data["cards"]) == 6


def test_another_teams_choice_does_not_leak(team_a, team_b, kpis):
    dashboard_cards_set(team=team_b, kpi_codes=["csat"])

    assert codes_of(team_dashboard(team=team_a, today=TODAY)) == list(DEFAULT_CARD_CODES["sales"])


def test_an_empty_choice_restores_the_defaults(team_a, kpis):
    dashboard_cards_set(team=team_a, kpi_codes=["csat"])

    dashboard_cards_set(team=team_a, kpi_codes=[])

    assert DashboardCard.objects.filter(team=team_a).count() == 0
    assert dashboard_cards(team=team_a)["is_default"] is True


@pytest.mark.parametrize(
    ("codes", "code"),
    [
        (["csat", "nope"], "unknown"),
        (["csat", "csat"], "repeated"),
        (["csat", "inactive"], "unknown"),
    ],
)
def test_invalid_choices_change_nothing(team_a, kpis, make_kpi, codes, code):
    make_kpi("inactive", active=False)
    dashboard_cards_set(team=team_a, kpi_codes=["revenue"])

    with pytest.raises(ValidationError) as error:
        dashboard_cards_set(team=team_a, kpi_codes=codes)

    assert error.value.code == code
    assert list(DashboardCard.objects.filter(team=team_a).values_list("kpi__code", flat=True)) == ["revenue"]


def test_too_many_cards_are_refused(team_a, make_kpi):
    codes = [make_kpi(f"k{i}").code for i in range(MAX_CARDS + 1)]

    with pytest.raises(ValidationError) as error:
        dashboard_cards_set(team=team_a, kpi_codes=codes)

    assert error.value.code == "too_many"
    assert DashboardCard.objects.count() == 0


@pytest.mark.parametrize(
    ("action", "code", "expected"),
    [
        ("up", "b", ["b", "a", "c"]),
        ("up", "a", ["a", "b", "c"]),  # already first
        ("down", "b", ["a", "c", "b"]),
        ("down", "c", ["a", "b", "c"]),  # already last
        ("remove", "b", ["a", "c"]),
        ("add", "d", ["a", "b", "c", "d"]),
        ("add", "a", ["a", "b", "c"]),  # already there
        ("up", "zz", ["a", "b", "c"]),  # not a card
        ("bogus", "a", ["a", "b", "c"]),
    ],
)
def test_card_edits(action, code, expected):
    assert dashboard_cards_edited(codes=["a", "b", "c"], action=action, code=code) == expected


# --------------------------------------------------------------------------- the page


def _post(client, team, **data):
    return client.post(reverse("dashboard-cards", args=[team.slug]), data)


def test_manager_moves_a_card_up_and_it_is_saved(client, team_a, manager_a, kpis):
    client.force_login(manager_a)
    dashboard_cards_set(team=team_a, kpi_codes=["revenue", "orders", "csat"])

    response = _post(client, team_a, cards=["revenue", "orders", "csat"], action="up:csat")

    assert response.status_code == 302
    assert response["Location"].endswith("?focus=up%3Acsat")
    assert dashboard_cards(team=team_a)["cards"][1]["code"] == "csat"
    # back on the page, the same button has the focus, so pressing it again keeps moving the card
    html = client.get(response["Location"]).content.decode()
    assert 'value="up:csat" autofocus' in html


def test_manager_adds_removes_and_resets(client, team_a, manager_a, kpis, make_kpi):
    defaults = [make_kpi(code).code for code in DEFAULT_CARD_CODES["sales"]]
    client.force_login(manager_a)

    _post(client, team_a, cards=defaults, action="add", add_kpi="csat")
    assert [c["code"] for c in dashboard_cards(team=team_a)["cards"]] == [*defaults, "csat"]

    _post(client, team_a, cards=[*defaults, "csat"], action="remove:revenue")
    assert [c["code"] for c in dashboard_cards(team=team_a)["cards"]] == [*defaults[1:], "csat"]

    _post(client, team_a, action="reset")
    assert dashboard_cards(team=team_a)["is_default"] is True


def test_page_lists_cards_in_french_with_accessible_buttons(client, team_a, manager_a, make_kpi):
    make_kpi("revenue", name_fr="Chiffre d'affaires")
    client.force_login(manager_a)

    html = client.get(reverse("dashboard-cards", args=[team_a.slug])).content.decode()

    assert "Cartes du tableau de bord de Équipe A" in html
    assert "Ce sont les cartes par défaut" in html
    assert 'aria-label="Monter « Chiffre d&#x27;affaires »"' in html
    assert "Ajouter un indicateur" in html


def test_unknown_default_cards_are_dropped_at_the_first_change(client, team_a, manager_a, make_kpi):
    # a catalogue without most of the sales defaults: only revenue and orders exist
    make_kpi("revenue")
    make_kpi("orders")
    client.force_login(manager_a)

    html = client.get(reverse("dashboard-cards", args=[team_a.slug])).content.decode()
    assert html.count('name="cards"') == 4  # revenue and orders, in each of the two forms
    _post(client, team_a, cards=["revenue", "orders"], action="down:revenue")

    assert [c["code"] for c in dashboard_cards(team=team_a)["cards"]] == ["orders", "revenue"]


def test_an_invalid_add_says_why_and_changes_nothing(client, team_a, manager_a, kpis):
    client.force_login(manager_a)

    response = _post(client, team_a, cards=["revenue"], action="add", add_kpi="nope")

    assert response.status_code == 400
    assert "Indicateur inconnu ou inactif : nope." in response.content.decode()
    assert DashboardCard.objects.count() == 0


def test_viewer_and_member_may_not_choose_cards(client, team_a, make_user, kpis):
    for role in (Role.VIEWER, Role.MEMBER):
        client.force_login(make_user(f"u-{role}", team=team_a, role=role))

        assert client.get(reverse("dashboard-cards", args=[team_a.slug])).status_code == 403
        assert _post(client, team_a, cards=["revenue"], action="remove:revenue").status_code == 403

    assert DashboardCard.objects.count() == 0


def test_another_teams_manager_gets_404(client, team_a, manager_b, kpis):
    client.force_login(manager_b)

    assert client.get(reverse("dashboard-cards", args=[team_a.slug])).status_code == 404
    assert _post(client, team_a, cards=["csat"], action="add", add_kpi="csat").status_code == 404
    assert DashboardCard.objects.count() == 0


def test_dashboard_shows_the_choose_link_to_managers_only(client, team_a, manager_a, viewer_a):
    url = reverse("dashboard", args=[team_a.slug])
    cards_url = reverse("dashboard-cards", args=[team_a.slug])

    client.force_login(manager_a)
    assert cards_url in client.get(url).content.decode()
    client.force_login(viewer_a)
    assert cards_url not in client.get(url).content.decode()
