from django.core.management.base import BaseCommand, CommandError

from metrics.kpis.services import KpiDefinitionError, kpi_catalogue_load


class Command(BaseCommand):
    help = "Create or update every KPI of the shipped catalogue (idempotent)."

    def handle(self, *args, **options):
        try:
            result = kpi_catalogue_load()
        except KpiDefinitionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"KPI catalogue: {len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged."
            )
        )
