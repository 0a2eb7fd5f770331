"""Pages of the metrics app: the activity import and export, under /import/<team-slug>/."""

from django.urls import path

from metrics import views_import

urlpatterns = [
    path("", views_import.import_home, name="import-home"),
    path("jobs/<int:pk>/", views_import.import_job, name="import-job"),
    path("jobs/<int:pk>/status/", views_import.import_job_status, name="import-job-status"),
    path("export/<str:kind>.csv", views_import.activity_export, name="activity-export"),
]
