"""Team visibility through memberships and sub-teams."""

from accounts import selectors
from accounts.roles import Role


def test_member_sees_own_team_and_sub_teams_only(make_team, make_user):
    # given a tree Marketing → Digital → SEO, and an unrelated Sales team
    marketing = make_team("marketing", kind="marketing")
    digital = make_team("digital", kind="marketing", parent=marketing)
    seo = make_team("seo", kind="marketing", parent=digital)
    sales = make_team("sales")
    user = make_user("camille", team=digital, role=Role.VIEWER)

    # when
    visible = set(selectors.teams_visible_to(user).values_list("slug", flat=True))

    # then the sub-teams come along, the parent and the other team do not
    assert visible == {digital.slug, seo.slug}
    assert marketing.slug not in visible and sales.slug not in visible


def test_member_of_team_a_never_sees_team_b(team_a, team_b, viewer_a):
    assert list(selectors.teams_visible_to(viewer_a)) == [team_a]
    assert selectors.team_role_of(viewer_a, team_b) is None


def test_staff_see_every_team(team_a, team_b, make_user):
    admin = make_user("root", staff=True)
    assert set(selectors.teams_visible_to(admin)) == {team_a, team_b}
    assert selectors.team_ids_visible_to(admin) is None


def test_user_without_membership_sees_nothing(team_a, make_user):
    assert not selectors.teams_visible_to(make_user("nobody")).exists()


def test_role_is_inherited_from_the_highest_ancestor_membership(make_team, make_user):
    parent = make_team("parent")
    child = make_team("child", parent=parent)
    user = make_user("lea", team=parent, role=Role.MANAGER)
    from accounts.services import membership_set

    membership_set(user=user, team=child, role=Role.VIEWER)
    assert selectors.team_role_of(user, child) == Role.MANAGER


def test_ancestors_and_descendants(make_team):
    a = make_team("a")
    b = make_team("b", parent=a)
    c = make_team("c", parent=b)
    assert selectors.team_ids_with_ancestors([c.pk]) == {a.pk, b.pk, c.pk}
    assert selectors.team_ids_with_descendants([b.pk]) == {b.pk, c.pk}


def test_team_member_ids_groups_users_by_team(team_a, team_b, manager_a, viewer_a, manager_b):
    members = selectors.team_member_ids([team_a.pk, team_b.pk])
    assert members[team_a.pk] == {manager_a.pk, viewer_a.pk}
    assert members[team_b.pk] == {manager_b.pk}
