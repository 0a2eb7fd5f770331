"""A team's webhook settings: endpoints, a test event, and the delivery log.

Managers (and staff) only, as endpoints carry signing secrets; others get a 404 if they
cannot see the team and a 403 if they can.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.permissions import team_for_user_or_404
from accounts.roles import Role
from objectives import alert_rules, alert_selectors
from objectives.forms_alerts import WebhookForm, add_service_errors
from objectives.models import WebhookDeliveryState, WebhookEndpoint

# Where the page shows a new endpoint's secret, once: the session, read and cleared by the next page view.
NEW_SECRET_KEY = "webhook_new_secret"


def _endpoint_or_404(team, pk: int) -> WebhookEndpoint:
    endpoint = alert_selectors.webhooks_of(team=team).filter(pk=pk).first()
    if endpoint is None:
        raise Http404(_("No such webhook."))
    return endpoint


def _page(request, team, *, form=None, editing: WebhookEndpoint | None = None, status: int = 200):
    new_secret = request.session.pop(NEW_SECRET_KEY, None)
    endpoints = list(alert_selectors.webhooks_of(team=team))
    shown = new_secret if new_secret and any(e.pk == new_secret.get("id") for e in endpoints) else None
    context = {
        "current_team": team,
        "endpoints": endpoints,
        "deliveries": alert_selectors.webhook_deliveries_of(team=team),
        "form": form or WebhookForm(),
        "editing": editing,
        "new_secret": shown,
        "can_edit": True,
    }
    return render(request, "objectives/alerts/webhooks.html", context, status=status)


@login_required
def webhook_list(request, slug: str):
    """The team's webhooks and delivery log; POST adds an endpoint and shows its secret once."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    if request.method != "POST":
        return _page(request, team)
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            endpoint = alert_rules.webhook_endpoint_create(team=team, data=form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            request.session[NEW_SECRET_KEY] = {"id": endpoint.pk, "secret": endpoint.secret}
            messages.success(request, _("Webhook added. Copy its signing secret now: it will not be shown again."))
            return redirect("webhook-list", slug=team.slug)
    return _page(request, team, form=form, status=400)


@login_required
def webhook_edit(request, slug: str, pk: int):
    """Change a webhook's name, URL, events or active flag."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    endpoint = _endpoint_or_404(team, pk)
    initial = {"name": endpoint.name, "url": endpoint.url, "events": endpoint.events, "active": endpoint.active}
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            alert_rules.webhook_endpoint_update(endpoint=endpoint, data=form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Webhook saved."))
            return redirect("webhook-list", slug=team.slug)
    context = {"current_team": team, "form": form, "endpoint": endpoint, "can_edit": True}
    return render(request, "objectives/alerts/webhook_form.html", context)


@login_required
@require_POST
def webhook_delete(request, slug: str, pk: int):
    """Delete a webhook and its delivery log."""
    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    alert_rules.webhook_endpoint_delete(endpoint=_endpoint_or_404(team, pk))
    messages.success(request, _("Webhook deleted."))
    return redirect("webhook-list", slug=team.slug)


@login_required
@require_POST
def webhook_test(request, slug: str, pk: int):
    """Send a test event to one webhook now and say how it went."""
    from objectives.notify import webhook_test_send

    team = team_for_user_or_404(request.user, slug, Role.MANAGER)
    delivery = webhook_test_send(endpoint=_endpoint_or_404(team, pk))
    if delivery.state == WebhookDeliveryState.SUCCEEDED:
        messages.success(
            request, _("Test event delivered (HTTP %(status)s).") % {"status": delivery.response_status or "2xx"}
        )
    elif delivery.state == WebhookDeliveryState.PENDING:
        messages.warning(
            request,
            _("Test event not delivered yet (%(error)s); it will be retried.")
            % {"error": delivery.error or _("no answer")},
        )
    else:
        messages.error(
            request, _("Test event failed: %(error)s") % {"error": delivery.error or delivery.response_status}
        )
    return redirect("webhook-list", slug=team.slug)
