"""Pages of alerts (list, detail, acknowledge, resolve) and of a team's alert rules."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from accounts.selectors import team_ids_visible_to, teams_visible_to
from kpiplatform import dates
from kpiplatform.edge import query_parameters
from metrics.kpis.periods import business_tz
from objectives.alerts import rules as alert_rules
from objectives.alerts import selectors as alert_selectors
from objectives.alerts import services as alert_services
from objectives.alerts.forms import (
    AcknowledgeForm,
    AlertFilterForm,
    AlertRuleForm,
    ResolveForm,
    SnoozeForm,
    rule_initial,
)
from objectives.forms import add_service_errors
from objectives.models import AlertRule, AlertSeverity, AlertState
from objectives.notifications.emails import alert_subject_name, drivers_in_words, fired_band_in_words
from objectives.notifications.services import notifications_mark_read

PAGE_SIZE = 50


def _alert_or_404(request, pk: int):
    alert = alert_selectors.alert_for(team_ids=team_ids_visible_to(request.user), pk=pk)
    if alert is None:
        raise Http404(_("No such alert."))
    return alert


@login_required
def alert_list(request):
    """Alerts of the user's teams; filters: state (default: open ones), team, severity."""
    filters = query_parameters(request, AlertFilterForm)
    team_ids = team_ids_visible_to(request.user)
    state = filters["state"] or alert_selectors.STATE_OPEN
    severity = filters["severity"]
    team_slug = filters["team"]
    team = team_for_user_or_404(request.user, team_slug) if team_slug else None
    alerts = alert_selectors.alerts_for(team_ids=team_ids, state=state, team=team, severity=severity or None)
    page = Paginator(alerts, PAGE_SIZE).get_page(filters["page"])
    shown = alert_selectors.alerts_in_words(alerts=page.object_list)
    counts = alert_selectors.alert_counts(team_ids=team_ids, team=team)
    states = [
        (alert_selectors.STATE_OPEN, pgettext("alerts", "Open")),
        *AlertState.choices,
        (alert_selectors.STATE_ALL, pgettext("alerts", "All")),
    ]
    context = {
        "page": page,
        "alerts": shown.alerts,
        "segment_names": shown.names,
        "state": state,
        "severity": severity,
        "team_filter": team,
        "teams": teams_visible_to(request.user).order_by("name").only("id", "slug", "name"),
        "state_chips": [(value, label, counts["state"].get(value, 0)) for value, label in states],
        "severity_chips": [(value, label, counts["severity"][value]) for value, label in AlertSeverity.choices],
    }
    return render(request, "objectives/alerts/list.html", context)


@login_required
def alert_detail(request, pk: int):
    """One alert: its figures, a chart of the KPI with the threshold, its history, and the actions."""
    alert = _alert_or_404(request, pk)
    notifications_mark_read(user=request.user, alert=alert)  # they opened what it was about
    can_act = alert.is_open and has_team_role(request.user, alert.team, Role.MEMBER)
    shown = alert_selectors.alerts_in_words(alerts=[alert])
    events = alert_selectors.alert_events_in_words(alert=alert)
    # An anomaly rule's expected band, as the e-mail and the webhook gave it when the alert fired.
    band = fired_band_in_words(events=events, unit=alert.unit)
    context = {
        "alert": alert,
        "unit": alert.unit,
        "segment_names": shown.names,
        "current_team": alert.team,
        "events": events,
        # What drove the change, as the e-mail and the webhook gave it when the alert fired.
        "drivers": drivers_in_words(
            drivers=alert_selectors.fired_drivers(events=events), kpi_name=alert_subject_name(alert)
        ),
        "band": band,
        "chart": alert_selectors.alert_chart(alert=alert),
        "can_act": can_act,
        "can_acknowledge": can_act and alert.state == AlertState.FIRING,
        "acknowledge_form": AcknowledgeForm(),
        "resolve_form": ResolveForm(),
    }
    return render(request, "objectives/alerts/detail.html", context)


def _transition(request, pk: int, form_class, service_name: str, success: str):
    alert = _alert_or_404(request, pk)
    if not has_team_role(request.user, alert.team, Role.MEMBER):
        raise PermissionDenied
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("alert-detail", pk=alert.pk)
    try:
        getattr(alert_services, service_name)(alert=alert, user=request.user, **form.cleaned_data)
    except alert_services.AlertTransitionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)
    return redirect("alert-detail", pk=alert.pk)


@login_required
@require_POST
def alert_acknowledge(request, pk: int):
    """Acknowledge an open alert with an optional comment (members and up)."""
    return _transition(request, pk, AcknowledgeForm, "alert_acknowledge", _("Alert acknowledged."))


@login_required
@require_POST
def alert_resolve(request, pk: int):
    """Resolve an open alert by hand with an optional note (members and up)."""
    return _transition(request, pk, ResolveForm, "alert_resolve", _("Alert resolved."))


def _rule_or_404(team, pk: int) -> AlertRule:
    rule = alert_selectors.alert_rules_of(team_ids={team.pk}).filter(pk=pk).first()
    if rule is None:
        raise Http404(_("No such alert rule."))
    return rule


@login_required
def alert_rule_list(request, slug: str):
    """A team's alert rules with their condition, threshold, recipients and state."""
    team = team_for_user_or_404(request.user, slug)
    shown = alert_selectors.rules_in_words(rules=alert_selectors.alert_rules_of(team_ids={team.pk}))
    context = {
        "current_team": team,
        "rules": shown.rules,
        "segment_names": shown.names,
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
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    rule = _rule_or_404(team, pk)
    if request.POST.get("clear"):
        alert_services.alert_rule_snooze(rule=rule, until=None)
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
    alert_services.alert_rule_snooze(rule=rule, until=until)
    messages.success(
        request,
        _("Rule “%(name)s” snoozed until %(date)s.")
        % {"name": rule.name, "date": dates.day(form.cleaned_data["until"])},
    )
    return redirect("alert-rule-list", slug=team.slug)
