"""API routes of the metrics app: activity ingestion and KPI values."""

from django.urls import path

from metrics.api.activity import ACTIVITY_VIEWS, UnknownActivityKindView
from metrics.api.drivers import KpiDriversView
from metrics.api.kpis import KpiListView, KpiRangeView, KpiValuesView

urlpatterns: list = [
    *(path(f"activity/{kind}/", view.as_view(), name=f"api-activity-{kind}") for kind, view in ACTIVITY_VIEWS.items()),
    path("activity/<str:kind>/", UnknownActivityKindView.as_view(), name="api-activity-unknown"),
    path("kpis/", KpiListView.as_view(), name="api-kpis"),
    path("kpis/<slug:code>/values/", KpiValuesView.as_view(), name="api-kpi-values"),
    path("kpis/<slug:code>/range/", KpiRangeView.as_view(), name="api-kpi-range"),
    path("kpis/<slug:code>/drivers/", KpiDriversView.as_view(), name="api-kpi-drivers"),
]
