"""The team dashboard page and its JSON twin, /dashboard/<slug>/ and /dashboard/<slug>/data.json.

Both read objectives.dashboard.team_dashboard; users who cannot see the team get a 404.
"""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from metrics.engine.periods import Granularity
from objectives.dashboard import TREND_GRANULARITIES, dashboard_as_json, team_dashboard


def _dashboard(request, slug: str):
    team = team_for_user_or_404(request.user, slug)
    data = team_dashboard(
        team=team,
        period=request.GET.get("period"),
        granularity=request.GET.get("granularity"),
        trend_kpi=request.GET.get("kpi"),
    )
    return team, data


@login_required
def dashboard(request, slug: str):
    """A team's dashboard: objective progress, KPI cards and charts for the selected period."""
    team, data = _dashboard(request, slug)
    json_data = dashboard_as_json(data)
    context = {
        "current_team": team,
        "data": data,
        "charts": json_data["charts"],
        "sparklines": [{"unit": c["unit"], "values": c["sparkline"]} for c in json_data["cards"]],
        "granularities": [(value, label) for value, label in Granularity.choices if value in TREND_GRANULARITIES],
        "can_edit": has_team_role(request.user, team, Role.MANAGER),
    }
    return render(request, "objectives/dashboard.html", context)


@login_required
def dashboard_data(request, slug: str):
    """The same dashboard as JSON, for scripts and integrations using the browser session."""
    _team, data = _dashboard(request, slug)
    return JsonResponse(dashboard_as_json(data))
