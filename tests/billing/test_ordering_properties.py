"""Property: whatever order Stripe delivers a subscription's events in, the newest one decides the state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Organization
from billing.services.subscriptions import organization_subscription_apply
from billing.stripe_client import SubscriptionInfo
from tests.factories import OrganizationFactory
from tests.fakes.stripe_plugin import PRICES

STATUSES = ["active", "trialing", "past_due", "canceled"]
snapshot = st.tuples(st.sampled_from(list(PRICES)), st.sampled_from(STATUSES), st.booleans())


@pytest.fixture
def priced(settings):
    for tier, (price_id, _) in PRICES.items():
        setattr(settings, f"STRIPE_PRICE_{tier.upper()}", price_id)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=st.lists(snapshot, min_size=1, max_size=6), data=st.data())
def test_any_delivery_order_ends_in_the_newest_events_state(priced, history, data):
    org = OrganizationFactory(admin=True, tier="free")
    base = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        (
            base + timedelta(minutes=n),
            SubscriptionInfo(
                id=f"sub_{org.pk.hex}",
                status=status,
                customer_id=f"cus_{org.pk.hex}",
                price_id=PRICES[tier][0],
                item_id="si_prop",
                cancel_at_period_end=cancel,
                current_period_end=base + timedelta(days=30),
                metadata={"org_id": str(org.pk)},
            ),
        )
        for n, (tier, status, cancel) in enumerate(history)
    ]
    delivery = data.draw(st.permutations(events))
    for event_at, info in delivery + delivery[:2]:
        organization_subscription_apply(organization=org, info=info, event_at=event_at)

    newest = events[-1][1]
    org = Organization.objects.get(pk=org.pk)
    assert org.subscription_status == newest.status and org.stripe_price_id == newest.price_id
    expected_tier = "free" if newest.status == "canceled" else newest.tier.value
    assert org.tier == expected_tier
    assert org.cancel_at_period_end == (newest.cancel_at_period_end and newest.status != "canceled")
