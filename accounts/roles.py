"""Membership roles, ordered: a manager can do what a member can, who can do what a viewer can."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    MEMBER = "member", _("Member")
    MANAGER = "manager", _("Manager")


ROLE_RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.MANAGER: 3}


def role_at_least(role: str, minimum: str) -> bool:
    """Whether `role` grants at least what `minimum` grants."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[minimum]
