"""The KPI cards and the charts a team's manager chose for its dashboard, in order."""

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


class DashboardPanel(models.Model):
    """One chart on a team's dashboard, at its position, by its key in the panel registry
    (objectives.dashboards.panels); a team without any shows its kind's defaults."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="dashboard_panels")
    key = models.CharField(_("chart"), max_length=40)
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        ordering = ["team", "position"]
        verbose_name = _("dashboard chart")
        verbose_name_plural = _("dashboard charts")
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="dashboardpanel_team_key_unique"),
            models.UniqueConstraint(fields=["team", "position"], name="dashboardpanel_team_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.team_id} #{self.position}: {self.key}"
