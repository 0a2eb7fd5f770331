"""seed_demo --teams: a generated three-level organisation whose leaf teams hold the activity (issue 17, item 4)."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from accounts.models import Membership, Team
from metrics.activity.kinds import KIND_SPECS
from metrics.models import Campaign, CampaignStat, Customer, DirtyMark, Interaction, Order, Ticket

pytestmark = pytest.mark.django_db

SALES_LEAVES = {"ventes-01", "ventes-02", "ventes-03"}
MARKETING_LEAVES = {"marketing-digital", "marketing-02", "marketing-03"}
SUPPORT_LEAVES = {"service-client-01", "service-client-02"}
DEPARTMENTS = {"ventes", "marketing", "service-client"}


def per_team(model) -> dict[str, int]:
    return dict(model.objects.values_list("team__slug").annotate(n=Count("pk")).order_by())


def records_per_team() -> Counter[str]:
    counts: Counter[str] = Counter()
    for spec in KIND_SPECS.values():
        counts.update(per_team(spec.model))
    return counts


def seed(teams: int, records: int) -> str:
    out = StringIO()
    call_command(
        "seed_demo", "--teams", str(teams), "--records", str(records), "--seed", "3", stdout=out, stderr=StringIO()
    )
    return out.getvalue()


def test_seed_demo_teams_builds_a_three_level_tree():
    # when a 12-team organisation is generated
    seed(12, 3000)
    # then: the root, the three departments under it, and 8 leaf teams under the departments, in turn
    parents = dict(Team.objects.values_list("slug", "parent__slug"))
    assert len(parents) == 12
    assert parents["organisation"] is None
    assert {slug for slug, parent in parents.items() if parent == "organisation"} == DEPARTMENTS
    assert {slug for slug, parent in parents.items() if parent == "ventes"} == SALES_LEAVES
    assert {slug for slug, parent in parents.items() if parent == "marketing"} == MARKETING_LEAVES
    assert {slug for slug, parent in parents.items() if parent == "service-client"} == SUPPORT_LEAVES
    kinds = dict(Team.objects.values_list("slug", "kind"))
    assert {kinds[slug] for slug in SALES_LEAVES} == {"sales"}
    assert {kinds[slug] for slug in MARKETING_LEAVES} == {"marketing"}
    assert {kinds[slug] for slug in SUPPORT_LEAVES} == {"support"}
    # and the demo users keep their departments
    assert Membership.objects.get(user__username="claire.martin").team.slug == "ventes"


def test_seed_demo_teams_spreads_the_records_over_the_leaf_teams():
    # when 3,000 records are spread over the 8 leaf teams of a 12-team organisation
    text = seed(12, 3000)
    assert "Demo activity: 3000 records (seed 3)" in text
    # then each kind's share of the 3,000 (in %) is split evenly among the leaf teams of its kind:
    # sales (3 teams): customers 9 % = 270 → 90, leads 8 % = 240 → 80, deals 6 % = 180 → 60, orders 22 % = 660 → 220,
    #   subscriptions 4 % = 120 → 40, meetings 4 % = 120 → 40: 530 a team;
    # marketing (3 teams): campaigns and their stats 6 % = 180 → 60, spend 3 % = 90 → 30, web traffic 90 → 30,
    #   leads 5 % = 150 → 50, interactions 10 % = 300 → 100: 270 a team;
    # support (2 teams): tickets 12 % = 360 → 180, survey responses 8 % = 240 → 120: 300 a team.
    # 3 × 530 + 3 × 270 + 2 × 300 = 3,000; the root and the departments hold none.
    expected = dict.fromkeys(SALES_LEAVES, 530) | dict.fromkeys(MARKETING_LEAVES, 270)
    expected |= dict.fromkeys(SUPPORT_LEAVES, 300)
    assert records_per_team() == expected
    assert per_team(Order) == dict.fromkeys(SALES_LEAVES, 220)
    assert Ticket.objects.filter(team__slug="service-client-02").count() == 180
    marketing_02 = Campaign.objects.filter(team__slug="marketing-02").count()
    assert marketing_02 + CampaignStat.objects.filter(team__slug="marketing-02").count() == 60
    # and the records refer to customers of a sales team only
    assert set(Customer.objects.values_list("team__slug", flat=True)) == SALES_LEAVES
    assert set(Interaction.objects.values_list("customer__team__kind", flat=True)) == {"sales"}
    # and every leaf team has its marks for the recompute, the departments none
    assert (
        set(DirtyMark.objects.values_list("team__slug", flat=True)) == SALES_LEAVES | MARKETING_LEAVES | SUPPORT_LEAVES
    )


def test_seed_demo_teams_again_replaces_the_demo_records():
    seed(12, 3000)
    seed(12, 1200)
    assert sum(records_per_team().values()) == 1200


def test_seed_demo_teams_refuses_an_organisation_too_small_for_three_levels():
    with pytest.raises(CommandError, match="at least 7 teams"):
        seed(6, 100)
    assert not Team.objects.exists()


def test_seed_demo_teams_is_deterministic_for_a_seed():
    # given a generated organisation seeded once
    seed(12, 600)
    first = set(Order.objects.values_list("team__slug", "external_id", "ordered_at", "amount", "customer__external_id"))
    # when it is seeded again with the same seed
    seed(12, 600)
    # then the records are the same
    again = set(Order.objects.values_list("team__slug", "external_id", "ordered_at", "amount", "customer__external_id"))
    assert again == first and len(first) == 600 * 22 // 100
