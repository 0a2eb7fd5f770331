"""From ingested orders to a past objective's verdict, through the real API and recompute."""

from decimal import Decimal

import pytest
from django.core.management import call_command

ORDERS = [
    # counted in Q1 2025 (Europe/Paris)
    {"external_id": "O-1", "ordered_at": "2025-01-01T00:05:00+01:00", "amount": "1200.00"},
    {"external_id": "O-2", "ordered_at": "2025-02-14T10:00:00+01:00", "amount": "800.50"},
    # 31 March 23:30 in Paris (summer time since the 30th) is still Q1, though it is 21:30 UTC
    {"external_id": "O-3", "ordered_at": "2025-03-31T23:30:00+02:00", "amount": "1000.00"},
    # not counted: 1 April 00:10 in Paris is Q2; an abandoned cart is not revenue
    {"external_id": "O-4", "ordered_at": "2025-04-01T00:10:00+02:00", "amount": "500.00"},
    {"external_id": "O-5", "ordered_at": "2025-02-01T12:00:00+01:00", "amount": "999.00", "status": "abandoned"},
    # the last day of 2024 is before the objective
    {"external_id": "O-6", "ordered_at": "2024-12-31T23:59:00+01:00", "amount": "700.00"},
]


@pytest.mark.parametrize(("target", "status"), [("3000", "achieved"), ("3000.50", "achieved"), ("3500", "missed")])
def test_past_revenue_objective_reports_its_period_value(api_client, team_a, manager_a, target, status):
    # given Q1 2025 orders pushed through the activity API and a synchronous recompute
    call_command("load_kpi_catalogue", verbosity=0)
    api_client.force_authenticate(manager_a)
    pushed = api_client.post("/api/v1/activity/orders/", {"records": ORDERS}, format="json")
    assert pushed.status_code == 200, pushed.content
    call_command("recompute_kpis", "--sync", verbosity=0)

    # when a manager creates the (already finished) Q1 objective
    response = api_client.post(
        "/api/v1/objectives/",
        {
            "team": team_a.slug,
            "title": "Chiffre d'affaires du premier trimestre",
            "description": "Vendre plus en ligne au premier trimestre.",
            "start_date": "2025-01-01",
            "due_date": "2025-03-31",
            "parent": None,
            "targets": [{"kpi": "revenue", "target_value": target, "baseline_value": 2500}],
        },
        format="json",
    )

    # then its revenue is the hand sum O-1 + O-2 + O-3 = 1 200 + 800.50 + 1 000 = 3 000.50,
    # and the verdict compares it with the target
    assert response.status_code == 201, response.content
    body = response.json()
    (result,) = body["targets"]
    assert Decimal(str(result["current_value"])) == Decimal("3000.50")
    assert result["status"] == status
    assert body["status"] == status
    assert set(body["smart"]) == {"specific", "measurable", "achievable", "relevant", "time_bound"}
