"""The organisation overview: every team a user sees on one page — its objectives by status, its open
alerts, and the first cards of its dashboard with the change vs the previous month.

A constant number of queries whatever the number of teams: one per kind of data, grouped by team.
"""

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

from django.db.models import Count

from accounts.models import User
from accounts.selectors import teams_visible_to
from metrics.kpis.comparisons import Comparison, comparison_values
from metrics.kpis.periods import Granularity, period_floor, today_local
from metrics.kpis.selectors import CellQuery, kpi_cells
from metrics.models import KpiDefinition
from objectives.dashboards.cards import default_card_codes, kpi_change
from objectives.models import Alert, DashboardCard, Objective, ObjectiveState, ProgressStatus
from objectives.models.alerts import OPEN_STATES

CARDS_PER_TEAM = 3
# Worst first, as a manager reads them.
STATUS_ORDER = [s.value for s in ProgressStatus]


def organisation_overview(*, user: User, today: dt.date | None = None) -> dict:
    """Teams the user sees, each with objective counts by status, open alerts by severity and its first cards."""
    teams = list(teams_visible_to(user).select_related("parent").order_by("name"))
    team_ids = [t.pk for t in teams]
    today = today or today_local()
    month = period_floor(today, Granularity.MONTH)

    statuses: dict[int, Counter] = defaultdict(Counter)
    for row in (
        Objective.objects.filter(team_id__in=team_ids, state=ObjectiveState.ACTIVE)
        .values("team_id", "progress_status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        statuses[row["team_id"]][row["progress_status"]] = row["n"]
    alerts: dict[int, Counter] = defaultdict(Counter)
    for row in (
        Alert.objects.filter(team_id__in=team_ids, state__in=OPEN_STATES)
        .values("team_id", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        alerts[row["team_id"]][row["severity"]] = row["n"]

    chosen: dict[int, list[str]] = defaultdict(list)
    for team_id, code in (
        DashboardCard.objects.filter(team_id__in=team_ids)
        .order_by("team_id", "position")
        .values_list("team_id", "kpi__code")
    ):
        chosen[team_id].append(code)
    codes = {t.pk: (chosen[t.pk] or list(default_card_codes(team=t)))[:CARDS_PER_TEAM] for t in teams}
    kpis = KpiDefinition.objects.in_bulk({c for team_codes in codes.values() for c in team_codes}, field_name="code")
    query = CellQuery(kpi_ids=tuple(k.pk for k in kpis.values()), granularities=(Granularity.MONTH,), starts=(month,))
    values = {
        (cell.team_id, cell.kpi_id, cell.period_start): cell.value
        for cell in kpi_cells(team_ids=team_ids, queries=[query])
    }
    # The running month against the same days of the previous one (metrics.kpis.comparisons).
    compared = comparison_values(
        kpis=list(kpis.values()), team_ids=team_ids, granularity=Granularity.MONTH, period_start=month, today=today
    )

    return {
        "month": month,
        "teams": [
            {
                "team": team,
                "objectives": [
                    {"status": s, "label": ProgressStatus(s).label, "count": statuses[team.pk][s]}
                    for s in STATUS_ORDER
                    if statuses[team.pk][s]
                ],
                "objectives_total": sum(statuses[team.pk].values()),
                "alerts": dict(alerts[team.pk]),
                "alerts_total": sum(alerts[team.pk].values()),
                "cards": [
                    _card(kpis[code], values, team.pk, month, compared) for code in codes[team.pk] if code in kpis
                ],
            }
            for team in teams
        ],
    }


def _card(kpi: KpiDefinition, values: dict, team_id: int, month: dt.date, compared: Comparison) -> dict:
    value: Decimal | None = values.get((team_id, kpi.pk, month))
    before = compared.value(team_id, kpi.pk)
    return {
        "kpi": kpi,
        "value": value,
        "has_data": (team_id, kpi.pk, month) in values,
        "compared_with": compared.span.label,
        **kpi_change(unit=kpi.unit, direction=kpi.direction, value=value, previous=before),
    }
