"""URL patterns of notification delivery: the digest's unsubscribe page (no login: the token is signed)."""

from django.urls import path

from objectives import views_notify

urlpatterns = [
    path(
        "notifications/unsubscribe/<str:token>/",
        views_notify.digest_unsubscribe_page,
        name="digest-unsubscribe",
    ),
]
