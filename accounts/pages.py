"""Top-level pages of the accounts app."""

from django.urls import path

from accounts.views import home

urlpatterns = [path("", home, name="home")]
