"""A KPI's detail page for one team, its JSON twin and its CSV and XLSX exports:
/dashboard/<slug>/kpi/<code>/[data.json|export.csv|export.xlsx].

All four read objectives.kpi_detail.kpi_detail with the same selectors (granularity, range),
so an export holds exactly the rows of the page's table. Users who cannot see the team, or
an unknown KPI, get a 404.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from metrics.selectors import kpi_definition_by_code
from objectives.kpi_detail import kpi_detail, kpi_detail_as_json, kpi_detail_csv, kpi_detail_xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _detail(request, slug: str, code: str):
    team = team_for_user_or_404(request.user, slug)
    kpi = kpi_definition_by_code(code=code)
    if kpi is None:
        raise Http404("No such KPI.")
    data = kpi_detail(
        team=team,
        kpi=kpi,
        granularity=request.GET.get("granularity"),
        range_key=request.GET.get("range"),
        breakdown_at=request.GET.get("at"),
    )
    return team, data


def _filename(data: dict, extension: str) -> str:
    return f"{data['team']['slug']}-{data['kpi']['code']}-{data['granularity']}-{data['range']['key']}.{extension}"


@login_required
def kpi_detail_page(request, slug: str, code: str):
    """A KPI for a team: definition, formula in plain words, history, breakdown by segment, values, exports."""
    team, data = _detail(request, slug, code)
    json_data = kpi_detail_as_json(data)
    context = {
        "current_team": team,
        "data": data,
        "history": json_data["history"],
        "can_edit": has_team_role(request.user, team, Role.MANAGER),
    }
    return render(request, "objectives/kpi_detail.html", context)


@login_required
def kpi_detail_data(request, slug: str, code: str):
    """The same detail as JSON."""
    _team, data = _detail(request, slug, code)
    return JsonResponse(kpi_detail_as_json(data))


@login_required
def kpi_detail_export_csv(request, slug: str, code: str):
    """The values table as CSV (UTF-8 with a byte-order mark, so spreadsheets read the accents)."""
    _team, data = _detail(request, slug, code)
    response = HttpResponse("\ufeff" + kpi_detail_csv(data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(data, "csv")}"'
    return response


@login_required
def kpi_detail_export_xlsx(request, slug: str, code: str):
    """The values table as an XLSX workbook."""
    _team, data = _detail(request, slug, code)
    response = HttpResponse(kpi_detail_xlsx(data), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(data, "xlsx")}"'
    return response
