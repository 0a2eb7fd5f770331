"""API routes of the metrics app: activity ingestion and KPI values."""

urlpatterns: list = []
