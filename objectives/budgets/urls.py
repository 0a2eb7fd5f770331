"""Pages of a team's budgets."""

from django.urls import path

from objectives.budgets import views

urlpatterns = [
    path("teams/<slug:slug>/budgets/", views.budget_list, name="budget-list"),
    path("teams/<slug:slug>/budgets/new/", views.budget_create, name="budget-create"),
    path("teams/<slug:slug>/budgets/import/", views.budget_import, name="budget-import"),
    path("teams/<slug:slug>/budgets/<int:pk>/edit/", views.budget_edit, name="budget-edit"),
    path("teams/<slug:slug>/budgets/<int:pk>/delete/", views.budget_delete, name="budget-delete"),
]
