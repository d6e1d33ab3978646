"""Apply Stripe's subscription state to organizations: tier, status, cancellation, period, links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from billing.models import NotificationKind, StripeEventOutcome
from billing.notifications import notification_send
from billing.stripe_client import SubscriptionInfo, object_id
from billing.tiers import SubscriptionTier

ENTITLED_STATUSES = frozenset({"active", "trialing"})
DUNNING_STATUSES = frozenset({"past_due", "unpaid"})
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
LIVE_STATUSES = ENTITLED_STATUSES | DUNNING_STATUSES
PAID_CHECKOUT = frozenset({"paid", "no_payment_required"})
TIER_RANK = {
    SubscriptionTier.FREE: 0,
    SubscriptionTier.STARTER: 1,
    SubscriptionTier.PROFESSIONAL: 2,
    SubscriptionTier.ENTERPRISE: 3,
}

_STATE_FIELDS = [
    "tier",
    "stripe_customer_id",
    "stripe_subscription_id",
    "stripe_price_id",
    "subscription_status",
    "cancel_at_period_end",
    "current_period_end",
    "grace_until",
    "grace_reminder_sent_at",
    "stripe_subscription_event_at",
    "updated_at",
]


def organization_lock(*, organization_id: Any) -> Organization:
    """Return the organization row locked for the rest of the transaction."""
    return Organization.objects.select_for_update().get(pk=organization_id)


def grace_has_expired(organization: Organization, *, now: datetime | None = None) -> bool:
    return organization.grace_until is not None and organization.grace_until <= (now or timezone.now())


def entitled_tier(organization: Organization, info: SubscriptionInfo) -> SubscriptionTier:
    """Return the tier a subscription in this state pays for (FREE once it ended or its grace ran out)."""
    tier = info.tier
    if tier is None or info.status in ENDED_STATUSES or info.status == "paused":
        return SubscriptionTier.FREE
    if info.status in ENTITLED_STATUSES:
        return tier
    if info.status in DUNNING_STATUSES:
        return SubscriptionTier.FREE if grace_has_expired(organization) else tier
    # "incomplete": the first payment has not gone through; nothing is granted yet.
    return SubscriptionTier(organization.tier)


def _belongs_elsewhere(organization: Organization, info: SubscriptionInfo) -> bool:
    """True when the event is about another subscription than the organization's live one."""
    current = organization.stripe_subscription_id
    if not current or current == info.id:
        return False
    return organization.subscription_status in LIVE_STATUSES or info.status not in LIVE_STATUSES


def _notify_changes(organization: Organization, *, previous_tier: str, was_canceling: bool, info: SubscriptionInfo):
    tier = SubscriptionTier(organization.tier)
    context = {"tier": tier.value, "previous_tier": previous_tier}
    if TIER_RANK[tier] > TIER_RANK[SubscriptionTier(previous_tier)]:
        notification_send(organization=organization, kind=NotificationKind.UPGRADED, context=context)
    elif TIER_RANK[tier] < TIER_RANK[SubscriptionTier(previous_tier)]:
        reason = "subscription_ended" if info.status in ENDED_STATUSES else "plan_changed"
        notification_send(
            organization=organization, kind=NotificationKind.DOWNGRADED, context=context | {"reason": reason}
        )
    if organization.cancel_at_period_end and not was_canceling:
        notification_send(
            organization=organization,
            kind=NotificationKind.SUBSCRIPTION_CANCELED,
            context={"tier": tier.value, "current_period_end": organization.current_period_end, "at_period_end": True},
        )


# The services below join the caller's transaction without a savepoint: their callers let a failure roll back
# the whole unit (a webhook event, a resync), so a savepoint would only cost two more statements.
@transaction.atomic(savepoint=False)
def organization_subscription_apply(
    *, organization: Organization, info: SubscriptionInfo, event_at: datetime, locked: bool = False
) -> StripeEventOutcome:
    """Bring the organization in line with a subscription as Stripe described it at `event_at`.

    `locked`: the caller read `organization` with select_for_update in this transaction (it is used as it is).
    """
    org = organization if locked else organization_lock(organization_id=organization.pk)
    if org.stripe_subscription_event_at and event_at < org.stripe_subscription_event_at:
        return StripeEventOutcome.STALE
    if _belongs_elsewhere(org, info):
        return StripeEventOutcome.IGNORED
    previous_tier, was_canceling = org.tier, org.cancel_at_period_end
    org.tier = entitled_tier(org, info)
    org.stripe_subscription_id = info.id
    org.stripe_customer_id = info.customer_id or org.stripe_customer_id
    org.stripe_price_id = info.price_id
    org.subscription_status = info.status
    org.cancel_at_period_end = info.cancel_at_period_end and info.status not in ENDED_STATUSES
    org.current_period_end = info.current_period_end
    org.stripe_subscription_event_at = event_at
    if info.status in ENDED_STATUSES:
        org.grace_until = org.grace_reminder_sent_at = None
    org.save(update_fields=_STATE_FIELDS)
    _notify_changes(org, previous_tier=previous_tier, was_canceling=was_canceling, info=info)
    for model_field in Organization._meta.concrete_fields:  # the caller's copy shows the row as now saved
        setattr(organization, model_field.attname, getattr(org, model_field.attname))
    return StripeEventOutcome.APPLIED


@transaction.atomic(savepoint=False)
def organization_checkout_complete(
    *, organization: Organization, session: dict[str, Any], subscription: SubscriptionInfo | None, event_at: datetime
) -> StripeEventOutcome:
    """Link a completed, paid Checkout session's customer and subscription to the organization."""
    if session.get("payment_status") not in PAID_CHECKOUT or subscription is None:
        return StripeEventOutcome.IGNORED
    customer_id = object_id(session.get("customer"))
    if customer_id:
        Organization.objects.filter(pk=organization.pk, stripe_customer_id="").update(stripe_customer_id=customer_id)
    return organization_subscription_apply(organization=organization, info=subscription, event_at=event_at)
