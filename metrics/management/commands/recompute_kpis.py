import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from kpiplatform.queue import Send, enqueue_now
from metrics.engine.periods import GRANULARITIES
from metrics.kpis.services import KpiDefinitionError
from metrics.recompute.services import kpi_values_recompute_all
from metrics.recompute.tasks import recompute_kpis_task


class Command(BaseCommand):
    help = (
        "Recompute stored KPI values (all KPIs and teams by default) from --since (default: the earliest activity) "
        "to today. --sync computes in-process and returns when the values are stored; otherwise a task is queued."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", action="append", dest="teams", metavar="SLUG", help="a team (repeatable)")
        parser.add_argument("--kpi", action="append", dest="kpis", metavar="CODE", help="a KPI code (repeatable)")
        parser.add_argument("--since", metavar="YYYY-MM-DD", help="first date to recompute")
        parser.add_argument(
            "--granularity", action="append", dest="granularities", choices=GRANULARITIES, help="(repeatable)"
        )
        parser.add_argument("--sync", action="store_true", help="compute now, in this process")

    def handle(self, *args, teams, kpis, since, granularities, sync, **options):
        since_date = None
        if since:
            try:
                since_date = dt.date.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(f"--since must be a date like 2026-01-31, not {since!r}.") from exc
        if not sync:
            if not enqueue_now(
                Send(recompute_kpis_task, kwargs={"kpi_codes": kpis, "team_slugs": teams, "since": since})
            ):
                raise CommandError("Could not queue the recompute (the task queue is unavailable); run it with --sync.")
            self.stdout.write(self.style.SUCCESS("KPI recompute queued."))
            return
        try:
            result = kpi_values_recompute_all(
                since=since_date, kpi_codes=kpis, team_slugs=teams, granularities=granularities or GRANULARITIES
            )
        except KpiDefinitionError as exc:
            raise CommandError(str(exc)) from exc
        if result.start is None:
            self.stdout.write("Nothing to recompute: no activity yet.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.values_written} KPI values stored for {len(result.kpi_ids)} KPIs, "
                f"{len(result.team_ids)} teams, {', '.join(result.granularities)}, "
                f"{result.start} to {result.end} (exclusive)."
            )
        )
