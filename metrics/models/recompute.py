"""Dirty marks: which (team, record kind, date range) changed since the last recompute.

Written by ingestion in the same transaction as the data, consumed by the recompute
task. One row per (team, kind): a new ingest widens its range and bumps its
generation, so a recompute that claimed generation g deletes the mark only if it is
still at g — data that arrived meanwhile is never forgotten.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Team


class DirtyMark(models.Model):
    """KPIs reading `record_kind` must be recomputed for `team` over [period_start, period_end)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    record_kind = models.CharField(_("record kind"), max_length=30)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to (exclusive)"))
    generation = models.PositiveBigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dirty mark")
        verbose_name_plural = _("dirty marks")
        constraints = [
            models.UniqueConstraint(fields=["team", "record_kind"], name="dirtymark_team_kind_unique"),
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")), name="dirtymark_range_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team_id}/{self.record_kind} [{self.period_start}, {self.period_end}) g{self.generation}"
