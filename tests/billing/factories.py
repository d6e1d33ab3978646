"""Factories for billing tests: organizations with a Stripe customer and subscription on the fake server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts.models import Organization, User
from billing.tiers import SubscriptionTier
from tests.factories import OrganizationFactory
from tests.fakes.stripe_plugin import PRICES
from tests.fakes.stripe_server import FakeStripe


@dataclass
class Subscribed:
    org: Organization
    admin: User
    customer: dict[str, Any]
    subscription: dict[str, Any]


def subscribed_organization(
    fake: FakeStripe, *, tier: str = SubscriptionTier.PROFESSIONAL, status: str = "active"
) -> Subscribed:
    """An organization on `tier` whose customer and subscription exist on the fake Stripe and are linked."""
    org = OrganizationFactory(admin=True, tier=tier)
    admin = org.owner
    customer = fake.add_customer(
        email=admin.email, metadata={"org_id": str(org.pk), "djstripe_subscriber": str(org.pk)}
    )
    subscription = fake.add_subscription(
        customer_id=customer["id"], price_id=PRICES[tier][0], status=status, metadata={"org_id": str(org.pk)}
    )
    Organization.objects.filter(pk=org.pk).update(
        stripe_customer_id=customer["id"],
        stripe_subscription_id=subscription["id"],
        stripe_price_id=PRICES[tier][0],
        subscription_status=status,
    )
    org.refresh_from_db()
    return Subscribed(org=org, admin=admin, customer=customer, subscription=subscription)
