import time

from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DemoOrganisationError, demo_activity_teams, demo_organisation_create
from metrics.demo import demo_activity_create
from objectives.demo import demo_alert_rules_create, demo_budgets_create, demo_objectives_create


class Command(BaseCommand):
    help = (
        "Create the demo organisation: teams, users of each role (printed with passwords), activity, "
        "objectives of the current quarter and alert rules (run load_kpi_catalogue first). With --teams N, "
        "a generated organisation of N teams (root, departments, leaf teams) for benchmarks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=20_000, help="number of activity records")
        parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
        parser.add_argument(
            "--teams",
            type=int,
            help="generate an organisation of this many teams in three levels (root, departments, leaf teams); "
            "the leaf teams hold the activity. Without it, the small demo organisation.",
        )

    def handle(self, *args, records, seed, teams=None, **options):
        try:
            organisation, logins = demo_organisation_create(teams=teams)
        except DemoOrganisationError as error:
            raise CommandError(str(error)) from error
        holders = demo_activity_teams(organisation)
        if teams is None:
            self.stdout.write(
                self.style.SUCCESS(f"Demo organisation: {', '.join(t.name for t in organisation.values())}")
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo organisation: {len(organisation)} teams, {len(holders)} of them holding activity"
                )
            )
        self._started = self._shown = time.monotonic()
        try:
            counts = demo_activity_create(holders, records=records, seed=seed, progress=self._progress)
        except BaseException:
            # One transaction: the activity is as it was before this run (the teams and users are created).
            self.stderr.write("")
            self.stderr.write(self.style.ERROR("Demo activity not written (rolled back): run seed_demo again."))
            raise
        self.stderr.write("")
        elapsed = time.monotonic() - self._started
        self.stdout.write(
            self.style.SUCCESS(f"Demo activity: {sum(counts.values())} records (seed {seed}) in {elapsed:.1f} s")
        )
        for kind, count in sorted(counts.items()):
            self.stdout.write(f"  {kind:<18} {count:>9}")
        objectives = demo_objectives_create(teams=organisation)
        rules = demo_alert_rules_create(teams=organisation)
        budgets = demo_budgets_create(teams=organisation)
        self.stdout.write(
            f"Demo objectives: {len(objectives)} new; alert rules: {len(rules)} new; budgets: {len(budgets)} new"
        )
        self.stdout.write("")
        self.stdout.write("Demo users (username / password, team, role):")
        for login in logins:
            self.stdout.write(f"  {login.username:<16} {login.password:<16} {login.team:<16} {login.role}")

    def _progress(self, kind: str, done: int, total: int) -> None:
        """One progress line on stderr, rewritten in place (at most four times a second): records written, rate,
        time left."""
        now = time.monotonic()
        if now - self._shown < 0.25 and done < total:
            return
        self._shown = now
        elapsed = max(now - self._started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate else 0.0
        share = 100 * done / total if total else 100.0
        self.stderr.write(
            f"\r  {done:>11,} / {total:,} records {share:5.1f} %  {rate:>9,.0f}/s  "
            f"ETA {int(left) // 60:d}:{int(left) % 60:02d}  {kind:<16}",
            ending="",
        )
        self.stderr.flush()
