"""Template context shared by every page: the unread count of the notification bell."""

from functools import cached_property

from objectives.notifications.selectors import notifications_unread_count


class NotificationBell:
    """The bell's unread count, counted on first use: pages that do not show the bell run no query."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def unread(self) -> int:
        return notifications_unread_count(user=self.user)


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notification_bell": NotificationBell(user)}
