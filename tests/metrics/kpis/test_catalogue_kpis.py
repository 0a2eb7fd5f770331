"""Every KPI of the shipped catalogue on a small fixture, expected values computed by hand.

Periods are months in Europe/Paris unless a test says otherwise; each test says how its
numbers were obtained. Empty periods: counts and sums 0, ratios and averages no value.
"""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Membership
from metrics.kpis.catalogue import CATALOGUE_CODES
from tests.metrics.kpi_support import (
    at,
    campaign,
    campaign_stat,
    cell,
    customer,
    customers,
    deal,
    deals,
    interaction,
    lead,
    meeting,
    order,
    orders,
    q,
    responses,
    spend,
    subscription,
    ticket,
    values,
    web_traffic,
)

pytestmark = pytest.mark.usefixtures("catalogue")


JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
DEC = dt.date(2025, 12, 1)

# The catalogue KPIs each test below checks; test_every_catalogue_kpi_is_tested keeps it complete.
TESTED = {
    "revenue", "orders", "average_purchase_value", "buying_customers", "revenue_per_customer",
    "sales_growth_rate", "new_customers", "new_net_revenue", "repeat_purchase_rate", "upsell_rate",
    "cross_sell_rate", "cart_abandonment_rate", "return_rate", "leads", "lead_conversion_rate",
    "lead_qualification_rate", "lead_response_time", "lead_response_time_avg", "meetings_held", "new_deals",
    "win_rate", "average_deal_value", "pipeline_value", "weighted_pipeline_value", "sales_cycle_length",
    "sales_velocity", "nps", "csat", "ces", "active_customers", "churn_rate", "retention_rate", "renewal_rate",
    "revenue_churn_rate", "customer_lifetime_value", "engagement_rate", "complaints", "tickets",
    "ticket_first_response_time", "ticket_first_response_time_avg", "ticket_resolution_time",
    "first_contact_resolution_rate", "customer_acquisition_cost", "marketing_roi", "retention_cost_per_customer",
    "email_open_rate", "email_click_through_rate", "email_click_to_open_rate", "email_bounce_rate",
    "email_unsubscribe_rate", "web_visits", "web_bounce_rate", "web_time_per_page", "web_conversion_rate",
    "crm_active_user_rate",
}  # fmt: skip


def test_every_catalogue_kpi_is_tested():
    assert set(CATALOGUE_CODES) == TESTED


# --------------------------------------------------------------------------- sales


def test_revenue_orders_basket_and_buyers(team_a):
    # given in January: completed orders 100 and 50 (customer 1) and 30 (customer 2),
    # an abandoned cart of 999 and a returned order of 70, which are not sales
    c1, c2 = customer(team_a, at(2025, 6, 1)), customer(team_a, at(2025, 6, 1))
    order(team_a, at(2026, 1, 3), 100, customer=c1)
    order(team_a, at(2026, 1, 20), 50, customer=c1)
    order(team_a, at(2026, 1, 31, 23, 59, 59), 30, customer=c2)  # last second of January in Paris
    order(team_a, at(2026, 1, 5), 999, status="abandoned", customer=c2)
    order(team_a, at(2026, 1, 6), 70, status="returned", customer=c2)
    order(team_a, at(2026, 2, 1), 10, customer=c2)  # first instant of February (31 Jan 23:00 UTC)
    # then revenue 100 + 50 + 30 = 180 over 3 orders: basket 60; 2 buyers: 90 per customer
    assert values("revenue", team_a, start=JAN, end=MAR) == {JAN: q(180), FEB: q(10)}
    assert values("orders", team_a, start=JAN, end=FEB) == {JAN: q(3)}
    assert values("average_purchase_value", team_a, start=JAN, end=FEB) == {JAN: q(60)}
    assert values("buying_customers", team_a, start=JAN, end=FEB) == {JAN: q(2)}
    assert values("revenue_per_customer", team_a, start=JAN, end=FEB) == {JAN: q(90)}


