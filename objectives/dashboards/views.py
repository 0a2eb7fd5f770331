"""Pages of dashboards: the organisation overview, a team's dashboard with its data, cards and charts, and the
KPI detail with its exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from accounts.selectors import team_ids_visible_to
from kpiplatform.edge import query_parameters
from metrics.kpis.periods import Granularity
from metrics.kpis.selectors import kpi_definition_by_code
from objectives.dashboards.cards import (
    MAX_CARDS,
    dashboard_as_json,
    dashboard_card_choices,
    dashboard_cards,
    dashboard_cards_edited,
)
from objectives.dashboards.exports import kpi_detail_csv, kpi_detail_table, kpi_detail_xlsx
from objectives.dashboards.forms import (
    DashboardPanelsForm,
    DashboardQueryForm,
    FocusForm,
    KpiDetailQueryForm,
    KpiTreeQueryForm,
    TreeCascadeForm,
)
from objectives.dashboards.kpi_detail import kpi_detail, kpi_detail_as_json, kpi_detail_drivers
from objectives.dashboards.overview import organisation_overview
from objectives.dashboards.panels import dashboard_panel_choices, dashboard_panels
from objectives.dashboards.services import dashboard_cards_set, dashboard_panels_set
from objectives.dashboards.team import TREND_GRANULARITIES, team_dashboard
from objectives.dashboards.trees import (
    child_objective_dates,
    combination_words,
    kpi_tree_page,
    tree_child_objectives_create,
)
from objectives.services import ObjectiveError


def _dashboard(request, slug: str, *, as_json: bool = False):
    team = team_for_user_or_404(request.user, slug)
    # A wrong parameter raises InputRejected: a 400 naming it (kpiplatform.edge).
    query = query_parameters(request, DashboardQueryForm, as_json=as_json)
    data = team_dashboard(
        team=team,
        period=query["period"] or None,
        granularity=query["granularity"] or None,
        trend_kpi=query["kpi"] or None,
        compare=query["compare"] or None,
    )
    return team, data


@login_required
def dashboard(request, slug: str):
    """A team's dashboard: objective progress, KPI cards and charts for the selected period."""
    team, data = _dashboard(request, slug)
    json_data = dashboard_as_json(data)
    can_edit = has_team_role(request.user, team, Role.MANAGER)
    context = {
        "current_team": team,
        "data": data,
        "charts": json_data["charts"],
        "sparklines": [{"unit": c["unit"], "values": c["sparkline"]} for c in json_data["cards"]],
        "granularities": [(value, label) for value, label in Granularity.choices if value in TREND_GRANULARITIES],
        "can_edit": can_edit,
        # A chart without data links to the import page for those who may import (managers).
        "can_import": can_edit,
        # Where a value missing here can be read: linked only for teams the user may open.
        "visible_team_ids": team_ids_visible_to(request.user),
    }
    return render(request, "objectives/dashboard.html", context)


@login_required
def dashboard_data(request, slug: str):
    """The same dashboard as JSON, for scripts and integrations using the browser session."""
    _team, data = _dashboard(request, slug, as_json=True)
    return JsonResponse(dashboard_as_json(data))


def _focus(focus: str, keys: list[str]) -> str:
    """The button to focus after a move: a card or chart moved to an end has that arrow disabled, so the focus
    goes to its other arrow instead."""
    action, _sep, key = focus.partition(":")
    if key in keys and (action, keys.index(key)) in (("up", 0), ("down", len(keys) - 1)):
        return f"{'down' if action == 'up' else 'up'}:{key}"
    return focus


