"""Reads for accounts: always scoped to the caller (their organization, their keys)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import PermissionDenied

from accounts.models import DEFAULT_API_KEY_NAME, ApiKey, Invitation, Organization, User, has_live_api_key


def organization_for_caller(*, caller: Any) -> Organization:
    """Return the organization named by the caller's credentials (never by the request)."""
    org = Organization.objects.filter(pk=caller.org_id).first()
    if org is None:
        raise PermissionDenied("This account does not belong to an organization.", code="no_organization")
    return org


def organization_members(*, organization: Organization) -> QuerySet[User]:
    """Return the organization's active members, oldest first, each knowing whether it holds a live API key."""
    members = organization.members.filter(is_active=True).order_by("created_at")
    return members.annotate(_has_live_api_key=has_live_api_key())


def api_keys_live(*, user_id: Any) -> QuerySet[ApiKey]:
    """Return the user's live API keys (neither revoked nor expired), newest first."""
    return ApiKey.objects.live().filter(user_id=user_id).order_by("-created_at")


def api_key_default(*, user_id: Any) -> ApiKey | None:
    """Return the user's live key named "default" (the seed's single key), if any."""
    return api_keys_live(user_id=user_id).filter(name=DEFAULT_API_KEY_NAME).first()


def invitations_pending(*, organization: Organization) -> QuerySet[Invitation]:
    """Return the organization's invitations that can still be accepted, newest first."""
    return organization.invitations.pending().select_related("invited_by").order_by("-created_at")


def invitation_for_token(*, token: str) -> Invitation | None:
    """Return the pending invitation an accept link names, or None (forged, expired, revoked or used)."""
    from accounts.services.invitations import invitation_id_from_token

    invitation_id = invitation_id_from_token(token)
    if invitation_id is None:
        return None
    return Invitation.objects.pending().select_related("organization").filter(pk=invitation_id).first()