def test_empty_period_gives_zero_counts_and_no_ratios(team_a):
    # given no order at all in March
    # then counts and sums are 0 and the ratios built on them have no value
    assert values("revenue", team_a, start=MAR, end=dt.date(2026, 4, 1)) == {MAR: q(0)}
    assert values("orders", team_a, start=MAR, end=dt.date(2026, 4, 1)) == {MAR: q(0)}
    assert values("average_purchase_value", team_a, start=MAR, end=dt.date(2026, 4, 1)) == {MAR: None}
    assert values("revenue_per_customer", team_a, start=MAR, end=dt.date(2026, 4, 1)) == {MAR: None}
    assert cell("average_purchase_value", team_a, MAR).components == {"revenue": 0, "orders": 0}


def test_average_purchase_value_reference_example(team_a):
    # given 2,000 orders of 50 € (KPI_REFERENCE 1.17: 100,000 / 2,000 = 50)
    orders(team_a, 2000, at(2026, 1, 15), 50)
    # then
    assert values("average_purchase_value", team_a, start=JAN, end=FEB) == {JAN: q(50)}
    assert cell("revenue", team_a, JAN).value == q(100_000)


def test_sales_growth_rate_reads_the_previous_period(team_a):
    # given revenue 1,000 in December, 1,200 in January, none in February or March
    order(team_a, at(2025, 12, 10), 1000)
    order(team_a, at(2026, 1, 10), 1200)
    # then January: 100 × (1,200 − 1,000) / 1,000 = 20 %; February: 100 × (0 − 1,200) / 1,200 = −100 %;
    # March: the previous revenue is 0, so no value
    growth = values("sales_growth_rate", team_a, start=JAN, end=dt.date(2026, 4, 1))
    assert growth == {JAN: q(20), FEB: q(-100), MAR: None}
    assert cell("sales_growth_rate", team_a, JAN).components == {"revenue": 1200, "prev(revenue)": 1000}


def test_new_customers_by_acquisition_date_on_the_paris_boundaries(team_a):
    # given customers acquired on 1 Jan 00:00 and 31 Jan 23:59:59 Paris (both January),
    # and on 31 Dec 23:59:59 Paris (December) — in UTC the first is still 31 December
    customer(team_a, at(2026, 1, 1))
    customer(team_a, at(2026, 1, 31, 23, 59, 59))
    customer(team_a, at(2025, 12, 31, 23, 59, 59))
    # then
    assert values("new_customers", team_a, start=DEC, end=FEB) == {DEC: q(1), JAN: q(2)}


def test_new_net_revenue_counts_orders_of_customers_acquired_in_the_same_period(team_a):
    # given a customer acquired on 10 January ordering 100 on 12 January and 40 on 2 February,
    # and an older customer (acquired in December) ordering 300 in January
    new, old = customer(team_a, at(2026, 1, 10)), customer(team_a, at(2025, 12, 1))
    order(team_a, at(2026, 1, 12), 100, customer=new)
    order(team_a, at(2026, 2, 2), 40, customer=new)
    order(team_a, at(2026, 1, 5), 300, customer=old)
    # then January 100; February 0 (the customer was acquired in January);
    # the first quarter 100 + 40 = 140 — not the sum of its months (100 + 0)
    assert values("new_net_revenue", team_a, start=JAN, end=MAR) == {JAN: q(100), FEB: q(0)}
    assert values("new_net_revenue", team_a, granularity="quarter", start=JAN, end=FEB) == {JAN: q(140)}


