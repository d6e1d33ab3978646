"""Payment recovery: the grace period after a failed payment, its reminder, its expiry and its end on payment."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from billing import stripe_client
from billing.models import NotificationKind, StripeEventOutcome
from billing.notifications import notification_send
from billing.services.subscriptions import ENDED_STATUSES, grace_has_expired, organization_lock
from billing.tiers import SubscriptionTier

logger = logging.getLogger("aragora.billing.grace")


def _stale(org: Organization, event_at: datetime) -> bool:
    return org.stripe_payment_event_at is not None and event_at < org.stripe_payment_event_at


def _amount(invoice: dict[str, Any]) -> str | None:
    cents = invoice.get("amount_due")
    return f"{Decimal(cents) / 100:.2f}" if isinstance(cents, int) else None


@transaction.atomic(savepoint=False)  # joins the webhook's transaction: a failure rolls back the event
def organization_payment_failed(
    *, organization: Organization, invoice: dict[str, Any], event_at: datetime, locked: bool = False
) -> StripeEventOutcome:
    """Start the grace period at the first failed payment (later failures do not extend it) and tell the admins.

    `locked`: the caller read `organization` with select_for_update in this transaction (it is used as it is).
    """
    org = organization if locked else organization_lock(organization_id=organization.pk)
    if _stale(org, event_at):
        return StripeEventOutcome.STALE
    org.stripe_payment_event_at = event_at
    fields = ["stripe_payment_event_at", "updated_at"]
    outcome = StripeEventOutcome.IGNORED
    if org.tier != SubscriptionTier.FREE and org.grace_until is None:
        org.grace_until = event_at + timedelta(days=settings.ARAGORA_PAYMENT_GRACE_DAYS)
        org.grace_reminder_sent_at = None
        fields += ["grace_until", "grace_reminder_sent_at"]
        outcome = StripeEventOutcome.APPLIED
    org.save(update_fields=fields)
    if outcome == StripeEventOutcome.APPLIED:
        context = {
            "tier": org.tier,
            "grace_until": org.grace_until,
            "amount_due": _amount(invoice),
            "currency": invoice.get("currency") or "",
            "hosted_invoice_url": invoice.get("hosted_invoice_url") or "",
            "attempt_count": invoice.get("attempt_count"),
        }
        notification_send(organization=org, kind=NotificationKind.PAYMENT_FAILED, context=context)
    return outcome


@transaction.atomic(savepoint=False)  # joins the webhook's transaction: a failure rolls back the event
def organization_payment_succeeded(
    *, organization: Organization, invoice: dict[str, Any], event_at: datetime, locked: bool = False
) -> StripeEventOutcome:
    """End the grace period (restoring the paid tier if it had already run out) and confirm the recovery."""
    org = organization if locked else organization_lock(organization_id=organization.pk)
    if _stale(org, event_at):
        return StripeEventOutcome.STALE
    org.stripe_payment_event_at = event_at
    fields = ["stripe_payment_event_at", "updated_at"]
    recovering = org.grace_until is not None
    if recovering:
        org.grace_until = org.grace_reminder_sent_at = None
        fields += ["grace_until", "grace_reminder_sent_at"]
        paid_tier = stripe_client.tier_for_price(org.stripe_price_id)
        if org.tier == SubscriptionTier.FREE and paid_tier and org.subscription_status not in ENDED_STATUSES:
            org.tier = paid_tier
            fields.append("tier")
    org.save(update_fields=fields)
    if not recovering:
        return StripeEventOutcome.IGNORED
    notification_send(organization=org, kind=NotificationKind.PAYMENT_RECOVERED, context={"tier": org.tier})
    return StripeEventOutcome.APPLIED


@transaction.atomic
def organization_grace_expire(*, organization: Organization) -> bool:
    """Move an organization whose grace period has run out to FREE and tell its admins; False if nothing to do."""
    now = timezone.now()
    org = organization_lock(organization_id=organization.pk)
    if not grace_has_expired(org, now=now) or org.tier == SubscriptionTier.FREE:
        return False
    previous_tier = org.tier
    org.tier = SubscriptionTier.FREE
    org.save(update_fields=["tier", "updated_at"])
    context = {"tier": org.tier, "previous_tier": previous_tier, "reason": "grace_expired"}
    notification_send(organization=org, kind=NotificationKind.DOWNGRADED, context=context)
    organization.tier = org.tier
    return True


@transaction.atomic
def organization_grace_remind(*, organization: Organization) -> bool:
    """Send the one "grace period ending" reminder when the end is near; False if not due or already sent."""
    now = timezone.now()
    org = organization_lock(organization_id=organization.pk)
    window_start = now + timedelta(days=settings.ARAGORA_GRACE_REMINDER_DAYS)
    due = org.grace_until is not None and now < org.grace_until <= window_start
    if not due or org.grace_reminder_sent_at is not None or org.tier == SubscriptionTier.FREE:
        return False
    org.grace_reminder_sent_at = now
    org.save(update_fields=["grace_reminder_sent_at", "updated_at"])
    context = {"tier": org.tier, "grace_until": org.grace_until}
    notification_send(organization=org, kind=NotificationKind.GRACE_ENDING, context=context)
    return True


def organizations_grace_sweep() -> dict[str, int]:
    """Expire every grace period that has run out and remind those ending soon; safe to run at any time."""
    now = timezone.now()
    in_grace = Organization.objects.filter(grace_until__isnull=False).exclude(tier=SubscriptionTier.FREE)
    expired = reminded = 0
    for org in in_grace.filter(grace_until__lte=now):
        expired += organization_grace_expire(organization=org)
    soon = now + timedelta(days=settings.ARAGORA_GRACE_REMINDER_DAYS)
    for org in in_grace.filter(grace_until__gt=now, grace_until__lte=soon, grace_reminder_sent_at__isnull=True):
        reminded += organization_grace_remind(organization=org)
    return {"expired": expired, "reminded": reminded}
