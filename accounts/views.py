"""Pages of the accounts app: the home page lists the teams a user can open."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

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
