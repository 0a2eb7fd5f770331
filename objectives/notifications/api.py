"""API of the notification centre (DESIGN.md §9): a user's notifications and marking them read."""

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.models import User
from objectives.models import Notification
from objectives.notifications import selectors as notification_selectors
from objectives.notifications.emails import notification_title
from objectives.notifications.selectors import notifications_unread_count
from objectives.notifications.services import notifications_mark_read


class NotificationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.CharField(source="team.slug")
    alert = serializers.IntegerField(source="alert_id", allow_null=True)
    objective = serializers.IntegerField(source="objective_id", allow_null=True)
    event = serializers.CharField()
    title = serializers.SerializerMethodField(help_text="in the caller's language")
    body = serializers.CharField()
    url = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)

    def get_title(self, notification) -> str:
        return notification_title(notification)


class NotificationReadInSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, help_text="Omit to mark all read."
    )


def _session_user(request) -> User:
    if getattr(request, "api_key", None) is not None or not isinstance(request.user, User):
        raise PermissionDenied(_("Notifications belong to people: sign in, an API key has none."))
    return request.user


class NotificationListView(GenericAPIView):
    """The requesting user's notifications, unread first (session users only)."""

    serializer_class = NotificationOutSerializer
    queryset = Notification.objects.none()  # for the schema only: get_queryset() needs a signed-in user

    def get_queryset(self):
        return notification_selectors.notifications_of(user=_session_user(self.request))

    @extend_schema(responses=NotificationOutSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(NotificationOutSerializer(page, many=True).data)


class NotificationReadView(GenericAPIView):
    """Mark the user's notifications read: those listed in `ids`, or all of them."""

    serializer_class = NotificationReadInSerializer
    queryset = Notification.objects.none()

    @extend_schema(
        request=NotificationReadInSerializer,
        responses=inline_serializer(
            "NotificationsMarked", {"marked": serializers.IntegerField(), "unread": serializers.IntegerField()}
        ),
    )
    def post(self, request):
        user = _session_user(request)
        serializer = NotificationReadInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data.get("ids")
        marked = notifications_mark_read(user=user, ids=ids)
        return Response({"marked": marked, "unread": notifications_unread_count(user=user)})


urlpatterns = [
    path("notifications/", NotificationListView.as_view(), name="api-notifications"),
    path("notifications/read/", NotificationReadView.as_view(), name="api-notifications-read"),
]
