"""One organisation root above every team (issue 14): a deployment with several parentless teams gets an
"Organisation" team above them, so KPIs joining teams' facts have values there. A new or single-root
deployment is left as it is (the first `create_team` makes the root)."""

from django.db import migrations

ORGANISATION_SLUG = "organisation"


def organisation_root_add(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    roots = Team.objects.filter(parent__isnull=True)
    if roots.count() < 2:
        return
    root = roots.filter(slug=ORGANISATION_SLUG).first()
    if root is None:
        slug = ORGANISATION_SLUG if not Team.objects.filter(slug=ORGANISATION_SLUG).exists() else "organisation-root"
        root = Team.objects.create(slug=slug, name="Organisation", kind="other")
    Team.objects.filter(parent__isnull=True).exclude(pk=root.pk).update(parent=root)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_team_api_key")]

    operations = [migrations.RunPython(organisation_root_add, migrations.RunPython.noop)]
