"""Back office for users, organizations and revoked tokens. No secret is ever displayed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Q, QuerySet

from accounts import revocation, services
from accounts.models import (
    ApiKey,
    Invitation,
    IssuedRefreshToken,
    Organization,
    RevokedToken,
    User,
    has_live_api_key,
)


class ApiKeyInline(admin.TabularInline):
    """The user's keys, read-only: public prefix and dates, never the key or its hash."""

    model = ApiKey
    fields = ["name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "organization", "role", "is_active", "is_staff", "has_api_key", "last_login"]
    list_filter = ["role", "is_active", "is_staff", "organization__tier"]
    search_fields = ["email", "name", "organization__name", "api_keys__prefix"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    readonly_fields = [
        "id",
        "token_generation",
        "tokens_revoked_at",
        "last_login",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["id", "email", "password", "name"]}),
        ("Organization", {"fields": ["organization", "role"]}),
        ("Sessions", {"fields": ["token_generation", "tokens_revoked_at", "last_login", "created_at"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]})]
    inlines = [ApiKeyInline]
    actions = ["revoke_all_tokens", "revoke_api_keys", "deactivate_users"]

    def get_queryset(self, request: Any) -> QuerySet[User]:
        return super().get_queryset(request).annotate(_has_live_api_key=has_live_api_key())

    @admin.display(boolean=True, description="API key")
    def has_api_key(self, obj: User) -> bool:
        return obj.has_api_key

    @admin.action(description="Revoke all tokens (sign out everywhere)")
    def revoke_all_tokens(self, request: Any, queryset: QuerySet[User]) -> None:
        for user in queryset:
            revocation.revoke_all_for_user(str(user.pk), reason=f"admin:{request.user}")
        self.message_user(request, f"Revoked all tokens of {queryset.count()} user(s).", messages.SUCCESS)

    @admin.action(description="Revoke API keys")
    def revoke_api_keys(self, request: Any, queryset: QuerySet[User]) -> None:
        services.api_keys_revoke(keys=ApiKey.objects.filter(user__in=queryset.values("pk")))
        self.message_user(request, f"Revoked the API keys of {queryset.count()} user(s).", messages.SUCCESS)

    @admin.action(description="Deactivate (ends sessions and API keys)")
    def deactivate_users(self, request: Any, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.user_deactivate(user=user, reason=f"admin:{request.user}")
        self.message_user(request, f"Deactivated {queryset.count()} user(s).", messages.SUCCESS)

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        was_active = change and User.objects.filter(pk=obj.pk, is_active=True).exists()
        super().save_model(request, obj, form, change)
        if was_active and not obj.is_active:
            services.user_deactivate(user=obj, reason=f"admin:{request.user}")


class MemberInline(admin.TabularInline):
    model = User
    fields = ["email", "name", "role", "is_active"]
    readonly_fields = ["email"]
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "tier",
        "tier_in_force",
        "debates_used",
        "debates_remaining",
        "member_count",
        "owner",
        "created_at",
    ]
    list_filter = ["tier"]
    search_fields = ["name", "slug", "owner__email", "id"]
    readonly_fields = ["id", "tier_in_force", "debates_remaining", "is_at_limit", "created_at", "updated_at"]
    list_select_related = ["owner"]
    inlines = [MemberInline]
    actions = ["reset_usage"]

    def get_queryset(self, request: Any) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(_members=Count("members", filter=Q(members__is_active=True)))

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Organization) -> int:
        return obj._members

    @admin.display(description="Tier in force")
    def tier_in_force(self, obj: Organization) -> str:
        return obj.effective_tier.label

    @admin.display(description="Debates remaining")
    def debates_remaining(self, obj: Organization) -> str:
        remaining = obj.debates_remaining
        return "unlimited" if remaining is None else str(remaining)

    @admin.action(description="Reset this period's debate usage")
    def reset_usage(self, request: Any, queryset: QuerySet[Organization]) -> None:
        for org in queryset:
            org.reset_monthly_usage()
        self.message_user(request, f"Reset usage of {queryset.count()} organization(s).", messages.SUCCESS)


@admin.register(RevokedToken)
class RevokedTokenAdmin(admin.ModelAdmin):
    list_display = ["jti", "user", "token_type", "reason", "revoked_at", "expires_at"]
    list_filter = ["token_type", "reason"]
    search_fields = ["jti", "user__email", "reason"]
    list_select_related = ["user"]
    date_hierarchy = "revoked_at"

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(IssuedRefreshToken)
class IssuedRefreshTokenAdmin(admin.ModelAdmin):
    list_display = ["jti", "user", "family", "created_at", "expires_at", "used_at"]
    search_fields = ["jti", "user__email", "family"]
    list_select_related = ["user"]

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are created by their owners and shown only to them, once; staff can revoke them."""

    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "expires_at", "revoked_at", "is_live"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "user__email", "name"]
    list_select_related = ["user"]
    fields = ["id", "user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(boolean=True, description="Live")
    def is_live(self, obj: ApiKey) -> bool:
        return obj.is_live

    @admin.action(description="Revoke (the keys stop working at once)")
    def revoke(self, request: Any, queryset: QuerySet[ApiKey]) -> None:
        count = services.api_keys_revoke(keys=queryset)
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # revoked keys stay on record


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are made and revoked by organization admins through the API."""

    list_display = ["email", "organization", "role", "status", "invited_by", "created_at", "expires_at"]
    list_filter = ["role", ("accepted_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "organization__name", "invited_by__email"]
    list_select_related = ["organization", "invited_by"]
    readonly_fields = [
        "id",
        "organization",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_user",
        "revoked_at",
        "email_sent_at",
        "email_error",
    ]
    fields = readonly_fields

    @admin.display(description="Status")
    def status(self, obj: Invitation) -> str:
        return obj.status

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