def test_repeat_purchase_rate(team_a):
    # given in January: customer 1 with 2 completed orders, customer 2 with 1, customer 3 with 3,
    # customer 4 with 1 completed and 1 abandoned order (not a repeat)
    c1, c2, c3, c4 = (customer(team_a, at(2025, 1, 1)) for _ in range(4))
    for c, count in ((c1, 2), (c2, 1), (c3, 3), (c4, 1)):
        for day in range(count):
            order(team_a, at(2026, 1, 1 + day), 10, customer=c)
    order(team_a, at(2026, 1, 9), 10, customer=c4, status="abandoned")
    # and two completed orders with no customer: nobody's repeat purchase, and no buyer either
    order(team_a, at(2026, 1, 10), 10)
    order(team_a, at(2026, 1, 11), 10)
    # then 2 repeat customers (1 and 3) of 4 buyers: 50 %
    assert values("repeat_purchase_rate", team_a, start=JAN, end=FEB) == {JAN: q(50)}
    assert cell("repeat_purchase_rate", team_a, JAN).components == {"repeat_customers": 2, "buying_customers": 4}


def test_upsell_and_cross_sell_rates(team_a):
    # given 4 completed orders: 1 upsell, 2 cross-sells; an abandoned upsell does not count
    order(team_a, at(2026, 1, 2), 10, is_upsell=True)
    order(team_a, at(2026, 1, 3), 10, is_cross_sell=True)
    order(team_a, at(2026, 1, 4), 10, is_cross_sell=True)
    order(team_a, at(2026, 1, 5), 10)
    order(team_a, at(2026, 1, 6), 10, is_upsell=True, status="abandoned")
    # then 1/4 = 25 % and 2/4 = 50 %
    assert values("upsell_rate", team_a, start=JAN, end=FEB) == {JAN: q(25)}
    assert values("cross_sell_rate", team_a, start=JAN, end=FEB) == {JAN: q(50)}


def test_cart_abandonment_rate_reference_example(team_a):
    # given 2,500 abandoned carts and 650 completed orders (KPI_REFERENCE 1.28)
    orders(team_a, 2500, at(2026, 1, 10), 20, status="abandoned")
    orders(team_a, 650, at(2026, 1, 11), 20)
    # then 100 × 2,500 / 3,150 = 79.365… % (79.4 % rounded)
    assert values("cart_abandonment_rate", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(250_000) / 3150)}


def test_return_rate(team_a):
    # given 1 returned and 3 completed orders, and an abandoned cart that does not count
    orders(team_a, 3, at(2026, 1, 10), 20)
    order(team_a, at(2026, 1, 11), 20, status="returned")
    order(team_a, at(2026, 1, 12), 20, status="abandoned")
    # then 100 × 1 / (1 + 3) = 25 %
    assert values("return_rate", team_a, start=JAN, end=FEB) == {JAN: q(25)}


def test_leads_conversion_and_qualification(team_a):
    # given 4 leads created in January: one converted (in February: a cohort measure, to date), two qualified
    lead(team_a, at(2026, 1, 2), converted_at=at(2026, 2, 10), qualified_at=at(2026, 1, 5))
    lead(team_a, at(2026, 1, 3), qualified_at=at(2026, 1, 4))
    lead(team_a, at(2026, 1, 4))
    lead(team_a, at(2026, 1, 31, 23, 30))
    # then 4 leads, 25 % converted, 50 % qualified; February has no leads: 0 and no rates
    assert values("leads", team_a, start=JAN, end=MAR) == {JAN: q(4), FEB: q(0)}
    assert values("lead_conversion_rate", team_a, start=JAN, end=MAR) == {JAN: q(25), FEB: None}
    assert values("lead_qualification_rate", team_a, start=JAN, end=FEB) == {JAN: q(50)}


def test_lead_response_time_reference_example_even_count(team_a):
    # given responses after 5 min, 10 min, 2 h and 3 days (KPI_REFERENCE 1.10), and an unanswered lead
    start = at(2026, 1, 5, 9)
    for delay in (dt.timedelta(minutes=5), dt.timedelta(minutes=10), dt.timedelta(hours=2), dt.timedelta(days=3)):
        lead(team_a, start, first_response_at=start + delay)
    lead(team_a, start)
    # then the mean is (5 + 10 + 120 + 4,320) min / 4 = 1,113.75 min = 18.5625 h (18 h 33 min 45 s)
    # and the median the mean of the two middle values: (10 + 120) / 2 = 65 min = 1.08333… h
    assert values("lead_response_time_avg", team_a, start=JAN, end=FEB) == {JAN: q("18.5625")}
    assert values("lead_response_time", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(65) / 60)}


