"""Pages of a team's budgets: the list with where each stands (readers), add, edit, delete and CSV import
(managers)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from metrics.kpis.periods import today_local
from objectives.budgets import services
from objectives.budgets.forms import BudgetForm, BudgetImportForm, budget_initial
from objectives.budgets.imports import BudgetImportReport, budgets_import
from objectives.budgets.selectors import budget_burns, budget_of, budgets_of
from objectives.forms import add_service_errors
from objectives.models import Budget


def _budget_or_404(team, pk: int) -> Budget:
    budget = budget_of(team_id=team.pk, pk=pk)
    if budget is None:
        raise Http404(_("No such budget."))
    return budget


def _list_page(request, team, *, import_form=None, report: BudgetImportReport | None = None, status: int = 200):
    today = today_local()
    context = {
        "current_team": team,
        "today": today,
        "burns": budget_burns(budgets=budgets_of(team_ids=[team.pk]), today=today),
        "can_edit": has_team_role(request.user, team, Role.MANAGER),
        "import_form": import_form or BudgetImportForm(),
        "report": report,
    }
    return render(request, "objectives/budgets/list.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def budget_list(request, slug: str):
    """A team's budgets with their spend to date, expected spend, forecast and status (anyone who may read the
    team)."""
    return _list_page(request, team_for_user_or_404(request.user, slug))


def _save(request, *, team, budget: Budget | None):
    form = BudgetForm(request.POST or None, team=team, initial=budget_initial(budget) if budget else None)
    if request.method == "POST" and form.is_valid():
        try:
            if budget is None:
                services.budget_create(team=team, **form.cleaned_data)
                messages.success(request, _("Budget added."))
            else:
                services.budget_update(budget=budget, **form.cleaned_data)
                messages.success(request, _("Budget saved."))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("budget-list", slug=team.slug)
    context = {"current_team": team, "form": form, "budget": budget, "can_edit": True}
    return render(request, "objectives/budgets/form.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def budget_create(request, slug: str):
    """Add a budget (managers)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    return _save(request, team=team, budget=None)


@login_required
@require_http_methods(["GET", "POST"])
def budget_edit(request, slug: str, pk: int):
    """Change a budget (managers)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    return _save(request, team=team, budget=_budget_or_404(team, pk))


@login_required
@require_POST
def budget_delete(request, slug: str, pk: int):
    """Delete a budget (managers)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    services.budget_delete(budget=_budget_or_404(team, pk))
    messages.success(request, _("Budget deleted."))
    return redirect("budget-list", slug=team.slug)


@login_required
@require_POST
def budget_import(request, slug: str):
    """Create or update budgets from a CSV file, all or nothing (managers); on a wrong line the page lists every
    problem by line and column and nothing is written."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    form = BudgetImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list_page(request, team, import_form=form, status=400)
    # One byte over the limit is enough for the service to refuse the file without reading all of it.
    content = form.cleaned_data["file"].read(settings.KPI_MAX_IMPORT_BYTES + 1)
    report = budgets_import(team=team, content=content)
    if not report.written:
        return _list_page(request, team, import_form=form, report=report, status=400)
    created = ngettext("%(count)d budget created", "%(count)d budgets created", report.created) % {
        "count": report.created
    }
    updated = ngettext("%(count)d budget updated", "%(count)d budgets updated", report.updated) % {
        "count": report.updated
    }
    summary = _("Import done: %(created)s, %(updated)s.") % {"created": created, "updated": updated}
    if report.unchanged:
        summary += " " + ngettext(
            "%(count)d budget was already up to date.", "%(count)d budgets were already up to date.", report.unchanged
        ) % {"count": report.unchanged}
    messages.success(request, summary)
    return redirect("budget-list", slug=team.slug)
