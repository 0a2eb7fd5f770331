from django.urls import path

from accounts.api.views import TeamListView

urlpatterns = [path("teams/", TeamListView.as_view(), name="api-teams")]
