"""Authenticate with a username or an e-mail address."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q

from accounts.models import User


def login_user_lookup(identifier: str) -> User | None:
    """The account a typed login designates: the user with this username, or with this e-mail in any case.

    The one lookup both the backend (whose password is checked) and the lock-out key
    (accounts.lockout: whose failures are counted) use, so the two always agree.
    """
    user_model = get_user_model()
    query = Q(username=identifier)
    if "@" in identifier:
        query |= Q(email__iexact=identifier)
    return user_model._default_manager.filter(query).order_by("id").first()


class UsernameOrEmailBackend(ModelBackend):
    """ModelBackend that also accepts the user's e-mail (case-insensitive) as login."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if not username or password is None:
            return None
        user = login_user_lookup(username)
        if user is None:
            # Same cost as a real check, so timing does not tell which logins exist.
            user_model().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
