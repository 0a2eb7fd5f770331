"""URL patterns of notification delivery: the user's settings, and the digest's unsubscribe page (signed token)."""

from django.urls import path

from objectives import views_notify

urlpatterns = [
    path("notifications/<int:pk>/open/", views_notify.notification_open, name="notification-open"),
    path("notifications/settings/", views_notify.notification_settings_page, name="notification-settings"),
    path(
        "notifications/unsubscribe/<str:token>/",
        views_notify.digest_unsubscribe_page,
        name="digest-unsubscribe",
    ),
]
