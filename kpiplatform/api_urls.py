"""The REST API under /api/v1/ (DESIGN.md §9). Each app contributes its own url module.

Any other address under /api/v1/ ending in a slash is a JSON 404 (a path parameter of the wrong type, e.g.
/api/v1/objectives/abc/, included), not the site's HTML page; without the slash, Django's APPEND_SLASH
redirect comes first, as for the API's own addresses.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotFound


@csrf_exempt  # a POST to nowhere is a 404, not a CSRF failure page
def api_not_found(request: HttpRequest) -> JsonResponse:
    """404 `{"detail": "Not found."}` for an address the API does not have (DRF's message, translated)."""
    return JsonResponse({"detail": str(NotFound.default_detail)}, status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("accounts.api.urls")),
    path("", include("metrics.api.urls")),
    path("", include("objectives.api.urls")),
    re_path(r"^.*/$", api_not_found, name="api-not-found"),
]
