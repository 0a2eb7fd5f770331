from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ObjectivesConfig(AppConfig):
    name = "objectives"
    verbose_name = _("Objectives")

    def ready(self) -> None:
        from metrics.recompute.signals import kpi_values_changed
        from objectives.receivers import on_kpi_values_changed

        kpi_values_changed.connect(on_kpi_values_changed, dispatch_uid="objectives.refresh_on_kpi_values_changed")
