"""What staff do to an organization's billing from the back office; each action is recorded in the audit log.

A tier override sets the stored tier now. Stripe stays the source of truth for subscriptions: the next
subscription event (or a re-sync) for the organization applies Stripe's state again, override or not.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Organization
from aragora_site.audit import audit_record
from aragora_site.errors import ServiceError
from aragora_site.models import AuditAction
from billing.models import Notification, StripeEventOutcome
from billing.notifications import notification_retry as _notification_retry
from billing.services import grace, self_service
from billing.services.subscriptions import organization_lock
from billing.tiers import SubscriptionTier


def _tier(tier: str) -> SubscriptionTier:
    if tier not in SubscriptionTier.values:
        raise ServiceError(f"Unknown tier {tier!r}.", code="invalid_tier")
    return SubscriptionTier(tier)


@transaction.atomic
def organization_tier_override(*, organization: Organization, tier: str, reason: str, actor: Any) -> Organization:
    """Put the organization on `tier` now, for the reason given, and record it.

    A running or lapsed grace period ends with the override: otherwise the tier in force would stay (or soon
    become) free and the grace sweep would undo the override. No notice is sent to the organization.
    """
    new_tier = _tier(tier)
    if not (reason or "").strip():
        raise ServiceError("Give a reason: it is recorded in the audit log.", code="reason_required")
    org = organization_lock(organization_id=organization.pk)
    if org.tier == new_tier and org.grace_until is None:
        raise ServiceError(f"{org.name} is already on the {new_tier.label} tier.", code="same_tier")
    details = {
        "tier": [org.tier, new_tier.value],
        "tier_in_force": [org.effective_tier.value, new_tier.value],
        "subscription_status": org.subscription_status,
    }
    if org.grace_until is not None:
        details["grace_until"] = [org.grace_until, None]
    org.tier = new_tier
    org.grace_until = org.grace_reminder_sent_at = None
    org.save(update_fields=["tier", "grace_until", "grace_reminder_sent_at", "updated_at"])
    audit_record(
        actor=actor, action=AuditAction.TIER_OVERRIDE, target=org, organization=org, reason=reason, details=details
    )
    organization.tier, organization.grace_until, organization.grace_reminder_sent_at = new_tier, None, None
    return org


def organization_resync(*, organization: Organization, actor: Any) -> StripeEventOutcome:
    """Re-sync the organization from Stripe (see self_service.organization_resync) and record it.

    Stripe is asked outside any transaction; the entry is written once the re-sync has committed.
    """
    before = {"tier": organization.tier, "subscription_status": organization.subscription_status}
    outcome = self_service.organization_resync(organization=organization)
    organization.refresh_from_db()
    audit_record(
        actor=actor,
        action=AuditAction.BILLING_RESYNCED,
        target=organization,
        organization=organization,
        details={
            "outcome": outcome.value,
            "tier": [before["tier"], organization.tier],
            "subscription_status": [before["subscription_status"], organization.subscription_status],
        },
    )
    return outcome


@transaction.atomic
def organization_grace_expire(*, organization: Organization, actor: Any) -> bool:
    """Apply a lapsed grace period (move to free) and record it; False, and no entry, when nothing was due."""
    previous_tier = organization.tier
    if not grace.organization_grace_expire(organization=organization):
        return False
    audit_record(
        actor=actor,
        action=AuditAction.GRACE_EXPIRED,
        target=organization,
        organization=organization,
        details={"tier": [previous_tier, SubscriptionTier.FREE.value]},
    )
    return True


def notification_retry(*, notification: Notification, actor: Any) -> Notification | None:
    """Try a pending or failed notification again now and record the attempt with its result."""
    result = _notification_retry(notification=notification)
    shown = result or notification
    audit_record(
        actor=actor,
        action=AuditAction.NOTIFICATION_RETRIED,
        target=shown,
        organization=shown.organization,
        details={"kind": shown.kind, "channel": shown.channel, "status": shown.status if result else "skipped"},
    )
    return result
