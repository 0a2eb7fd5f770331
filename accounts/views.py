"""Pages of the accounts app: the home page lists the teams a user can open."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.selectors import teams_visible_to


@login_required
def home(request):
    """The landing page after login: the user's teams, with their kind and parent."""
    teams = teams_visible_to(request.user).select_related("parent").order_by("name")
    return render(request, "accounts/home.html", {"teams": teams})
