"""Writes for an organization's members: add (admin sets the password), remove, change role; the seat limit."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, Role, User
from aragora_site.errors import ServiceError

logger = logging.getLogger("aragora.accounts.members")


def organization_seats_check(*, organization: Organization, adding: int = 1, excluding_email: str = "") -> None:
    """Refuse (403 user_limit_reached) unless `adding` more people fit the tier in force.

    Seats are held by active members and by pending invitations (except one to `excluding_email`, which the
    caller is about to replace or consume). Call it with the organization row locked.
    """
    limit = organization.limits.users
    if limit is None:
        return
    members = organization.members.filter(is_active=True).count()
    invited = organization.invitations.pending().exclude(email=excluding_email).count()
    if members + invited + adding > limit:
        raise ServiceError(
            f"The {organization.effective_tier.label} tier allows {limit} user(s), counting pending invitations; "
            "upgrade the organization's plan to add more members.",
            code="user_limit_reached",
            status=403,
        )


def organization_locked(*, organization: Organization) -> Organization:
    """Return the organization re-read and locked until the transaction ends (members and seats change)."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


@transaction.atomic
def organization_member_add(
    *, organization: Organization, email: str, name: str = "", password: str, role: str = Role.MEMBER
) -> User:
    """Create a member account with a password chosen by the admin, within the seat limit.

    Kept for existing clients; invitations (accounts.services.invitations) let people choose their own password.
    """
    org = organization_locked(organization=organization)
    email = email.strip().lower()
    organization_seats_check(organization=org, excluding_email=email)
    if User.objects.filter(email__iexact=email).exists():
        raise ServiceError("An account with this e-mail already exists.", code="email_taken", status=409)
    validate_password(password, user=User(email=email, name=name))
    org.invitations.open().filter(email=email).update(revoked_at=timezone.now())  # the account exists now
    return User.objects.create_user(email=email, password=password, name=name, organization=org, role=role)


@transaction.atomic
def organization_member_remove(*, organization: Organization, user_id: Any, acting_user_id: Any) -> None:
    """Remove a member from the organization and end their sessions and API keys."""
    member = organization.members.filter(pk=user_id).first()
    if member is None:
        raise ServiceError("No such member in this organization.", code="not_found", status=404)
    if str(member.pk) == str(acting_user_id):
        raise ServiceError("You cannot remove yourself.", code="cannot_remove_self", status=400)
    if organization.owner_id == member.pk:
        raise ServiceError("The owner cannot be removed.", code="cannot_remove_owner", status=400)
    member.organization = None
    member.role = Role.MEMBER
    member.save(update_fields=["organization", "role"])  # ends every session (accounts.managers)
    member.revoke_api_key()


@transaction.atomic
def organization_member_role_change(*, organization: Organization, user_id: Any, role: str, acting_user: Any) -> User:
    """Give an active member another role. Their sessions end (accounts.managers): tokens carry the role.

    Refused: the owner's role (400 cannot_change_owner_role), leaving no admin (400 last_admin), a caller who is
    not an admin of the organization (403), a user outside it (404).
    """
    if role not in Role.values:
        raise ServiceError(f"role must be one of {', '.join(Role.values)}.", code="invalid_role")
    org = organization_locked(organization=organization)
    if acting_user.org_id != str(org.pk) or not acting_user.is_org_admin:
        raise ServiceError("Only organization admins may do this.", code="permission_denied", status=403)
    member = org.members.filter(pk=user_id, is_active=True).first()
    if member is None:
        raise ServiceError("No such member in this organization.", code="not_found", status=404)
    if member.role == role:
        return member
    if org.owner_id == member.pk:
        raise ServiceError("The owner's role cannot be changed.", code="cannot_change_owner_role", status=400)
    if role != Role.ADMIN and not org.members.filter(role=Role.ADMIN, is_active=True).exclude(pk=member.pk).exists():
        raise ServiceError(
            "The organization would have no admin left; make someone else admin first.", code="last_admin"
        )
    member.role = role
    member.save(update_fields=["role"])  # ends the member's sessions (accounts.managers)
    logger.info("Role of %s in %s set to %s by %s", member.pk, org.pk, role, acting_user.id)
    return member
