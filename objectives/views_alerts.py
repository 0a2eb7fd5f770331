"""Pages of alerts and of the notification centre.

Alerts: every role reads the alerts of the teams it sees; members and up acknowledge and
resolve them (they work the alerts day to day); other teams' alerts answer 404.
Notifications: each user sees and marks only their own.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from accounts.permissions import has_team_role, team_for_user_or_404
from accounts.roles import Role
from accounts.selectors import team_ids_visible_to, teams_visible_to
from objectives import alert_selectors
from objectives.forms_alerts import AcknowledgeForm, ResolveForm
from objectives.models import AlertSeverity, AlertState

PAGE_SIZE = 50


def _alert_or_404(request, pk: int):
    alert = alert_selectors.alert_for(team_ids=team_ids_visible_to(request.user), pk=pk)
    if alert is None:
        raise Http404(_("No such alert."))
    return alert


@login_required
def alert_list(request):
    """Alerts of the user's teams; filters: state (default: open ones), team, severity."""
    team_ids = team_ids_visible_to(request.user)
    state = request.GET.get("state") or alert_selectors.STATE_OPEN
    if state not in (alert_selectors.STATE_OPEN, alert_selectors.STATE_ALL, *AlertState.values):
        state = alert_selectors.STATE_OPEN
    severity = request.GET.get("severity") or ""
    if severity not in AlertSeverity.values:
        severity = ""
    team_slug = request.GET.get("team") or ""
    team = team_for_user_or_404(request.user, team_slug) if team_slug else None
    alerts = alert_selectors.alerts_for(team_ids=team_ids, state=state, team=team, severity=severity or None)
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = alert_selectors.alert_counts(team_ids=team_ids, team=team)
    states = [
        (alert_selectors.STATE_OPEN, pgettext("alerts", "Open")),
        *AlertState.choices,
        (alert_selectors.STATE_ALL, pgettext("alerts", "All")),
    ]
    context = {
        "page": page,
        "alerts": page.object_list,
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
    from objectives.notify import notifications_mark_read

    alert = _alert_or_404(request, pk)
    notifications_mark_read(user=request.user, alert=alert)  # they opened what it was about
    can_act = alert.is_open and has_team_role(request.user, alert.team, Role.MEMBER)
    context = {
        "alert": alert,
        "current_team": alert.team,
        "events": alert_selectors.alert_events(alert=alert),
        "chart": alert_selectors.alert_chart(alert=alert),
        "can_act": can_act,
        "can_acknowledge": can_act and alert.state == AlertState.FIRING,
        "acknowledge_form": AcknowledgeForm(),
        "resolve_form": ResolveForm(),
    }
    return render(request, "objectives/alerts/detail.html", context)


def _transition(request, pk: int, form_class, service_name: str, success: str):
    from objectives import alert_services

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


@login_required
def notification_list(request):
    """The user's notifications, unread first."""
    page = Paginator(alert_selectors.notifications_of(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "objectives/alerts/notifications.html", {"page": page, "notifications": page.object_list})


@login_required
@require_POST
def notification_read(request):
    """Mark one notification (`id`) or all of the user's notifications read; then follow `next` if given."""
    from objectives.notify import notifications_mark_read

    raw_id = request.POST.get("id")
    ids = None
    if raw_id:
        try:
            ids = [int(raw_id)]
        except ValueError:
            raise Http404 from None
    marked = notifications_mark_read(user=request.user, ids=ids)
    if ids is None:
        messages.success(request, _("All notifications marked read."))
    next_url = request.POST.get("next") or ""
    if marked and next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("notification-list")
