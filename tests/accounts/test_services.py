"""Team and membership services, and the create_team command."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, Team
from accounts.permissions import check_team_role, has_team_role
from accounts.roles import Role
from accounts.services import TeamError, membership_set, team_upsert


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
    call_command("create_team", "--slug", "support", "--name", "Service client", "--kind", "support")
    call_command("create_team", "--slug", "n1", "--name", "Niveau 1", "--parent", "support", "--kind", "support")
    call_command("create_team", "--slug", "n1", "--name", "Niveau 1", "--parent", "support", "--kind", "support")
    assert Team.objects.get(slug="n1").parent.slug == "support"
    assert Team.objects.count() == 2
    with pytest.raises(CommandError, match="parent"):
        call_command("create_team", "--slug", "z", "--name", "Z", "--parent", "nope")


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
