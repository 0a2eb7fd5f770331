from django.core.management.base import BaseCommand

from accounts.demo import demo_organisation_create


class Command(BaseCommand):
    help = "Create the demo organisation: teams, users of each role (printed with passwords) and activity."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=20_000, help="number of activity records")
        parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")

    def handle(self, *args, records, seed, **options):
        teams, logins = demo_organisation_create()
        self.stdout.write(self.style.SUCCESS(f"Demo organisation: {', '.join(t.name for t in teams.values())}"))
        self.stdout.write("")
        self.stdout.write("Demo users (username / password, team, role):")
        for login in logins:
            self.stdout.write(f"  {login.username:<16} {login.password:<16} {login.team:<16} {login.role}")
