"""The engine's query shapes: one grouped query per measure whatever the teams and periods, segments,
and KPIs an admin builds from the same blocks (state medians, distinct counts, extremes)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from metrics.engine.compute import KpiPlan, kpis_compute
from metrics.engine.hierarchy import team_closure_sync
from metrics.models import KpiDefinition, KpiMeasure, KpiValue
from metrics.recompute.services import kpi_values_recompute
from tests.metrics.kpi_support import at, customer, deal, lead, order, q, subscription, values

pytestmark = pytest.mark.usefixtures("catalogue")

D = dt.date
JAN, FEB, MAR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)


def plans(*codes: str, segments: bool = False) -> list[KpiPlan]:
    kpis = KpiDefinition.objects.filter(code__in=codes).prefetch_related("measures")
    return [KpiPlan.of(k) if segments else dataclasses.replace(KpiPlan.of(k), segments=()) for k in kpis]


@pytest.fixture
def teams(make_team):
    parent = make_team("parent")
    children = [make_team(f"child-{i}", parent=parent) for i in range(4)]
    for i, child in enumerate(children):
        order(child, at(2026, 1, 1 + i), 10 * (i + 1), channel="web")
        customer(child, at(2025, 6, 1), churned=at(2026, 1 + i, 3))
        lead(child, at(2026, 1, 2), first_response_at=at(2026, 1, 2, i + 1))
    team_closure_sync()
    return [parent, *children]


@pytest.mark.parametrize(
    ("codes", "queries"),
    [
        # revenue: one sum; win rate: won and lost deals read together (one FILTER clause each)
        (("revenue",), 1),
        (("win_rate",), 1),
        # churn and retention read S, E, N and lost of the same customers: one histogram query
        (("churn_rate", "retention_rate", "active_customers"), 1),
        # repeat purchase: the repeat query and the distinct buyers (together on PostgreSQL: the customers'
        # order counts, then how many have at least 1 and at least 2), plus both measures' shares of the
        # longer periods (days and months, metrics.engine.shares: whether the window has records, then one
        # query); median response time: one
        (("repeat_purchase_rate",), {"postgresql": 3, "sqlite": 4}),
        (("lead_response_time",), 1),
        # revenue, orders and buyers of completed orders, for three KPIs: computed once, together; plus the
        # buyers' shares of the longer periods (2 queries)
        (("revenue", "average_purchase_value", "revenue_per_customer"), 3),
        # the NPS's promoters, detractors and responses, with the CSAT's: one pass over the answers
        (("nps", "csat", "ces"), 1),
        # sales velocity: open deals at start (state), won/lost/value/cycle by closing date (one query)
        (("sales_velocity",), 2),
    ],
)
def test_one_query_per_measure_whatever_the_teams_and_periods(teams, django_assert_num_queries, codes, queries):
    from django.db import connection

    queries = queries if isinstance(queries, int) else queries[connection.vendor]
    selected = plans(*codes)
    # when computed for one team and one month
    with django_assert_num_queries(queries):
        few = kpis_compute(plans=selected, team_ids=[teams[1].pk], granularity="month", start=JAN, end=FEB)
    # and for five teams over a year of days
    with django_assert_num_queries(queries):
        many = kpis_compute(
            plans=selected, team_ids=[t.pk for t in teams], granularity="day", start=JAN, end=D(2027, 1, 1)
        )
    # then the number of queries is the same; only the number of cells grows
    assert len(few) == len(selected)
    assert len(many) == len(selected) * 5 * 365


def test_segments_add_one_query_per_dimension(teams, django_assert_num_queries):
    # revenue is broken down by channel and customer segment: 1 + 2 queries, or one scan grouped by
    # GROUPING SETS on PostgreSQL
    from django.db import connection

    revenue = plans("revenue", segments=True)
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 3):
        kpis_compute(plans=revenue, team_ids=[teams[0].pk], granularity="month", start=JAN,
                     end=MAR)  # fmt: skip


def test_whole_catalogue_query_count_is_independent_of_teams_and_periods(teams, django_assert_num_queries):
    everything = [KpiPlan.of(k) for k in KpiDefinition.objects.prefetch_related("measures")]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        kpis_compute(plans=everything, team_ids=[teams[1].pk], granularity="month", start=JAN, end=FEB)
    with CaptureQueriesContext(connection) as large:
        kpis_compute(
            plans=everything, team_ids=[t.pk for t in teams], granularity="month", start=JAN, end=D(2027, 1, 1)
        )
    assert len(small.captured_queries) == len(large.captured_queries)


def test_segment_values_are_computed_with_the_same_formula(team_a):
    # given January orders: web 100 and 50, shop 30, one without a channel (20)
    order(team_a, at(2026, 1, 5), 100, channel="web")
    order(team_a, at(2026, 1, 6), 50, channel="web")
    order(team_a, at(2026, 1, 7), 30, channel="shop")
    order(team_a, at(2026, 1, 8), 20)
    # then the basket per channel: web 150 / 2 = 75, shop 30; overall 200 / 4 = 50; no "channel=" row
    assert values("average_purchase_value", team_a, start=JAN, end=FEB) == {JAN: q(50)}
    assert values("average_purchase_value", team_a, start=JAN, end=FEB, segment="channel=web") == {JAN: q(75)}
    assert values("average_purchase_value", team_a, start=JAN, end=FEB, segment="channel=shop") == {JAN: q(30)}
    segments = set(
        KpiValue.objects.filter(kpi__code="average_purchase_value", team=team_a).values_list("segment", flat=True)
    )
    assert segments == {"", "channel=web", "channel=shop"}


def test_a_segment_that_disappears_is_removed_on_recompute(team_a):
    # given a shop order, computed
    shop = order(team_a, at(2026, 1, 5), 100, channel="shop")
    values("revenue", team_a, start=JAN, end=FEB)
    # when the order turns out to be a web order and the month is recomputed
    shop.channel = "web"
    shop.save()
    values("revenue", team_a, start=JAN, end=FEB)
    # then the shop cell is gone and the web one holds the order
    cells = dict(
        KpiValue.objects.filter(kpi__code="revenue", team=team_a, segment__startswith="channel=").values_list(
            "segment", "value"
        )
    )
    assert cells == {"channel=web": q(100)}


def test_segment_of_a_state_measure(team_a):
    # given active customers by acquisition channel: 2 from ads (one lost in January), 1 from seo
    customer(team_a, at(2025, 6, 1), acquisition_channel="ads")
    customer(team_a, at(2025, 6, 1), churned=at(2026, 1, 10), acquisition_channel="ads")
    customer(team_a, at(2025, 6, 1), acquisition_channel="seo")
    assert values("churn_rate", team_a, start=JAN, end=FEB, segment="channel=ads") == {JAN: q(50)}
    assert values("churn_rate", team_a, start=JAN, end=FEB, segment="channel=seo") == {JAN: q(0)}


# --------------------------------------------------------------------------- KPIs built by an admin


def custom_kpi(code: str, formula: str, *measures: dict, unit: str = "€") -> KpiDefinition:
    kpi = KpiDefinition.objects.create(
        code=code, name_fr=code, name_en=code, category="sales", unit=unit, direction="higher", formula=formula
    )
    for position, fields in enumerate(measures):
        measure = KpiMeasure(kpi=kpi, position=position, **fields)
        measure.full_clean()
        measure.save()
    return kpi


def test_state_median_of_open_deal_amounts(team_a):
    # given deals of 10, 20, 30 and 40 open at the end of January; the 40 one closes in February
    custom_kpi(
        "median_open_deal",
        "amount",
        {
            "name": "amount", "source": "deals", "aggregate": "median", "field": "amount", "binding": "state",
            "active_from": "created_at", "active_to": "closed_at", "state": "end",
        },
    )  # fmt: skip
    for amount in (10, 20, 30):
        deal(team_a, at(2026, 1, 5), amount)
    deal(team_a, at(2026, 1, 5), 40, status="won", closed=at(2026, 2, 10))
    # then January: (20 + 30) / 2 = 25; February: 20; none open before: no value in December
    result = values("median_open_deal", team_a, start=D(2025, 12, 1), end=MAR)
    assert result == {D(2025, 12, 1): None, JAN: q(25), FEB: q(20)}


def test_state_distinct_count_of_customers_with_an_active_subscription(team_a):
    # given customer X with two subscriptions active at the end of January, Y with one, Z cancelled in January
    custom_kpi(
        "subscribed_customers",
        "customers",
        {
            "name": "customers", "source": "subscriptions", "aggregate": "count_distinct", "field": "customer",
            "binding": "state", "active_from": "started_at", "active_to": "cancelled_at", "state": "end",
        },
        unit="n",
    )  # fmt: skip
    x, y, z = (customer(team_a, at(2025, 1, 1)) for _ in range(3))
    subscription(team_a, at(2025, 6, 1), 10, customer=x)
    subscription(team_a, at(2025, 7, 1), 10, customer=x)
    subscription(team_a, at(2025, 6, 1), 10, customer=y)
    subscription(team_a, at(2025, 6, 1), 10, customer=z, cancelled_at=at(2026, 1, 20))
    # then 2 at the end of January, 3 at the end of December
    assert values("subscribed_customers", team_a, start=D(2025, 12, 1), end=FEB) == {
        D(2025, 12, 1): q(3),
        JAN: q(2),
    }


def test_extremes_and_occurrence_threshold(team_a):
    # given January orders of 5, 70 and 20 by customers: A three times, B once
    custom_kpi(
        "order_extremes",
        "largest - smallest + loyal",
        {"name": "largest", "source": "orders", "aggregate": "max", "field": "amount", "date_field": "ordered_at"},
        {"name": "smallest", "source": "orders", "aggregate": "min", "field": "amount", "date_field": "ordered_at"},
        {
            "name": "loyal", "source": "orders", "aggregate": "count_distinct", "field": "customer",
            "date_field": "ordered_at", "min_count": 3,
        },
    )  # fmt: skip
    a, b = customer(team_a, at(2025, 1, 1)), customer(team_a, at(2025, 1, 1))
    order(team_a, at(2026, 1, 2), 5, customer=a)
    order(team_a, at(2026, 1, 3), 70, customer=a)
    order(team_a, at(2026, 1, 4), 20, customer=a)
    order(team_a, at(2026, 1, 5), 20, customer=b)
    # then 70 − 5 + 1 customer with at least 3 orders = 66; February has no orders: no extremes, no value
    assert values("order_extremes", team_a, start=JAN, end=MAR) == {JAN: q(66), FEB: None}


def test_state_sum_with_min_and_max_over_the_histogram(team_a):
    # given deals open at the end of January of 10, 25 and 40 (created in December, January, January)
    custom_kpi(
        "open_deal_spread",
        "biggest - smallest",
        {
            "name": "biggest", "source": "deals", "aggregate": "max", "field": "amount", "binding": "state",
            "active_from": "created_at", "active_to": "closed_at", "state": "end",
        },
        {
            "name": "smallest", "source": "deals", "aggregate": "min", "field": "amount", "binding": "state",
            "active_from": "created_at", "active_to": "closed_at", "state": "end",
        },
    )  # fmt: skip
    deal(team_a, at(2025, 12, 5), 10)
    deal(team_a, at(2026, 1, 5), 25)
    deal(team_a, at(2026, 1, 6), 40, status="lost", closed=at(2026, 2, 2))
    # then January 40 − 10 = 30; February 25 − 10 = 15
    assert values("open_deal_spread", team_a, start=JAN, end=MAR) == {JAN: q(30), FEB: q(15)}


def test_values_are_stored_with_their_components_and_replaced_on_recompute(team_a):
    order(team_a, at(2026, 1, 5), 100)
    kpi_values_recompute(start=JAN, end=FEB, granularities=["month"])
    first = KpiValue.objects.get(kpi__code="revenue", team=team_a, granularity="month", segment="")
    order(team_a, at(2026, 1, 6), Decimal("0.5"))
    kpi_values_recompute(start=JAN, end=FEB, granularities=["month"])
    again = KpiValue.objects.get(kpi__code="revenue", team=team_a, granularity="month", segment="")
    assert (first.pk, again.value, again.components) == (again.pk, q("100.5"), {"revenue": 100.5})


def test_several_dimensions_in_one_scan_give_the_per_dimension_values(make_team):
    # given orders of two teams under a parent: channels web, shop and none, customers of two segments and
    # none, a repeat customer, an abandoned cart, in January and February
    from metrics.engine.queries import Window, measures_compute, measures_compute_dimensions

    parent = make_team("parent")
    north, south = make_team("north", parent=parent), make_team("south", parent=parent)
    smb = customer(north, at(2025, 6, 1), segment="smb")
    big = customer(south, at(2025, 6, 1), segment="enterprise")
    blank = customer(north, at(2025, 6, 1))
    for team, when, amount, channel, who, status in [
        (north, at(2026, 1, 5), 10, "web", smb, "completed"),
        (north, at(2026, 1, 6), 20, "web", smb, "completed"),
        (north, at(2026, 1, 7), 5, "", blank, "completed"),
        (north, at(2026, 2, 1), 7, "shop", None, "abandoned"),
        (south, at(2026, 1, 9), 40, "shop", big, "completed"),
        (south, at(2026, 2, 3), 1, "web", big, "completed"),
        (south, at(2026, 2, 4), 3, "web", None, "completed"),  # two orders without a customer
        (south, at(2026, 2, 5), 4, "web", None, "completed"),
    ]:
        order(team, when, amount, channel=channel, customer=who, status=status)
    team_closure_sync()
    specs = {spec for plan in plans("revenue_per_customer", "repeat_purchase_rate", "cart_abandonment_rate")
             for spec in plan.measures.values()}  # fmt: skip
    wanted = [(spec, dimension) for spec in specs for dimension in (None, "channel", "customer_segment")]
    window = Window("month", (JAN, FEB))
    targets = [parent.pk, north.pk, south.pk]
    # when they are computed together (one scan per query shape on PostgreSQL) and one dimension at a time
    together = measures_compute_dimensions(wanted=wanted, window=window, target_ids=targets)
    apart = {
        (spec, dimension): cells
        for dimension in (None, "channel", "customer_segment")
        for spec, cells in measures_compute(specs=specs, window=window, target_ids=targets, dimension=dimension).items()
    }
    # then every cell is the same, and an empty channel or segment is no segment
    assert {key: dict(cells) for key, cells in together.items()} == {key: dict(cells) for key, cells in apart.items()}
    revenue = next(spec for spec in specs if spec.aggregate == "sum")
    # (north in January by channel: web 10 + 20 = 30; the order without a channel is in no channel segment)
    assert together[(revenue, "channel")][(north.pk, JAN)] == {"web": Decimal("30.00")}
    repeat = next(spec for spec in specs if spec.min_count == 2)
    # (the parent's repeat customers in January: smb ordered twice; by segment: smb only)
    assert together[(repeat, "customer_segment")][(parent.pk, JAN)] == {"smb": Decimal(1)}
