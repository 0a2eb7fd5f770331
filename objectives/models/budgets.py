"""Budgets: what a team plans to spend over a period, against which its recorded spend is read."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from metrics.models import Campaign
from metrics.models.activity import SpendCategory


class Budget(models.Model):
    """A team's planned spend of one category (optionally one channel or campaign) from `start_date` to
    `end_date` included; the spend recorded for it is read from the team's and its sub-teams' Spend records."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="budgets")
    name = models.CharField(_("name"), max_length=120)
    category = models.CharField(_("category"), max_length=12, choices=SpendCategory.choices)
    channel = models.CharField(_("channel"), max_length=60, blank=True, help_text=_("Only this channel's spend."))
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), null=True, blank=True, on_delete=models.SET_NULL, related_name="budgets"
    )
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["team", "start_date", "name"]
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="budget_amount_not_negative"),
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="budget_period_ordered"),
            models.CheckConstraint(condition=Q(category__in=SpendCategory.values), name="budget_category_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.start_date} – {self.end_date})"
