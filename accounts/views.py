"""Pages of the accounts app: the home page lists the teams a user can open; the password-reset pages."""

from axes.helpers import get_client_ip_address
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts.lockout import login_lockout_clear, password_reset_request_allow
from accounts.selectors import teams_visible_to


@login_required
def home(request):
    """The landing page after login: the user's teams, with their kind and parent.

    A user of a single team has nothing to choose: they land on its dashboard.
    """
    teams = list(teams_visible_to(request.user).select_related("parent").order_by("name"))
    if len(teams) == 1:
        return redirect("dashboard", slug=teams[0].slug)
    return render(request, "accounts/home.html", {"teams": teams})


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, throttled per e-mail address and per client address.

    The answer never tells whether an account uses the address: the same "check your e-mail"
    page either way. Past the limit no e-mail is sent and that page says so (a person waiting
    for a link that will not come deserves to know); as every request counts, whether or not
    the address has an account, this tells nothing about which addresses do.
    """

    def form_valid(self, form):
        # The client address as the login lock-out sees it (axes' settings for proxies).
        ip_address = get_client_ip_address(self.request)
        if not password_reset_request_allow(email=form.cleaned_data["email"], ip_address=ip_address):
            return render(self.request, "registration/password_reset_done.html", {"throttled": True}, status=429)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's new-password page; once the password is changed, the account's login lock-out is lifted (the
    locked page offers the reset as the way back in, and the old password's guesses no longer matter)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        login_lockout_clear(user=form.user)
        return response
