from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts.models import LoginEvent, Membership, Team, TeamApiKey, User
from kpiplatform import dates

# The library's own key model goes unused (keys belong to teams: TeamApiKey, under « Accounts »); its admin
# section, titled in English only (« API Key Permissions »), would list keys that grant nothing here.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["team"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, (_("Preferences"), {"fields": ("language",)}))
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "last_login")
    inlines = [MembershipInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ["parent"]

    def save_model(self, request, obj, form, change):
        # One organisation root above all: a team saved without a parent goes under it (unless it is the root).
        if obj.parent_id is None:
            obj.parent = Team.objects.filter(parent__isnull=True).exclude(pk=obj.pk).order_by("pk").first()
        super().save_model(request, obj, form, change)

    inlines = [
        type(
            "TeamMembershipInline",
            (admin.TabularInline,),
            {
                "model": Membership,
                "extra": 1,
                "autocomplete_fields": ["user"],
            },
        )
    ]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "role")
    list_filter = ("role", "team")
    search_fields = ("user__username", "user__email", "team__name")
    autocomplete_fields = ["user", "team"]


@admin.register(LoginEvent)
class LoginEventAdmin(admin.ModelAdmin):
    list_display = ("user", "occurred_at", "ip_address")
    list_filter = ("occurred_at",)
    search_fields = ("user__username",)
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TeamApiKeyForm(forms.ModelForm):
    """The key's form, its library fields named in the active language (the library names them in English)."""

    class Meta:
        model = TeamApiKey
        fields = ("name", "team", "scopes", "expiry_date", "revoked")
        labels = {"name": capfirst(_("name")), "revoked": capfirst(_("revoked")), "expiry_date": capfirst(_("expires"))}
        help_texts = {
            "name": _("A name to recognise the key by (50 characters at most)."),
            "expiry_date": _("Once the key has expired, integrations can no longer use it."),
            "revoked": _("A revoked key can no longer be used, for good."),
        }


class RevokedFilter(admin.BooleanFieldListFilter):
    """The library's `revoked` flag, titled in the active language."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("revoked")


@admin.register(TeamApiKey)
class TeamApiKeyAdmin(APIKeyModelAdmin):
    """Keys are shown once on creation (by the library's admin), then only their prefix."""

    form = TeamApiKeyForm
    list_display = ("key_prefix", "key_name", "team", "scopes", "key_created", "last_used_at", "expires", "is_revoked")
    list_filter = ("scopes", ("revoked", RevokedFilter), "team")
    search_fields = ("name", "prefix", "team__name", "team__slug")
    autocomplete_fields = ["team"]

    def get_readonly_fields(self, request, obj=None):
        # The library's read-only fields, with its prefix under a translated name.
        fields = ["key_prefix" if name == "prefix" else name for name in super().get_readonly_fields(request, obj)]
        return (*fields, "key_created", "last_used_at", "created_by")

    @admin.display(description=_("prefix"), ordering="prefix")
    def key_prefix(self, obj: TeamApiKey) -> str:
        return obj.prefix

    @admin.display(description=_("name"), ordering="name")
    def key_name(self, obj: TeamApiKey) -> str:
        return obj.name

    @admin.display(description=_("created"), ordering="created")
    def key_created(self, obj: TeamApiKey) -> str:
        return dates.moment(obj.created)

    @admin.display(description=_("expires"), ordering="expiry_date")
    def expires(self, obj: TeamApiKey) -> str:
        return dates.moment(obj.expiry_date) if obj.expiry_date else "—"

    @admin.display(description=_("revoked"), boolean=True, ordering="revoked")
    def is_revoked(self, obj: TeamApiKey) -> bool:
        return obj.revoked

    def save_model(self, request, obj, form=None, change=False):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
