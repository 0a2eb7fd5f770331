from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team, TeamKind
from accounts.services import TeamError, organisation_root_ensure, organisation_root_set, team_upsert


class Command(BaseCommand):
    help = (
        "Create a team, or update its name, kind and parent (idempotent). Without --parent the team goes under "
        "the organisation root, created by the first run (or name it yourself with --root)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--parent", default=None, help="slug of the parent team (default: the organisation root)")
        parser.add_argument("--kind", default=TeamKind.OTHER, choices=TeamKind.values)
        parser.add_argument(
            "--root", action="store_true", help="this team is the organisation root, above every other team"
        )

    def handle(self, *args, slug, name, parent, kind, root, **options):
        if root and parent:
            raise CommandError("The organisation root has no parent: give --root or --parent, not both.")
        tree_changed = False
        try:
            if root:
                team = team_upsert(slug=slug, name=name, kind=kind)
                adopted = organisation_root_set(team=team)
                tree_changed = adopted > 0
                self.stdout.write(f"organisation root {team.slug}: {adopted} team(s) moved under it")
            else:
                if parent is None:
                    known_roots = set(Team.objects.filter(parent__isnull=True).values_list("slug", flat=True))
                    organisation = organisation_root_ensure()
                    if organisation.slug not in known_roots:
                        tree_changed = bool(known_roots)
                        self.stdout.write(f"organisation root {organisation.slug} created above every team")
                    parent = None if organisation.slug == slug else organisation.slug
                team = team_upsert(slug=slug, name=name, kind=kind, parent_slug=parent)
        except TeamError as exc:
            raise CommandError(str(exc)) from exc
        where = f" under {team.parent.slug}" if team.parent_id else ""
        self.stdout.write(f"team {team.slug} ({team.get_kind_display()}) id={team.pk}{where}")
        if tree_changed:
            self.stdout.write("values of teams whose tree changed follow at the next full recompute (recompute_kpis)")