@login_required
@require_http_methods(["GET", "POST"])
def dashboard_cards_edit(request, slug: str):
    """Managers pick the dashboard's KPI cards and their order; every button saves at once (no script needed)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    errors: list[str] = []
    if request.method == "POST":
        action, _sep, code = request.POST.get("action", "").partition(":")
        if action == "reset":
            codes: list[str] = []
        else:
            code = request.POST.get("add_kpi", "") if action == "add" else code
            codes = dashboard_cards_edited(codes=request.POST.getlist("cards"), action=action, code=code)
        try:
            dashboard_cards_set(team=team, kpi_codes=codes)
        except ValidationError as exc:
            errors = exc.messages
        else:
            if action in ("reset", "add", "remove"):
                messages.success(request, _("Dashboard cards saved."))
            # Back on the same button, so a keyboard user can press it again to keep moving the card.
            focus = f"{action}:{code}" if action in ("up", "down") else action
            return redirect(f"{reverse('dashboard-cards', args=[team.slug])}?{urlencode({'focus': focus})}")
    current = dashboard_cards(team=team)
    codes = [c["code"] for c in current["cards"]]
    focus = _focus(query_parameters(request, FocusForm)["focus"], codes)
    context = {
        "current_team": team,
        "cards": current["cards"],
        "is_default": current["is_default"],
        "choices": dashboard_card_choices(exclude=[c["code"] for c in current["cards"]]),
        "max_cards": MAX_CARDS,
        "focus": focus,
        "errors": errors,
    }
    return render(request, "objectives/dashboard_cards.html", context, status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def dashboard_panels_edit(request, slug: str):
    """Managers pick the dashboard's charts among the registry's and their order; every button saves at once."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    errors: list[str] = []
    if request.method == "POST":
        form = DashboardPanelsForm(request.POST)
        if form.is_valid():
            try:
                dashboard_panels_set(team=team, keys=form.edited_keys())
            except ValidationError as exc:
                errors = exc.messages
            else:
                verb, key = form.cleaned_data["verb"], form.cleaned_data["key"]
                if verb in ("reset", "add", "remove"):
                    messages.success(request, _("Dashboard charts saved."))
                # Back on the same button, so a keyboard user can press it again to keep moving the chart.
                focus = f"{verb}:{key}" if verb in ("up", "down") else verb
                return redirect(f"{reverse('dashboard-panels', args=[team.slug])}?{urlencode({'focus': focus})}")
        else:
            errors = [message for field_errors in form.errors.values() for message in field_errors]
    current = dashboard_panels(team=team)
    keys = [panel["key"] for panel in current["panels"]]
    context = {
        "current_team": team,
        "panels": current["panels"],
        "is_default": current["is_default"],
        "choices": dashboard_panel_choices(exclude=keys),
        "focus": _focus(query_parameters(request, FocusForm)["focus"], keys),
        "errors": errors,
    }
    return render(request, "objectives/dashboard_panels.html", context, status=400 if errors else 200)


@login_required
def overview(request):
    """Every team the user sees on one page: key figures of the month, objectives by status, open alerts."""
    return render(request, "objectives/overview.html", {"overview": organisation_overview(user=request.user)})


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _detail(request, slug: str, code: str, *, as_json: bool = False):
    team = team_for_user_or_404(request.user, slug)
    kpi = kpi_definition_by_code(code=code)
    if kpi is None:
        raise Http404("No such KPI.")
    # Checked before anything is computed or written, the exports included.
    query = query_parameters(request, KpiDetailQueryForm, as_json=as_json)
    data = kpi_detail(
        team=team,
        kpi=kpi,
        granularity=query["granularity"] or None,
        range_key=query["range"] or None,
        breakdown_at=query["at"],
    )
    return team, kpi, data


def _filename(data: dict, extension: str) -> str:
    return f"{data['team']['slug']}-{data['kpi']['code']}-{data['granularity']}-{data['range']['key']}.{extension}"


@login_required
def kpi_detail_page(request, slug: str, code: str):
    """A KPI for a team: definition, formula in plain words, history, breakdown by segment, values, exports."""
    team, kpi, data = _detail(request, slug, code)
    json_data = kpi_detail_as_json(data)
    context = {
        "current_team": team,
        "data": data,
        "history": json_data["history"],
        "can_edit": has_team_role(request.user, team, Role.MANAGER),
        "drivers": kpi_detail_drivers(team=team, kpi=kpi, data=data),
    }
    return render(request, "objectives/kpi_detail.html", context)


