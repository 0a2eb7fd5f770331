"""Pages of the objectives app: list, detail, create/edit with live SMART feedback, phasing, cascade.

Viewers and members read; managers edit; users of other teams get a 404.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import localize_input
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from kpiplatform.edge import query_parameters
from objectives import progress, proposals, selectors, services
from objectives.forms import (
    ObjectiveFilterForm,
    ObjectiveForm,
    SmartCheckForm,
    SmartCheckTargetFormSet,
    TargetForm,
    TargetFormSet,
    TargetProposalForm,
    cleaned_or_none,
)
from objectives.models import Objective, Phasing, ProgressStatus, RelativeBasis, Target


def _objective_or_404(request, slug: str, pk: int, minimum: str = Role.VIEWER) -> Objective:
    team = team_for_user_or_404(request.user, slug, minimum)
    return get_object_or_404(Objective.objects.select_related("team", "owner", "parent"), pk=pk, team=team)


def _form_errors_from(error: services.ObjectiveError, form, formset) -> None:
    """Put a service's field errors on the form and its target rows."""
    for field, field_errors in error.errors.items():
        if field == "targets":
            kept = [f for f in formset.forms if f.has_changed() and not formset._should_delete_form(f)]
            for target_form, target_errors in zip(kept, field_errors, strict=False):
                for name, texts in target_errors.items():
                    for text in texts:
                        target_form.add_error(None if name not in target_form.fields else name, text)
            continue
        for text in field_errors:
            form.add_error(field if field in form.fields else None, text)


@login_required
def objective_list(request, slug: str):
    """A team's objectives with status chips, progress bars and a status filter."""
    team = team_for_user_or_404(request.user, slug)
    status = query_parameters(request, ObjectiveFilterForm)["status"]
    context = {
        "current_team": team,
        "objectives": selectors.objectives_of_team(team=team, status=status),
        "counts": selectors.status_counts(team=team),
        "statuses": ProgressStatus.choices,
        "status": status,
        "can_edit": has_team_role(request.user, team, Role.MANAGER),
    }
    return render(request, "objectives/list.html", context)


@login_required
def objective_detail(request, slug: str, pk: int):
    """One objective: targets with progress, pace and forecast charts, and its SMART assessment."""
    objective = _objective_or_404(request, slug, pk)
    context = {
        "current_team": objective.team,
        "objective": objective,
        "rows": selectors.target_rows(objective=objective),
        "smart": selectors.objective_smart(objective=objective),
        "can_edit": has_team_role(request.user, objective.team, Role.MANAGER),
        "children_count": objective.children.count(),
    }
    return render(request, "objectives/detail.html", context)


def _save(request, *, team, objective: Objective | None):
    initial = _initial(objective) if objective is not None else {"owner": request.user.pk}
    form = ObjectiveForm(request.POST or None, team=team, objective=objective, initial=initial)
    formset = TargetFormSet(request.POST or None, prefix="targets", initial=_initial_targets(objective))
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        fields = dict(form.cleaned_data)
        try:
            if objective is None:
                objective = services.objective_create(team=team, targets=formset.targets(), **fields)
                messages.success(request, _("Objective created."))
            else:
                services.objective_update(objective=objective, targets=formset.targets(), **fields)
                messages.success(request, _("Objective saved."))
        except services.ObjectiveError as error:
            _form_errors_from(error, form, formset)
        else:
            return redirect("objective-detail", slug=team.slug, pk=objective.pk)
    context = {
        "current_team": team,
        "objective": objective,
        "form": form,
        "formset": formset,
        "empty_target": formset.empty_form,
        "smart": selectors.objective_smart(objective=objective) if objective else selectors.smart_assess(team=team),
    }
    return render(request, "objectives/form.html", context)


def _initial(objective: Objective | None) -> dict:
    if objective is None:
        return {}
    return {
        name: getattr(objective, name)
        for name in ("title", "description", "owner", "start_date", "due_date", "parent", "relevance_note", "state")
    }


def _initial_targets(objective: Objective | None) -> list[dict]:
    if objective is None:
        return []
    return [
        {
            "id": t.pk,
            "kpi": t.kpi,
            "target_value": t.target_value.normalize(),
            # A target relative to the baseline reads it from the history: never sent back as typed.
            "baseline_value": t.baseline_value.normalize()
            if t.baseline_value is not None and t.relative_basis != RelativeBasis.BASELINE
            else None,
            "minimum_value": t.minimum_value.normalize() if t.minimum_value is not None else None,
            "stretch_value": t.stretch_value.normalize() if t.stretch_value is not None else None,
            "relative_basis": t.relative_basis,
            "relative_percent": t.relative_percent.normalize() if t.relative_percent is not None else None,
            "judged": t.judged,
            "segment": t.segment,
            "warning_percent": t.warning_percent.normalize(),
            "critical_percent": t.critical_percent.normalize(),
        }
        for t in objective.targets.select_related("kpi")
    ]


