"""The organisation overview /dashboard/, the team dashboard /dashboard/<slug>/ with its JSON data, cards and
charts, and the KPI detail pages with exports."""

from django.urls import path

from objectives.dashboards import views

urlpatterns = [
    path("", views.overview, name="organisation-overview"),
    path("<slug:slug>/", views.dashboard, name="dashboard"),
    path("<slug:slug>/data.json", views.dashboard_data, name="dashboard-data"),
    path("<slug:slug>/cards/", views.dashboard_cards_edit, name="dashboard-cards"),
    path("<slug:slug>/charts/", views.dashboard_panels_edit, name="dashboard-panels"),
    path("<slug:slug>/kpi/<slug:code>/", views.kpi_detail_page, name="kpi-detail"),
    path("<slug:slug>/kpi/<slug:code>/tree/", views.kpi_tree, name="kpi-tree"),
    path("<slug:slug>/kpi/<slug:code>/data.json", views.kpi_detail_data, name="kpi-detail-data"),
    path("<slug:slug>/kpi/<slug:code>/export.csv", views.kpi_detail_export_csv, name="kpi-detail-csv"),
    path("<slug:slug>/kpi/<slug:code>/export.xlsx", views.kpi_detail_export_xlsx, name="kpi-detail-xlsx"),
]
