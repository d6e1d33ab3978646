"""Back office for credentials and their records: revoked and issued tokens, API keys, invitations."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet

from accounts import backoffice
from accounts.models import (
    ApiKey,
    Invitation,
    IssuedRefreshToken,
    RevokedToken,
)


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
        count = backoffice.api_keys_revoke(keys=queryset, actor=request.user)
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
