"""Pages of the metrics app: the activity import and export, under /import/<team-slug>/."""

from django.urls import path

from metrics.activity import views

urlpatterns = [
    path("", views.import_home, name="import-home"),
    path("jobs/<int:pk>/", views.import_job, name="import-job"),
    path("jobs/<int:pk>/status/", views.import_job_status, name="import-job-status"),
    path("jobs/<int:pk>/errors.csv", views.import_job_errors, name="import-job-errors"),
    path("jobs/<int:pk>/undo/", views.import_job_undo_view, name="import-job-undo"),
    path("export/<str:kind>.csv", views.activity_export, name="activity-export"),
]
