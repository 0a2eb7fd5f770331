"""API routes for alert rules, alerts and notifications (DESIGN.md §9)."""

from django.urls import path

from objectives.api import alerts

urlpatterns = [
    path("alert-rules/", alerts.AlertRuleListCreateView.as_view(), name="api-alert-rules"),
    path("alert-rules/<int:pk>/", alerts.AlertRuleDetailView.as_view(), name="api-alert-rule"),
    path("alerts/", alerts.AlertListView.as_view(), name="api-alerts"),
    path("alerts/<int:pk>/", alerts.AlertDetailView.as_view(), name="api-alert"),
    path("alerts/<int:pk>/acknowledge/", alerts.AlertAcknowledgeView.as_view(), name="api-alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", alerts.AlertResolveView.as_view(), name="api-alert-resolve"),
    path("notifications/", alerts.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/read/", alerts.NotificationReadView.as_view(), name="api-notifications-read"),
]
