"""Subscription tiers and their limits: the one place these numbers live."""

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from django.db import models
from django.utils import timezone


class SubscriptionTier(models.TextChoices):
    FREE = "free", "Free"
    STARTER = "starter", "Starter"
    PROFESSIONAL = "professional", "Professional"
    ENTERPRISE = "enterprise", "Enterprise"


@dataclass(frozen=True)
class TierLimits:
    """What a tier allows. `None` means unlimited."""

    debates_per_month: int | None
    users: int | None
    api_access: bool
    all_agents: bool
    price_monthly_usd: Decimal

    def allows_users(self, count: int) -> bool:
        """Return True when an organization of `count` members fits this tier."""
        return self.users is None or count <= self.users

    def to_dict(self) -> dict:
        data = asdict(self)
        data["price_monthly_usd"] = str(self.price_monthly_usd)
        return data


TIER_LIMITS: dict[SubscriptionTier, TierLimits] = {
    SubscriptionTier.FREE: TierLimits(
        debates_per_month=10, users=1, api_access=False, all_agents=False, price_monthly_usd=Decimal("0.00")
    ),
    SubscriptionTier.STARTER: TierLimits(
        debates_per_month=50, users=2, api_access=False, all_agents=False, price_monthly_usd=Decimal("99.00")
    ),
    SubscriptionTier.PROFESSIONAL: TierLimits(
        debates_per_month=200, users=10, api_access=True, all_agents=True, price_monthly_usd=Decimal("299.00")
    ),
    SubscriptionTier.ENTERPRISE: TierLimits(
        debates_per_month=None, users=None, api_access=True, all_agents=True, price_monthly_usd=Decimal("999.00")
    ),
}


def tier_in_force(tier: str, grace_until: datetime | None, *, now: datetime | None = None) -> SubscriptionTier:
    """Return the tier an organization gets now: FREE once the grace period after a failed payment has run out.

    The stored tier follows later (the grace sweep and Stripe's webhooks write it); reads never have to.
    """
    if grace_until is not None and grace_until <= (now or timezone.now()):
        return SubscriptionTier.FREE
    return SubscriptionTier(tier)


PAID_TIERS = [tier.value for tier in SubscriptionTier if tier != SubscriptionTier.FREE]