def test_lead_response_time_median_of_an_odd_count(team_a):
    # given responses after 1 h, 10 h and 2 h: the median is the middle value, 2 h
    for hours in (1, 10, 2):
        lead(team_a, at(2026, 1, 5), first_response_at=at(2026, 1, 5, hours))
    assert values("lead_response_time", team_a, start=JAN, end=MAR) == {JAN: q(2), FEB: None}


def test_meetings_held(team_a):
    # given 3 held meetings and 1 not held in January
    for day in (2, 3, 4):
        meeting(team_a, at(2026, 1, day), True)
    meeting(team_a, at(2026, 1, 5), False)
    assert values("meetings_held", team_a, start=JAN, end=FEB) == {JAN: q(3)}


def test_win_rate_reference_example_and_deal_values(team_a):
    # given 45 won deals of 1,000 € (created 10 days before closing), 135 lost, 80 still open (KPI_REFERENCE 1.13)
    deals(team_a, 45, at(2026, 1, 2), 1000, status="won", closed=at(2026, 1, 12))
    deals(team_a, 135, at(2026, 1, 2), 500, status="lost", closed=at(2026, 1, 12))
    deals(team_a, 80, at(2026, 1, 2), 700)
    # then win rate 45 / (45 + 135) = 25 %, open deals excluded; 260 new deals;
    # average won value 1,000; sales cycle 10 days
    assert values("win_rate", team_a, start=JAN, end=FEB) == {JAN: q(25)}
    assert values("new_deals", team_a, start=JAN, end=FEB) == {JAN: q(260)}
    assert values("average_deal_value", team_a, start=JAN, end=FEB) == {JAN: q(1000)}
    assert values("sales_cycle_length", team_a, start=JAN, end=FEB) == {JAN: q(10)}


def test_sales_cycle_length_in_fractional_days(team_a):
    # given won deals lasting 1 day 12 h and 3 days: mean (1.5 + 3) / 2 = 2.25 days
    deal(team_a, at(2026, 1, 1, 12), 10, status="won", closed=at(2026, 1, 3))
    deal(team_a, at(2026, 1, 2), 10, status="won", closed=at(2026, 1, 5))
    deal(team_a, at(2026, 1, 2), 10, status="lost", closed=at(2026, 1, 30))  # lost: not in the cycle
    assert values("sales_cycle_length", team_a, start=JAN, end=FEB) == {JAN: q("2.25")}


def test_pipeline_values_at_the_end_of_the_period(team_a):
    # given at the end of January (1 Feb 00:00 Paris):
    deal(team_a, at(2026, 1, 5), 10_000, probability=50)  # open: counts
    deal(team_a, at(2025, 12, 5), 2_000, probability=80, status="won", closed=at(2026, 2, 3))  # closed later: counts
    deal(team_a, at(2026, 1, 10), 5_000, probability=90, status="lost", closed=at(2026, 1, 20))  # closed: no
    deal(team_a, at(2026, 2, 1), 7_000, probability=10)  # created at the end instant: no
    deal(
        team_a, at(2026, 1, 2), 1_000, probability=20, status="won", closed=at(2026, 2, 1)
    )  # closed at the end: counts
    # then the pipeline is 10,000 + 2,000 + 1,000 = 13,000 and the weighted pipeline
    # 10,000 × 50 % + 2,000 × 80 % + 1,000 × 20 % = 5,000 + 1,600 + 200 = 6,800
    assert values("pipeline_value", team_a, start=JAN, end=FEB) == {JAN: q(13_000)}
    assert values("weighted_pipeline_value", team_a, start=JAN, end=FEB) == {JAN: q(6_800)}


