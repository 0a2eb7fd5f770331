"""Demo activity: deterministic for a seed, the requested size, plausible, idempotent; seed_demo wires it."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.demo import demo_organisation_create
from metrics.activity.kinds import KIND_SPECS
from metrics.demo import demo_activity_create
from metrics.models import Customer, Deal, DirtyMark, Order, SurveyResponse, Ticket

TODAY = date(2026, 6, 15)


def snapshot() -> dict[str, set[tuple]]:
    """Every stored record's content (no ids, no timestamps of the write), references by external_id."""
    content = {}
    for kind, spec in KIND_SPECS.items():
        lookups = ["team__slug", "external_id", "attributes"] + [
            f"{f.name}__external_id" if f.reference is not None else f.attname for f in spec.fields
        ]
        content[kind] = {tuple(str(v) for v in row) for row in spec.model.objects.values_list(*lookups)}
    return content


@pytest.fixture
def demo_teams(db):
    teams, _logins = demo_organisation_create()
    return teams


def test_same_seed_same_data_and_no_duplicates(demo_teams):
    # Given the demo activity generated with seed 7
    first_counts = demo_activity_create(demo_teams, records=1500, seed=7, today=TODAY)
    first = snapshot()
    # When it is generated again with the same seed
    second_counts = demo_activity_create(demo_teams, records=1500, seed=7, today=TODAY)
    # Then the records are the same, not doubled, and there are exactly as many as asked
    assert snapshot() == first
    assert first_counts == second_counts
    assert sum(first_counts.values()) == 1500
    assert sum(len(rows) for rows in first.values()) == 1500


def test_another_seed_gives_other_data(demo_teams):
    demo_activity_create(demo_teams, records=600, seed=1, today=TODAY)
    first = snapshot()
    demo_activity_create(demo_teams, records=600, seed=2, today=TODAY)
    assert snapshot()["orders"] != first["orders"]


def test_kinds_go_to_the_teams_of_their_kind(demo_teams):
    demo_activity_create(demo_teams, records=2000, seed=3, today=TODAY)
    assert set(Order.objects.values_list("team__slug", flat=True)) == {"ventes"}
    assert set(Ticket.objects.values_list("team__slug", flat=True)) == {"service-client"}
    kinds_of_marketing = {
        kind for kind, spec in KIND_SPECS.items() if spec.model.objects.filter(team__slug="marketing-digital").exists()
    }
    assert kinds_of_marketing == {"campaigns", "campaign-stats", "spend", "web-traffic", "leads", "interactions"}


def test_demo_data_is_plausible_and_within_24_months(demo_teams):
    demo_activity_create(demo_teams, records=3000, seed=5, today=TODAY)
    # Deals: closed exactly when won or lost (the database checks it too)
    assert not Deal.objects.filter(status="open", closed_at__isnull=False).exists()
    assert not Deal.objects.filter(status__in=["won", "lost"], closed_at__isnull=True).exists()
    assert set(Deal.objects.values_list("status", flat=True)) == {"open", "won", "lost"}
    # Some churned customers, most not
    churned = Customer.objects.filter(churned_at__isnull=False).count()
    assert 0 < churned < Customer.objects.count() / 2
    # Orders of all statuses, none in the future nor older than 24 months
    assert set(Order.objects.values_list("status", flat=True)) == {"completed", "abandoned", "returned"}
    dates = Order.objects.values_list("ordered_at", flat=True)
    assert min(dates).date() >= date(2024, 6, 14) and max(dates).date() <= TODAY
    # Scores within their scales, of the three surveys
    assert set(SurveyResponse.objects.values_list("survey", flat=True)) == {"nps", "csat", "ces"}
    # Dirty marks say what the recompute must cover
    mark = DirtyMark.objects.get(team__slug="ventes", record_kind="orders")
    assert (mark.period_start, mark.period_end) == (date(2024, 6, 14), date(2026, 6, 16))


def test_seed_demo_prints_users_and_counts(db):
    out = StringIO()
    call_command("seed_demo", "--records", "500", "--seed", "9", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "Demo activity: 500 records (seed 9)" in text
    assert "claire.martin" in text and "demo-kpi-2026" in text
    assert sum(spec.model.objects.count() for spec in KIND_SPECS.values()) == 500


def test_make_runs_start_leaves_the_worker_nothing_to_do(db):
    # given `make run`'s start: the catalogue, the demo (twice: the second run deletes and re-creates the demo
    # records, so its marks reach back before the earliest record left) and a synchronous recompute
    call_command("load_kpi_catalogue", stdout=StringIO())
    call_command("seed_demo", "--records", "400", stdout=StringIO())
    call_command("seed_demo", "--records", "300", "--seed", "2", stdout=StringIO())
    assert DirtyMark.objects.exists()
    # when the values are computed in-process
    call_command("recompute_kpis", "--sync", stdout=StringIO())
    # then every mark was covered and released: the worker, once started, has nothing to redo (issue 17, item 6)
    assert list(DirtyMark.objects.values_list("record_kind", "period_start", "period_end")) == []