@login_required
def objective_create(request, slug: str):
    """New objective for a team (managers)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    return _save(request, team=team, objective=None)


@login_required
def objective_edit(request, slug: str, pk: int):
    """Edit an objective and its targets (managers)."""
    objective = _objective_or_404(request, slug, pk, Role.MANAGER)
    return _save(request, team=objective.team, objective=objective)


@login_required
@require_POST
def objective_delete(request, slug: str, pk: int):
    """Delete an objective (managers)."""
    objective = _objective_or_404(request, slug, pk, Role.MANAGER)
    services.objective_delete(objective=objective)
    messages.success(request, _("Objective deleted."))
    return redirect("objective-list", slug=slug)


def _loose_decimal(value: str | None) -> Decimal | None:
    field = TargetForm.base_fields["target_value"]
    try:
        return field.clean(value) if value not in (None, "") else None
    except ValidationError:  # an unreadable number is "no number" for a manual month
        return None


def _relative_value_while_typed(team, fields: dict, target: dict) -> Decimal | None:
    """A relative target's value as it would be saved (None until the dates are readable or without a basis)."""
    start, due = fields["start_date"], fields["due_date"]
    if start is None or due is None or due < start:
        return None
    basis = services.relative_basis_value(
        kpi=target["kpi"],
        team=team,
        segment=target["segment"] or "",
        start=start,
        end=due + timedelta(days=1),
        judged=target["judged"] or "period",
        basis=target["relative_basis"],
    )
    return None if basis is None else services.relative_target_value(basis, target["relative_percent"])


@login_required
@require_POST
def smart_check(request, slug: str):
    """JSON: the SMART assessment of the form being typed (never saves anything); a malformed form is a 400."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    fields = cleaned_or_none(SmartCheckForm(request.POST, team=team))
    formset = SmartCheckTargetFormSet(request.POST, prefix="targets")
    if not formset.management_form.is_valid():
        return JsonResponse({"errors": {"targets": formset.non_form_errors() or [_("Malformed targets.")]}}, status=400)
    targets = []
    for form in formset.forms:
        target = cleaned_or_none(form)
        if target.get("DELETE") or (target["kpi"] is None and target["target_value"] is None):
            continue
        value = target["target_value"]
        if target["relative_basis"] and target["relative_percent"] is not None and target["kpi"] is not None:
            value = _relative_value_while_typed(team, fields, target) or value
        targets.append(
            {
                "kpi": target["kpi"],
                "target_value": value,
                "baseline_value": target["baseline_value"],
                "judged": target["judged"] or "period",
                "segment": target["segment"] or "",
            }
        )
    result = selectors.smart_assess(
        team=team,
        title=fields["title"] or "",
        description=fields["description"] or "",
        owner=fields["owner"],
        start_date=fields["start_date"],
        due_date=fields["due_date"],
        parent=fields["parent"],
        relevance_note=fields["relevance_note"] or "",
        targets=targets,
    )
    return JsonResponse(result)


@login_required
@require_GET
def target_proposal(request, slug: str):
    """HTML fragment for the objective form: minimum / target / stretch proposed from the team's history for a
    target's KPI and the objective's dates, with their probabilities and monthly path (managers); a malformed
    query is a 400 saying what is wrong."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    form = TargetProposalForm(request.GET)
    if not form.is_valid():
        return render(request, "objectives/_target_proposal.html", {"errors": form.errors}, status=400)
    data = form.cleaned_data
    proposal = proposals.target_proposal(
        kpi=data["kpi"],
        team=team,
        segment=data["segment"],
        start=data["start_date"],
        end=data["due_date"] + timedelta(days=1),
        today=selectors.today_local(),
    )
    context = {
        "proposal": proposal,
        "unit": proposal.kpi.unit,
        # As the form's number fields write them (« 145,2 » in French), for the fill buttons.
        "inputs": {v.level: localize_input(v.value.normalize()) for v in proposal.values},
    }
    return render(request, "objectives/_target_proposal.html", context)


@login_required
def target_phasing(request, slug: str, pk: int, target_id: int):
    """The months of a target: even / seasonal / manual values, and whether they add up."""
    objective = _objective_or_404(request, slug, pk)
    target = get_object_or_404(Target.objects.select_related("kpi"), pk=target_id, objective=objective)
    can_edit = has_team_role(request.user, objective.team, Role.MANAGER)
    months = progress.months_between(objective.start_date, selectors.period_end(objective))
    error = None
    if request.method == "POST":
        if not can_edit:
            raise Http404("No such team.")
        mode = request.POST.get("mode", "")
        values = None
        if mode == Phasing.MANUAL:
            values = {m: _loose_decimal(request.POST.get(f"month-{m.isoformat()}")) for m in months}
            if any(v is None for v in values.values()):
                values = None
                error = _("Enter a number for each month.")
        if error is None:
            try:
                services.target_phasing_set(target=target, mode=mode, values=values)
            except services.ObjectiveError as failure:
                error = " ".join(str(m) for texts in failure.errors.values() for m in texts)
            else:
                messages.success(request, _("Phasing saved."))
                return redirect("objective-phasing", slug=slug, pk=pk, target_id=target.pk)
    phases = {p.month: p.value for p in target.phases.all()}
    context = {
        "current_team": objective.team,
        "objective": objective,
        "target": target,
        "kpi_name": selectors.kpi_name(target.kpi),
        "rows": [{"month": m, "value": phases.get(m)} for m in months],
        "check": selectors.phasing_check(target=target),
        "additive": bool(target.kpi.additive) and target.judged == "period",
        "can_edit": can_edit,
        "error": error,
        "modes": Phasing.choices,
    }
    return render(request, "objectives/phasing.html", context)


@login_required
def objective_cascade(request, slug: str, pk: int):
    """The child objectives of sub-teams and whether their targets add up to this one's."""
    objective = _objective_or_404(request, slug, pk)
    context = {"current_team": objective.team, "objective": objective, **selectors.cascade(objective=objective)}
    return render(request, "objectives/cascade.html", context)