@login_required
def kpi_detail_data(request, slug: str, code: str):
    """The same detail as JSON."""
    _team, _kpi, data = _detail(request, slug, code, as_json=True)
    return JsonResponse(kpi_detail_as_json(data))


@login_required
def kpi_detail_export_csv(request, slug: str, code: str):
    """The values table as CSV (UTF-8 with a byte-order mark, so spreadsheets read the accents)."""
    team, _kpi, data = _detail(request, slug, code)
    table = kpi_detail_table(team=team, data=data)
    response = HttpResponse("\ufeff" + kpi_detail_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(data, "csv")}"'
    return response


@login_required
def kpi_detail_export_xlsx(request, slug: str, code: str):
    """The values table as an XLSX workbook."""
    team, _kpi, data = _detail(request, slug, code)
    response = HttpResponse(kpi_detail_xlsx(kpi_detail_table(team=team, data=data)), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(data, "xlsx")}"'
    return response


def _form_errors(form) -> list[str]:
    return [message for field_errors in form.errors.values() for message in field_errors]


@login_required
@require_http_methods(["GET", "POST"])
def kpi_tree(request, slug: str, code: str):
    """The tree of a KPI for a team: each node's value, change and target, a target carried down to the children,
    and (managers) child objectives created from one combination."""
    minimum = Role.MANAGER if request.method == "POST" else Role.VIEWER
    team = team_for_user_or_404(request.user, slug, minimum)
    kpi = kpi_definition_by_code(code=code)
    if kpi is None:
        raise Http404("No such KPI.")
    errors: list[str] = []
    if request.method == "POST":
        query_form = KpiTreeQueryForm(request.POST)
        query = query_form.cleaned_data if query_form.is_valid() else {"granularity": "", "target": None}
        errors = _form_errors(query_form)
    else:
        query = query_parameters(request, KpiTreeQueryForm)
    page = kpi_tree_page(team=team, kpi=kpi, granularity=query["granularity"] or None, target_value=query["target"])
    start, due = child_objective_dates(page)
    form = TreeCascadeForm(
        request.POST if request.method == "POST" else None,
        combinations=page.combinations,
        initial={
            "granularity": page.granularity,
            "target": page.target_value,
            "combination": page.combinations[0].key if page.combinations else "",
            "start_date": start,
            "due_date": due,
        },
    )
    if request.method == "POST" and not errors:
        if form.is_valid():
            chosen = next(c for c in page.combinations if c.key == form.cleaned_data["combination"])
            try:
                created = tree_child_objectives_create(
                    team=team,
                    page=page,
                    combination=chosen,
                    start_date=form.cleaned_data["start_date"],
                    due_date=form.cleaned_data["due_date"],
                    owner=request.user,
                )
            except ObjectiveError as error:
                errors = [str(m) for messages_ in error.errors.values() for m in _flat(messages_)]
            else:
                messages.success(
                    request,
                    ngettext("%(count)d child objective created.", "%(count)d child objectives created.", len(created))
                    % {"count": len(created)},
                )
                return redirect("objective-list", slug=team.slug)
        else:
            errors = _form_errors(form)
    context = {
        "current_team": team,
        "kpi": kpi,
        "page": page,
        "form": form,
        "combinations": [(c, combination_words(c)) for c in page.combinations],
        "granularities": [(value, label) for value, label in Granularity.choices],
        "can_edit": has_team_role(request.user, team, Role.MANAGER),
        "errors": errors,
    }
    return render(request, "objectives/kpi_tree.html", context, status=400 if errors else 200)


def _flat(value) -> list:
    """The messages of an ObjectiveError's errors, whatever their nesting (targets are a list of dicts)."""
    if isinstance(value, dict):
        return [m for item in value.values() for m in _flat(item)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _flat(item)]
    return [value]
