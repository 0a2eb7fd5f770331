"""The team dashboard: /dashboard/<slug>/ and its JSON data."""

from django.urls import path

from objectives import views_dashboard

urlpatterns = [
    path("<slug:slug>/", views_dashboard.dashboard, name="dashboard"),
    path("<slug:slug>/data.json", views_dashboard.dashboard_data, name="dashboard-data"),
]
