"""Reads for accounts: always scoped to the caller's organization."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import PermissionDenied

from accounts.models import Organization, User


def organization_for_caller(*, caller: Any) -> Organization:
    """Return the organization named by the caller's credentials (never by the request)."""
    org = Organization.objects.filter(pk=caller.org_id).first()
    if org is None:
        raise PermissionDenied("This account does not belong to an organization.", code="no_organization")
    return org


def organization_members(*, organization: Organization) -> QuerySet[User]:
    return organization.members.filter(is_active=True).order_by("created_at")
