"""Writes of budgets: the only door for the API, the budgets page and the CSV import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Team
from accounts.selectors import team_ids_with_descendants
from metrics.models import Campaign
from objectives.models import Budget


def _check_budget(*, team: Team, name: str, start_date: dt.date, campaign: Campaign | None, budget_id: int | None):
    """Raise what the database cannot refuse by itself: a campaign outside the team's tree, or a second budget of
    the team with the same name and first day (the key the CSV import updates by)."""
    errors = {}
    if campaign is not None and campaign.team_id not in team_ids_with_descendants([team.pk]):
        errors["campaign"] = _("Choose a campaign of this team or of its sub-teams.")
    same = Budget.objects.filter(team=team, name=name, start_date=start_date)
    if budget_id is not None:
        same = same.exclude(pk=budget_id)
    if same.exists():
        errors["name"] = _("The team already has a budget with this name starting on this day.")
    if errors:
        raise ValidationError(errors)


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
    """Record a team's planned spend (fields validated by the caller's form or serializer; the database keeps the
    ranges); raise ValidationError for a campaign outside the team's tree or a name already used that day."""
    with transaction.atomic():
        # Lock the team row so two writes of the same name and day run one after the other.
        Team.objects.select_for_update().filter(pk=team.pk).first()
        _check_budget(team=team, name=name, start_date=start_date, campaign=campaign, budget_id=None)
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


def budget_update(
    *,
    budget: Budget,
    name: str,
    category: str,
    start_date: dt.date,
    end_date: dt.date,
    amount: Decimal,
    channel: str = "",
    campaign: Campaign | None = None,
) -> Budget:
    """Change a budget (same checks as budget_create); its team stays."""
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=budget.team_id).first()
        _check_budget(team=budget.team, name=name, start_date=start_date, campaign=campaign, budget_id=budget.pk)
        budget.name = name
        budget.category = category
        budget.channel = channel
        budget.campaign = campaign
        budget.start_date = start_date
        budget.end_date = end_date
        budget.amount = amount
        budget.save(update_fields=["name", "category", "channel", "campaign", "start_date", "end_date", "amount"])
        return budget


def budget_delete(*, budget: Budget) -> None:
    """Delete a budget (the spend recorded against it stays: it belongs to the activity)."""
    budget.delete()