def test_sales_velocity_reference_example(team_a):
    # given 40 deals open at the start of January — one of them won on 31 January for 25,000 € after 90 days —
    # and 3 deals created and lost in January (KPI_REFERENCE 1.15: 40 × 25,000 × 25 % / 90 days)
    deals(team_a, 39, at(2025, 11, 1), 3_000)
    deal(team_a, at(2026, 1, 31) - dt.timedelta(days=90), 25_000, status="won", closed=at(2026, 1, 31))
    deals(team_a, 3, at(2026, 1, 2), 9_000, status="lost", closed=at(2026, 1, 3))
    # then 40 × 25,000 × (1 / 4) / 90 = 2,777.777… € per day
    assert values("sales_velocity", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(250_000) / 90)}
    assert cell("sales_velocity", team_a, JAN).components == {
        "open_deals": 40,
        "won_value": 25000,
        "won": 1,
        "lost": 3,
        "cycle_days": 90,
    }


# --------------------------------------------------------------------------- customers


def test_nps_reference_example(team_a):
    # given NPS scores [1, 7, 7, 8, 9, 10] and a CSAT answer that is not part of it
    responses(team_a, "nps", {1: 1, 7: 2, 8: 1, 9: 1, 10: 1}, at(2026, 1, 10))
    responses(team_a, "csat", {1: 1}, at(2026, 1, 10))
    # then 100 × (2 promoters − 1 detractor) / 6 = 16.666… points
    assert values("nps", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(100) / 6)}


def test_csat_reference_example(team_a):
    # given Delighted's counts 5:42, 4:32, 3:10, 2:9, 1:14 (KPI_REFERENCE 1.2)
    responses(team_a, "csat", {5: 42, 4: 32, 3: 10, 2: 9, 1: 14}, at(2026, 1, 10))
    # then 100 × 74 / 107 = 69.158… %
    assert values("csat", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(7400) / 107)}


def test_ces_reference_example(team_a):
    # given CYS Group's counts 1:80, 2:210, 3:140, 4:110, 5:160, 6:180, 7:120 (KPI_REFERENCE 1.3)
    responses(team_a, "ces", {1: 80, 2: 210, 3: 140, 4: 110, 5: 160, 6: 180, 7: 120}, at(2026, 1, 10))
    # then the mean is 4,080 / 1,000 = 4.08
    assert values("ces", team_a, start=JAN, end=MAR) == {JAN: q("4.08"), FEB: None}


def test_retention_churn_and_active_customers_reference_example(team_a):
    # given 200 customers active at the start of January (S), 20 of whom churn in January,
    # 40 acquired in January and still active (N), and one acquired and lost within January
    customers(team_a, 180, at(2025, 10, 1))
    customers(team_a, 20, at(2025, 10, 1), churned=at(2026, 1, 15))
    customers(team_a, 40, at(2026, 1, 10))
    customer(team_a, at(2026, 1, 10), churned=at(2026, 1, 20))
    # then E = 180 + 40 = 220; retention (E − N) / S = (220 − 40) / 200 = 90 %; churn 20 / 200 = 10 %
    assert values("active_customers", team_a, start=JAN, end=FEB) == {JAN: q(220)}
    assert values("retention_rate", team_a, start=JAN, end=FEB) == {JAN: q(90)}
    assert values("churn_rate", team_a, start=JAN, end=FEB) == {JAN: q(10)}
    assert cell("retention_rate", team_a, JAN).components == {
        "customers_end": 220,
        "new_customers": 40,
        "customers_start": 200,
    }


def test_churn_rate_500_to_450(team_a):
    # given 500 customers at the start of February, 50 of whom leave during it (KPI_REFERENCE 1.4)
    customers(team_a, 450, at(2025, 3, 1))
    customers(team_a, 50, at(2025, 3, 1), churned=at(2026, 2, 27))
    # then 50 / 500 = 10 %; the retention 450 / 500 = 90 % = 100 − churn
    assert values("churn_rate", team_a, start=FEB, end=MAR) == {FEB: q(10)}
    assert values("retention_rate", team_a, start=FEB, end=MAR) == {FEB: q(90)}


