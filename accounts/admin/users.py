"""Back office for users and the API keys they hold inline. No secret is ever displayed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet

from accounts import backoffice, services
from accounts.models import (
    ApiKey,
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

    @admin.action(description="Revoke all tokens (sign out everywhere)", permissions=["change"])
    def revoke_all_tokens(self, request: Any, queryset: QuerySet[User]) -> None:
        users = list(queryset.select_related("organization"))
        for user in users:
            backoffice.user_tokens_revoke(user=user, actor=request.user)
        self.message_user(request, f"Revoked all tokens of {len(users)} user(s).", messages.SUCCESS)

    @admin.action(description="Revoke API keys", permissions=["change"])
    def revoke_api_keys(self, request: Any, queryset: QuerySet[User]) -> None:
        users = list(queryset.select_related("organization"))
        revoked = sum(backoffice.user_api_keys_revoke(user=user, actor=request.user) for user in users)
        self.message_user(request, f"Revoked {revoked} API key(s) of {len(users)} user(s).", messages.SUCCESS)

    @admin.action(description="Deactivate (ends sessions and API keys)", permissions=["change"])
    def deactivate_users(self, request: Any, queryset: QuerySet[User]) -> None:
        users = list(queryset.select_related("organization"))
        for user in users:
            backoffice.user_deactivate(user=user, actor=request.user)
        self.message_user(request, f"Deactivated {len(users)} user(s).", messages.SUCCESS)

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        before = backoffice.members_snapshot(user_ids=[obj.pk]).get(obj.pk) if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            return
        if before["is_active"] and not obj.is_active:
            services.user_deactivate(user=obj, reason=f"admin:{request.user}")
        backoffice.member_changes_record(user=obj, before=before, actor=request.user)
