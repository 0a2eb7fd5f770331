from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin

from accounts.models import LoginEvent, Membership, Team, TeamApiKey, User


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


@admin.register(TeamApiKey)
class TeamApiKeyAdmin(APIKeyModelAdmin):
    """Keys are shown once on creation (by the library's admin), then only their prefix."""

    list_display = ("prefix", "name", "team", "scopes", "created", "last_used_at", "expiry_date", "revoked")
    list_filter = ("scopes", "revoked", "team")
    search_fields = ("name", "prefix", "team__name", "team__slug")
    autocomplete_fields = ["team"]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "last_used_at", "created_by")

    def save_model(self, request, obj, form=None, change=False):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
