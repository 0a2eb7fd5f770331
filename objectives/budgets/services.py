"""Writes of budgets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accounts.models import Team
from metrics.models import Campaign
from objectives.models import Budget


def budget_create(
    *,
    team: Team,
    name: str,
    category: str,
    start_date: dt.date,
    end_date: dt.date,
    amount: Decimal,
    channel: str = "",
    campaign: Campaign | None = None,
) -> Budget:
    """Record a team's planned spend (validated by the caller's form or serializer; the database keeps the
    ranges)."""
    return Budget.objects.create(
        team=team,
        name=name,
        category=category,
        channel=channel,
        campaign=campaign,
        start_date=start_date,
        end_date=end_date,
        amount=amount,
    )
