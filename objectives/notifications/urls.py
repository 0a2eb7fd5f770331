"""Pages of notification delivery: the notification centre, the user's settings, the digest's unsubscribe page
(signed token) and a team's webhooks."""

from django.urls import path

from objectives.notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/read/", views.notification_read, name="notification-read"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification-open"),
    path("notifications/settings/", views.notification_settings_page, name="notification-settings"),
    path("notifications/unsubscribe/<str:token>/", views.digest_unsubscribe_page, name="digest-unsubscribe"),
    path("teams/<slug:slug>/webhooks/", views.webhook_list, name="webhook-list"),
    path("teams/<slug:slug>/webhooks/<int:pk>/edit/", views.webhook_edit, name="webhook-edit"),
    path("teams/<slug:slug>/webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook-delete"),
    path("teams/<slug:slug>/webhooks/<int:pk>/test/", views.webhook_test, name="webhook-test"),
]
