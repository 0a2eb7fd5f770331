"""The digest reads the bands of all its anomaly alerts in one query, whatever their number."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.roles import Role
from objectives.notifications import digest
from tests import factories

pytestmark = pytest.mark.django_db
MONDAY = dt.date(2026, 11, 23)
NBSP = "\u00a0"


def anomaly_alerts(team, kpi, days: list[int]) -> None:
    """An anomaly alert per day of November, 3 000 € against a band of 900–1 100 € it fired on, then a newer row
    of 950–1 050 € (the band it was last judged against: the one the digest gives)."""
    rule = factories.alert_rule(team=team, kpi=kpi, name=f"Anomalie {len(days)}", condition="anomaly", threshold=None)
    rule.granularity = "day"
    rule.save(update_fields=["granularity"])
    for day in days:
        alert = factories.alert(rule=rule, period_start=dt.date(2026, 11, day), value=Decimal("3000"), threshold=None)
        factories.alert_event(alert=alert, kind="fired", band={"lower": 900, "upper": 1100, "method": "stl"})
        factories.alert_event(
            alert=alert,
            kind="updated",
            band={"lower": 950, "upper": 1050, "method": "stl", "distance": 185.71, "side": "above"},
        )


def digest_queries(user) -> tuple[int, dict]:
    with translation.override("fr"), CaptureQueriesContext(connection) as queries:
        data = digest.digest_for_user(user=user, today=MONDAY, frequency="weekly")
    return len(queries), data


def test_the_digest_reads_every_anomaly_band_in_one_query(make_user, make_team, make_kpi):
    revenue = make_kpi("revenue", name_fr="Chiffre d'affaires", name_en="Revenue", unit="€")
    one_team, many_team = make_team("une"), make_team("plusieurs")
    one = make_user("one", team=one_team, role=Role.MANAGER)
    many = make_user("many", team=many_team, role=Role.MANAGER)
    # Given one user with no anomaly alert, one with one, and one with five
    none_count, _data = digest_queries(one)
    anomaly_alerts(one_team, revenue, [2])
    one_count, data = digest_queries(one)
    anomaly_alerts(many_team, revenue, [2, 3, 4, 5, 6])
    many_count, many_data = digest_queries(many)
    # Then one query more than without anomaly alerts, the same for five alerts as for one
    assert one_count == none_count + 1
    assert many_count == one_count
    # and each line gives the newest band: 3 000 € against 950–1 050 €, 185,71 % above its upper bound
    [team] = many_data["teams"]
    summaries = [alert["summary"] for alert in team["alerts"]]
    assert len(summaries) == 5
    assert all(f"3{NBSP}000{NBSP}€" in s and f"950{NBSP}€–1{NBSP}050{NBSP}€" in s for s in summaries), summaries
    assert "+185,7" in summaries[0]
    # and another team's user sees none of them: only their own team's one alert
    [own] = data["teams"]
    assert own["team"]["slug"] == "une" and len(own["alerts"]) == 1
    assert {a["id"] for a in own["alerts"]}.isdisjoint({a["id"] for a in team["alerts"]})
