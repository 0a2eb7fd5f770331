"""Pages of notification delivery: the user's notification settings, and the digest's unsubscribe page,
reached from an e-mail without logging in."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from objectives.digest import digest_unsubscribe, unsubscribe_user
from objectives.forms_notify import NotificationSettingsForm
from objectives.models import Notification
from objectives.notification_settings import notification_settings_get, notification_settings_update
from objectives.notify import notifications_mark_read


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
    """GET asks for confirmation (mail scanners follow links, they do not submit forms); POST unsubscribes."""
    user = unsubscribe_user(token=token)
    if user is None:
        return render(request, "objectives/unsubscribe.html", {"invalid": True}, status=400)
    done = False
    if request.method == "POST":
        digest_unsubscribe(user=user)
        done = True
    return render(request, "objectives/unsubscribe.html", {"done": done, "email": user.email})
