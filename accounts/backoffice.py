"""What staff do to users, members and quotas from the back office; each write is recorded in the audit log.

Each function changes the data through the same code the API uses and writes its audit entry in the same
transaction, so a change is never kept without its record.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from accounts import revocation, services
from accounts.models import ApiKey, Organization, User
from aragora_site.audit import audit_record, changes_between
from aragora_site.models import AuditAction

# The fields of a user that make them a member of an organization, with what they may do there.
MEMBER_FIELDS = ("organization_id", "role", "is_active", "is_staff", "is_superuser")


@transaction.atomic
def user_tokens_revoke(*, user: User, actor: Any) -> None:
    """Sign the user out everywhere (every access and refresh token stops working) and record it."""
    revocation.revoke_all_for_user(str(user.pk), reason=f"admin:{actor}")
    audit_record(actor=actor, action=AuditAction.TOKENS_REVOKED, target=user, organization=user.organization)


@transaction.atomic
def user_api_keys_revoke(*, user: User, actor: Any) -> int:
    """Revoke every live API key of the user and record it (with the keys' public prefixes, never a key)."""
    return api_keys_revoke(keys=user.api_keys.all(), actor=actor)


@transaction.atomic
def api_keys_revoke(*, keys: QuerySet[ApiKey], actor: Any) -> int:
    """Revoke these keys and record one entry per owner (the public prefixes, never a key); return how many."""
    live = list(keys.filter(revoked_at__isnull=True).select_related("user__organization"))
    revoked = services.api_keys_revoke(keys=ApiKey.objects.filter(pk__in=[key.pk for key in live]))
    by_owner: dict[Any, list[ApiKey]] = {}
    for key in live:
        by_owner.setdefault(key.user, []).append(key)
    for owner, owned in by_owner.items():
        audit_record(
            actor=actor,
            action=AuditAction.API_KEY_REVOKED,
            target=owner,
            organization=owner.organization,
            details={"key_prefixes": sorted(key.prefix for key in owned)},
        )
    return revoked


@transaction.atomic
def user_deactivate(*, user: User, actor: Any) -> None:
    """Deactivate the user (sessions and API key end at once) and record it."""
    services.user_deactivate(user=user, reason=f"admin:{actor}")
    audit_record(
        actor=actor,
        action=AuditAction.USER_DEACTIVATED,
        target=user,
        organization=user.organization,
        details={"is_active": [True, False]},
    )


def members_snapshot(*, user_ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """Return the membership fields of these users as stored now, by user id (one query)."""
    rows = User.objects.filter(pk__in=user_ids).values("pk", "organization__name", *MEMBER_FIELDS)
    return {row.pop("pk"): row for row in rows}


def _readable(changes: dict[str, list[Any]], before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    if "organization_id" in changes:
        changes["organization"] = [before.get("organization__name"), after.get("organization__name")]
    changes.pop("organization__name", None)
    return changes


@transaction.atomic
def member_changes_record(*, user: User, before: dict[str, Any], actor: Any) -> list[Any]:
    """Record what staff changed of a user's membership, given the `members_snapshot` taken before the change.

    Returns the entries, none when nothing changed. A move between organizations is recorded for both of them,
    so each one's audit trail shows it.
    """
    after = members_snapshot(user_ids=[user.pk]).get(user.pk, {})
    changes = _readable(changes_between(before=before, after=after), before, after)
    if not changes:
        return []
    deactivated = before.get("is_active") and not after.get("is_active")
    action = AuditAction.USER_DEACTIVATED if deactivated else AuditAction.MEMBER_CHANGED
    org_ids = [pk for pk in dict.fromkeys([before.get("organization_id"), after.get("organization_id")]) if pk]
    organizations = list(Organization.objects.filter(pk__in=org_ids)) or [None]
    return [
        audit_record(actor=actor, action=action, target=user, organization=org, details=changes)
        for org in organizations
    ]


@transaction.atomic
def organization_debates_reset(*, organization: Organization, actor: Any, reason: str) -> Organization:
    """Start the organization's usage period afresh (debates used back to zero), for the reason given."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    before = {"debates_used": org.debates_used, "period_start": org.period_start}
    org.reset_monthly_usage()
    after = {"debates_used": org.debates_used, "period_start": org.period_start}
    audit_record(
        actor=actor,
        action=AuditAction.DEBATES_RESET,
        target=org,
        organization=org,
        reason=reason,
        details=changes_between(before=before, after=after) or {"debates_used": [0, 0]},
    )
    organization.debates_used, organization.period_start = org.debates_used, org.period_start
    return org
