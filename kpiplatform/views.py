"""The error pages: 403 and 404 in the site's frame, saying what happened and where to go; 500 standalone.

The 403 and 404 pages extend base.html (menus included). The 500 page runs no query and no context processor: the
database may be what failed.
"""

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist, loader
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import requires_csrf_token

from accounts.roles import Role, role_at_least
from kpiplatform.api_errors import api_error_for, is_api_request
from kpiplatform.navigation import MenuItem, Navigation, NavTeam, navigation_for, page_minimum_role

ROLE_NEEDED_IN_TEAM = {
    Role.MANAGER: gettext_lazy("This page is for the managers of the team %(team)s; your role in it is: %(role)s."),
    Role.MEMBER: gettext_lazy(
        "This action is for the members and managers of the team %(team)s; your role in it is: %(role)s."
    ),
}
# When the URL does not name the team (an alert's actions go by the alert's id).
ROLE_NEEDED = {
    Role.MANAGER: gettext_lazy("This page is for the team's managers."),
    Role.MEMBER: gettext_lazy("This action is for the team's members and managers."),
}


def _role_needed(nav: Navigation, team: NavTeam | None) -> str | None:
    """The sentence naming the role the page needs, when the page is known; with the user's role when the team is."""
    needed = page_minimum_role(nav.url_name)
    if needed is None:
        return None
    if team is None:
        return str(ROLE_NEEDED[needed])
    if role_at_least(team.role, needed):
        return None
    return ROLE_NEEDED_IN_TEAM[needed] % {"team": team.name, "role": str(Role(team.role).label).lower()}


def _ways_back(nav: Navigation, team: NavTeam | None) -> list[MenuItem]:
    """Where to go from an error page: the team's dashboard when the URL names a visible team, the user's teams."""
    if not nav.user.is_authenticated:
        return [MenuItem("login", _("Log in"), reverse("login"))]
    links = []
    dashboard_of = team or nav.only_team
    if dashboard_of is not None:
        label = _("Back to the dashboard of %(team)s") % {"team": dashboard_of.name}
        links.append(MenuItem("dashboard", label, reverse("dashboard", args=[dashboard_of.slug])))
    if nav.only_team is None:
        links.append(MenuItem("home", _("Back to my teams"), reverse("home")))
    return links


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the page exists and the user sees its team, but their role there does not open it."""
    nav = navigation_for(request)
    team = nav.url_team()
    context = {
        "reason": _role_needed(nav, team) or _("Your role does not give access to this page."),
        "links": _ways_back(nav, team),
        "current_team": team,
    }
    return render(request, "403.html", context, status=403)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """400 raised by Django itself (a bad cookie, too many fields…): JSON on the API, else the page in the site's
    frame, like the refusals of kpiplatform.edge."""
    if is_api_request(request):
        return JsonResponse({"errors": [{"field": None, "message": _("The request could not be read.")}]}, status=400)
    return render(request, "400.html", {"current_team": None}, status=400)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: no such page, or a team the user does not see (the two look alike, so team names do not leak)."""
    nav = navigation_for(request)
    team = nav.url_team()
    return render(request, "404.html", {"links": _ways_back(nav, team), "current_team": team}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: a standalone page rendered without the request, hence without context processors or queries.

    Under /api/ a JSON `{"detail"}` instead (503 with Retry-After when the database is what failed): a failure
    outside the API's views (a middleware, the session's query) must not answer an integration with a page.
    """
    if is_api_request(request):
        error = api_error_for(sys.exception())  # Django calls the handler while handling the exception
        return JsonResponse(error.body, status=error.status, headers=error.headers)
    try:
        template = loader.get_template("500.html")
    except TemplateDoesNotExist:
        return HttpResponseServerError("<h1>Server Error (500)</h1>", content_type="text/html")
    return HttpResponseServerError(template.render())