def test_state_boundaries_a_customer_lost_at_the_end_instant(team_a):
    # given a customer churned exactly at 1 Feb 00:00 Paris: active at the end of January, lost in February
    customer(team_a, at(2025, 6, 1), churned=at(2026, 2, 1))
    customer(team_a, at(2025, 6, 1))
    assert values("active_customers", team_a, start=JAN, end=MAR) == {JAN: q(2), FEB: q(1)}
    assert values("churn_rate", team_a, start=JAN, end=MAR) == {JAN: q(0), FEB: q(50)}


def test_churn_with_no_customer_at_start_has_no_value(team_a):
    # given only a customer acquired during January: S = 0
    customer(team_a, at(2026, 1, 10))
    assert values("churn_rate", team_a, start=JAN, end=FEB) == {JAN: None}
    assert values("retention_rate", team_a, start=JAN, end=FEB) == {JAN: None}


def test_renewal_rate(team_a):
    # given subscriptions due for renewal in January:
    subscription(team_a, at(2025, 1, 10), 10, renewal_due_at=at(2026, 1, 10), renewed_at=at(2026, 1, 8))  # renewed
    subscription(team_a, at(2025, 1, 12), 10, renewal_due_at=at(2026, 1, 12))  # not renewed
    subscription(  # cancelled before its due date: churn, not a renewal decision
        team_a, at(2025, 1, 14), 10, renewal_due_at=at(2026, 1, 14), cancelled_at=at(2025, 12, 1)
    )
    subscription(  # renewed, cancelled later: a renewal
        team_a, at(2025, 1, 16), 10, renewal_due_at=at(2026, 1, 16), renewed_at=at(2026, 1, 16),
        cancelled_at=at(2026, 1, 20),
    )  # fmt: skip
    subscription(team_a, at(2025, 2, 1), 10, renewal_due_at=at(2026, 2, 1), renewed_at=at(2026, 1, 30))  # February
    # then 2 renewed of 3 decisions due: 66.666… %
    assert values("renewal_rate", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(200) / 3)}


def test_revenue_churn_rate(team_a):
    # given subscriptions active at the start of January worth 100, 50 and 30 a month; the 50 one is
    # cancelled on 15 January; one started and cancelled within January (not in the cohort)
    subscription(team_a, at(2025, 12, 1), 100)
    subscription(team_a, at(2025, 12, 1), 50, cancelled_at=at(2026, 1, 15))
    subscription(team_a, at(2025, 11, 1), 30)
    subscription(team_a, at(2026, 1, 5), 500, cancelled_at=at(2026, 1, 20))
    # then 100 × 50 / 180 = 27.777… %
    assert values("revenue_churn_rate", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(5000) / 180)}


def test_customer_lifetime_value(team_a):
    # given 4 customers active at the start of January, one lost in January (churn 25 %),
    # and January revenue 200 + 100 from 2 buyers (150 per customer)
    c1, c2, _c3 = (customer(team_a, at(2025, 12, 1)) for _ in range(3))
    customer(team_a, at(2025, 12, 1), churned=at(2026, 1, 20))
    order(team_a, at(2026, 1, 5), 200, customer=c1)
    order(team_a, at(2026, 1, 6), 100, customer=c2)
    # then CLV = 150 / 0.25 = 600; in February nobody churns: no value
    order(team_a, at(2026, 2, 6), 100, customer=c2)
    assert values("customer_lifetime_value", team_a, start=JAN, end=MAR) == {JAN: q(600), FEB: None}


def test_engagement_rate(team_a):
    # given 4 customers active at the start of January; 2 of them interact (3 interactions in all),
    # and a customer acquired in January interacts too (not in the base, but counted as engaged)
    c1, c2, _c3, _c4 = (customer(team_a, at(2025, 12, 1)) for _ in range(4))
    interaction(team_a, c1, at(2026, 1, 3))
    interaction(team_a, c1, at(2026, 1, 4))
    interaction(team_a, c2, at(2026, 1, 5))
    # then 100 × 2 distinct customers / 4 = 50 %
    assert values("engagement_rate", team_a, start=JAN, end=FEB) == {JAN: q(50)}


