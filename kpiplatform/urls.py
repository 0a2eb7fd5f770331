from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from kpiplatform.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("kpiplatform.api_urls")),
    path("accounts/", include("accounts.urls")),
    path("import/<slug:team_slug>/", include("metrics.activity.urls")),
    path("", include("objectives.urls")),
    path("", include("accounts.pages")),
]

# Error pages in the site's frame and language (kpiplatform/views.py); used when DEBUG is off.
handler400 = "kpiplatform.views.bad_request"
handler403 = "kpiplatform.views.permission_denied"
handler404 = "kpiplatform.views.page_not_found"
handler500 = "kpiplatform.views.server_error"

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
