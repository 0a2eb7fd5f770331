from rest_framework import generics, serializers

from accounts.api.access import request_team_ids
from accounts.models import Team


class TeamSerializer(serializers.ModelSerializer):
    # A top-level team has no parent: null.
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "kind", "parent"]


class TeamListView(generics.ListAPIView):
    """The teams the caller may read (its own and their sub-teams)."""

    serializer_class = TeamSerializer

    def get_queryset(self):
        ids = request_team_ids(self.request)
        teams = Team.objects.select_related("parent").order_by("slug")
        return teams if ids is None else teams.filter(id__in=ids)
