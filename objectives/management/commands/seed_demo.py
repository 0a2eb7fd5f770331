import time

from django.core.management.base import BaseCommand

from accounts.demo import demo_organisation_create
from metrics.demo import demo_activity_create
from objectives.demo import demo_alert_rules_create, demo_budgets_create, demo_objectives_create


class Command(BaseCommand):
    help = (
        "Create the demo organisation: teams, users of each role (printed with passwords), activity, "
        "objectives of the current quarter and alert rules (run load_kpi_catalogue first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=20_000, help="number of activity records")
        parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")

    def handle(self, *args, records, seed, **options):
        teams, logins = demo_organisation_create()
        self.stdout.write(self.style.SUCCESS(f"Demo organisation: {', '.join(t.name for t in teams.values())}"))
        started = time.monotonic()
        counts = demo_activity_create(teams, records=records, seed=seed, progress=self._progress)
        self.stderr.write("")
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Demo activity: {sum(counts.values())} records (seed {seed}) in {elapsed:.1f} s")
        )
        for kind, count in sorted(counts.items()):
            self.stdout.write(f"  {kind:<18} {count:>9}")
        objectives = demo_objectives_create(teams=teams)
        rules = demo_alert_rules_create(teams=teams)
        budgets = demo_budgets_create(teams=teams)
        self.stdout.write(
            f"Demo objectives: {len(objectives)} new; alert rules: {len(rules)} new; budgets: {len(budgets)} new"
        )
        self.stdout.write("")
        self.stdout.write("Demo users (username / password, team, role):")
        for login in logins:
            self.stdout.write(f"  {login.username:<16} {login.password:<16} {login.team:<16} {login.role}")

    def _progress(self, kind: str, count: int) -> None:
        self.stderr.write(f"\r  {kind:<18} {count:>9} records", ending="")
        self.stderr.flush()
