"""Billing models. Tier definitions live in billing.tiers and are re-exported here."""

from billing.tiers import TIER_LIMITS, SubscriptionTier, TierLimits

__all__ = ["TIER_LIMITS", "SubscriptionTier", "TierLimits"]
