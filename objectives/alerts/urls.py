"""Pages of alerts and of a team's alert rules."""

from django.urls import path

from objectives.alerts import views

urlpatterns = [
    path("alerts/", views.alert_list, name="alert-list"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert-detail"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
    path("teams/<slug:slug>/alert-rules/", views.alert_rule_list, name="alert-rule-list"),
    path("teams/<slug:slug>/alert-rules/new/", views.alert_rule_create, name="alert-rule-create"),
    path("teams/<slug:slug>/alert-rules/<int:pk>/edit/", views.alert_rule_edit, name="alert-rule-edit"),
    path("teams/<slug:slug>/alert-rules/<int:pk>/delete/", views.alert_rule_delete, name="alert-rule-delete"),
    path("teams/<slug:slug>/alert-rules/<int:pk>/snooze/", views.alert_rule_snooze, name="alert-rule-snooze"),
]
