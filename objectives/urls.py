"""Team-scoped pages of the objectives app: /teams/<slug>/objectives/…"""

from django.urls import include, path

from objectives import views

urlpatterns = [
    path("teams/<slug:slug>/objectives/", views.objective_list, name="objective-list"),
    path("teams/<slug:slug>/objectives/new/", views.objective_create, name="objective-create"),
    path("teams/<slug:slug>/objectives/smart-check/", views.smart_check, name="objective-smart-check"),
    path("teams/<slug:slug>/objectives/<int:pk>/", views.objective_detail, name="objective-detail"),
    path("teams/<slug:slug>/objectives/<int:pk>/edit/", views.objective_edit, name="objective-edit"),
    path("teams/<slug:slug>/objectives/<int:pk>/delete/", views.objective_delete, name="objective-delete"),
    path("teams/<slug:slug>/objectives/<int:pk>/cascade/", views.objective_cascade, name="objective-cascade"),
    path(
        "teams/<slug:slug>/objectives/<int:pk>/targets/<int:target_id>/phasing/",
        views.target_phasing,
        name="objective-phasing",
    ),
    # Alerts, alert rules and the notification centre; webhook settings and digest unsubscribe.
    path("", include("objectives.urls_alerts")),
    path("", include("objectives.urls_notify")),
]
