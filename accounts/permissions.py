"""Permissions: every organization-scoped endpoint needs an organization from the credentials."""

from typing import Any

from rest_framework import permissions


class IsOrganizationMember(permissions.BasePermission):
    message = "This account does not belong to an organization."
    code = "no_organization"

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and getattr(request.user, "org_id", None))


class IsOrganizationAdmin(IsOrganizationMember):
    message = "Only organization admins may do this."
    code = "permission_denied"

    def has_permission(self, request: Any, view: Any) -> bool:
        return super().has_permission(request, view) and request.user.is_org_admin
