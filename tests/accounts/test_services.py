"""Team and membership services, and the create_team command."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.core.management import CommandError, call_command

from accounts.models import Membership, Team
from accounts.permissions import check_team_role, has_team_role
from accounts.roles import Role
from accounts.services import TeamError, membership_set, organisation_root_ensure, team_upsert


def test_team_upsert_is_idempotent_and_updates(db):
    team_upsert(slug="ventes", name="Ventes", kind="sales")
    team_upsert(slug="ventes", name="Ventes France", kind="sales")
    assert Team.objects.get(slug="ventes").name == "Ventes France"
    assert Team.objects.count() == 1


def test_team_upsert_refuses_unknown_parent_kind_and_cycles(db):
    with pytest.raises(TeamError, match="parent"):
        team_upsert(slug="x", name="X", parent_slug="missing")
    with pytest.raises(TeamError, match="kind"):
        team_upsert(slug="x", name="X", kind="finance")
    team_upsert(slug="a", name="A")
    team_upsert(slug="b", name="B", parent_slug="a")
    with pytest.raises(TeamError, match="cycle"):
        team_upsert(slug="a", name="A", parent_slug="b")
    # nothing was half-written: A still has no parent
    assert Team.objects.get(slug="a").parent is None


def test_membership_set_replaces_role(team_a, make_user):
    user = make_user("u")
    membership_set(user=user, team=team_a, role=Role.VIEWER)
    membership_set(user=user, team=team_a, role=Role.MANAGER)
    assert Membership.objects.get(user=user, team=team_a).role == Role.MANAGER


def test_permissions_by_role(team_a, team_b, manager_a, viewer_a):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    assert has_team_role(manager_a, team_a, Role.MANAGER)
    assert has_team_role(viewer_a, team_a, Role.VIEWER)
    assert not has_team_role(viewer_a, team_a, Role.MEMBER)
    with pytest.raises(PermissionDenied):
        check_team_role(viewer_a, team_a, Role.MANAGER)
    with pytest.raises(Http404):
        check_team_role(manager_a, team_b)


def test_create_team_command(db, capsys):
    # the first team of a deployment: the organisation root is created above it
    call_command("create_team", "--slug", "support", "--name", "Service client", "--kind", "support")
    assert "organisation root organisation created" in capsys.readouterr().out
    call_command("create_team", "--slug", "n1", "--name", "Niveau 1", "--parent", "support", "--kind", "support")
    call_command("create_team", "--slug", "n1", "--name", "Niveau 1", "--parent", "support", "--kind", "support")
    assert Team.objects.get(slug="n1").parent.slug == "support"
    assert Team.objects.get(slug="support").parent.slug == "organisation"
    assert Team.objects.count() == 3
    with pytest.raises(CommandError, match="parent"):
        call_command("create_team", "--slug", "z", "--name", "Z", "--parent", "nope")


def test_every_team_created_without_a_parent_goes_under_the_one_root(db, capsys):
    call_command("create_team", "--slug", "ventes", "--name", "Ventes", "--kind", "sales")
    call_command("create_team", "--slug", "marketing", "--name", "Marketing", "--kind", "marketing")
    # updating the root itself keeps it the root
    call_command("create_team", "--slug", "organisation", "--name", "ACME")
    tree = dict(Team.objects.values_list("slug", "parent__slug"))
    assert tree == {"organisation": None, "ventes": "organisation", "marketing": "organisation"}
    assert Team.objects.get(slug="organisation").name == "ACME"


def test_a_named_root_adopts_the_parentless_teams(db, capsys):
    team_upsert(slug="ventes", name="Ventes")
    team_upsert(slug="marketing", name="Marketing")
    call_command("create_team", "--slug", "acme", "--name", "ACME", "--root")
    assert "2 team(s) moved under it" in capsys.readouterr().out
    assert dict(Team.objects.values_list("slug", "parent__slug")) == {
        "acme": None,
        "ventes": "acme",
        "marketing": "acme",
    }
    # then a new team goes under it, and no other root is made
    call_command("create_team", "--slug", "support", "--name", "Support")
    assert Team.objects.get(slug="support").parent.slug == "acme"
    with pytest.raises(CommandError, match="not both"):
        call_command("create_team", "--slug", "x", "--name", "X", "--root", "--parent", "acme")


def test_the_migration_puts_a_root_above_an_existing_forest(db):
    # given a deployment from before the root: two parentless teams, one with a sub-team
    team_upsert(slug="ventes", name="Ventes")
    team_upsert(slug="est", name="Est", parent_slug="ventes")
    team_upsert(slug="marketing", name="Marketing")
    migration = importlib.import_module("accounts.migrations.0003_organisation_root")
    migration.organisation_root_add(django_apps, None)
    tree = dict(Team.objects.values_list("slug", "parent__slug"))
    assert tree == {"organisation": None, "ventes": "organisation", "marketing": "organisation", "est": "ventes"}
    # run again: nothing changes
    migration.organisation_root_add(django_apps, None)
    assert Team.objects.count() == 4


def test_organisation_root_ensure_keeps_a_single_root(db):
    only = team_upsert(slug="acme", name="ACME")
    assert organisation_root_ensure() == only and Team.objects.count() == 1


def test_a_team_saved_in_the_admin_without_parent_goes_under_the_root(rf, admin_user):
    root = team_upsert(slug="organisation", name="Organisation")
    team_admin = admin.site._registry[Team]
    request = rf.post("/admin/accounts/team/add/")
    request.user = admin_user
    ventes = Team(name="Ventes", slug="ventes", kind="sales")
    team_admin.save_model(request, ventes, None, False)
    assert Team.objects.get(slug="ventes").parent == root
    # the root itself, edited, stays the root
    root.name = "ACME"
    team_admin.save_model(request, root, None, True)
    root.refresh_from_db()
    assert root.parent is None and root.name == "ACME"


def test_seed_demo_creates_three_teams_and_a_user_of_each_role(db, capsys):
    call_command("seed_demo", "--records", "0")
    out = capsys.readouterr().out
    names = set(Team.objects.values_list("name", flat=True))
    assert {"Ventes", "Marketing", "Service client"} <= names
    for team in ("ventes", "marketing", "service-client"):
        roles = set(Membership.objects.filter(team__slug=team).values_list("role", flat=True))
        assert roles == {Role.VIEWER, Role.MEMBER, Role.MANAGER}
    # printed with their passwords
    assert "claire.martin" in out and "demo-kpi-2026" in out
