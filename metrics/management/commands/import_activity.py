from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from metrics.activity.import_jobs import import_writable_team_ids
from metrics.activity.imports import ImportFileError, activity_table_import, import_columns_guess, import_file_read
from metrics.activity.kinds import KIND_SPECS


class Command(BaseCommand):
    help = (
        "Import a CSV or XLSX file of one kind of activity records into a team. Columns are matched to fields "
        "by their header; nothing is written when a row is invalid, unless --valid-only."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KIND_SPECS), help="kind of records, as in the API URL")
        parser.add_argument("file", help="path of the CSV or XLSX file")
        parser.add_argument("--team", required=True, help="slug of the team receiving the records")
        parser.add_argument("--valid-only", action="store_true", help="write the valid rows even if some are not")

    def handle(self, *args, kind, file, team, valid_only, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug {team!r}.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file {file!r}.")
        try:
            table = import_file_read(content=path.read_bytes(), filename=path.name)
            mapping = import_columns_guess(spec=KIND_SPECS[kind], headers=table.headers)
            ignored = [header for header, name in zip(table.headers, mapping, strict=True) if not name]
            if ignored:
                self.stderr.write(f"Ignored columns (no matching field): {', '.join(ignored)}")
            report = activity_table_import(
                kind=kind,
                table=table,
                mapping=mapping,
                team=team_obj,
                writable_team_ids=import_writable_team_ids(team=team_obj),
                valid_only=valid_only,
                on_progress=self._progress,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write("")
        for error in report.errors:
            self.stdout.write(
                f"line {error['line']}: {error['field'] or '-'}: {error['message']} ({error['external_id'] or '?'})"
            )
        if report.error_count > len(report.errors):
            self.stdout.write(f"… and {report.error_count - len(report.errors)} more errors.")
        if not report.written:
            raise CommandError(f"{report.error_count} invalid rows: nothing written (use --valid-only to skip them).")
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.rows} rows: {report.created} created, {report.updated} updated, "
                f"{report.unchanged} unchanged, {report.skipped} skipped."
            )
        )

    def _progress(self, done: int, total: int) -> None:
        """A progress bar on stderr, redrawn in place."""
        width = 40
        filled = width * done // total if total else width
        percent = 100 * done // total if total else 100
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done}/{total} rows validated"
        self.stderr.write(f"\r{bar}", ending="")
        self.stderr.flush()
