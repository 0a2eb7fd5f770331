from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from accounts.services import TeamError, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a team; the key is printed alone on the last line (it is stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="slug of the team")
        parser.add_argument("--name", required=True, help="what the key is for, e.g. the integration's name")
        parser.add_argument("--scopes", default="read", help="read, write or read,write (default: read)")

    def handle(self, *args, team, name, scopes, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug {team!r}.")
        try:
            api_key, key = api_key_create(team=team_obj, name=name, scopes=scopes.split(","))
        except TeamError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"API key {api_key.prefix} ({api_key.name}) for team {team_obj.slug}, scopes {api_key.scopes}."
        )
        self.stdout.write("Store it now: it cannot be shown again.")
        self.stdout.write(key)
