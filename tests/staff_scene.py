"""A small but complete world for the back office's pages: paying, lapsing and free organizations, spend,
an unpriced model, a failed notification, a revoked token and one staff action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts import jwt_auth
from accounts.backoffice import organization_debates_reset
from accounts.models import Organization, User
from billing.models import Notification, NotificationStatus
from billing.tiers import SubscriptionTier
from tests.factories import PASSWORD, OrganizationFactory
from tests.usage.conftest import record, seed_prices


@dataclass
class Scene:
    staff: User
    northwind: Organization  # enterprise, active subscription, the top spender
    globex: Organization  # professional, past due, in its grace period
    initech: Organization  # starter, unpaid, grace period over: free in force
    umbrella: Organization  # professional, trialing
    free: list[Organization]
    failed: Notification

    @property
    def mrr(self) -> Decimal:
        return Decimal("999.00") + Decimal("299.00")  # Northwind and Globex; Initech is free in force


def _subscribed(org: Organization, *, status: str, **fields: object) -> Organization:
    n = Organization.objects.count()
    Organization.objects.filter(pk=org.pk).update(
        subscription_status=status,
        stripe_customer_id=f"cus_scene{n}",
        stripe_subscription_id=f"sub_scene{n}",
        current_period_end=timezone.now() + timedelta(days=20),
        **fields,
    )
    org.refresh_from_db()
    return org


def staff_scene() -> Scene:
    """Build the scene (call inside a test with database access)."""
    seed_prices()
    now = timezone.now()
    staff = User.objects.create_superuser(email="staff@example.com", password=PASSWORD, name="Sam Staff")
    northwind = _subscribed(
        OrganizationFactory(name="Northwind Traders", tier=SubscriptionTier.ENTERPRISE, admin=True), status="active"
    )
    globex = _subscribed(
        OrganizationFactory(name="Globex", tier=SubscriptionTier.PROFESSIONAL, admin=True),
        status="past_due",
        grace_until=now + timedelta(days=6),
    )
    initech = _subscribed(
        OrganizationFactory(name="Initech", tier=SubscriptionTier.STARTER, admin=True),
        status="unpaid",
        grace_until=now - timedelta(hours=2),
    )
    umbrella = _subscribed(
        OrganizationFactory(name="Umbrella", tier=SubscriptionTier.PROFESSIONAL, admin=True), status="trialing"
    )
    free = [OrganizationFactory(name=f"Free Co {n}", admin=True) for n in range(3)]
    record(northwind, provider="openai", model="gpt-4o", tokens_in=6_297_921)  # $15.7448025
    record(northwind, event_type="debate", provider="anthropic", model="claude-sonnet-4", tokens_in=1500)
    record(globex, provider="openai", model="gpt-4o", tokens_in=400_000)  # $1.00
    record(globex, provider="mystery", model="mystery-9", tokens_in=1000)
    record(umbrella, provider="mystery", model="mystery-9", tokens_in=1000)
    failed = Notification.objects.create(
        organization=globex,
        kind="payment_failed",
        channel="webhook",
        status=NotificationStatus.FAILED,
        attempts=8,
        last_error="DeliveryError: 502 from the receiver",
    )
    jwt_auth.revoke_token(token_jti="jti-scene-1", reason="user_logout", user_id=str(globex.owner_id))
    Organization.objects.filter(pk=northwind.pk).update(debates_used=12)
    organization_debates_reset(organization=northwind, actor=staff, reason="Debates lost in the outage of the 3rd")
    return Scene(staff, northwind, globex, initech, umbrella, free, failed)