def test_complaints(team_a):
    ticket(team_a, at(2026, 1, 3), kind="complaint")
    ticket(team_a, at(2026, 1, 4), kind="complaint")
    ticket(team_a, at(2026, 1, 5), kind="question")
    assert values("complaints", team_a, start=JAN, end=FEB) == {JAN: q(2)}


# --------------------------------------------------------------------------- support


def test_tickets_and_response_times(team_a):
    # given tickets created in January answered after 1 h, 2 h, 4 h and 10 h, and one unanswered
    for hours in (1, 2, 4, 10):
        ticket(team_a, at(2026, 1, 6, 8), first_response_at=at(2026, 1, 6, 8 + hours))
    ticket(team_a, at(2026, 1, 7))
    # then 5 tickets; median (2 + 4) / 2 = 3 h; mean 17 / 4 = 4.25 h
    assert values("tickets", team_a, start=JAN, end=FEB) == {JAN: q(5)}
    assert values("ticket_first_response_time", team_a, start=JAN, end=FEB) == {JAN: q(3)}
    assert values("ticket_first_response_time_avg", team_a, start=JAN, end=FEB) == {JAN: q("4.25")}


def test_resolution_time_and_first_contact_resolution(team_a):
    # given tickets resolved in January: 24 h with 1 contact, 12 h with 2 contacts,
    # one created on 31 December resolved 6 h later on 1 January with 1 contact, and one with no contact;
    # a ticket resolved in February does not count
    ticket(team_a, at(2026, 1, 2), resolved_at=at(2026, 1, 3), contact_count=1)
    ticket(team_a, at(2026, 1, 4), resolved_at=at(2026, 1, 4, 12), contact_count=2)
    ticket(team_a, at(2025, 12, 31, 21), resolved_at=at(2026, 1, 1, 3), contact_count=1)
    ticket(team_a, at(2026, 1, 5), resolved_at=at(2026, 1, 5, 1), contact_count=0)
    ticket(team_a, at(2026, 1, 30), resolved_at=at(2026, 2, 2), contact_count=1)
    # then resolution (24 + 12 + 6 + 1) / 4 = 10.75 h; first contact resolution 2 / 3 (contacted tickets) = 66.7 %
    assert values("ticket_resolution_time", team_a, start=JAN, end=FEB) == {JAN: q("10.75")}
    assert values("first_contact_resolution_rate", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(200) / 3)}


# --------------------------------------------------------------------------- marketing


def test_customer_acquisition_cost_reference_example(team_a):
    # given 100,000 € of acquisition spend and 300 € of retention spend in January, 2,000 new customers
    spend(team_a, dt.date(2026, 1, 5), "acquisition", 60_000)
    spend(team_a, dt.date(2026, 1, 31), "acquisition", 40_000)
    spend(team_a, dt.date(2026, 1, 6), "retention", 300)
    spend(team_a, dt.date(2026, 2, 1), "acquisition", 999)  # February
    customers(team_a, 2000, at(2026, 1, 15))
    # then CAC = 100,000 / 2,000 = 50 €
    assert values("customer_acquisition_cost", team_a, start=JAN, end=FEB) == {JAN: q(50)}


def test_marketing_roi_and_retention_cost(team_a):
    # given campaign revenue 30,000 + 20,000 and acquisition spend 10,000 in January, retention spend 300,
    # and 4 customers active at the start of January
    camp = campaign(team_a)
    campaign_stat(team_a, camp, dt.date(2026, 1, 10), revenue=Decimal(30_000))
    campaign_stat(team_a, camp, dt.date(2026, 1, 11), revenue=Decimal(20_000))
    spend(team_a, dt.date(2026, 1, 5), "acquisition", 10_000)
    spend(team_a, dt.date(2026, 1, 6), "retention", 300)
    customers(team_a, 4, at(2025, 12, 1))
    # then ROI 100 × (50,000 − 10,000) / 10,000 = 400 %; retention cost 300 / 4 = 75 €
    assert values("marketing_roi", team_a, start=JAN, end=MAR) == {JAN: q(400), FEB: None}
    assert values("retention_cost_per_customer", team_a, start=JAN, end=FEB) == {JAN: q(75)}


