"""The KPI cards a team's manager chose for its dashboard, in order."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from metrics.models import KpiDefinition


class DashboardCard(models.Model):
    """One KPI card on a team's dashboard, at its position; a team without any shows its kind's defaults."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="dashboard_cards")
    kpi = models.ForeignKey(KpiDefinition, on_delete=models.CASCADE, related_name="dashboard_cards")
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        ordering = ["team", "position"]
        verbose_name = _("dashboard card")
        verbose_name_plural = _("dashboard cards")
        constraints = [
            models.UniqueConstraint(fields=["team", "kpi"], name="dashboardcard_team_kpi_unique"),
            models.UniqueConstraint(fields=["team", "position"], name="dashboardcard_team_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.team_id} #{self.position}: {self.kpi_id}"
