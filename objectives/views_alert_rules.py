"""Pages of a team's alert rules: list, create, edit, delete, snooze.

Every role on the team reads the rules; managers (and staff) change them; users of other
teams get a 404.
"""

from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from metrics.engine.periods import business_tz
from objectives import alert_rules, alert_selectors
from objectives.forms_alerts import AlertRuleForm, SnoozeForm, add_service_errors, rule_initial
from objectives.models import AlertRule


def _rule_or_404(team, pk: int) -> AlertRule:
    rule = alert_selectors.alert_rules_of(team_ids={team.pk}).filter(pk=pk).first()
    if rule is None:
        raise Http404(_("No such alert rule."))
    return rule


@login_required
def alert_rule_list(request, slug: str):
    """A team's alert rules with their condition, threshold, recipients and state."""
    team = team_for_user_or_404(request.user, slug)
    context = {
        "current_team": team,
        "rules": alert_selectors.alert_rules_of(team_ids={team.pk}),
        "can_edit": has_team_role(request.user, team, Role.MANAGER),
        "snooze_form": SnoozeForm(),
        "now": timezone.now(),
    }
    return render(request, "objectives/alerts/rule_list.html", context)


def _save(request, *, team, rule: AlertRule | None):
    form = AlertRuleForm(request.POST or None, team=team, initial=rule_initial(rule) if rule else None)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                alert_rules.alert_rule_create(user=request.user, team=team, data=form.service_data())
                messages.success(request, _("Alert rule created."))
            else:
                alert_rules.alert_rule_update(rule=rule, data=form.service_data())
                messages.success(request, _("Alert rule saved."))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("alert-rule-list", slug=team.slug)
    context = {"current_team": team, "form": form, "rule": rule, "can_edit": True}
    return render(request, "objectives/alerts/rule_form.html", context)


@login_required
def alert_rule_create(request, slug: str):
    """Create a rule (managers)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    return _save(request, team=team, rule=None)


@login_required
def alert_rule_edit(request, slug: str, pk: int):
    """Change a rule (managers)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    return _save(request, team=team, rule=_rule_or_404(team, pk))


@login_required
@require_POST
def alert_rule_delete(request, slug: str, pk: int):
    """Delete a rule with its alerts (managers)."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    alert_rules.alert_rule_delete(rule=_rule_or_404(team, pk))
    messages.success(request, _("Alert rule deleted."))
    return redirect("alert-rule-list", slug=team.slug)


@login_required
@require_POST
def alert_rule_snooze(request, slug: str, pk: int):
    """Silence a rule until the end of a day (managers); an empty `until` with `clear` lifts the snooze."""
    from objectives.alert_services import alert_rule_snooze

    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    rule = _rule_or_404(team, pk)
    if request.POST.get("clear"):
        alert_rule_snooze(rule=rule, until=None)
        messages.success(request, _("Snooze lifted."))
        return redirect("alert-rule-list", slug=team.slug)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the date until which the rule stays silent."))
        return redirect("alert-rule-list", slug=team.slug)
    # Silent through the whole chosen day, in the organisation's time zone.
    until = datetime.combine(form.cleaned_data["until"], time.max, tzinfo=business_tz())
    if until <= timezone.now():
        messages.error(request, _("Choose a date from today on."))
        return redirect("alert-rule-list", slug=team.slug)
    alert_rule_snooze(rule=rule, until=until)
    messages.success(
        request,
        _("Rule “%(name)s” snoozed until %(date)s.")
        % {"name": rule.name, "date": date_format(form.cleaned_data["until"])},
    )
    return redirect("alert-rule-list", slug=team.slug)
