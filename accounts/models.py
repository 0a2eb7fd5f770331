"""Users, teams and memberships, and the login events that feed the CRM-adoption KPI."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from accounts.roles import Role


class User(AbstractUser):
    """A person using the platform; logs in with username or e-mail."""

    email = models.EmailField(_("email address"), blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="fr",
        help_text=_("Language of e-mails and digests."),
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # Login by e-mail needs e-mails to be unique, case-insensitively.
            models.UniqueConstraint(
                Lower("email"), name="accounts_user_email_ci_unique", condition=~models.Q(email="")
            ),
        ]


class TeamKind(models.TextChoices):
    SALES = "sales", _("Sales")
    MARKETING = "marketing", _("Marketing")
    SUPPORT = "support", _("Customer service")
    OTHER = "other", _("Other")


class Team(models.Model):
    """A team of the organisation; its KPIs cover its own and its sub-teams' activity."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=TeamKind.choices, default=TeamKind.OTHER)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [
            models.CheckConstraint(condition=~models.Q(parent=models.F("id")), name="team_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one team (and, through it, in its sub-teams)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_user_team_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.team} ({self.get_role_display()})"


class LoginEvent(models.Model):
    """One successful login of a user: the raw fact behind the CRM active-user rate."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_events")
    occurred_at = models.DateTimeField(db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("login")
        verbose_name_plural = _("logins")
        indexes = [models.Index(fields=["user", "occurred_at"], name="loginevent_user_time")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Write")
    READ_WRITE = "read,write", _("Read and write")


class TeamApiKey(AbstractAPIKey):
    """An integration's key: scoped to one team (and its sub-teams) and to read and/or write; stored hashed."""

    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="api_keys")
    scopes = models.CharField(_("scopes"), max_length=16, choices=ApiKeyScope.choices, default=ApiKeyScope.READ)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("team API key")
        verbose_name_plural = _("team API keys")
        constraints = [
            models.CheckConstraint(condition=models.Q(scopes__in=ApiKeyScope.values), name="teamapikey_scopes_valid"),
        ]

    @property
    def scope_list(self) -> list[str]:
        """The scopes as a list, e.g. ["read", "write"]."""
        return [scope.strip() for scope in self.scopes.split(",") if scope.strip()]
