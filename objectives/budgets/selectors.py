"""Is the budget off? Each budget's spend to date against what was planned by today, and where it is heading.

Spend to date is the team's and its sub-teams' recorded spend of the budget's category (and
channel or campaign) from its first day to today; expected by today is the amount pro rata of
the days gone; the forecast carries the spend so far to the end at the same daily rate. A
budget is on track while its forecast stays within the amount, at risk up to 10 % over, off
track beyond; once over, overspent (missed) or within it (achieved).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from accounts.models import Team
from accounts.selectors import team_ids_with_descendants, team_subtrees
from metrics.activity.selectors import SpendScope, spend_totals
from metrics.models import Campaign
from objectives import progress
from objectives.models import Budget

# Up to this much over the amount at the current rate, a budget is at risk; beyond, off track.
TOLERANCE = Decimal("1.10")


@dataclass(frozen=True)
class BudgetBurn:
    """Where a budget stands on a day."""

    budget: Budget
    spent: Decimal
    expected: Decimal
    forecast: Decimal | None
    status: str

    @property
    def spent_percent(self) -> Decimal | None:
        return None if not self.budget.amount else (100 * self.spent / self.budget.amount).quantize(Decimal("0.1"))


def burn_of(*, amount: Decimal, spent: Decimal, first: dt.date, last: dt.date, today: dt.date) -> tuple:
    """(expected by today, forecast at the end, status) of a budget of `amount` over [first, last] with `spent`
    recorded by `today` (today not finished: the days gone are those before it)."""
    total = (last - first).days + 1
    gone = min(max((today - first).days, 0), total)
    expected = amount * gone / total
    forecast = spent * total / gone if gone else None
    if today > last:
        return expected, spent, progress.ACHIEVED if spent <= amount else progress.MISSED
    if spent > amount:
        return expected, forecast, progress.MISSED  # spend only grows: already over
    if forecast is None or forecast <= amount:
        return expected, forecast, progress.ON_TRACK
    return expected, forecast, progress.AT_RISK if forecast <= amount * TOLERANCE else progress.OFF_TRACK


def budgets_of(*, team_ids: Iterable[int] | None, first: dt.date | None = None, last: dt.date | None = None):
    """Budgets of these teams (all for None), optionally those meeting [first, last]."""
    budgets = Budget.objects.select_related("team", "campaign").order_by("start_date", "name")
    if team_ids is not None:
        budgets = budgets.filter(team_id__in=list(team_ids))
    if first is not None:
        budgets = budgets.filter(end_date__gte=first)
    if last is not None:
        budgets = budgets.filter(start_date__lte=last)
    return budgets


def budget_burns(*, budgets: Sequence[Budget], today: dt.date) -> list[BudgetBurn]:
    """Each budget's burn on `today`: two queries whatever the number of budgets (the team tree, the spend)."""
    budgets = list(budgets)
    subtrees = team_subtrees(b.team_id for b in budgets)  # 1 query for every budget's team and sub-teams
    scopes = [
        SpendScope(
            team_ids=subtrees[budget.team_id],
            first=budget.start_date,
            last=min(budget.end_date, today),
            category=budget.category,
            channel=budget.channel,
            campaign_id=budget.campaign_id,
        )
        for budget in budgets
    ]
    burns = []
    for budget, spent in zip(budgets, spend_totals(scopes=scopes), strict=True):
        expected, forecast, status = burn_of(
            amount=budget.amount, spent=spent, first=budget.start_date, last=budget.end_date, today=today
        )
        burns.append(BudgetBurn(budget=budget, spent=spent, expected=expected, forecast=forecast, status=status))
    return burns


def budget_of(*, team_id: int, pk: int) -> Budget | None:
    """The team's budget `pk`, or None (another team's budget is not found)."""
    return Budget.objects.select_related("team", "campaign").filter(team_id=team_id, pk=pk).first()


def budget_campaigns(*, team: Team) -> QuerySet[Campaign]:
    """The campaigns a budget of `team` may follow: its own and its sub-teams'."""
    return Campaign.objects.filter(team_id__in=team_ids_with_descendants([team.pk])).order_by("name", "external_id")
