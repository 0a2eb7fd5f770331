from django.core.management.base import BaseCommand, CommandError

from accounts.models import TeamKind
from accounts.services import TeamError, team_upsert


class Command(BaseCommand):
    help = "Create a team, or update its name, kind and parent (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--parent", default=None, help="slug of the parent team")
        parser.add_argument("--kind", default=TeamKind.OTHER, choices=TeamKind.values)

    def handle(self, *args, slug, name, parent, kind, **options):
        try:
            team = team_upsert(slug=slug, name=name, kind=kind, parent_slug=parent)
        except TeamError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"team {team.slug} ({team.get_kind_display()}) id={team.pk}")