def test_email_rates_mailjet_example(team_a):
    # given Mailjet's example spread over two campaigns and days: 1,000 sent, 900 delivered, 100 bounced,
    # 200 opened, 20 clicked, 5 unsubscribed (KPI_REFERENCE 1.27); pooled, not averaged per campaign
    first, second = campaign(team_a), campaign(team_a)
    campaign_stat(team_a, first, dt.date(2026, 1, 5), sent=600, delivered=500, bounced=100, opened=150, clicked=5,
                  unsubscribed=4)  # fmt: skip
    campaign_stat(team_a, second, dt.date(2026, 1, 6), sent=400, delivered=400, opened=50, clicked=15, unsubscribed=1)
    # then open 200 / 900 = 22.2 %; CTR 20 / 900 = 2.22 %; CTOR 20 / 200 = 10 %;
    # bounce 100 / 1,000 = 10 %; unsubscribe 5 / 900 = 0.556 %
    assert values("email_open_rate", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(20_000) / 900)}
    assert values("email_click_through_rate", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(2_000) / 900)}
    assert values("email_click_to_open_rate", team_a, start=JAN, end=FEB) == {JAN: q(10)}
    assert values("email_bounce_rate", team_a, start=JAN, end=FEB) == {JAN: q(10)}
    assert values("email_unsubscribe_rate", team_a, start=JAN, end=FEB) == {JAN: q(Decimal(500) / 900)}


def test_email_click_to_open_rate_without_opens_has_no_value(team_a):
    campaign_stat(team_a, campaign(team_a), dt.date(2026, 1, 5), sent=10, delivered=10)
    assert values("email_click_to_open_rate", team_a, start=JAN, end=FEB) == {JAN: None}
    assert values("email_open_rate", team_a, start=JAN, end=FEB) == {JAN: q(0)}


def test_web_traffic_kpis(team_a):
    # given two days: 600 + 400 visits, 300 + 100 bounces, 1,500 + 1,000 page views,
    # 45,000 + 30,000 s and 20 + 5 conversions
    web_traffic(
        team_a, dt.date(2026, 1, 1), visits=600, bounces=300, pageviews=1500, total_time_s=45_000, conversions=20
    )
    web_traffic(
        team_a, dt.date(2026, 1, 31), visits=400, bounces=100, pageviews=1000, total_time_s=30_000, conversions=5
    )
    # then 1,000 visits; bounce 40 %; 75,000 / 2,500 = 30 s per page; conversion 2.5 %
    assert values("web_visits", team_a, start=JAN, end=MAR) == {JAN: q(1000), FEB: q(0)}
    assert values("web_bounce_rate", team_a, start=JAN, end=FEB) == {JAN: q(40)}
    assert values("web_time_per_page", team_a, start=JAN, end=FEB) == {JAN: q(30)}
    assert values("web_conversion_rate", team_a, start=JAN, end=FEB) == {JAN: q("2.5")}


# --------------------------------------------------------------------------- CRM adoption


def test_crm_active_user_rate(team_a, make_user):
    # given 4 members of the team since December; in January u1 logs in twice and u2 once,
    # and an outsider logs in (not a member)
    from accounts.models import LoginEvent

    users = [make_user(f"u{i}", team=team_a) for i in range(1, 5)]
    Membership.objects.filter(team=team_a).update(created_at=at(2025, 12, 1))
    outsider = make_user("outsider")
    for user, day in ((users[0], 3), (users[0], 4), (users[1], 5), (outsider, 6)):
        LoginEvent.objects.create(user=user, occurred_at=at(2026, 1, day))
    # then 2 active members of 4: 50 %
    assert values("crm_active_user_rate", team_a, start=JAN, end=FEB) == {JAN: q(50)}
