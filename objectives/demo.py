"""Demo objectives and alert rules for the demo organisation (`manage.py seed_demo`), in French.

They go through the same services as the pages, so a demo shows objectives with their
progress and alerts with their history once the KPIs are recomputed. Idempotent: an
objective or rule whose title or name already exists for its team is left as it is.
"""

import datetime as dt
from decimal import Decimal

from accounts.models import Team, User
from accounts.selectors import team_subtrees
from metrics.activity.selectors import SpendScope, spend_totals
from metrics.kpis.periods import Granularity, period_end, period_floor, period_shift, today_local
from metrics.models import KpiDefinition
from objectives.alerts.rules import alert_rule_create
from objectives.budgets.services import budget_create
from objectives.models import AlertRule, Budget, Objective
from objectives.services import objective_create

# (team slug, title, description, KPI code, target value, why it matters)
DEMO_OBJECTIVES = [
    (
        "ventes",
        "Chiffre d’affaires du trimestre : 400 000 €",
        "Réaliser 400 000 € de chiffre d’affaires sur les commandes finalisées du trimestre.",
        "revenue",
        "400000",
        "Le plan annuel prévoit 1,2 M€ ; ce trimestre porte la saison haute.",
    ),
    (
        "ventes",
        "Taux de gain à 45 % ce trimestre",
        "Gagner au moins 45 % des affaires clôturées du trimestre.",
        "win_rate",
        "45",
        "Un meilleur taux de gain réduit le coût d’acquisition sans plus de prospection.",
    ),
    (
        "marketing",
        "250 leads au trimestre",
        "Générer 250 leads qualifiables pour l’équipe Ventes ce trimestre.",
        "leads",
        "250",
        "Les ventes ont besoin de 80 leads par mois pour tenir leur objectif de chiffre d’affaires.",
    ),
    (
        "service-client",
        "NPS de 30 points ce trimestre",
        "Porter le Net Promoter Score du trimestre à 30 points.",
        "nps",
        "30",
        "La recommandation est notre premier canal d’acquisition après le web.",
    ),
]

# (team slug, name, rule fields)
DEMO_RULES = [
    (
        "ventes",
        "Taux de gain sous 35 %",
        {"kpi": "win_rate", "condition": "below", "threshold": "35", "recovery_threshold": "37"},
    ),
    (
        "ventes",
        "Attrition mensuelle au-dessus de 1,2 %",
        {"kpi": "churn_rate", "condition": "above", "threshold": "1.2", "severity": "critical"},
    ),
    (
        # No threshold: judged against the band of its own history (metrics.kpis.anomalies); the demo's activity
        # has one anomaly, yesterday's revenue (metrics.demo.demo_anomaly_inject).
        "ventes",
        "CA du jour inhabituel",
        {"kpi": "revenue", "condition": "anomaly", "granularity": "day"},
    ),
    (
        "marketing",
        "Leads en baisse de plus de 30 %",
        {"kpi": "leads", "condition": "change_below", "threshold": "30", "change_floor": "10"},
    ),
    (
        "service-client",
        "NPS sous 10 (au moins 30 réponses)",
        {"kpi": "nps", "condition": "below", "threshold": "10", "min_sample": 30, "sample_measure": "responses"},
    ),
    (
        "service-client",
        "Résolution au premier contact sous 72 %",
        {"kpi": "first_contact_resolution_rate", "condition": "below", "threshold": "72", "severity": "critical"},
    ),
]


def demo_objectives_create(*, teams: dict[str, Team], today: dt.date | None = None) -> list[Objective]:
    """Create the demo objectives over the current quarter, owned by each team's manager."""
    today = today or today_local()
    start = period_floor(today, Granularity.QUARTER)
    due = period_end(start, Granularity.QUARTER) - dt.timedelta(days=1)
    kpis = KpiDefinition.objects.in_bulk([row[3] for row in DEMO_OBJECTIVES], field_name="code")
    existing = set(Objective.objects.filter(team__in=teams.values()).values_list("team__slug", "title"))
    created = []
    for slug, title, description, code, value, why in DEMO_OBJECTIVES:
        if (slug, title) in existing or code not in kpis:
            continue
        created.append(
            objective_create(
                team=teams[slug],
                title=title,
                description=description,
                relevance_note=why,
                owner=_manager(teams[slug]),
                start_date=start,
                due_date=due,
                targets=[{"kpi": kpis[code], "target_value": Decimal(value)}],
                today=today,
            )
        )
    return created


def demo_alert_rules_create(*, teams: dict[str, Team]) -> list[AlertRule]:
    """Create the demo alert rules (monthly unless they say otherwise, notifying the team's managers)."""
    existing = set(AlertRule.objects.filter(team__in=teams.values()).values_list("team__slug", "name"))
    # Without the catalogue (load_kpi_catalogue not run yet) there is nothing to watch.
    loaded = set(
        KpiDefinition.objects.filter(code__in=[f["kpi"] for *_, f in DEMO_RULES]).values_list("code", flat=True)
    )
    return [
        alert_rule_create(user=None, team=teams[slug], data={"name": name, "granularity": "month", **fields})
        for slug, name, fields in DEMO_RULES
        if (slug, name) not in existing and fields["kpi"] in loaded
    ]


def demo_budgets_create(*, teams: dict[str, Team], today: dt.date | None = None) -> list[Budget]:
    """Give marketing this quarter's acquisition budget: what it spent on acquisition last quarter, so the
    demo's growing spend shows a budget slightly off (its forecast a few percent over)."""
    today = today or today_local()
    start = period_floor(today, Granularity.QUARTER)
    previous = period_shift(start, Granularity.QUARTER, -1)
    marketing = teams.get("marketing")
    if marketing is None or Budget.objects.filter(team=marketing, start_date=start).exists():
        return []
    subtree = team_subtrees([marketing.pk])[marketing.pk]
    [last_quarter] = spend_totals(
        scopes=[SpendScope(team_ids=subtree, first=previous, last=start - dt.timedelta(days=1), category="acquisition")]
    )
    if not last_quarter:
        return []
    budget = budget_create(
        team=marketing,
        name="Acquisition du trimestre",
        category="acquisition",
        start_date=start,
        end_date=period_end(start, Granularity.QUARTER) - dt.timedelta(days=1),
        amount=last_quarter.quantize(Decimal("1")),
    )
    return [budget]


def _manager(team: Team) -> User | None:
    return User.objects.filter(memberships__team=team, memberships__role="manager").order_by("pk").first()
