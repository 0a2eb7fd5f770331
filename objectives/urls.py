"""Pages of the objectives app: objectives under /teams/<slug>/objectives/, and the pages of its packages
(dashboards under /dashboard/, alerts and alert rules, notifications and webhooks)."""

from django.urls import include, path

from objectives import views

urlpatterns = [
    path("dashboard/", include("objectives.dashboards.urls")),
    path("teams/<slug:slug>/objectives/", views.objective_list, name="objective-list"),
    path("teams/<slug:slug>/objectives/new/", views.objective_create, name="objective-create"),
    path("teams/<slug:slug>/objectives/smart-check/", views.smart_check, name="objective-smart-check"),
    path("teams/<slug:slug>/objectives/target-proposal/", views.target_proposal, name="objective-target-proposal"),
    path("teams/<slug:slug>/objectives/<int:pk>/", views.objective_detail, name="objective-detail"),
    path("teams/<slug:slug>/objectives/<int:pk>/edit/", views.objective_edit, name="objective-edit"),
    path("teams/<slug:slug>/objectives/<int:pk>/delete/", views.objective_delete, name="objective-delete"),
    path("teams/<slug:slug>/objectives/<int:pk>/cascade/", views.objective_cascade, name="objective-cascade"),
    path(
        "teams/<slug:slug>/objectives/<int:pk>/targets/<int:target_id>/phasing/",
        views.target_phasing,
        name="objective-phasing",
    ),
    path("", include("objectives.alerts.urls")),
    path("", include("objectives.notifications.urls")),
    path("", include("objectives.budgets.urls")),
]
