"""Pages of notification delivery: the notification centre, a user's settings, the digest's unsubscribe page and
a team's webhooks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import team_for_user_or_404
from accounts.roles import Role
from objectives.forms import add_service_errors
from objectives.models import Notification, WebhookDeliveryState, WebhookEndpoint
from objectives.notifications import endpoints as webhook_endpoints
from objectives.notifications import selectors as notification_selectors
from objectives.notifications.delivery import webhook_test_send
from objectives.notifications.digest import (
    SignedLinkExpired,
    SignedLinkInvalid,
    digest_unsubscribe,
    signed_link_max_age,
    unsubscribe_user,
)
from objectives.notifications.emails import notification_title
from objectives.notifications.forms import NotificationSettingsForm, WebhookForm
from objectives.notifications.preferences import notification_settings_get, notification_settings_update
from objectives.notifications.services import notifications_mark_read

PAGE_SIZE = 50


@login_required
def notification_list(request):
    """The user's notifications, unread first."""
    page = Paginator(notification_selectors.notifications_of(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for notification in page.object_list:
        notification.title = notification_title(notification)  # in the reader's current language
    return render(request, "objectives/alerts/notifications.html", {"page": page, "notifications": page.object_list})


@login_required
@require_POST
def notification_read(request):
    """Mark one notification (`id`) or all of the user's notifications read; then follow `next` if given."""
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


@login_required
@require_http_methods(["GET"])
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow one of the user's own notifications to what it is about, marking it read on the way."""
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    notifications_mark_read(user=request.user, ids=[notification.pk])
    if notification.url and url_has_allowed_host_and_scheme(notification.url, allowed_hosts={request.get_host()}):
        return redirect(notification.url)
    return redirect("notification-list")


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings_page(request: HttpRequest) -> HttpResponse:
    """The logged-in user's own preferences: alert e-mails, quiet hours, digest frequency."""
    prefs = notification_settings_get(user=request.user)
    form = NotificationSettingsForm(request.POST or None, instance=prefs)
    if request.method == "POST" and form.is_valid():
        notification_settings_update(user=request.user, data=form.cleaned_data)
        messages.success(request, _("Notification settings saved."))
        return redirect("notification-settings")
    return render(request, "objectives/notification_settings.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def digest_unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (mail scanners follow links, they do not submit forms); POST unsubscribes.

    An expired (410) or unusable (400) link changes nothing and points to the preferences page."""
    try:
        user = unsubscribe_user(token=token)
    except SignedLinkExpired:
        context = {"expired": True, "days": signed_link_max_age().days}
        return render(request, "objectives/unsubscribe.html", context, status=410)
    except SignedLinkInvalid:
        return render(request, "objectives/unsubscribe.html", {"invalid": True}, status=400)
    done = False
    if request.method == "POST":
        digest_unsubscribe(user=user)
        done = True
    return render(request, "objectives/unsubscribe.html", {"done": done, "email": user.email})


# Where the page shows a new endpoint's secret, once: the session, read and cleared by the next page view.
NEW_SECRET_KEY = "webhook_new_secret"  # nosec B105 - a session key's name, not a secret


def _endpoint_or_404(team, pk: int) -> WebhookEndpoint:
    endpoint = notification_selectors.webhooks_of(team=team).filter(pk=pk).first()
    if endpoint is None:
        raise Http404(_("No such webhook."))
    return endpoint


def _page(request, team, *, form=None, editing: WebhookEndpoint | None = None, status: int = 200):
    new_secret = request.session.pop(NEW_SECRET_KEY, None)
    endpoints = list(notification_selectors.webhooks_of(team=team))
    shown = new_secret if new_secret and any(e.pk == new_secret.get("id") for e in endpoints) else None
    context = {
        "current_team": team,
        "endpoints": endpoints,
        "deliveries": notification_selectors.webhook_deliveries_of(team=team),
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
            endpoint = webhook_endpoints.webhook_endpoint_create(team=team, data=form.cleaned_data)
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
            webhook_endpoints.webhook_endpoint_update(endpoint=endpoint, data=form.cleaned_data)
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
    webhook_endpoints.webhook_endpoint_delete(endpoint=_endpoint_or_404(team, pk))
    messages.success(request, _("Webhook deleted."))
    return redirect("webhook-list", slug=team.slug)


@login_required
@require_POST
def webhook_test(request, slug: str, pk: int):
    """Send a test event to one webhook now and say how it went."""
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
