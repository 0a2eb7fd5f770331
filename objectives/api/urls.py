"""API routes of the objectives app: objectives here; alerts, notifications, dashboards, budgets from their packages."""

from django.urls import include, path

from objectives.api.views import ObjectiveDetailView, ObjectiveListCreateView, TargetProposalView

urlpatterns = [
    path("objectives/", ObjectiveListCreateView.as_view(), name="api-objectives"),
    path("objectives/<int:pk>/", ObjectiveDetailView.as_view(), name="api-objective"),
    path("objectives/target-proposal/", TargetProposalView.as_view(), name="api-target-proposal"),
    path("", include("objectives.alerts.api")),
    path("", include("objectives.notifications.api")),
    path("", include("objectives.dashboards.api")),
    path("", include("objectives.budgets.api")),
]
