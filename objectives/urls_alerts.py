"""Pages of alerts, alert rules, webhooks and the notification centre."""

from django.urls import path

from objectives import views_alert_rules, views_alerts, views_webhooks

urlpatterns = [
    path("alerts/", views_alerts.alert_list, name="alert-list"),
    path("alerts/<int:pk>/", views_alerts.alert_detail, name="alert-detail"),
    path("alerts/<int:pk>/acknowledge/", views_alerts.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", views_alerts.alert_resolve, name="alert-resolve"),
    path("notifications/", views_alerts.notification_list, name="notification-list"),
    path("notifications/read/", views_alerts.notification_read, name="notification-read"),
    path("teams/<slug:slug>/alert-rules/", views_alert_rules.alert_rule_list, name="alert-rule-list"),
    path("teams/<slug:slug>/alert-rules/new/", views_alert_rules.alert_rule_create, name="alert-rule-create"),
    path("teams/<slug:slug>/alert-rules/<int:pk>/edit/", views_alert_rules.alert_rule_edit, name="alert-rule-edit"),
    path(
        "teams/<slug:slug>/alert-rules/<int:pk>/delete/", views_alert_rules.alert_rule_delete, name="alert-rule-delete"
    ),
    path(
        "teams/<slug:slug>/alert-rules/<int:pk>/snooze/", views_alert_rules.alert_rule_snooze, name="alert-rule-snooze"
    ),
    path("teams/<slug:slug>/webhooks/", views_webhooks.webhook_list, name="webhook-list"),
    path("teams/<slug:slug>/webhooks/<int:pk>/edit/", views_webhooks.webhook_edit, name="webhook-edit"),
    path("teams/<slug:slug>/webhooks/<int:pk>/delete/", views_webhooks.webhook_delete, name="webhook-delete"),
    path("teams/<slug:slug>/webhooks/<int:pk>/test/", views_webhooks.webhook_test, name="webhook-test"),
]
